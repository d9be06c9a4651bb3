// The form's controls: the query they describe, and setting, showing and greying them.
import { ui } from './elements.js';
import { setProp, setText } from './dom.js';
import { state } from './state.js';
import { FIXED_BLOCK, FORMAT_HINT } from './format-text.js';
import { applyMatrixSettings, matrixQuery, reflectMatrix } from './matrix.js';

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
  const matrix = matrixQuery();
  const parts = [
    ['dist', dist],
    ...(matrix.replacesN ? [] : [['n', ui.n.value.trim()]]),
    ['seed', ui.seed.value.trim()],
    ['outliers', ui.outliers.value.trim()],
    ['outlier_value', ui.outlierValue.value.trim()],
    ['bits', ui.bits.value],
    ['scheme', ui.scheme.value],
    ['calibration', calibration],
    ['zero_point', ui.zeroPoint.value],
  ];
  if (state.preset) parts.push(['preset', state.preset]);
  const format = ui.format.value;
  if (format !== 'int') parts.push(['format', format]);
  if (format === 'nf4' && ui.block.value) parts.push(['block', ui.block.value]);
  parts.push(...matrix.parts);
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
  ui.format.value = s.format;
  if (s.format === 'nf4') ui.block.value = String(s.block ?? NF4_DEFAULT_BLOCK);
  applyMatrixSettings(s);
  reflectSettings(s);
}

/** NF4's block when none is given. */
const NF4_DEFAULT_BLOCK = 64;

/** Updates what depends on the settings without touching what the user typed.
 * @param {import('./types.js').Settings} s */
export function reflectSettings(s) {
  setText(ui.bitsOut, String(s.bits));
  for (const el of ui.form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const name = ui.dist.value;
  for (const box of ui.paramBoxes) setProp(box, 'hidden', box.dataset.dist !== name);
  // A format other than int fixes the int controls: greyed, each with what the format fixes
  // (see `reflectFormat` in formats.js), and a Block control that only NF4 lets change.
  const format = ui.format.value;
  const fixed = format !== 'int';
  const percentile = ui.calibration.value === 'percentile';
  ui.percentileField.classList.toggle('off', !percentile || fixed);
  setProp(ui.percentile, 'disabled', !percentile || fixed);
  setProp(ui.zeroPoint, 'disabled', fixed || ui.scheme.value === 'symmetric');
  for (const el of [ui.bits, ui.scheme, ui.calibration]) setProp(el, 'disabled', fixed);
  setProp(ui.blockField, 'hidden', !fixed);
  setText(ui.formatHint, FORMAT_HINT[format] ?? '');
  const nf4 = format === 'nf4';
  setProp(ui.block, 'disabled', !nf4);
  if (nf4) {
    if (ui.block.value === '') ui.block.value = String(s.block ?? NF4_DEFAULT_BLOCK);
  } else if (fixed) {
    setText(ui.blockFixed, `${FIXED_BLOCK[format]} (fixed)`);
    ui.block.value = '';
  }
  // What the matrix greys follows the Format control too, not the last view's format.
  reflectMatrix({ ...s, format });
  for (const b of ui.formatPresets) {
    const pressed = String(b.dataset.formatPreset === format && (!b.dataset.block || b.dataset.block === ui.block.value));
    if (b.getAttribute('aria-pressed') !== pressed) b.setAttribute('aria-pressed', pressed);
  }
}

/** `normal:0,1` → ['normal', ['0', '1']]: the core's spelling, split for the inputs. */
function splitDist(dist) {
  const at = dist.indexOf(':');
  if (at < 0) return [dist, []];
  return [dist.slice(0, at), dist.slice(at + 1).split(',')];
}
