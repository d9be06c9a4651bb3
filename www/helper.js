// A second core for the page: wasm runs on one thread here, so a change to a format whose
// search is slow (the K-quants) on many values is shared with a Web Worker (worker.js). The
// session says when a change is worth it and cuts the data into pieces (`formatJob`); the page
// quantizes pieces from the front while the worker takes them from the back, up to two ahead,
// until the two meet, so each side does as much as its speed allows; the session joins the
// pieces in order, the same result bit for bit as one run. Whatever fails on the way (no
// worker, a worker that errs) leaves the update to quantize everything itself, as without the
// worker; nothing the worker does is shown.
import { helpMinValues } from '../pkg/quantviz.js';
import { setData, yieldToEvents } from './dom.js';
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
    else job.resolve(m);
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

/** How long the page waits for a piece from the worker after its own: far more than any piece
 * takes (a few tens of ms); past it the worker is taken to be lost. */
const PATIENCE_MS = 30_000;

/** Sends the worker a job: a promise of its bytes, or null where the message could not be
 * sent. */
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
 * run is made in pieces on both cores now, and the update takes it. Resolves to whether it was. */
export async function helpWith(query) {
  if (worker === null) return false;
  const session = state.session;
  let job;
  try {
    job = session.formatJob(query);
  } catch {
    return false; // the update says what is wrong with the query
  }
  if (!job) return false;
  const { format, block, pieces, piece, n } = JSON.parse(job);
  const w = worker;
  // The page takes pieces front, front + 1, ...; the worker has pieces back .. pieces - 1.
  let front = 0;
  let back = pieces;
  const bytes = new Array(pieces).fill(null);
  let failure = null;
  let out = 0; // pieces sent to the worker and not back yet
  let wake = null; // ends the page's wait for the worker's last pieces
  const arrays = []; // arrays of `piece` values the worker has sent back, to fill again
  // How long a piece takes the page and the worker, once seen (the worker's guessed slower).
  let pageMs = 0;
  let workerMs = 0;
  /** Hands the worker the last piece no one has, where both would then be done sooner than
   * with the page doing it (counting the pieces each has, at each one's pace). */
  const give = () => {
    if (failure !== null || worker !== w) return;
    const left = back - front; // pieces no one has, the page's next among them
    const page = pageMs || 1;
    const work = workerMs || 2 * page;
    const given = Math.max((out + 1) * work, (left - 1) * page);
    if (left < 2 || given >= Math.max(out * work, left * page)) return;
    back -= 1;
    const i = back;
    try {
      const array = arrays.pop() ?? new Float32Array(piece);
      const values = array.subarray(0, Math.min(piece, n - i * piece));
      session.formatPieceValues(i, values);
      const reply = ask({ format, block, values }, [array.buffer]);
      if (reply === null) throw new Error('the worker could not be sent a piece');
      out += 1;
      reply.then(
        (m) => {
          out -= 1; // before `give`, which counts the pieces the worker still has
          try {
            bytes[i] = m.part;
            workerMs = workerMs ? (workerMs + m.ms) / 2 : m.ms;
            arrays.push(new Float32Array(m.values.buffer));
            give();
          } catch (e) {
            failure ??= e;
          }
          wake?.();
        },
        (e) => {
          out -= 1;
          failure ??= e;
          wake?.();
        },
      );
    } catch (e) {
      failure = e;
    }
  };
  let timer;
  try {
    // Two pieces ahead, so that the worker never waits for the page to hear from it.
    give();
    give();
    while (front < back && failure === null) {
      const t0 = performance.now();
      session.formatPiece(front);
      const ms = performance.now() - t0;
      pageMs = pageMs ? (pageMs + ms) / 2 : ms;
      front += 1;
      await yieldToEvents();
      if (out < 2) give();
    }
    while (out > 0 && failure === null) {
      await new Promise((resolve, reject) => {
        wake = resolve;
        timer = setTimeout(() => {
          stopWorker(w);
          reject(new Error('the worker did not answer'));
        }, PATIENCE_MS);
      });
      clearTimeout(timer);
    }
    if (failure !== null) return false;
    for (let i = front; i < pieces; i += 1) session.formatTail(i, bytes[i]);
    return true;
  } catch {
    // A piece that failed: the update quantizes the whole data and reports what fails.
    return false;
  } finally {
    clearTimeout(timer);
    wake = null;
    failure ??= new Error('the job is over'); // no more pieces go to the worker
  }
}
