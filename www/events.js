// The page's events: each control, button and window event wired to what it sets off.
import { ui } from './elements.js';
import { setText } from './dom.js';
import { setState, showError } from './status.js';
import { largeInQuery, state } from './state.js';
import { queryFromControls } from './controls.js';
import { CHARTS, darkQuery, watchSizes } from './charts.js';
import { drawRest, enqueue, schedule } from './schedule.js';
import { copyLink, flushUrl, saveUrl } from './url.js';
import { downloadCsv, downloadPng } from './downloads.js';
import { redraw, redrawIfResized, run, selectBlock, updateFromControls } from './update.js';
import { hoverText, pickRow } from './formats.js';
import { LESSONS, closeLesson, focusLesson, showLesson } from './lessons.js';
import { setupMatrix } from './matrix.js';
import { openFile, setupModelFile } from './modelfile.js';

/** Pause after typing before updating, so "1000" does not compute 1, 10 and 100 first. */
const TYPING_DEBOUNCE_MS = 150;
/** Pause after a resize before redrawing. */
const RESIZE_DEBOUNCE_MS = 120;

/** Wires every control, button and window event: typing is debounced, choices apply at once. */
export function setupUI() {
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
  // A format preset sets Format (and NF4's Block) as a choice there would, keeping the data.
  for (const b of ui.formatPresets) {
    b.addEventListener('click', () => {
      ui.format.value = b.dataset.formatPreset;
      if (b.dataset.block) ui.block.value = b.dataset.block;
      setState('busy');
      schedule(ui.format, 0, updateFromControls);
    });
  }
  setupInspector();
  setupMatrix();
  setupTour();
  setupModelFile();
  ui.file.addEventListener('change', () => {
    const file = ui.file.files && ui.file.files[0];
    if (!file) return;
    setState('busy');
    enqueue(() => openFile(file));
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
  window.addEventListener('beforeprint', () => drawRest(CHARTS, true));
  document.addEventListener('visibilitychange', () => document.hidden && flushUrl());
  darkQuery.addEventListener('change', () => enqueue(() => redraw(true)));
}

/** The guided tour: its Previous, Next and Leave buttons, the arrow keys, the header's link. */
function setupTour() {
  const go = (k) => {
    if (k < 0 || k >= LESSONS.length) return;
    showLesson(k);
    setState('busy');
    enqueue(async () => {
      if (state.summary && state.summary.data.source === 'file') state.session.useGenerated();
      if (await run(LESSONS[k].query, { syncControls: true })) focusLesson(k);
    });
  };
  ui.lessonPrev.addEventListener('click', () => go(state.lesson - 1));
  ui.lessonNext.addEventListener('click', () => go(state.lesson + 1));
  ui.lessonClose.addEventListener('click', () => {
    closeLesson();
    if (state.summary) saveUrl(state.summary.query);
  });
  document.getElementById('tour-link').addEventListener('click', (e) => {
    e.preventDefault();
    go(0);
  });
  // Arrow keys step through the tour, except where they already mean something (a field, a
  // slider, a select).
  document.addEventListener('keydown', (e) => {
    if (state.lesson === null || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.target.closest('input, select, textarea, [contenteditable]')) return;
    if (e.key === 'ArrowRight') go(state.lesson + 1);
    else if (e.key === 'ArrowLeft') go(state.lesson - 1);
  });
}

/** The block inspector: the block number typed, a block pointed at or clicked in the strip, a
 * value picked in its table. */
function setupInspector() {
  // Busy from the keystroke on, as the form's inputs are; a number that is no block index is
  // marked and changes nothing.
  const typed = () => {
    const text = ui.blockIndex.value.trim();
    const i = Number(text);
    const last = ui.blockIndex.max === '' ? -1 : Number(ui.blockIndex.max);
    // A number past the last block is said here: past 2^53 it is no exact integer, and the
    // core's index type would wrap it.
    if (text === '' || !Number.isInteger(i) || i < 0 || (last >= 0 && i > last)) {
      ui.blockIndex.setAttribute('aria-invalid', 'true');
      const blocks = last >= 0 ? `: this run has ${last + 1} blocks, 0 to ${last}` : '';
      enqueue(() => showError(`block '${text}' is no block of the run${blocks}`));
      return;
    }
    enqueue(() => selectBlock(i));
  };
  const debounced = debounce(typed, TYPING_DEBOUNCE_MS);
  ui.blockIndex.addEventListener('input', () => {
    setState('busy');
    debounced();
  });
  ui.blockIndex.addEventListener('change', () => {
    setState('busy');
    typed();
  });
  const canvas = document.getElementById('chart-blocks');
  // The chart's pixels are its backing store's, as wide as `data-drawn-at` says (charts.js):
  // the pointer's CSS position times that over the CSS width.
  const blockAt = (e) => {
    if (!state.session || !state.summary || !state.summary.format) return -1;
    const r = canvas.getBoundingClientRect();
    const drawn = Number((canvas.dataset.drawnAt ?? '').split('x')[0]);
    if (!(drawn > 0)) return -1;
    return state.session.blockAt(((e.clientX - r.left) * drawn) / Math.max(1, r.width));
  };
  canvas.addEventListener('mousemove', (e) => setText(ui.blockHover, hoverText(blockAt(e))));
  canvas.addEventListener('mouseleave', () => setText(ui.blockHover, ''));
  canvas.addEventListener('click', (e) => {
    const i = blockAt(e);
    if (i < 0) return;
    setState('busy');
    enqueue(() => selectBlock(i));
  });
  ui.blockValues.addEventListener('click', (e) => {
    const tr = e.target.closest('tr');
    if (tr) pickRow([...ui.blockValues.rows].indexOf(tr));
  });
}

/** `fn` called `ms` after the last of a run of calls. */
function debounce(fn, ms) {
  let t = null;
  return () => {
    clearTimeout(t);
    t = setTimeout(fn, ms);
  };
}
