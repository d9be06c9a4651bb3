// The page's second core: a Web Worker with its own instance of the wasm module, which
// quantizes the tail of the data (a little under half) for the formats whose search is slow
// while the page quantizes the head (see helper.js). It holds no state between jobs.
import init, { quantizePart } from '../pkg/quantviz.js';

/** The K-quants, each run eight times on 256 blocks at start, so that the engine has compiled
 * their search with its optimizing tier before the first job. */
const WARM = ['q2_K', 'q3_K', 'q4_K', 'q5_K', 'q6_K'];

const started = init().then(() => {
  const xs = new Float32Array(256 * 256).map((_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
  for (let round = 0; round < 8; round += 1) for (const f of WARM) quantizePart(f, 256, xs);
});
started.then(
  () => postMessage({ ready: true }),
  (e) => postMessage({ ready: false, error: String(e && e.message ? e.message : e) }),
);

/** Values per call into wasm: a job runs as several calls, so that code the engine optimizes
 * during the job is used for the rest of it, and the module's memory holds one piece at a time. */
const PIECE = 1 << 21;

onmessage = async (event) => {
  const { id, format, block, values } = event.data;
  try {
    await started;
    const step = Math.max(block, PIECE - (PIECE % block));
    const parts = [];
    for (let at = 0; at < values.length; at += step) {
      parts.push(quantizePart(format, block, values.subarray(at, at + step)));
    }
    postMessage({ id, parts }, parts.map((p) => p.buffer));
  } catch (e) {
    postMessage({ id, error: String(e && e.message ? e.message : e) });
  }
};
