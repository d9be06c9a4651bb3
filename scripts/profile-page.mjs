// Where a Bits change's time goes on the page, in headless Chromium: wraps the wasm Session's
// methods (`update`, and `draw` per chart) with performance.now() and times the rest (the
// page's own DOM work, the event to the first call, the last call to `data-state="ready"`).
// A development tool: `make wasm` first, then
//   node scripts/profile-page.mjs [--reps 7] [--url '/?n=100000'] ...
// Prints, per page, the median of each phase over Bits changes through distinct widths.
import { startPage } from './browser.mjs';

const args = process.argv.slice(2);
const REPS = Number(argValue('--reps') ?? 7);
const urls = args.flatMap((a, i) => (args[i - 1] === '--url' ? [a] : []));
const URLS = urls.length ? urls : ['/?n=100000', '/?n=1000000'];
/** Distinct widths in turn, never back to the one before (no cache can answer). */
const WIDTHS = [5, 10, 4, 12, 6, 11, 3, 9, 13, 2];

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
  await page.goto(origin + url);
  await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 60_000 });
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
  const rows = [];
  for (let i = 0; i < REPS; i++) {
    const bits = WIDTHS[i % WIDTHS.length];
    const r = await page.getByLabel(/^Bits/).evaluate(
      (el, value) =>
        new Promise((resolve) => {
          window.__qvLog.length = 0;
          window.__qvTiming.length = 0;
          const body = document.body;
          const obs = new MutationObserver(() => {
            if (body.dataset.state === 'ready' || body.dataset.state === 'error') {
              obs.disconnect();
              resolve({ t0, t1: performance.now(), log: window.__qvLog.slice(), timing: window.__qvTiming.slice() });
            }
          });
          obs.observe(body, { attributes: true, attributeFilter: ['data-state'] });
          const t0 = performance.now();
          el.value = String(value);
          el.dispatchEvent(new Event('input', { bubbles: true }));
          el.dispatchEvent(new Event('change', { bubbles: true }));
        }),
      bits,
    );
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
    rows.push(phases);
  }
  await context.close();
  const keys = Object.keys(rows[0]);
  console.log(`\n${url}: median of ${REPS} Bits changes (ms)`);
  for (const k of keys) console.log(`  ${k.padEnd(26)} ${median(rows.map((r) => r[k] ?? 0)).toFixed(2)}`);
  if (errors.length) console.log(`  errors: ${errors.join('; ')}`);
}

const { origin, browser, stop } = await startPage();
try {
  for (const url of URLS) await profile(browser, origin, url);
} finally {
  await stop();
}
