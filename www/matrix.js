// The matrix: Rows and Columns (2-D data), Row spread and Outlier channels, Granularity and
// Rotate, and the section that shows the 2-D tensor (heatmap, scales per unit, hover).
import { setProp, setText } from './dom.js';
import { state } from './state.js';
import { enqueue } from './schedule.js';
import { redrawOnly } from './schedule.js';
import { message, setState, showError } from './status.js';

const $ = (sel) => document.querySelector(sel);

/** The matrix's controls and outputs. */
export const mx = {
  rows: $('#rows'),
  cols: $('#cols'),
  rowSpread: $('#row-spread'),
  outlierK: $('#outlier-k'),
  outlierF: $('#outlier-f'),
  shapeWhy: $('#shape-why'),
  granularity: $('#granularity'),
  groupSize: $('#group-size'),
  groupField: $('#group-field'),
  granularityWhy: $('#granularity-why'),
  rotate: $('#rotate'),
  rotateK: $('#rotate-k'),
  rotateKField: $('#rotate-k-field'),
  section: $('#matrix-section'),
  facts: $('#matrix-facts'),
  heatReduce: $('#heat-reduce'),
  heatValues: [...document.querySelectorAll('input[name="heat-value"]')],
  heatmap: $('#chart-heatmap'),
  hover: $('#heatmap-hover'),
};

/** Whether both Rows and Columns are given (the data to generate is 2-D). */
function hasShape() {
  return mx.rows.value.trim() !== '' && mx.cols.value.trim() !== '';
}

/** Whether the data shown is 2-D: a shape asked for, or a file's 2-D tensor. */
function dataIs2d() {
  const d = state.summary?.data;
  return d?.source === 'file' ? Boolean(d.shape) : hasShape();
}

/** The matrix's part of the query, in the URL's spelling, and whether it replaces `n` (a
 * shape gives the count). */
export function matrixQuery() {
  const parts = [];
  const shape = hasShape();
  if (shape || mx.rows.value.trim() !== '' || mx.cols.value.trim() !== '') {
    // One of the two alone is sent as it is, for the core to say what is missing.
    parts.push(['shape', `${mx.rows.value.trim()},${mx.cols.value.trim()}`]);
  }
  if (shape) {
    const spread = mx.rowSpread.value.trim();
    if (spread !== '' && Number(spread) !== 0) parts.push(['row_spread', spread]);
    const k = mx.outlierK.value.trim();
    if (k !== '' && Number(k) !== 0) parts.push(['outlier_channels', `${k}:${mx.outlierF.value.trim()}`]);
  }
  const g = mx.granularity.value;
  if (g === 'group') parts.push(['granularity', `group:${mx.groupSize.value.trim()}`]);
  else if (g !== 'tensor') parts.push(['granularity', g]);
  const r = mx.rotate.value;
  if (r === 'hadamard:k') parts.push(['rotate', `hadamard:${mx.rotateK.value.trim()}`]);
  else if (r !== 'none') parts.push(['rotate', r]);
  return { parts, replacesN: parts.some(([k]) => k === 'shape') };
}

/** Sets the matrix's controls from the core's settings (a link, a preset, a tour step).
 * @param {import('./types.js').Settings} s */
export function applyMatrixSettings(s) {
  mx.rows.value = s.shape ? String(s.shape[0]) : '';
  mx.cols.value = s.shape ? String(s.shape[1]) : '';
  mx.rowSpread.value = String(s.row_spread ?? 0);
  const oc = s.outlier_channels ? s.outlier_channels.split(':') : null;
  mx.outlierK.value = oc ? oc[0] : '0';
  if (oc) mx.outlierF.value = oc[1];
  const [g, size] = (s.granularity ?? 'tensor').split(':');
  mx.granularity.value = g;
  if (size !== undefined) mx.groupSize.value = size;
  const [r, k] = (s.rotate ?? 'none').split(':');
  mx.rotate.value = k === undefined ? r : 'hadamard:k';
  if (k !== undefined) mx.rotateK.value = k;
}

/** Greys what does not apply, each with its reason, without touching what the user typed.
 * @param {import('./types.js').Settings} s */
export function reflectMatrix(s) {
  const shape = hasShape();
  for (const el of [mx.rowSpread, mx.outlierK, mx.outlierF]) {
    setProp(el, 'disabled', !shape);
    el.closest('.field').classList.toggle('off', !shape);
  }
  setProp(mx.shapeWhy, 'hidden', shape || (Number(mx.rowSpread.value) === 0 && Number(mx.outlierK.value) === 0));
  const n = document.getElementById('n');
  setProp(n, 'disabled', shape);
  if (shape && s.shape) n.value = String(s.shape[0] * s.shape[1]);
  const int = s.format === 'int';
  setProp(mx.granularity, 'disabled', !int);
  const rows = dataIs2d();
  const channel = mx.granularity.querySelector('option[value="channel"]');
  setProp(channel, 'disabled', !rows && mx.granularity.value !== 'channel');
  const group = mx.granularity.value === 'group';
  setProp(mx.groupSize, 'disabled', !int || !group);
  mx.groupField.classList.toggle('off', !int || !group);
  let why = '';
  if (!int) why = `Granularity: int only; ${s.format} fixes its own blocks (its scale per block is shown under "Inside the blocks").`;
  else if (!rows) why = 'Granularity channel needs Rows and Columns (one scale per row); on 1-D data, group G cuts the values into runs of G.';
  setText(mx.granularityWhy, why);
  setProp(mx.granularityWhy, 'hidden', why === '');
  const k = mx.rotate.value === 'hadamard:k';
  setProp(mx.rotateK, 'disabled', !k);
  mx.rotateKField.classList.toggle('off', !k);
}

/** Shows or hides the matrix's section for `summary` and writes its facts; returns whether the
 * page's layout changed (the charts on screen are then read from the layout).
 * @param {import('./types.js').Summary} summary */
export function showMatrix(summary) {
  const shape = summary.data.shape;
  const changed = mx.section.hidden === Boolean(shape);
  setProp(mx.section, 'hidden', !shape);
  setText(mx.hover, '');
  if (shape) setText(mx.facts, facts(summary));
  return changed;
}

/** One line on the matrix: its shape, the units and what their scales cost, the error. */
function facts(summary) {
  const [r, c] = summary.data.shape;
  const g = summary.granular;
  const fmt = (v) => (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toPrecision(4) : v.toExponential(3));
  let text = `${r} × ${c} values.`;
  if (!g && summary.format) {
    return `${text} ${summary.format.format} sets its own scales (${summary.format.bits_per_weight.toFixed(3)} bits per weight); Granularity applies to int.`;
  }
  if (!g) return `${text} One scale for the whole tensor (Granularity tensor, no rotation).`;
  if (g.units) {
    const u = g.units;
    const what = u.count === 1 ? 'one scale for the tensor' : u.per_row === 1 && u.rows > 1 ? `${u.count} scales, one per row` : `${u.count} scales, one per group of ${u.size}`;
    text += ` ${what}: ${g.bits_per_weight.toFixed(3)} bits per weight, scales included.`;
  } else {
    text += ` ${g.format}: ${g.bits_per_weight.toFixed(3)} bits per weight.`;
  }
  text += ` MSE ${fmt(g.metrics.mse)}, max error ${fmt(g.metrics.max_abs_error)}`;
  if (g.rotated_basis) {
    text += `; rotated by a Hadamard block of ${g.rotate_block}: MSE ${fmt(g.rotated_basis.mse)} and max error ${fmt(g.rotated_basis.max_abs_error)} in the rotated basis`;
  }
  return `${text}.`;
}

/** What the hover line says for the cell under a pointer event, or ''. */
function hoverAt(e) {
  if (!state.session || !state.summary || !state.summary.data.shape) return '';
  const r = mx.heatmap.getBoundingClientRect();
  const [w, h] = (mx.heatmap.dataset.drawnAt ?? '').split(':')[0].split('x').map(Number);
  if (!(w > 0 && h > 0)) return '';
  const x = ((e.clientX - r.left) * w) / Math.max(1, r.width);
  const y = ((e.clientY - r.top) * h) / Math.max(1, r.height);
  const json = state.session.heatmapAt(x, y);
  if (json === undefined || json === null) return '';
  const c = JSON.parse(json);
  const num = (v) => (v === null || v === undefined ? '–' : Number(v.toPrecision(6)).toString());
  let text = `row ${c.row}, column ${c.col}: x = ${num(c.value)}, x̂ = ${num(c.dequantized)}, error ${num(c.error)}`;
  if (c.scale !== null) {
    text += c.units > 1 ? `; unit ${c.unit} of ${c.units}, scale ${num(c.scale)}` : `; the tensor's scale ${num(c.scale)}`;
    if (c.zero_point !== 0) text += `, zero point ${num(c.zero_point)}`;
  } else {
    text += ' (the format sets its own block scales)';
  }
  return text;
}

/** Wires the heatmap's view (|x| or error, max or mean) and pointing at it. */
export function setupMatrix() {
  const view = () => {
    const what = mx.heatValues.find((el) => el.checked)?.value ?? 'abs';
    setState('busy');
    enqueue(() => {
      try {
        state.session.setHeatmap(what, mx.heatReduce.value);
        if (state.summary && state.summary.data.shape) redrawOnly(['heatmap']);
      } catch (e) {
        showError(message(e));
      }
    });
  };
  for (const el of mx.heatValues) el.addEventListener('change', view);
  mx.heatReduce.addEventListener('change', view);
  mx.heatmap.addEventListener('mousemove', (e) => setText(mx.hover, hoverAt(e)));
  mx.heatmap.addEventListener('mouseleave', () => setText(mx.hover, ''));
}
