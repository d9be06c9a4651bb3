// The Model section: the network's files fetched once from this server and handed to the wasm
// Session, then, at every update, its accuracy under the current settings, the test images
// whose answer changed and each layer's weight error, all computed by the Session.
import { ui } from './elements.js';
import { setData, setProp, setText } from './dom.js';
import { message } from './status.js';
import { state } from './state.js';

/** The network and its test set, relative to the page (the same server, no other host). */
export const MODEL_FILES = ['models/digits-mlp.safetensors', 'models/digits-test.safetensors'];

/** Fetches both files; resolves to their bytes, or throws with what failed. */
export async function fetchModel() {
  return Promise.all(
    MODEL_FILES.map(async (url) => {
      let r;
      try {
        r = await fetch(url);
      } catch (e) {
        throw new Error(`${url}: ${message(e)}`);
      }
      if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
      return new Uint8Array(await r.arrayBuffer());
    }),
  );
}

/** Hands the fetched bytes to the Session; true when the section can show the model. */
export function loadModel([modelBytes, testBytes]) {
  try {
    state.session.loadModel(modelBytes, testBytes);
  } catch (e) {
    modelFailed(e);
    return false;
  }
  setProp(ui.model.body, 'hidden', false);
  return true;
}

/** Says in the section that the model could not be loaded (the rest of the page works on). */
export function modelFailed(e) {
  setText(ui.model.status, `Could not load the model: ${message(e)}`);
  setData(ui.model.status, 'kind', 'error');
  setProp(ui.model.status, 'hidden', false);
}

/** Shows the network quantized with the current settings (evaluated once per setting by the
 * Session); settings it cannot take say so in the section. Does nothing before the model. */
export function showModel() {
  if (!state.session.hasModel()) return;
  /** @type {import('./types.js').ModelSection} */
  const m = JSON.parse(state.session.modelJson());
  setText(ui.model.floatAccuracy, m.float_text);
  setText(ui.model.accuracy, m.accuracy_text ?? '—');
  setProp(ui.model.status, 'hidden', m.error === null);
  setText(ui.model.status, m.error === null ? '' : `These settings cannot quantize the network: ${m.error}`);
  setData(ui.model.status, 'kind', m.error === null ? '' : 'error');
  setText(ui.model.weights, m.model ? `Weights: ${m.model.weights}, ${m.model.bits_per_weight.toFixed(2)} bits per weight.` : '');
  showFlips(m);
  showLayers(m.model ? m.model.layers : []);
}

/** What the flips shown were drawn from: the same flips are not drawn again. */
let flipsKey = '';

/** The flipped images as 8×8 pictures, each with its true digit and the quantized answer. */
function showFlips(m) {
  const n = m.flipped_count;
  const shown = m.flips.length;
  let count;
  if (m.error !== null) count = '';
  else if (n === 0) count = 'No image changed its answer: the quantized network answers every test image as the float one does.';
  else {
    const of = shown < n ? ` (the first ${shown} shown)` : '';
    count = `${n} of ${m.model.n_test} images changed their answer${of}. Under each: its true digit, then what the float and the quantized network say; framed red where the quantized answer is wrong, green where it is right.`;
  }
  setText(ui.model.flipsCount, count);
  const key = m.flips.map((f) => `${f.index}:${f.predicted}`).join(' ');
  if (key === flipsKey) return;
  flipsKey = key;
  ui.model.flips.replaceChildren(...m.flips.map(flipFigure));
}

/** One flipped image: an 8×8 canvas (scaled up by CSS, pixelated) and its labels. */
function flipFigure(f) {
  const fig = document.createElement('figure');
  fig.className = 'flip';
  // Right now (it was wrong in float) or wrong now.
  fig.dataset.now = f.predicted === f.label ? 'right' : 'wrong';
  const side = Math.round(Math.sqrt(f.width));
  const c = document.createElement('canvas');
  c.width = side;
  c.height = f.width / side;
  c.setAttribute('role', 'img');
  c.setAttribute('aria-label', `test image ${f.index}, a ${f.label}`);
  const img = new ImageData(c.width, c.height);
  f.grey.forEach((g, i) => {
    img.data.set([g, g, g, 255], 4 * i);
  });
  c.getContext('2d').putImageData(img, 0, 0);
  const cap = document.createElement('figcaption');
  cap.textContent = `${f.label}: ${f.float}→${f.predicted}`;
  fig.title = `test image ${f.index}: a ${f.label}; float32 says ${f.float}, quantized says ${f.predicted}`;
  fig.append(c, cap);
  return fig;
}

/** Each layer's SQNR as a bar (60 dB the full width) with its SQNR and MSE. */
function showLayers(layers) {
  const list = ui.model.layers;
  if (list.children.length !== layers.length) {
    list.replaceChildren(
      ...layers.map(() => {
        const li = document.createElement('li');
        const name = document.createElement('span');
        name.className = 'layer-name';
        const track = document.createElement('span');
        track.className = 'layer-track';
        const bar = document.createElement('span');
        bar.className = 'layer-bar';
        track.append(bar);
        const value = document.createElement('span');
        value.className = 'layer-value';
        li.append(name, track, value);
        return li;
      }),
    );
  }
  layers.forEach((l, i) => {
    const [name, track, value] = list.children[i].children;
    setText(name, `${l.name} (${l.n.toLocaleString('en')} weights)`);
    const db = Number.isFinite(l.sqnr_db) ? l.sqnr_db : 60;
    const width = `${Math.max(0, Math.min(100, (100 * db) / 60)).toFixed(1)}%`;
    if (track.firstChild.style.width !== width) track.firstChild.style.width = width;
    const sqnr = l.sqnr_db === null ? '∞' : l.sqnr_db.toFixed(1);
    setText(value, `SQNR ${sqnr} dB · MSE ${l.mse === null ? '—' : l.mse.toExponential(2)}`);
  });
}
