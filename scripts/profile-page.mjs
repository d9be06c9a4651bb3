// Where a Bits change's time goes on the page, in headless Chromium: wraps the wasm Session's
// methods (`update`, and `draw` per chart) with performance.now() and times the rest (the
// page's own DOM work, the event to the first call, the last call to `data-state="ready"`).
// A development tool: `make wasm` first, then
//   node scripts/profile-page.mjs [--reps 7] [--url '/?n=100000'] [--cold [--rounds 6]] ...
// Prints, per page, the median of each phase over Bits changes through distinct widths.
//
// With `--cold` it follows about bench-page's order instead (`--reps` then does not apply): five
// loads of the page, an untimed change to 7 bits, then the five changes bench-page times (5, 10,
// 4, 12, 6 bits: each width's first visit), then `--rounds` (8, as `make bench`'s `--warm`)
// rounds of an untimed change to 7 or 8 bits and the same five widths again; it prints the phases
// of the first five beside those of the rounds ("warm"). The rounds revisit widths, so they also
// find those widths' label sizes measured (canvas.rs) where the first five measure them.
// (bench-page loads `/` five times first, in the same browser, and reads `#status` after each
// change.) Each change is made as bench-page makes it (browser.mjs, `bitsChange`). Chromium
// flags for an experiment: QUANTVIZ_CHROMIUM_FLAGS (browser.mjs).
import { bitsChange, extraFlags, startPage } from './browser.mjs';

const args = process.argv.slice(2);
const REPS = Number(argValue('--reps') ?? 7);
const COLD = args.includes('--cold');
const ROUNDS = Number(argValue('--rounds') ?? 8);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  const given = argValue('--rounds');
  console.error(`--rounds: expected a whole number of rounds, at least 1, not ${given}`);
  process.exit(2);
}
const urls = args.flatMap((a, i) => (args[i - 1] === '--url' ? [a] : []));
const URLS = urls.length ? urls : ['/?n=100000', '/?n=1000000'];
/** Distinct widths in turn, never back to the one before (no cache can answer). */
const WIDTHS = [5, 10, 4, 12, 6, 11, 3, 9, 13, 2];
/** bench-page's timed widths, in its order. */
const BENCH_WIDTHS = WIDTHS.slice(0, 5);

function argValue(name) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
}

async function profile(browser, origin, url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  for (let i = 0; i < (COLD ? 5 : 1); i++) {
    await page.goto(origin + url);
    await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 60_000 });
  }
  await page.evaluate(async () => {
    const { Session } = await import('/pkg/quantviz.js');
    const log = (window.__qvLog = []);
    // Timings the wasm side may print while being profiled: `TIMING name ms name ms ...`.
    const timing = (window.__qvTiming = []);
    const consoleLog = console.log;
    console.log = (...a) => (String(a[0]).startsWith('TIMING ') ? timing.push(String(a[0])) : consoleLog(...a));
    for (const name of ['update', 'draw']) {
      const orig = Session.prototype[name];
      Session.prototype[name] = function (...a) {
        const t0 = performance.now();
        try {
          return orig.apply(this, a);
        } finally {
          log.push([name === 'draw' ? `draw ${a[0]}` : name, t0, performance.now()]);
        }
      };
    }
  });
  /** Changes Bits to `bits` (browser.mjs: `bitsChange`, as bench-page does) and returns the
   * change's phases (ms). */
  const change = async (bits) => {
    const r = await bitsChange(page, bits);
    const phases = { total: r.t1 - r.t0 };
    const first = r.log.length ? r.log[0][1] : r.t1;
    const last = r.log.length ? r.log[r.log.length - 1][2] : r.t1;
    phases['event -> update'] = first - r.t0;
    let inWasm = 0;
    for (const [name, a, b] of r.log) {
      phases[name] = (phases[name] ?? 0) + (b - a);
      inWasm += b - a;
    }
    for (const line of r.timing) {
      const w = line.split(/\s+/).slice(1);
      for (let k = 0; k + 1 < w.length; k += 2) phases[`  ${w[k]}`] = (phases[`  ${w[k]}`] ?? 0) + Number(w[k + 1]);
    }
    phases['between calls (JS)'] = last - first - inWasm;
    phases['last call -> ready (DOM)'] = r.t1 - last;
    return phases;
  };
  // [label, widths timed]: the plain mode's one set, or --cold's first visits and rounds.
  const sets = [];
  try {
    if (COLD) {
      await change(7);
      const first = [];
      for (const bits of BENCH_WIDTHS) first.push(await change(bits));
      const warm = [];
      for (let round = 0; round < ROUNDS; round++) {
        await change(round % 2 ? 8 : 7);
        for (const bits of BENCH_WIDTHS) warm.push(await change(bits));
      }
      sets.push(['first five', first], [`warm (${ROUNDS} rounds)`, warm]);
    } else {
      const rows = [];
      for (let i = 0; i < REPS; i++) rows.push(await change(WIDTHS[i % WIDTHS.length]));
      sets.push([`median of ${REPS}`, rows]);
    }
  } catch (e) {
    // A change that ended in data-state="error": what the page said, then the error.
    if (errors.length) console.error(`${url}: page errors: ${errors.join('; ')}`);
    throw e;
  } finally {
    await context.close();
  }
  // Every phase any change had, in the order they first appear (a phase a change lacks is 0).
  const keys = [...new Set(sets.flatMap(([, rows]) => rows.flatMap((r) => Object.keys(r))))];
  console.log(`\n${url}: median of each phase over the Bits changes (ms)`);
  console.log(`  ${''.padEnd(26)} ${sets.map(([label]) => label.padStart(16)).join(' ')}`);
  for (const k of keys) {
    const cells = sets.map(([, rows]) => median(rows.map((r) => r[k] ?? 0)).toFixed(2).padStart(16));
    console.log(`  ${k.padEnd(26)} ${cells.join(' ')}`);
  }
  if (errors.length) console.log(`  errors: ${errors.join('; ')}`);
}

const { origin, browser, stop } = await startPage();
if (extraFlags().length) console.log(`Chromium's extra flags: ${extraFlags().join(' ')}`);
try {
  for (const url of URLS) await profile(browser, origin, url);
} finally {
  await stop();
}
