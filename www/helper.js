// A second core for the page: wasm runs on one thread here, so a change to a format whose
// search is slow (the K-quants) on many values is split with a Web Worker (worker.js). The
// session says when a change is worth it (`formatJob`); the worker quantizes the tail while
// the page quantizes the head, and the session joins the two, the same result bit for bit as
// one run. Whatever fails on the way (no worker, a worker that errs) leaves the update to
// quantize everything itself, as without the worker; nothing the worker does is shown.
import { helpMinValues } from '../pkg/quantviz.js';
import { setData } from './dom.js';
import { state } from './state.js';

/** The worker, once it has started and warmed up; null before, or where it cannot run. */
let worker = null;
/** The jobs sent, by id: the functions that settle their promises. */
const waiting = new Map();
let nextId = 0;

/** Whether the worker was started (it is started once, for the first data large enough). */
let started = false;

/** After data of `n` values is shown: where a format change on it could use the worker, starts
 * it in the background (once); the page works without it until it is ready. Pages with fewer
 * values never start it. */
export function startHelper(n) {
  if (started || n < helpMinValues() || typeof Worker === 'undefined') return;
  started = true;
  let w;
  try {
    w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  } catch {
    return;
  }
  w.onmessage = (event) => {
    const m = event.data;
    if (m.ready !== undefined) {
      if (m.ready) {
        worker = w;
        setData(document.body, 'helper', 'ready');
      } else {
        stopWorker(w);
      }
      return;
    }
    const job = waiting.get(m.id);
    if (!job) return;
    waiting.delete(m.id);
    if (m.error !== undefined) job.reject(new Error(m.error));
    else job.resolve(m.parts);
  };
  const failed = (event) => {
    event.preventDefault?.();
    stopWorker(w);
  };
  w.onerror = failed;
  w.onmessageerror = failed;
}

/** Stops worker `w` for good: its memory goes, its jobs fail, and the page works alone. */
function stopWorker(w) {
  w.terminate();
  if (worker === w) worker = null;
  setData(document.body, 'helper', 'failed');
  for (const job of waiting.values()) job.reject(new Error('the worker stopped'));
  waiting.clear();
}

/** How long the page waits for the worker's part after its own: far more than any part takes
 * (a second for 20M values here); past it the worker is taken to be lost. */
const PATIENCE_MS = 30_000;

/** Sends the worker a job: a promise of its parts' bytes, in order, or null where the message
 * could not be sent. */
function ask(message, transfer) {
  const id = nextId;
  nextId += 1;
  let settle;
  const reply = new Promise((resolve, reject) => {
    settle = { resolve, reject };
  });
  waiting.set(id, settle);
  try {
    worker.postMessage({ id, ...message }, transfer);
  } catch {
    waiting.delete(id);
    return null;
  }
  return reply;
}

/** Before `session.update(query)`: where the session has a job for the worker, the format's
 * run is made in two parts now, and the update takes it. Resolves to whether it was. */
export async function helpWith(query) {
  if (worker === null) return false;
  let job;
  try {
    job = state.session.formatJob(query);
  } catch {
    return false; // the update says what is wrong with the query
  }
  if (!job) return false;
  const { format, block } = JSON.parse(job);
  const w = worker;
  let reply = null;
  let timer;
  try {
    const values = state.session.formatJobTail();
    reply = ask({ format, block, values }, [values.buffer]);
    if (reply === null) return false;
    state.session.formatHead();
    const lost = new Promise((_, reject) => {
      timer = setTimeout(() => {
        stopWorker(w);
        reject(new Error('the worker did not answer'));
      }, PATIENCE_MS);
    });
    for (const part of await Promise.race([reply, lost])) state.session.formatTail(part);
    return true;
  } catch {
    // A part that failed: the update quantizes the whole data and reports what fails.
    reply?.catch(() => {});
    return false;
  } finally {
    clearTimeout(timer);
  }
}
