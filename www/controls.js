// The form's controls: the query they describe, and setting, showing and greying them.
import { ui } from './elements.js';
import { setProp, setText } from './dom.js';
import { state } from './state.js';

/** The query string the controls describe, in the URL's own spelling. */
export function queryFromControls({ distOnly = false } = {}) {
  // With `distOnly` the distribution goes without its parameters: the core fills in its defaults.
  const name = ui.dist.value;
  const args = ui.params[name].map((el) => el.value.trim());
  const dist = distOnly ? name : `${name}:${args.join(',')}`;
  const calibration =
    ui.calibration.value === 'percentile'
      ? `percentile:${ui.percentile.value.trim()}`
      : ui.calibration.value;
  const parts = [
    ['dist', dist],
    ['n', ui.n.value.trim()],
    ['seed', ui.seed.value.trim()],
    ['outliers', ui.outliers.value.trim()],
    ['outlier_value', ui.outlierValue.value.trim()],
    ['bits', ui.bits.value],
    ['scheme', ui.scheme.value],
    ['calibration', calibration],
    ['zero_point', ui.zeroPoint.value],
  ];
  if (state.preset) parts.push(['preset', state.preset]);
  return parts.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
}

/** Sets every control from the core's settings (after a preset, a link or a new distribution).
 * @param {import('./types.js').Settings} s */
export function applySettings(s) {
  const [name, args] = splitDist(s.dist);
  ui.dist.value = name;
  const inputs = ui.params[name] || [];
  inputs.forEach((el, i) => (el.value = args[i] ?? ''));
  ui.n.value = String(s.n);
  ui.seed.value = String(s.seed);
  ui.outliers.value = String(s.outliers);
  ui.outlierValue.value = String(s.outlier_value);
  ui.bits.value = String(s.bits);
  ui.scheme.value = s.scheme;
  const [cal, p] = s.calibration.split(':');
  ui.calibration.value = cal;
  if (p !== undefined) ui.percentile.value = p;
  else if (ui.percentile.value === '') ui.percentile.value = '99.99';
  ui.zeroPoint.value = s.zero_point;
  reflectSettings(s);
}

/** Updates what depends on the settings without touching what the user typed.
 * @param {import('./types.js').Settings} s */
export function reflectSettings(s) {
  setText(ui.bitsOut, String(s.bits));
  for (const el of ui.form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const name = ui.dist.value;
  for (const box of ui.paramBoxes) setProp(box, 'hidden', box.dataset.dist !== name);
  const percentile = ui.calibration.value === 'percentile';
  ui.percentileField.classList.toggle('off', !percentile);
  setProp(ui.percentile, 'disabled', !percentile);
  setProp(ui.zeroPoint, 'disabled', ui.scheme.value === 'symmetric');
}

/** `normal:0,1` → ['normal', ['0', '1']]: the core's spelling, split for the inputs. */
function splitDist(dist) {
  const at = dist.indexOf(':');
  if (at < 0) return [dist, []];
  return [dist.slice(0, at), dist.slice(at + 1).split(',')];
}
