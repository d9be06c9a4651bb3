// quantviz page glue: read the controls, keep the URL in step, call wasm, show its numbers.
// Every number, formula and chart comes from the Rust side; nothing here quantizes anything.
import init, { Session } from '../pkg/quantviz.js';
import { ui } from './elements.js';
import { setText } from './dom.js';
import { clearError, message, setState, setStatus, showError } from './status.js';
import { LARGE_N_QUANT, largeInQuery, state } from './state.js';
import { applySettings, queryFromControls, reflectSettings } from './controls.js';
import { render } from './numbers.js';
import { darkQuery, sizesChanged, watchSizes } from './charts.js';
import { drawOnScreen, drawRest, enqueue, schedule, watchOnScreen } from './schedule.js';
import { copyLink, flushUrl, saveUrl } from './url.js';
import { downloadCsv, downloadPng } from './downloads.js';

/** Pause after typing before updating, so "1000" does not compute 1, 10 and 100 first. */
const TYPING_DEBOUNCE_MS = 150;
/** Pause after a resize before redrawing. */
const RESIZE_DEBOUNCE_MS = 120;

/** Starts wasm, shows the view the URL asks for, then wires up the controls. */
async function initialize() {
  setState('busy');
  watchOnScreen();
  try {
    await init();
    state.session = new Session();
  } catch (e) {
    showError(`Could not start the WebAssembly module: ${message(e)}`);
    setStatus('Not loaded');
    setState('error');
    return;
  }
  setupUI();
  enqueue(async () => {
    const fromUrl = location.search;
    const ok = await run(fromUrl, { large: largeInQuery(fromUrl), syncControls: true });
    if (!ok && state.summary === null) {
      // A broken link still gets a page: keep its message, show the defaults underneath.
      const msg = ui.error.textContent;
      await run('', { syncControls: true });
      showError(`${msg} (showing the default settings instead)`);
    }
  });
}

/** Wires every control: typing is debounced, choices apply at once. */
function setupUI() {
  for (const el of ui.form.querySelectorAll('[data-kind]')) {
    const typing = el.tagName === 'INPUT' && el.type !== 'range';
    el.addEventListener('input', () => {
      if (el === ui.bits) setText(ui.bitsOut, el.value);
      setState('busy');
      schedule(el, typing ? TYPING_DEBOUNCE_MS : 0, updateFromControls);
    });
    // A typed value is committed on Enter or blur: apply it at once, not after the debounce.
    if (typing) el.addEventListener('change', () => schedule(el, 0, updateFromControls));
  }
  ui.form.addEventListener('submit', (e) => e.preventDefault());
  ui.newSeed.addEventListener('click', () => {
    const r = new Uint32Array(1);
    crypto.getRandomValues(r);
    ui.seed.value = String(r[0]);
    setState('busy');
    schedule(ui.seed, 0, updateFromControls);
  });
  for (const b of ui.presets) {
    b.addEventListener('click', () => {
      setState('busy');
      const q = `preset=${b.dataset.preset}`;
      enqueue(async () => {
        if (state.summary && state.summary.data.source === 'file') state.session.useGenerated();
        await run(q, { large: false, syncControls: true });
      });
    });
  }
  ui.file.addEventListener('change', () => {
    const file = ui.file.files && ui.file.files[0];
    if (!file) return;
    setState('busy');
    enqueue(() => loadFile(file));
  });
  ui.useGenerated.addEventListener('click', () => {
    setState('busy');
    enqueue(async () => {
      state.session.useGenerated();
      state.preset = null;
      const q = queryFromControls();
      await run(q, { large: largeInQuery(q) });
    });
  });
  ui.copyLink.addEventListener('click', copyLink);
  ui.downloadCsv.addEventListener('click', downloadCsv);
  for (const b of document.querySelectorAll('button.png')) {
    b.addEventListener('click', () => downloadPng(b.dataset.chart));
  }
  // Redraw (no recompute) when the canvases change size or the colour scheme flips.
  const resized = debounce(() => enqueue(redrawIfResized), RESIZE_DEBOUNCE_MS);
  watchSizes(resized);
  window.addEventListener('resize', resized);
  // Leaving or hiding the page keeps the view's URL (for history and tab restore).
  window.addEventListener('pagehide', flushUrl);
  // A printed page shows every chart as it is now.
  window.addEventListener('beforeprint', () => drawRest());
  document.addEventListener('visibilitychange', () => document.hidden && flushUrl());
  darkQuery.addEventListener('change', () => enqueue(() => redraw(true)));
}

/** Reads the controls and updates after `changes` (controls, oldest first); a change to the
 * data leaves a notebook preset. */
async function updateFromControls(changes) {
  const isData = (c) => c.dataset.kind === 'data';
  // The percentile preset draws its values with the Seed and puts the Outlier value last.
  if (changes.some((c) => isData(c) && c.dataset.keepsPreset !== state.preset)) {
    state.preset = null;
    if (state.summary && state.summary.data.source === 'file') state.session.useGenerated();
  }
  // A new distribution starts from its default parameters, which the core knows, unless one
  // of its parameters was edited after it was picked.
  const isParam = (c) => Object.values(ui.params).some((list) => list.includes(c));
  let distOnly = false;
  for (const c of changes) {
    if (c === ui.dist) distOnly = true;
    else if (isParam(c)) distOnly = false;
  }
  const q = queryFromControls({ distOnly });
  if (q === state.lastGoodQuery) {
    // Nothing changed since the last good view (a change event after the debounce, or a bad
    // value typed back to what it was): the session still holds that view.
    clearError();
    reflectSettings(state.summary.settings);
    setStatus(`Updated in ${state.lastMs} ms`, state.lastMs);
    return;
  }
  const quantOnly = changes.length > 0 && changes.every((c) => c.dataset.kind === 'quant');
  const large = quantOnly ? largeInQuery(q, LARGE_N_QUANT) : largeInQuery(q);
  const changed = changes.length ? changes[changes.length - 1] : null;
  await run(q, { large, syncControls: distOnly, changed });
}

/**
 * Computes `query`, draws the charts (those off screen just after, see `drawOnScreen`) and
 * shows the numbers. On failure shows the message and
 * keeps the last good view (the session keeps its previous state too). Returns success.
 */
async function run(query, { large = false, syncControls = false, changed = null } = {}) {
  const t0 = await beforeCompute(large);
  let next;
  try {
    next = JSON.parse(state.session.update(query));
  } catch (e) {
    failed(e, changed);
    return false;
  }
  const ok = show(next, t0, syncControls, Boolean(changed && changed.type === 'range'));
  if (ok) state.lastGoodQuery = changed ? query : null;
  return ok;
}

/** Reads the user's file in the browser and quantizes it with the current settings. */
async function loadFile(file) {
  const t0 = await beforeCompute(true);
  let next;
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    next = JSON.parse(state.session.load(bytes, file.name, queryFromControls()));
  } catch (e) {
    failed(e, ui.file);
    return false;
  } finally {
    ui.file.value = '';
  }
  state.lastGoodQuery = null;
  return show(next, t0, true);
}

/** Marks the page busy and, for long jobs, says so and lets that paint first. */
async function beforeCompute(large) {
  setState('busy');
  if (large) {
    setStatus('Working…');
    await nextPaint();
  }
  return performance.now();
}

/** Shows a successful summary: numbers, charts, URL.
 * @param {import('./types.js').Summary} next */
function show(next, t0, syncControls, sliding = false) {
  state.summary = next;
  state.preset = next.settings.preset ?? null;
  try {
    drawOnScreen(sliding);
  } catch (e) {
    failed(e, null);
    return false;
  }
  saveUrl(next.query, sliding);
  render(next);
  if (syncControls) applySettings(next.settings);
  else reflectSettings(next.settings);
  state.lastMs = Math.round(performance.now() - t0);
  setStatus(`Updated in ${state.lastMs} ms`, state.lastMs);
  clearError();
  return true;
}

/** Shows a failure's message and marks the control that caused it; the view stays. */
function failed(e, control) {
  showError(message(e));
  if (control) control.setAttribute('aria-invalid', 'true');
  if (state.summary) setStatus('Showing the last good settings');
}

// ---------------------------------------------------------------------------------------------
// Charts

/** Redraws after a resize, only if a canvas really changed size. */
async function redrawIfResized() {
  if (state.summary && sizesChanged()) await redraw(false);
}

/** Redraws the current state without recomputing it. */
async function redraw(force) {
  if (!state.summary || (!force && !sizesChanged())) return;
  setState('busy');
  const t0 = performance.now();
  try {
    drawOnScreen();
  } catch (e) {
    showError(message(e));
    return;
  }
  state.lastMs = Math.round(performance.now() - t0);
  setStatus(`Updated in ${state.lastMs} ms`, state.lastMs);
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Resolves after the browser has painted the current DOM. */
function nextPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

function debounce(fn, ms) {
  let t = null;
  return () => {
    clearTimeout(t);
    t = setTimeout(fn, ms);
  };
}

initialize();
