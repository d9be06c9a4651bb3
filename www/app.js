// Entry point of quantviz's page: start wasm, wire up the page, show the view the URL asks for.
// Every number, formula and chart comes from the Rust side; nothing here quantizes anything.
import init, { Session } from '../pkg/quantviz.js';
import { ui } from './elements.js';
import { message, setState, setStatus, showError } from './status.js';
import { largeInQuery, state } from './state.js';
import { drawOnScreen, enqueue, watchOnScreen } from './schedule.js';
import { run } from './update.js';
import { setupUI } from './events.js';
import { setupCards } from './kl.js';
import { fetchModel, loadModel, modelFailed, showModel } from './model.js';
import { modelFromUrl } from './modelfile.js';
import { LESSONS, focusLesson, lessonInQuery, showLesson, withoutLesson } from './lessons.js';

/** Starts wasm, wires up the controls, then shows the view the URL asks for. */
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
  setupCards();
  enqueue(firstUpdate);
  startModel();
}

/** Fetches the Model section's network while the first view is computed, then shows it with the
 * settings of the moment (a failed fetch says so in the section; the page works on). */
async function startModel() {
  let bytes;
  try {
    bytes = await fetchModel();
  } catch (e) {
    modelFailed(e);
    return;
  }
  enqueue(() => {
    if (!loadModel(bytes) || state.summary === null) return;
    showModel();
    // The section's chart is now part of the page: drawn where it is on screen, after the frame.
    drawOnScreen(false, true);
  });
}

/** Shows the view the URL asks for; a broken link shows the defaults under its message. */
async function firstUpdate() {
  const k = lessonInQuery(location.search);
  if (k !== null && k >= 0) {
    showLesson(k);
    const ok = await run(LESSONS[k].query, { syncControls: true });
    if (ok) focusLesson(k);
    return;
  }
  const fromUrl = withoutLesson(location.search);
  // A model tensor's link (`tensor=`, a model preset) opens its file, or says why it cannot.
  if (await modelFromUrl(fromUrl)) return;
  const ok = await run(fromUrl, { large: largeInQuery(fromUrl), syncControls: true });
  if (!ok && state.summary === null) {
    // A broken link still gets a page: keep its message, show the defaults underneath.
    const msg = ui.error.textContent;
    await run('', { syncControls: true });
    showError(`${msg} (showing the default settings instead)`);
  } else if (k === -1) {
    showError(`lesson: the tour has steps 1 to ${LESSONS.length} (showing the page without it)`);
  }
}

initialize();
