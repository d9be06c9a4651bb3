// Drawing the charts through the wasm Session onto their canvases, and the sweep's bitmap cache.
// Each canvas's `data-shows` says which state it shows; when to draw is schedule.js's business.
import { setData, setText } from './dom.js';
import { ui } from './elements.js';
import { state } from './state.js';
import { fillFormatsTable } from './formats.js';
import { fillCard } from './kl.js';

/** The charts, by the name `Session.draw` knows them; each has a `<canvas id="chart-NAME">`. */
export const CHARTS = ['histogram', 'error', 'compare', 'mapping', 'sweep', 'formats', 'blocks', 'accuracy', 'heatmap', 'scales', 'kl', 'rotation'];

/** Whether a chart is part of the page for the current choice: with int the block inspector's
 * is not, with a format the int scheme's own charts are not, and the model's accuracy is not
 * until the model is loaded (their part is `hidden`). */
export function isActive(name) {
  return canvasOf(name).closest('[hidden]') === null;
}

/** Whether the page is in dark mode; the charts are drawn in its colours. */
export const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

/** The canvas of a chart. */
export function canvasOf(name) {
  return document.getElementById(`chart-${name}`);
}

/** What each chart is drawn on, by name: the `OffscreenCanvas` its canvas handed control to
 * (drawing there needs no style or layout of the page, which a control change has just made
 * stale, where text on a page canvas waits for them), or the canvas itself where a browser
 * cannot hand it over. Either shows on the page at the next frame. */
const surfaces = new Map();

/** The drawing surface of a chart: its canvas's `OffscreenCanvas`, or the canvas itself. */
export function surfaceOf(name) {
  let surface = surfaces.get(name);
  if (!surface) {
    const canvas = canvasOf(name);
    surface = canvas;
    if (typeof canvas.transferControlToOffscreen === 'function') {
      try {
        surface = canvas.transferControlToOffscreen();
      } catch {
        surface = canvas;
      }
    }
    surfaces.set(name, surface);
  }
  return surface;
}

/** Each canvas's CSS size [width, height] as the ResizeObserver last reported it: reading it
 * needs no layout, where getBoundingClientRect after a control changed makes the browser lay
 * out the page first. A size change it reports later redraws (`watchSizes`). */
const cssSizes = new Map();

/** Watches the canvases' CSS sizes (for `fitCanvas`) and calls `onResize` when one changes. */
export function watchSizes(onResize) {
  const ro = new ResizeObserver((entries) => {
    for (const e of entries) {
      const box = e.borderBoxSize && e.borderBoxSize[0];
      if (box) cssSizes.set(e.target, [box.inlineSize, box.blockSize]);
      else cssSizes.delete(e.target);
    }
    onResize();
  });
  for (const name of CHARTS) ro.observe(canvasOf(name));
}

/** Sizes a chart's backing store (`surface`, see `surfaces`) to its canvas's CSS size ×
 * devicePixelRatio; returns the dpr. */
function fitCanvas(canvas, surface) {
  const dpr = window.devicePixelRatio || 1;
  let size = cssSizes.get(canvas);
  if (!size) {
    const rect = canvas.getBoundingClientRect();
    size = [rect.width, rect.height];
  }
  const w = Math.max(1, Math.round(size[0] * dpr));
  const h = Math.max(1, Math.round(size[1] * dpr));
  if (surface.width !== w) surface.width = w;
  if (surface.height !== h) surface.height = h;
  setData(canvas, 'drawnAt', `${w}x${h}:${dpr}`);
  return dpr;
}

/** Draws the charts `names` of the current state, crisp at the screen's pixel ratio, and marks
 * each canvas `data-shows="SHOWS"` (the count of the state it now shows). */
export function drawCharts(names, shows) {
  const dark = darkQuery.matches;
  for (const name of names) {
    const canvas = canvasOf(name);
    const surface = surfaceOf(name);
    const dpr = fitCanvas(canvas, surface);
    if (name === 'sweep') drawSweep(surface, dpr, dark);
    else state.session.draw(name, surface, dpr, dark);
    if (name === 'formats') {
      fillFormatsTable(state.session.formatsTable());
      setText(ui.formatsStatus, '');
      delete ui.formatsStatus.closest('figure').dataset.computing;
    }
    if (name === 'kl' || name === 'rotation') fillCard(name);
    setData(canvas, 'dark', String(dark));
    setData(canvas, 'shows', String(shows));
  }
}

/** The sweep chart's base as last drawn (everything but the current width's marker, which is
 * all a Bits change changes there): `{ key, image }`, where `key` says what it was drawn from
 * (`Session.sweepCount`, the settings it shows, the canvas size, dpr, colour scheme). */
let sweepBase = null;

/** Draws the sweep chart: its base, kept from the last time while nothing it shows changed
 * (a Bits change), then the current width's marker over it. The same pixels as drawing it
 * whole; where a browser has no `OffscreenCanvas`, it is drawn whole. */
function drawSweep(surface, dpr, dark) {
  if (typeof OffscreenCanvas !== 'function') {
    state.session.draw('sweep', surface, dpr, dark);
    return;
  }
  const q = state.summary.settings;
  const key = [state.session.sweepCount(), q.scheme, q.calibration, q.zero_point, surface.width, surface.height, dpr, dark].join(' ');
  if (!sweepBase || sweepBase.key !== key) {
    sweepBase?.image.close();
    sweepBase = null;
    const base = new OffscreenCanvas(surface.width, surface.height);
    state.session.draw('sweep-base', base, dpr, dark);
    sweepBase = { key, image: base.transferToImageBitmap() };
  }
  const ctx = surface.getContext('2d');
  ctx.drawImage(sweepBase.image, 0, 0);
  state.session.draw('sweep-marker', surface, dpr, dark);
}

/** Whether any canvas's CSS size or pixel ratio differs from when it was drawn. */
export function sizesChanged() {
  const dpr = window.devicePixelRatio || 1;
  return CHARTS.filter(isActive).some((name) => {
    const c = canvasOf(name);
    const r = c.getBoundingClientRect();
    return c.dataset.drawnAt !== `${Math.max(1, Math.round(r.width * dpr))}x${Math.max(1, Math.round(r.height * dpr))}:${dpr}`;
  });
}
