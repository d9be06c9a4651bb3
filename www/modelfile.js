// Model files (.safetensors, .gguf): the tensor list, picking a tensor, the digits preset, and
// the `tensor=` link. JavaScript only slices the file: Rust says how many header bytes to read,
// parses the header, says which bytes a tensor is, and decodes them. Only the header and the
// picked tensor's bytes are ever read (`Blob.slice`), so a tab never holds a whole model file.
import { Session, modelPrefixBytes, modelSniff } from '../pkg/quantviz.js';
import { clearError, message, setStatus, showError } from './status.js';
import { state } from './state.js';
import { queryFromControls } from './controls.js';
import { loadData, loadFile, run } from './update.js';
import { enqueue } from './schedule.js';
import { startHelper } from './helper.js';
import { warmUp } from './warm.js';

const $ = (sel) => document.querySelector(sel);
const el = {
  file: $('#file'),
  dropZone: $('#drop-zone'),
  preset: $('#model-preset'),
  box: $('#model-tensors'),
  summary: $('#model-summary'),
  search: $('#tensor-search'),
  count: $('#tensor-count'),
  list: $('#tensor-list'),
};

/** The model presets: the repository's model files, fetched from the page's own server. */
const PRESETS = {
  'digits-mlp': { url: 'models/digits-mlp.safetensors', name: 'digits-mlp.safetensors', tensor: 'fc1.weight' },
};

/** The open file: its Blob, name, tensor list (JSON from Rust) and preset (or null). */
let open = null;
/** The preset whose tensor is the data (null for the user's file): the link names it. */
let shownPreset = null;

/** Whether `file` is a model file the page lists: by its name, or by its first bytes. */
async function isModelFile(file) {
  if (/\.(safetensors|gguf)$/i.test(file.name)) return true;
  const head = await readBytes(file, 0, Math.min(modelPrefixBytes(), file.size));
  return modelSniff(head) !== '';
}

/** Bytes `[start, end)` of `blob`, and no others. */
async function readBytes(blob, start, end) {
  return new Uint8Array(await blob.slice(start, end).arrayBuffer());
}

/** Opens a file the user picked or dropped: a model file's tensor list, or other values as data. */
export async function openFile(file) {
  let model;
  try {
    model = await isModelFile(file);
  } catch (e) {
    showError(`cannot read ${file.name}: ${message(e)}`);
    return false;
  }
  if (!model) {
    const ok = await loadFile(file);
    // Another file's values are the data now: the model file's list goes with it.
    if (ok) closeModel();
    return ok;
  }
  el.file.value = '';
  return openModel(file, file.name, { preset: null, tensor: null });
}

/** Reads `blob`'s header, shows its tensor list and, with `tensor` (a name), loads that tensor.
 * On a bad file the message names it and the page keeps what it showed. */
async function openModel(blob, name, { preset, tensor, query = null }) {
  const t0 = performance.now();
  setStatus('Reading the header…');
  let list;
  try {
    const len = blob.size;
    let head = await readBytes(blob, 0, Math.min(modelPrefixBytes(), len));
    let need = Session.modelHeaderNeeded(head, len, name);
    // A GGUF header's length is known only as it is read: ask again with the bytes asked for.
    while (need > head.length) {
      head = await readBytes(blob, 0, need);
      need = Session.modelHeaderNeeded(head, len, name);
    }
    list = JSON.parse(state.session.modelOpen(head.subarray(0, Math.max(need, 0)), len, name));
  } catch (e) {
    showError(message(e));
    if (state.summary) setStatus('Showing the last good view');
    return false;
  }
  open = { blob, name, list, preset };
  clearError();
  showList(list);
  const ms = Math.round(performance.now() - t0);
  el.box.dataset.ms = String(ms);
  if (tensor === null) {
    const what = list.tensors.length === 0 ? 'it holds no tensor' : `${list.tensors.length} ${list.tensors.length === 1 ? 'tensor' : 'tensors'} listed in ${ms} ms; pick one`;
    setStatus(`${name}: ${what}`, ms);
    return true;
  }
  const t = list.tensors.find((r) => r.name === tensor);
  if (!t) {
    showError(`cannot read ${name}: it has no tensor '${tensor}' (pick one from the list)`);
    return false;
  }
  return pickTensor(t.index, query);
}

/** Forgets the open model file and hides its tensor list. */
function closeModel() {
  open = null;
  shownPreset = null;
  el.box.hidden = true;
  el.list.replaceChildren();
}

/** Loads tensor `index` of the open file as the data: its bytes only, as Rust says which. */
async function pickTensor(index, query = null) {
  if (!open) return false;
  const { blob, preset } = open;
  const before = shownPreset;
  // Set first: the link written on success names the preset (see `withTensor`).
  shownPreset = preset;
  const ok = await loadData(async () => {
    const [start, end] = state.session.modelRange(index);
    const bytes = await readBytes(blob, start, end);
    return state.session.modelTensor(index, bytes, query ?? queryFromControls());
  }, null);
  if (!ok) shownPreset = before;
  markCurrent();
  return ok;
}

/** The query to put in the address bar: the view's, plus the tensor (and its preset) shown. */
export function withTensor(query) {
  const name = state.session && state.summary?.data.source === 'file' ? state.session.modelTensorName() : undefined;
  if (!name) return query;
  const parts = query ? [query] : [];
  if (shownPreset) parts.push(`preset=${shownPreset}`);
  parts.push(`tensor=${encodeURIComponent(name)}`);
  return parts.join('&');
}

/** Shows the view a link with `tensor=` asks for; returns false where the link has none. A
 * preset's tensor is opened from the server; the user's own file cannot be in a link, so the
 * page says so and shows the generated data with the link's other settings. */
export async function modelFromUrl(search) {
  const params = new URLSearchParams(search);
  const tensor = params.get('tensor');
  const preset = params.get('preset');
  if (tensor === null && !(preset in PRESETS)) return false;
  params.delete('tensor');
  if (preset in PRESETS) params.delete('preset');
  const rest = params.toString();
  if (preset in PRESETS) {
    if (await openPreset(preset, tensor || null, rest)) return true;
    const msg = document.getElementById('error').textContent;
    await generatedInstead(rest, `${msg} (showing the generated data instead)`);
    return true;
  }
  await generatedInstead(
    rest,
    `tensor=${tensor}: the link names a tensor of a model file, and the file itself cannot be in a link. ` +
      'Open the file (pick it or drop it on the page) to see that tensor; showing the generated data instead.',
  );
  return true;
}

/** Shows the generated data with the link's other settings `query`, or with the defaults where
 * those settings do not fit it either (a granularity or rotation made for the file's 2-D
 * tensor), and says `msg` above it. */
async function generatedInstead(query, msg) {
  if (!(await run(query, { syncControls: true })) && state.summary === null) {
    await run('', { syncControls: true });
  }
  showError(msg);
}

/** Opens a preset's model file from the page's own server and loads `tensor` (or its own). */
async function openPreset(key, tensor = null, query = null) {
  const p = PRESETS[key];
  let blob;
  try {
    const r = await fetch(p.url);
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    blob = await r.blob();
  } catch (e) {
    showError(`cannot fetch ${p.url}: ${message(e)}`);
    return false;
  }
  return openModel(blob, p.name, { preset: key, tensor: tensor ?? p.tensor, query });
}

/** Fills the tensor list from Rust's JSON; refused tensors greyed with their reason. */
function showList(list) {
  el.box.hidden = false;
  el.summary.textContent = `${list.file}: ${list.format}, ${list.tensors.length} tensors, ${list.params.toLocaleString('en')} parameters.`;
  const frag = document.createDocumentFragment();
  for (const t of list.tensors) {
    const li = document.createElement('li');
    li.dataset.name = t.name.toLowerCase();
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.index = String(t.index);
    const name = document.createElement('span');
    name.className = 'tname';
    name.textContent = t.name;
    const meta = document.createElement('span');
    meta.className = 'tmeta';
    meta.textContent = `${t.dtype} [${t.shape.join(' × ')}] · ${t.params.toLocaleString('en')}`;
    b.append(name, meta);
    if (t.refused) {
      li.className = 'refused';
      b.setAttribute('aria-disabled', 'true');
      const why = document.createElement('span');
      why.className = 'treason';
      why.textContent = t.refused;
      b.append(why);
    }
    li.append(b);
    frag.append(li);
  }
  el.list.replaceChildren(frag);
  filterList();
  // Where a tensor is large enough for the second core, the worker starts (and warms up)
  // while the user picks one, rather than after: the first K-quant change then has it. The
  // page's own code is warmed up then too.
  const largest = list.tensors.reduce((most, t) => (t.refused ? most : Math.max(most, t.params)), 0);
  startHelper(largest);
  warmUp(largest);
}

/** Shows only the tensors whose name holds the search text. */
function filterList() {
  if (!open) return;
  const q = el.search.value.trim().toLowerCase();
  let shown = 0;
  for (const li of el.list.children) {
    const hit = q === '' || li.dataset.name.includes(q);
    li.hidden = !hit;
    if (hit) shown += 1;
  }
  const n = open.list.tensors.length;
  el.count.textContent = shown === n ? `${n} tensors` : `${shown} of ${n} tensors`;
}

/** Marks the tensor that is the data. */
function markCurrent() {
  const name = state.summary?.data.source === 'file' ? state.session.modelTensorName() : undefined;
  for (const b of el.list.querySelectorAll('button')) {
    const t = open?.list.tensors[Number(b.dataset.index)];
    b.setAttribute('aria-current', String(Boolean(name && t && t.name === name)));
  }
}

/** Wires up the drop target, the tensor list, its search and the preset button. */
export function setupModelFile() {
  el.search.addEventListener('input', filterList);
  el.list.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-index]');
    if (!b) return;
    document.body.dataset.state = 'busy';
    enqueue(() => pickTensor(Number(b.dataset.index)));
  });
  el.preset.addEventListener('click', () => {
    document.body.dataset.state = 'busy';
    enqueue(() => openPreset(el.preset.dataset.modelPreset));
  });
  // The whole page takes a dropped file.
  let depth = 0;
  const dragging = (on) => document.body.classList.toggle('dragging', on);
  document.addEventListener('dragenter', (e) => {
    if (!e.dataTransfer?.types.includes('Files')) return;
    depth += 1;
    dragging(true);
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) dragging(false);
  });
  document.addEventListener('dragover', (e) => {
    if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
  });
  document.addEventListener('drop', (e) => {
    depth = 0;
    dragging(false);
    const file = e.dataTransfer?.files?.[0];
    if (!file) return;
    e.preventDefault();
    document.body.dataset.state = 'busy';
    enqueue(() => openFile(file));
  });
}

/** After any update: the current tensor's mark in the list. */
export function afterUpdate() {
  if (open) markCurrent();
}
