// The state kept between updates (session, summary, preset, last query and time); large queries.

/** From this many values on, say "Working…" and let it paint before a (long) call that makes
 * new data. */
export const LARGE_N = 1_000_000;
/** The same for a change of the quantization only (no new data), which costs less per value. */
export const LARGE_N_QUANT = 4_000_000;

/** The page's state, one object every module reads and writes. */
export const state = {
  /** The wasm session; null until wasm has started.
   * @type {import('../pkg/quantviz.js').Session | null} */
  session: null,
  /** The last good summary; null until the first update succeeds.
   * @type {import('./types.js').Summary | null} */
  summary: null,
  /** The notebook preset the view is on, or null.
   * @type {string | null} */
  preset: null,
  /** The query of the view on screen, as sent from the controls (null after a file or preset).
   * @type {string | null} */
  lastGoodQuery: null,
  /** How long the last update (or redraw) took, compute and draw together, in ms. */
  lastMs: 0,
  /** The block the inspector shows, as `Session.block` gave it; null with int.
   * @type {import('./types.js').BlockInfo | null} */
  block: null,
  /** Each block's scale and error as the blocks chart plots them (`Session.strip`), asked for
   * on the first pointing after an update; null until then.
   * @type {import('./types.js').Strip | null} */
  strip: null,
  /** The open step of the guided tour (0-based), or null outside it. */
  lesson: null,
};

/** Whether a query asks for `large` values or more (by default a million: that takes a moment). */
export function largeInQuery(q, large = LARGE_N) {
  const n = new URLSearchParams(q).get('n');
  return n !== null && Number(n) >= large;
}
