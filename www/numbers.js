// The numbers, the board's formulas, the tables and the conclusion: a summary shown as text.
import { ui } from './elements.js';
import { fillList, fillRows, setData, setProp, setText } from './dom.js';
import { state } from './state.js';
import { num, short, sqnr } from './text.js';
import { renderFormat } from './formats.js';

/** Shows the summary's numbers, formulas, table, comparison and conclusion.
 * @param {import('./types.js').Summary} s */
export function render(s) {
  const r = s.result;
  const m = ui.metric;
  setText(m.scale, String(r.scale));
  setText(m.zeroPoint, String(r.zero_point));
  setText(m.mse, num(r.mse));
  setText(m.sqnr, sqnr(r.sqnr_db));
  setText(m.maxError, num(r.max_abs_error));
  setText(m.clipped, String(r.clipped));
  setText(m.clippedOf, `of ${s.data.n}`);
  if (r.inliers) {
    const i = r.inliers;
    m.inliers.hidden = false;
    setText(
      m.inliers,
      `Without the ${s.data.outliers === 1 ? 'outlier' : s.data.outliers > 1 ? `${s.data.outliers} outliers` : 'outliers'} ` +
      `(${i.n} values): MSE ${num(i.mse)}, SQNR ${sqnr(i.sqnr_db)} dB, ` +
        `max error ${num(i.max_abs_error)}, clipped ${i.clipped}.`,
    );
  } else {
    m.inliers.hidden = true;
    setText(m.inliers, '');
  }
  renderFormat(s);
  renderGranular(s);
  setText(ui.conclusion, s.conclusion);
  fillList(ui.formulas, s.formulas);
  fillRows(
    ui.valuesBody,
    s.table.map((row) => [row.index, String(row.original), String(row.code), short(row.dequantized), short(row.error)]),
  );
  renderCompare(s.compare);
  const d = s.data;
  const from = d.source === 'file' ? 'Your file' : d.source === 'preset' ? 'Notebook preset' : 'Generated';
  const note = d.note ? ` (${d.note})` : '';
  setText(ui.dataSource, `${from}: ${d.label}${note}. ${d.n} values from ${String(d.min)} to ${String(d.max)}.`);
  setData(ui.dataGroup, 'source', d.source);
  setData(ui.dataGroup, 'preset', state.preset ?? '');
  ui.useGenerated.hidden = d.source === 'file' ? false : d.source !== 'preset';
  // A format fixes its own codes (the Bits control is greyed with what it fixes).
  setText(ui.bitsCodes, s.format ? '' : `codes ${r.qmin} … ${r.qmax}`);
  for (const b of ui.presets) {
    const pressed = String(b.dataset.preset === state.preset);
    if (b.getAttribute('aria-pressed') !== pressed) b.setAttribute('aria-pressed', pressed);
  }
}

/** Where the settings ask for finer scales or a rotation, the cards show that run (its error
 * in the original basis, its scales), and a line says so: the board, the table of values and
 * the comparison stay the per-tensor scheme's, for reference.
 * @param {import('./types.js').Summary} s */
function renderGranular(s) {
  const g = s.granular;
  const m = ui.metric;
  setProp(m.granular, 'hidden', !g);
  if (!g) {
    setText(m.granular, '');
    return;
  }
  const e = g.metrics;
  setText(m.mse, num(e.mse));
  setText(m.sqnr, sqnr(e.sqnr_db));
  setText(m.maxError, num(e.max_abs_error));
  setText(m.clipped, String(e.clipped));
  m.inliers.hidden = true;
  const st = s.settings;
  const parts = [];
  if (g.units) {
    const u = g.units;
    const [lo, hi] = g.scales ?? [NaN, NaN];
    const each = u.count === 1 ? 'one scale' : u.per_row === 1 && u.rows > 1 ? `${u.count} scales, one per row` : `${u.count} scales, one per group of ${u.size}`;
    setText(m.scale, u.count === 1 || lo === hi ? String(lo) : `${short(lo)} … ${short(hi)}`);
    setText(m.scaleWhat, `${each}${u.count === 1 ? '' : ', smallest … largest'}`);
    if (u.count > 1) {
      setText(m.zeroPoint, st.scheme === 'symmetric' ? '0' : 'per unit');
      setText(m.zeroPointWhat, st.scheme === 'symmetric' ? 'symmetric: 0 is a code' : `${u.count} zero points, each its unit's own`);
    } else {
      // One unit: the run's own zero point (of the rotated values, where rotated).
      setText(m.zeroPoint, String(g.zero_point));
    }
    parts.push(`Granularity ${st.granularity}: ${each}, ${short(g.bits_per_weight)} bits per weight`);
  }
  if (g.rotate_block) parts.push(`rotated by Hadamard blocks of ${g.rotate_block} (the error is measured back in the original basis)`);
  setText(
    m.granular,
    `${parts.join('; ')}. The cards show this run; the sentence above, the board, the values table and the comparison below are the per-tensor ${s.format ? 'run' : 'scheme'}'s, for reference.`,
  );
}

/** Fills the comparison table; the inlier columns appear only when there are outliers.
 * @param {import('./types.js').CompareRow[]} rows */
function renderCompare(rows) {
  const withInliers = rows.some((c) => c.inliers_mse !== null && c.inliers_mse !== undefined);
  ui.compareTable.classList.toggle('with-inliers', withInliers);
  const body = ui.compareTable.tBodies[0];
  fillRows(
    body,
    rows.map((c) => [
      c.label,
      num(c.mse),
      sqnr(c.sqnr_db),
      num(c.max_abs_error),
      String(c.clipped),
      c.inliers_mse === null || c.inliers_mse === undefined ? '–' : num(c.inliers_mse),
      c.inliers_mse === null || c.inliers_mse === undefined ? '–' : sqnr(c.inliers_sqnr_db),
    ]),
  );
  rows.forEach((c, i) => {
    const row = body.rows[i];
    setData(row, 'scheme', c.scheme);
    setData(row, 'calibration', c.calibration);
    if (row.cells[0].scope !== 'row') row.cells[0].scope = 'row';
    for (const cell of [...row.cells].slice(5)) if (!cell.classList.contains('inl')) cell.classList.add('inl');
    if (row.classList.contains('current') !== Boolean(c.current)) row.classList.toggle('current', Boolean(c.current));
    if (c.current) {
      if (row.getAttribute('aria-current') !== 'true') row.setAttribute('aria-current', 'true');
    } else if (row.hasAttribute('aria-current')) row.removeAttribute('aria-current');
  });
}
