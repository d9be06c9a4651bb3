// The page's second core: a Web Worker with its own instance of the wasm module, which
// quantizes pieces of the data for the formats whose search is slow while the page quantizes
// others (see helper.js). It holds no state between pieces.
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

onmessage = async (event) => {
  const { id, format, block, values } = event.data;
  try {
    await started;
    const t0 = performance.now();
    const part = quantizePart(format, block, values);
    const ms = performance.now() - t0;
    // The values go back too, for the page to fill with its next piece.
    postMessage({ id, part, values, ms }, [part.buffer, values.buffer]);
  } catch (e) {
    postMessage({ id, error: String(e && e.message ? e.message : e) });
  }
};
