// Updates: a query or a file computed by the wasm Session and shown; redraws, which compute none.
import { ui } from './elements.js';
import { setData } from './dom.js';
import { clearError, message, setState, setStatus, showError } from './status.js';
import { LARGE_N_QUANT, largeInQuery, state } from './state.js';
import { applySettings, queryFromControls, reflectSettings } from './controls.js';
import { render } from './numbers.js';
import { sizesChanged } from './charts.js';
import { drawOnScreen, redrawOnly } from './schedule.js';
import { setMode, showBlock } from './formats.js';
import { showCards } from './kl.js';
import { saveUrl } from './url.js';
import { showMatrix } from './matrix.js';
import { showModel } from './model.js';
import { afterUpdate, withTensor } from './modelfile.js';
import { helpWith, startHelper } from './helper.js';
import { warmUp } from './warm.js';

/** Updates from the controls after `changes` (controls, oldest first); new data leaves a preset. */
export async function updateFromControls(changes) {
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

/** Computes `query` and shows it; on failure shows the message, keeps the view; returns success. */
export async function run(query, { large = false, syncControls = false, changed = null } = {}) {
  // The charts off screen are drawn just after (see `drawOnScreen`); a failed update leaves the
  // last good view, and the session keeps its previous state too.
  const t0 = await beforeCompute(large);
  let next;
  let helped = false;
  try {
    helped = await helpWith(query);
    next = JSON.parse(state.session.update(query));
  } catch (e) {
    failed(e, changed);
    return false;
  }
  const ok = show(next, t0, syncControls, Boolean(changed && changed.type === 'range'), helped);
  if (ok) state.lastGoodQuery = changed ? query : null;
  return ok;
}

/** Reads the user's file in the browser and quantizes it with the current settings. */
export async function loadFile(file) {
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

/** New data from `compute` (an async function returning the summary JSON, such as a model
 * tensor's), shown as `loadFile` shows a file's; on failure the message, and the view stays. */
export async function loadData(compute, control) {
  const t0 = await beforeCompute(true);
  let next;
  try {
    next = JSON.parse(await compute());
  } catch (e) {
    failed(e, control);
    return false;
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
function show(next, t0, syncControls, sliding = false, helped = false) {
  state.summary = next;
  startHelper(next.data.n);
  warmUp(next.data.n);
  state.preset = next.settings.preset ?? null;
  const cardsMoved = showCards(next);
  const modeChanged = setMode(next);
  const relayout = showMatrix(next) || modeChanged || cardsMoved;
  try {
    drawOnScreen(sliding, relayout);
  } catch (e) {
    failed(e, null);
    return false;
  }
  saveUrl(withTensor(next.query), sliding);
  afterUpdate();
  render(next);
  try {
    showModel();
  } catch (e) {
    failed(e, null);
    return false;
  }
  state.block = null;
  state.strip = null;
  if (next.format) {
    try {
      showBlock(JSON.parse(state.session.block(state.session.selectedBlock())));
    } catch (e) {
      failed(e, null);
      return false;
    }
  }
  if (syncControls) applySettings(next.settings);
  else reflectSettings(next.settings);
  state.lastMs = Math.round(performance.now() - t0);
  // A format run shared with the worker says so: the time is that of two cores.
  setStatus(`Updated in ${state.lastMs} ms${helped ? ' on two cores' : ''}`, state.lastMs);
  setData(ui.status, 'cores', helped ? '2' : '1');
  clearError();
  return true;
}

/** Shows a failure's message and marks the control that caused it; the view stays, and what
 * the controls grey follows the controls as they are now (a Format set back to int frees the
 * int controls even though the change before it failed). */
function failed(e, control) {
  showError(message(e));
  if (state.summary) reflectSettings(state.summary.settings);
  if (control) control.setAttribute('aria-invalid', 'true');
  if (state.summary) setStatus('Showing the last good settings');
}

/** Inspects block `index` of the format's run: its details, and the blocks chart's mark. A
 * block past the last says so and changes nothing. */
export function selectBlock(index) {
  if (!state.summary || !state.summary.format) return;
  let b;
  try {
    b = JSON.parse(state.session.block(index));
  } catch (e) {
    showError(message(e));
    ui.blockIndex.setAttribute('aria-invalid', 'true');
    return;
  }
  clearError();
  showBlock(b);
  redrawOnly(['blocks']);
}

/** Redraws after a resize, only if a canvas really changed size. */
export async function redrawIfResized() {
  if (state.summary && sizesChanged()) await redraw(false);
}

/** Redraws the current state without recomputing it. */
export async function redraw(force) {
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

/** Resolves after the browser has painted the current DOM. */
function nextPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}
