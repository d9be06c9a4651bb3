// Warming the page's wasm code before a large tensor is picked. V8 first runs a wasm function in
// its baseline tier and moves it to its optimizing tier only once it has run a while; a call
// under way stays in the tier it began in. On a tensor of tens of millions of values each pass
// (binning the values, the errors, a format's blocks) is one long call, so the first pick and
// the first Format change after it would run wholly in baseline code, about twice as slow. A
// throwaway session runs the same passes on small data first, one step per task, while the
// user reads the tensor list.
import { Session, helpMinValues } from '../pkg/quantviz.js';
import { setData, yieldToEvents } from './dom.js';

/** The throwaway session's data: 2-D (for the heatmap), and at 16 bits with more levels than
 * values, so that the int charts bin value by value as they do on a large tensor (on small
 * data with few levels they count runs of sorted values instead). */
const DATA = 'dist=normal:0,0.02&n=262144&shape=256,1024&seed=1&bits=16';

/** What the session does, a step per task: an update, then the charts a pick draws. */
const STEPS = [
  (s) => s.update(DATA),
  ...['histogram', 'error', 'heatmap'].map((chart) => (s, canvas) => s.draw(chart, canvas, 1, false)),
  (s) => s.update(`${DATA}&format=q4_K`),
  ...['histogram', 'blocks'].map((chart) => (s, canvas) => s.draw(chart, canvas, 1, false)),
  (s) => s.update(`${DATA}&format=q8_0`),
  (s, canvas) => s.draw('histogram', canvas, 1, false),
];

/** Whether the warm-up has been started (it runs once per page). */
let started = false;

/** Where data of `n` values is shown, or a model file's list whose largest tensor has `n`: if
 * that is large enough for a first pass to be long, warms the page's code in the background
 * (once), and then says `data-warm="done"` on the body ("failed" where a step threw: the page
 * works the same without it). */
export async function warmUp(n) {
  if (started || n < helpMinValues() || typeof OffscreenCanvas === 'undefined') return;
  started = true;
  let session = null;
  try {
    session = new Session();
    const canvas = new OffscreenCanvas(320, 200);
    for (const step of STEPS) {
      // A step at a time (each a few tens of ms, what a change the user makes may wait for).
      // It does not wait for the pick: the point is to be warm before the pick's passes.
      await yieldToEvents();
      step(session, canvas);
    }
    setData(document.body, 'warm', 'done');
  } catch {
    setData(document.body, 'warm', 'failed'); // nothing shown depends on it
  } finally {
    try {
      session?.free();
    } catch {
      // a module that trapped: its memory goes with the page
    }
  }
}
