// Downloads: the current values as CSV, a chart as PNG.
import { csvMaxRows } from '../pkg/quantviz.js';
import { ui } from './elements.js';
import { flash } from './dom.js';
import { message, showError } from './status.js';
import { state } from './state.js';
import { surfaceOf } from './charts.js';
import { drawRest } from './schedule.js';

/** Downloads the current values as CSV: index, original, code, dequantized, error. */
export function downloadCsv() {
  try {
    const blob = new Blob([state.session.csv()], { type: 'text/csv' });
    save(blob, 'quantviz.csv');
    const cap = csvMaxRows();
    if (state.summary && state.summary.data.n > cap) {
      flash(ui.downloadCsv, `First ${cap.toLocaleString('en')} of ${state.summary.data.n.toLocaleString('en')} rows saved`);
    }
  } catch (e) {
    showError(message(e));
  }
}

/** Downloads one chart as PNG at its drawn resolution. */
export function downloadPng(name) {
  // A chart off screen may not show the current state yet.
  if (!drawRest([name], true)) return;
  const done = (blob) => {
    if (blob) save(blob, `quantviz-${name}.png`);
    else showError(`Could not make a PNG of the ${name} chart`);
  };
  const surface = surfaceOf(name);
  if (typeof surface.convertToBlob === 'function') {
    surface.convertToBlob({ type: 'image/png' }).then(done, () => done(null));
  } else {
    surface.toBlob(done, 'image/png');
  }
}

/** Hands a blob to the browser as a download. */
function save(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
