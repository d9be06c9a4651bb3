// quantviz page glue: read the controls, keep the URL in step, call wasm, show its numbers.
// Every number, formula and chart comes from the Rust side; nothing here quantizes anything.
import init, { Session, csvMaxRows } from '../pkg/quantviz.js';
import { ui } from './elements.js';
import { flash, setData, setText } from './dom.js';
import { clearError, message, setState, setStatus, showError } from './status.js';
import { LARGE_N_QUANT, largeInQuery, state } from './state.js';
import { applySettings, queryFromControls, reflectSettings } from './controls.js';
import { render } from './numbers.js';
import { CHARTS, canvasOf, darkQuery, drawCharts, sizesChanged, surfaceOf, watchSizes } from './charts.js';

/** Pause after typing before updating, so "1000" does not compute 1, 10 and 100 first. */
const TYPING_DEBOUNCE_MS = 150;
/** Pause after a resize before redrawing. */
const RESIZE_DEBOUNCE_MS = 120;
/** How long the page waits after a slider's last step before it writes the URL (`saveUrl`) and
 * draws the charts off screen (`drawOnScreen`). */
const URL_IDLE_MS = 250;

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
      schedule(el, typing ? TYPING_DEBOUNCE_MS : 0);
    });
    // A typed value is committed on Enter or blur: apply it at once, not after the debounce.
    if (typing) el.addEventListener('change', () => schedule(el, 0));
  }
  ui.form.addEventListener('submit', (e) => e.preventDefault());
  ui.newSeed.addEventListener('click', () => {
    const r = new Uint32Array(1);
    crypto.getRandomValues(r);
    ui.seed.value = String(r[0]);
    setState('busy');
    schedule(ui.seed, 0);
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

// ---------------------------------------------------------------------------------------------
// One update at a time: a change that arrives while wasm works waits, and only the newest runs.

let pendingTimer = null;
/** The controls changed since the last update from the controls ran, oldest first. */
let unrun = [];
let scheduled = 0;
let queue = Promise.resolve();
let queued = 0;

/** Updates from the controls after `delay` ms, replacing any update not yet started; with no
 * delay, at once (a timer would wait for the next frame to be rendered first). */
function schedule(control, delay) {
  clearTimeout(pendingTimer);
  pendingTimer = null;
  unrun.push(control);
  const go = () => {
    pendingTimer = null;
    const generation = ++scheduled;
    // Only the newest of the updates queued behind a running one runs, and it takes in every
    // change made since the last one ran (a new distribution, a data control, then Bits, say).
    enqueue(() => {
      if (generation !== scheduled) return undefined;
      const changes = unrun;
      unrun = [];
      return updateFromControls(changes);
    });
  };
  if (delay > 0) pendingTimer = setTimeout(go, delay);
  else go();
}

/** Runs `task` after every task before it; the page is busy until the last one is done. */
function enqueue(task) {
  queued += 1;
  queue = queue
    .then(task)
    .catch((e) => showError(message(e)))
    .finally(() => {
      queued -= 1;
      if (queued === 0 && pendingTimer === null) {
        setState(ui.error.hidden ? 'ready' : 'error');
      }
    });
  return queue;
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

/** Which charts are on screen (their canvas meets the viewport), by name, as the
 * IntersectionObserver last said; null until it first reports (then `onScreenNow` asks). */
let onScreen = null;
/** Counts the states the charts are to show: each update or redraw makes a new one. */
let wanted = 0;
/** Whether chart `name` shows the current state: its canvas's `data-shows` (the count of
 * `wanted` it was drawn at) is `wanted`. */
function current(name) {
  return canvasOf(name).dataset.shows === String(wanted);
}

/**
 * Draws the charts on screen now and the others after the next frame (`drawRest`): an update
 * is on screen when what is visible shows it (`data-state="ready"`), and drawing charts no one
 * sees before that only makes the visible ones wait (about 3 ms of a 100,000-value Bits change:
 * README, Benchmarks). A chart scrolled into view before then is drawn at once (`watchOnScreen`).
 * After a slider step (`sliding`) the others wait until the slider rests, as the URL does
 * (`saveUrl`): a drag then spends its frames on what is seen. `data-charts` on the body is
 * "pending" while some chart shows an older state, "drawn" after ("error" if drawing failed).
 */
function drawOnScreen(sliding = false) {
  wanted += 1;
  const ours = wanted;
  setData(document.body, 'charts', 'pending');
  // A newer state draws its own. The timer is also the fallback where no frame comes (a hidden
  // tab); after the frame's draw it finds nothing left to draw.
  const later = () => ours === wanted && drawRest();
  setTimeout(later, URL_IDLE_MS);
  if (!sliding) requestAnimationFrame(() => setTimeout(later, 0));
  const visible = onScreen ?? onScreenNow();
  try {
    drawCharts(CHARTS.filter((name) => visible.has(name)), wanted);
  } catch (e) {
    // The later drawing is of a state the page does not show: called off.
    wanted += 1;
    setData(document.body, 'charts', 'error');
    throw e;
  }
  if (CHARTS.every(current)) {
    setData(ui.status, 'restMs', '0');
    setData(document.body, 'charts', 'drawn');
  }
}

/** Draws the charts of `names` that show an older state than the current one (see
 * `drawOnScreen`); once none is left, says `data-charts="drawn"`, and notes the time a drawing
 * of all of them took in `#status`'s `data-rest-ms`. Returns false if drawing failed (the page
 * then shows the message and says `data-charts="error"`). */
function drawRest(names = CHARTS) {
  const stale = names.filter((name) => !current(name));
  if (!state.summary || stale.length === 0) return true;
  const t0 = performance.now();
  try {
    drawCharts(stale, wanted);
  } catch (e) {
    showError(message(e));
    setData(document.body, 'charts', 'error');
    if (queued === 0 && pendingTimer === null) setState('error');
    return false;
  }
  if (names === CHARTS) setData(ui.status, 'restMs', String(Math.round((performance.now() - t0) * 10) / 10));
  if (CHARTS.every(current)) setData(document.body, 'charts', 'drawn');
  return true;
}

/** Watches which charts are on screen (`onScreen`); one scrolled into view that shows an older
 * state than the current one is drawn at once. */
function watchOnScreen() {
  // Without one (no browser this page runs in lacks it), `onScreenNow` asks at every update.
  if (typeof IntersectionObserver !== 'function') return;
  const io = new IntersectionObserver((entries) => {
    onScreen ??= new Set();
    for (const e of entries) {
      const name = e.target.id.slice('chart-'.length);
      if (e.isIntersecting) onScreen.add(name);
      else onScreen.delete(name);
    }
    drawRest([...onScreen]);
  });
  for (const name of CHARTS) io.observe(canvasOf(name));
}

/** The charts on screen, from the layout: for the first render, which can come before the
 * IntersectionObserver's first report (it comes with the first frame). */
function onScreenNow() {
  const [w, h] = [window.innerWidth, window.innerHeight];
  return new Set(
    CHARTS.filter((name) => {
      const r = canvasOf(name).getBoundingClientRect();
      return r.bottom > 0 && r.right > 0 && r.top < h && r.left < w;
    }),
  );
}

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
// Sharing and downloads

/** The query the address bar is to show, not yet written there (or null). */
let unsavedQuery = null;
let urlTimer = null;

/**
 * Puts `query` in the address bar after the update, not during it: `history.replaceState` took
 * 1.6 to 3 ms of a 100,000-value Bits change (it serializes state and tells the browser
 * process), and the page looks the same without it. After a slider step (`sliding`) it waits
 * until the slider rests ({@link URL_IDLE_MS} after its last step: a dragged slider needs only
 * its last value there, and Chromium throttles pages that call it hundreds of times); after any
 * other change, just after the next frame. Copying the link writes it first, as do leaving and
 * hiding the page; a reload within that wait still loads the URL before it. `data-url` on the
 * body is "pending" until it is written, "saved" after.
 */
function saveUrl(query, sliding = false) {
  unsavedQuery = query;
  setData(document.body, 'url', 'pending');
  clearTimeout(urlTimer);
  // At the latest then, also where no frame comes (a hidden tab).
  urlTimer = setTimeout(flushUrl, URL_IDLE_MS);
  if (!sliding) requestAnimationFrame(() => setTimeout(flushUrl, 0));
}

/** Writes the pending query (see `saveUrl`) to the address bar now. */
function flushUrl() {
  clearTimeout(urlTimer);
  urlTimer = null;
  if (unsavedQuery !== null) {
    const search = `?${unsavedQuery}`;
    if (location.search !== search) history.replaceState(null, '', search);
    unsavedQuery = null;
  }
  setData(document.body, 'url', 'saved');
}

/** Copies the link of this view; falls back to selecting it for the user. */
async function copyLink() {
  flushUrl();
  const url = location.href;
  try {
    await navigator.clipboard.writeText(url);
    flash(ui.copyLink, 'Link copied');
  } catch {
    window.prompt('Copy this link:', url);
  }
}

/** Downloads the current values as CSV: index, original, code, dequantized, error. */
function downloadCsv() {
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
function downloadPng(name) {
  // A chart off screen may not show the current state yet.
  if (!drawRest([name])) return;
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
