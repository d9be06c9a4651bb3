// Scheduling: one update at a time, and the charts on screen drawn before those off it.
// A change that arrives while wasm works waits, and only the newest runs; the charts off screen
// are drawn after the frame, or once a slider rests; the body's `data-state` and `data-charts`
// follow both.
import { ui } from './elements.js';
import { setData, setText, yieldToEvents } from './dom.js';
import { message, setState, showError } from './status.js';
import { state } from './state.js';
import { CHARTS, canvasOf, drawCharts, isActive } from './charts.js';

/** How long the page waits after a slider's last step before it draws the charts off screen
 * (`drawOnScreen`) and writes the URL (`saveUrl` in url.js). */
export const SLIDER_REST_MS = 250;

// ---------------------------------------------------------------------------------------------
// One update at a time

/** The timer of an update from the controls that waits for its delay, or null. */
let pendingTimer = null;
/** The controls changed since the last update from the controls ran, oldest first. */
let unrun = [];
/** Counts the updates from the controls that were queued: only the newest runs. */
let scheduled = 0;
/** The promise of the last task queued. */
let queue = Promise.resolve();
/** How many tasks are queued or running. */
let queued = 0;

/** Runs `update(changes)` after `delay` ms (at once with none), replacing any not yet started. */
export function schedule(control, delay, update) {
  // With no delay it is queued at once: a timer would wait for the next frame to be rendered.
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
      return update(changes);
    });
  };
  if (delay > 0) pendingTimer = setTimeout(go, delay);
  else go();
}

/** Runs `task` after every task before it; the page is busy until the last one is done. */
export function enqueue(task) {
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

// ---------------------------------------------------------------------------------------------
// On-screen charts first
//
// An update is on screen when what is visible shows it (`data-state="ready"`), and drawing
// charts no one sees before that only makes the visible ones wait: `drawOnScreen` draws the
// charts on screen now and the others after the next frame (`drawRest`), one per task. A chart
// scrolled into view before then is drawn next (`watchOnScreen`). After a slider step the others
// wait until the slider rests, as the URL does: a drag then spends its frames on what is seen.
// `data-charts` on the body is "pending" while some chart shows an older state, "drawn" after
// ("error" if drawing failed); `#status`'s `data-rest-ms` is the time drawing the rest took.

/** Which charts are on screen (their canvas meets the viewport), by name, as the
 * IntersectionObserver last said; null until it first reports (then `onScreenNow` asks). */
let onScreen = null;
/** Counts the states the charts are to show: each update or redraw makes a new one. */
let wanted = 0;

/** Whether chart `name` shows the current state: its canvas's `data-shows` (the count of
 * `wanted` it was drawn at) is `wanted`, or it is not part of the page for the current choice
 * (see `isActive`: a hidden chart has nothing to show). */
function current(name) {
  return !isActive(name) || canvasOf(name).dataset.shows === String(wanted);
}

/** Moves the charts that are not part of the page on to the state `wanted` (they show nothing,
 * which is what this state shows there): every canvas's `data-shows` stays a count of states. */
function markInactive() {
  for (const name of CHARTS) if (!isActive(name)) setData(canvasOf(name), 'shows', String(wanted));
}

/** Draws the charts on screen now, the rest after the frame (or once a `sliding` slider rests).
 * After a change of which parts of the page show (`relayout`), what is on screen is read from
 * the layout, not from the IntersectionObserver's last report. The comparison of every format
 * waits for the frame too until the session has computed it for this state (every format on
 * all the values): the page is ready without it, and says so in its caption; so does the
 * model's accuracy chart until its sweep is computed. */
export function drawOnScreen(sliding = false, relayout = false) {
  wanted += 1;
  const ours = wanted;
  setData(document.body, 'charts', 'pending');
  markInactive();
  // A newer state draws its own. The timer is also the fallback where no frame comes (a hidden
  // tab); after the frame's draw it finds nothing left to draw.
  const drawLater = () => ours === wanted && drawRest();
  setTimeout(drawLater, SLIDER_REST_MS);
  if (!sliding) requestAnimationFrame(() => setTimeout(drawLater, 0));
  const visible = (relayout ? null : onScreen) ?? onScreenNow();
  const later = !state.session.formatsReady();
  if (later && isActive('formats')) computing('Computing every format on these values…');
  // The model's accuracy chart likewise waits for the frame until its sweep is computed (once
  // per model: the network at every int width and format).
  const waits = (name) => (later && name === 'formats') || (name === 'accuracy' && !state.session.modelReady());
  const now = CHARTS.filter((name) => visible.has(name) && isActive(name) && !waits(name));
  try {
    drawCharts(now, wanted);
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

/** The state the charts off screen are being drawn for, the time drawing them has taken, and
 * whether the drawing of all of them is under way (between its tasks). */
const rest = { shows: 0, ms: 0, going: false };

/** Draws the charts of `names` that show an older state; returns false if drawing failed.
 * The comparison of every format, where the session has not computed it for this state, is
 * computed a row at a time between the page's events (`stepFormats`) and drawn when it is
 * complete; with `now` (a download, printing) it is computed and drawn at once. Otherwise the
 * charts are drawn one per task, and an update the user asks for goes first: on a large tensor
 * a chart's first draw of a state takes a few hundred ms, and a change waits for at most the
 * one under way, not for all of them. */
export function drawRest(names = CHARTS, now = false) {
  // Once none is left, says `data-charts="drawn"`, and notes the time drawing all of them
  // took in `#status`'s `data-rest-ms`. A failure shows its message and says
  // `data-charts="error"`.
  let stale = names.filter((name) => !current(name));
  markInactive();
  if (!state.summary || stale.length === 0) {
    // The last chart drawn by another path (scrolled into view): the time is still this one's.
    if (names === CHARTS && !now && rest.shows === wanted) setData(ui.status, 'restMs', String(Math.round(rest.ms * 10) / 10));
    return true;
  }
  if (!now && stale.includes('formats') && !state.session.formatsReady()) {
    stale = stale.filter((name) => name !== 'formats');
    stepFormats(wanted);
  }
  const ours = wanted;
  const all = names === CHARTS && !now;
  if (rest.shows !== ours) Object.assign(rest, { shows: ours, ms: 0, going: false });
  else if (all && rest.going) return true; // its next task draws the next chart
  const t0 = performance.now();
  try {
    drawCharts(now ? stale : stale.slice(0, 1), wanted);
  } catch (e) {
    showError(message(e));
    setData(document.body, 'charts', 'error');
    if (queued === 0 && pendingTimer === null) setState('error');
    return false;
  }
  if (all) rest.ms += performance.now() - t0;
  if (!now && stale.length > 1) {
    if (all) rest.going = true;
    yieldToEvents()
      .then(() => afterUpdates(ours))
      .then(() => {
        if (all && rest.shows === ours) rest.going = false;
        if (ours === wanted) drawRest(names);
      });
    return true;
  }
  if (names === CHARTS) setData(ui.status, 'restMs', String(Math.round(rest.ms * 10) / 10));
  if (CHARTS.every(current)) setData(document.body, 'charts', 'drawn');
  return true;
}

/** How long the comparison of every format is measured (`Session.formatsStep`, a row at a
 * time) before the page handles its events again. */
const STEP_MS = 50;

/** Says that the comparison of every format is being computed: what its chart and table show
 * until it is drawn is of the state before, and is dimmed. */
function computing(text) {
  setText(ui.formatsStatus, text);
  setData(ui.formatsStatus.closest('figure'), 'computing', 'true');
}

/** Whether an update from the controls is waiting for its delay, queued or running. */
const updating = () => queued > 0 || pendingTimer !== null;

/** Resolves once no update from the controls is waiting or running (or state `ours` is no
 * longer the newest): an update the user asked for goes before the comparison's steps, since
 * a K-quant run on a large tensor yields between its pieces, and steps taken there would
 * double its time. */
async function afterUpdates(ours) {
  while (updating() && ours === wanted) {
    await (queued > 0 ? queue : new Promise((resolve) => setTimeout(resolve, 20)));
  }
}

/** The state the comparison of every format is being measured for, or null. */
let stepping = null;

/** Measures the comparison of every format for state `ours` a row at a time, handing the
 * page its events every `STEP_MS`, then draws its chart: on a large tensor (tens of seconds
 * in all) the controls stay live. A newer state stops it and starts its own, which goes on
 * from the rows the session kept where what they depend on is the same. */
async function stepFormats(ours) {
  if (stepping === ours) return;
  stepping = ours;
  try {
    await afterUpdates(ours);
    if (ours !== wanted) return;
    let t0 = performance.now();
    let left = state.session.formatsStep();
    // The last step's time: the page yields where another step would take it past `STEP_MS`,
    // so that a change the user makes waits for at most that long (not for a second step).
    let stepMs = performance.now() - t0;
    while (left > 0 && ours === wanted) {
      if (performance.now() - t0 + stepMs > STEP_MS || updating()) {
        computing(`Computing every format on these values: ${left} ${left === 1 ? 'row' : 'rows'} to go…`);
        await yieldToEvents();
        await afterUpdates(ours);
        t0 = performance.now();
        if (ours !== wanted) return;
      }
      const t1 = performance.now();
      left = state.session.formatsStep();
      stepMs = performance.now() - t1;
    }
  } catch (e) {
    if (ours === wanted) {
      showError(message(e));
      setData(document.body, 'charts', 'error');
    }
    return;
  } finally {
    if (stepping === ours) stepping = null;
  }
  if (ours === wanted) drawRest(['formats']);
}

/** Draws `names` now for a change only they show (the block the inspector marks), as a new
 * state: the charts that showed the state before show this one too, and move on with it. */
export function redrawOnly(names) {
  const before = String(wanted);
  wanted += 1;
  for (const name of CHARTS) {
    if (!names.includes(name) && canvasOf(name).dataset.shows === before) setData(canvasOf(name), 'shows', String(wanted));
  }
  markInactive();
  drawCharts(names.filter(isActive), wanted);
  if (CHARTS.every(current)) {
    setData(document.body, 'charts', 'drawn');
    return;
  }
  // The charts off screen that were still to be drawn (one per task) are now of this state.
  const ours = wanted;
  yieldToEvents()
    .then(() => afterUpdates(ours))
    .then(() => ours === wanted && drawRest());
}

/** Watches which charts are on screen, and draws one scrolled into view that is out of date. */
export function watchOnScreen() {
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
