// The numbers, the board's formulas, the tables and the conclusion: a summary shown as text.
import { ui } from './elements.js';
import { fillList, fillRows, setData, setText } from './dom.js';
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
  setText(ui.bitsCodes, `codes ${r.qmin} … ${r.qmax}`);
  for (const b of ui.presets) {
    const pressed = String(b.dataset.preset === state.preset);
    if (b.getAttribute('aria-pressed') !== pressed) b.setAttribute('aria-pressed', pressed);
  }
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
