// The KL and rotation cards: when each shows, the Calibration control's kl choice, and the
// numbers beside each chart (computed by the wasm Session when the chart is drawn).
import { ui } from './elements.js';
import { setData, setProp, setText } from './dom.js';
import { state } from './state.js';
import { num, sqnr } from './text.js';

const $ = (id) => document.getElementById(id);

/** The cards and the elements their numbers go in. */
const card = {
  kl: $('kl-card'),
  rotation: $('rotation-card'),
  threshold: $('kl-threshold'),
  bin: $('kl-bin'),
  divergence: $('kl-divergence'),
  percentileLabel: $('kl-percentile-label'),
  percentile: $('kl-percentile'),
  mse: $('kl-mse'),
  absmax: $('kl-absmax'),
  block: $('rot-block'),
  peaks: $('rot-peaks'),
  mseOriginal: $('rot-mse-original'),
  mseRotated: $('rot-mse-rotated'),
  sqnrOriginal: $('rot-sqnr-original'),
  sqnrRotated: $('rot-sqnr-rotated'),
};

/** Choosing kl in Calibration asks for kl alone, as a link with `calibration=kl` alone does: the
 * core then takes the symmetric scheme, kl's only one. Asymmetric chosen afterwards asks for both,
 * and the core's message says why that is refused. */
export function setupCards() {
  ui.calibration.addEventListener('input', () => {
    if (ui.calibration.value === 'kl') ui.scheme.value = 'symmetric';
  });
}

/** Shows the KL card with the kl calibration of the int format, the rotation card with a
 * rotation; returns whether either changed (the page's layout moved).
 * @param {import('./types.js').Summary} s */
export function showCards(s) {
  const kl = s.settings.calibration === 'kl' && s.settings.format === 'int';
  const rotation = /(^|&)rotate=hadamard/.test(s.query);
  let moved = false;
  for (const [el, on] of [[card.kl, kl], [card.rotation, rotation]]) {
    if (el.hidden === on) {
      setProp(el, 'hidden', !on);
      moved = true;
    }
  }
  return moved;
}

/** Fills the numbers of the card whose chart (`kl` or `rotation`) was just drawn. */
export function fillCard(name) {
  if (name === 'kl') fillKl(JSON.parse(state.session.kl()));
  else if (name === 'rotation') fillRotation(JSON.parse(state.session.rotation()));
}

/** The KL card's numbers; each element's `data-value` holds the number in full. */
function fillKl(k) {
  shown(card.threshold, k.threshold, num(k.threshold));
  shown(card.bin, k.best_bin, `${k.best_bin} of ${k.bins}`);
  shown(card.divergence, k.divergence, num(k.divergence));
  setText(card.percentileLabel, `p${k.percentile}`);
  shown(card.percentile, k.percentile_threshold, num(k.percentile_threshold));
  shown(card.mse, k.mse_threshold, num(k.mse_threshold));
  shown(card.absmax, k.absmax, num(k.absmax));
}

/** The rotation card's numbers. */
function fillRotation(r) {
  shown(card.block, r.block, `${r.block} of ${r.blocks} (row ${r.row}, columns ${r.column}–${r.column + r.k - 1})`);
  shown(card.peaks, r.peak_after, `${num(r.peak_before)} → ${num(r.peak_after)}`);
  shown(card.mseOriginal, r.original.mse, num(r.original.mse));
  shown(card.mseRotated, r.rotated.mse, num(r.rotated.mse));
  shown(card.sqnrOriginal, r.original.sqnr_db, `${sqnr(r.original.sqnr_db)} dB`);
  shown(card.sqnrRotated, r.rotated.sqnr_db, `${sqnr(r.rotated.sqnr_db)} dB`);
}

/** Shows `text` in `el`, with the full `value` in its `data-value`. */
function shown(el, value, text) {
  setData(el, 'value', String(value));
  setText(el, text);
}
