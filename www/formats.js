// The formats on the page: which parts show with int and which with a format, the numbers and
// texts of a format's run, its bit budget, the table of every format and the block inspector.
// Every number comes from the wasm Session; this only shows it.
import { ui } from './elements.js';
import { fillRows, setData, setProp, setText } from './dom.js';
import { state } from './state.js';
import { num, short, sqnr } from './text.js';
import { formatText } from './format-text.js';

/** The metric explanations as the page has them for int, to put back after a format. */
const INT_TEXTS = {
  scaleWhat: ui.metric.scaleWhat.textContent,
  zeroPointWhat: ui.metric.zeroPointWhat.textContent,
  clippedWhat: ui.metric.clippedWhat.textContent,
  clippedName: ui.metric.clippedName.textContent,
};

/** Shows the parts of the page that go with the summary's choice, int or a format: with a
 * format the comparison of every format comes right after the numbers, the block inspector
 * shows and the int scheme's own charts hide. Returns whether that layout changed (then which
 * charts are on screen must be read from the layout again).
 * @param {import('./types.js').Summary} s */
export function setMode(s) {
  const format = s.format ? s.format.format : 'int';
  const withFormat = format !== 'int';
  const changed = document.body.classList.contains('with-format') !== withFormat;
  setData(document.body, 'format', format);
  if (!changed) return false;
  document.body.classList.toggle('with-format', withFormat);
  setProp(ui.intCharts, 'hidden', withFormat);
  setProp(ui.intNote, 'hidden', !withFormat);
  setProp(ui.inspector, 'hidden', !withFormat);
  return true;
}

/** The six metrics, the facts line and the format's own parts for a format's run; puts the
 * int texts back with int (the int numbers themselves are numbers.js's).
 * @param {import('./types.js').Summary} s */
export function renderFormat(s) {
  const f = s.format;
  const m = ui.metric;
  setProp(ui.formatAbout, 'hidden', !f);
  setProp(ui.formatFixes, 'hidden', !f);
  if (!f) {
    setText(m.scaleWhat, INT_TEXTS.scaleWhat);
    setText(m.zeroPointWhat, INT_TEXTS.zeroPointWhat);
    setText(m.clippedWhat, INT_TEXTS.clippedWhat);
    setText(m.clippedName, INT_TEXTS.clippedName);
    return;
  }
  const r = f.metrics;
  const t = formatText(f.format, f.block, f.tensor_scale);
  setText(m.scale, t.scale[0]);
  setText(m.scaleWhat, t.scale[1]);
  setText(m.zeroPoint, t.zero[0]);
  setText(m.zeroPointWhat, t.zero[1]);
  setText(m.mse, num(r.mse));
  setText(m.sqnr, sqnr(r.sqnr_db));
  setText(m.maxError, num(r.max_abs_error));
  setText(m.clipped, String(r.clipped));
  setText(m.clippedName, 'Saturated');
  setText(m.clippedWhat, t.clipped);
  m.inliers.hidden = true;
  for (const p of ui.formatAbout.children) setProp(p, 'hidden', !p.dataset.formats.split(' ').includes(f.format));
  setText(
    ui.formatFixes,
    `${f.format} fixes these: ${f.code_bits}-bit codes, its own grid and its own scales (${short(f.bits_per_weight)} bits per weight in all). Choose Format int to set them.`,
  );
  setText(ui.fixed.bits, `${f.code_bits}-bit codes`);
  setText(ui.fixed.scheme, t.scheme);
  setText(ui.fixed.calibration, t.calibration);
  setText(ui.fixed.zero_point, t.zeroPoint);
  renderBudget(f.budget);
}

/** Draws the bit budget of one block: a bar of its parts, as wide as their bits, and a key.
 * @param {import('./types.js').Budget} b */
function renderBudget(b) {
  const key = JSON.stringify(b);
  if (ui.budget.dataset.key === key) return;
  ui.budget.dataset.key = key;
  const bar = document.createElement('div');
  bar.className = 'bar';
  bar.setAttribute('aria-hidden', 'true');
  const legend = document.createElement('ul');
  legend.className = 'legend';
  for (const p of b.parts) {
    const share = p.bits / b.total_bits;
    const seg = document.createElement('div');
    seg.className = `seg ${p.kind}`;
    seg.style.flex = `${p.bits} 0 0`;
    const what = p.count > 1 ? `${p.count.toLocaleString('en')} ${p.label} × ${p.bits_each} bits` : p.label;
    seg.title = `${what}: ${p.bits.toLocaleString('en')} bits`;
    if (share > 0.07) seg.textContent = `${p.bits.toLocaleString('en')}`;
    bar.append(seg);
    const li = document.createElement('li');
    li.className = p.kind;
    li.textContent = `${what}: ${p.bits.toLocaleString('en')} bits`;
    legend.append(li);
  }
  const total = document.createElement('p');
  total.className = 'total';
  const values = b.values.toLocaleString('en');
  total.textContent = `One block stores ${b.total_bits.toLocaleString('en')} bits for ${values} values: ${short(b.bits_per_weight)} bits per weight.`;
  ui.budget.replaceChildren(total, bar, legend);
}

/** The table of every format, as `Session.formatsTable` gives it; rebuilt only when it changed. */
let formatsJson = '';

/** Fills the table of every format: label, bits per weight, MSE, SQNR, max error, or why the
 * format cannot take the data; the front and the current choice marked. */
export function fillFormatsTable(json) {
  if (json === formatsJson) return;
  formatsJson = json;
  /** @type {import('./types.js').FormatTableRow[]} */
  const rows = JSON.parse(json).map((r, i) => [r, i]);
  // In order of bits per weight, as the chart reads left to right (ties as the session lists them).
  rows.sort(([a, i], [b, j]) => a.bits_per_weight - b.bits_per_weight || i - j);
  const body = ui.formatsTable.tBodies[0];
  body.replaceChildren(
    ...rows.map(([r]) => {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = r.label;
      tr.append(th);
      const td = (text, cls) => {
        const c = document.createElement('td');
        c.textContent = text;
        if (cls) c.className = cls;
        tr.append(c);
        return c;
      };
      td(short(r.bits_per_weight));
      if (r.error) {
        td(`cannot: ${r.error}`, 'why').colSpan = 3;
      } else {
        td(num(r.mse));
        td(sqnr(r.sqnr_db));
        td(num(r.max_abs_error));
      }
      tr.dataset.format = r.format;
      if (r.bits !== null) tr.dataset.bits = String(r.bits);
      if (r.current) {
        tr.classList.add('current');
        tr.setAttribute('aria-current', 'true');
      }
      if (r.front) tr.classList.add('front');
      return tr;
    }),
  );
}

/** Shows the block inspector's block: its stored scale, sub-blocks, values and a value's
 * reconstruction, from `Session.block`.
 * @param {import('./types.js').BlockInfo} b */
export function showBlock(b) {
  if (document.activeElement !== ui.blockIndex) ui.blockIndex.value = String(b.index);
  ui.blockIndex.max = String(b.blocks - 1);
  ui.blockIndex.removeAttribute('aria-invalid');
  setText(
    ui.blockOf,
    `of ${b.blocks.toLocaleString('en')}: values ${b.start}–${b.start + b.len - 1}, MSE ${num(b.mse)}, max error ${num(b.max_abs_error)}`,
  );
  fillRows(
    ui.blockStored,
    b.stored.map((f) => [f.name, f.encoding, f.hex, f.note ? `${full(f.value)} (${f.note})` : full(f.value)]),
  );
  setProp(ui.blockSubs.closest('.subs-wrap'), 'hidden', b.subs.length === 0);
  fillRows(
    ui.blockSubs.tBodies[0],
    b.subs.map((j) => [j.index, String(j.scale_q), j.min_q === null ? '–' : String(j.min_q), full(j.step), j.offset === null ? '–' : full(j.offset)]),
  );
  fillRows(
    ui.blockValues,
    b.rows.map((r) => [r.index, String(r.original), String(r.code), short(r.dequantized), short(r.error)]),
  );
  state.block = b;
  pickRow(0);
}

/** Shows the reconstruction of row `k` of the inspected block and marks the row. */
export function pickRow(k) {
  const b = state.block;
  if (!b || !b.rows[k]) return;
  const r = b.rows[k];
  setText(ui.blockReconstruction, `value ${r.index}: x = ${r.original}, q = ${r.code}:  ${r.reconstruction}`);
  [...ui.blockValues.rows].forEach((tr, i) => tr.classList.toggle('picked', i === k));
}

/** What the strip says under the pointer: block `i`'s scale and MSE (of its group where the
 * strip groups blocks), from `Session.strip`, asked for once per state. */
export function hoverText(i) {
  const f = state.summary && state.summary.format;
  if (!f || i < 0) return '';
  state.strip ??= JSON.parse(state.session.strip());
  const st = state.strip;
  const e = Math.floor(i / st.per_entry);
  const group = st.per_entry > 1 ? ` (largest of blocks ${e * st.per_entry}–${Math.min((e + 1) * st.per_entry, st.count) - 1})` : '';
  return `block ${i}: scale ${num(st.scale[e])}, MSE ${num(st.mse[e])}${group}`;
}

/** A float32 the format stores (or computes), in the fewest digits that read back as it. */
function full(x) {
  for (let p = 1; p <= 9; p += 1) {
    const s = x.toPrecision(p);
    if (Math.fround(Number(s)) === x) return String(Number(s));
  }
  return String(x);
}
