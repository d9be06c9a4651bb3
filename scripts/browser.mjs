// The page in headless Chromium, for the end-to-end tests and the page benchmark: the repo's dev
// server (scripts/serve.py) on a free loopback port and Debian's /usr/bin/chromium, launched with
// the flags this closed network needs (without the networking ones Chromium floods it).
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Chromium's flags: no sandbox (root), no GPU, no background traffic to other hosts. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** More Chromium flags for an experiment (say `--js-flags=--no-wasm-dynamic-tiering`, to see
 * what V8's baseline code costs), from QUANTVIZ_CHROMIUM_FLAGS split at whitespace, so no flag's
 * value can hold a space; none by default. The benchmarks print them when there are any. */
export function extraFlags() {
  return (process.env.QUANTVIZ_CHROMIUM_FLAGS ?? '').split(/\s+/).filter(Boolean);
}

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Waits up to 15 s for the dev server to answer `url`. */
async function waitForServer(url) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`the dev server did not answer at ${url}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the dev server and Chromium; returns `{ origin, browser, stop }`. */
export async function startPage() {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const server = spawn('python3', ['scripts/serve.py', String(port)], { cwd: ROOT, stdio: 'ignore' });
  let browser;
  const stop = async () => {
    await browser?.close();
    server.kill();
  };
  try {
    await waitForServer(`${origin}/index.html`);
    const args = [...CHROMIUM_ARGS, ...extraFlags()];
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args });
  } catch (e) {
    await stop();
    throw e;
  }
  return { origin, browser, stop };
}

/** Sets the page's Bits control to `bits` as a user would (input, then change) and returns
 * `{ t0, t1, ms, log, timing, t2, restMs }`: the page's clock at the events and at
 * `data-state="ready"`, ms between them, copies of what a profiler's wrappers record in the page
 * (`window.__qvLog`, `window.__qvTiming`, emptied first; empty without) up to ready, and, once
 * the page has also drawn the charts that were off screen (`data-charts="drawn"`: after a
 * slider step, 250 ms after it), the clock then and `#status`'s `data-rest-ms`, the time that
 * drawing took. It resolves only then, so that each change starts with every chart drawn.
 * Rejects when the page says `data-state="error"` or `data-charts="error"`. The control is found
 * by its label before each change. */
export async function bitsChange(page, bits) {
  const control = page.getByLabel(/^Bits/);
  return control.evaluate(
    (el, value) =>
      new Promise((resolve, reject) => {
        const body = document.body;
        const log = window.__qvLog ?? [];
        const timing = window.__qvTiming ?? [];
        log.length = 0;
        timing.length = 0;
        let t0;
        let ready = null;
        const done = () => {
          if (ready === null && body.dataset.state === 'ready') {
            const t1 = performance.now();
            ready = { t0, t1, ms: t1 - t0, log: log.slice(), timing: timing.slice() };
          } else if (body.dataset.state === 'error' || body.dataset.charts === 'error') {
            obs.disconnect();
            reject(new Error(`data-state or data-charts "error" after a Bits change to ${value}`));
            return;
          }
          if (ready !== null && body.dataset.charts !== 'pending') {
            obs.disconnect();
            const restMs = Number(document.getElementById('status').dataset.restMs);
            resolve({ ...ready, t2: performance.now(), restMs });
          }
        };
        const obs = new MutationObserver(done);
        obs.observe(body, { attributes: true, attributeFilter: ['data-state', 'data-charts'] });
        t0 = performance.now();
        el.value = String(value);
        el.dispatchEvent(new Event('input', { bubbles: true }));
        el.dispatchEvent(new Event('change', { bubbles: true }));
        // An update that finished inside the handlers leaves no mutation after this point.
        Promise.resolve().then(() => {
          if (body.dataset.state !== 'busy') done();
        });
      }),
    bits,
  );
}

/** Sets the page's Format control to `format` as a user would (input, then change) and
 * returns what `bitsChange` returns for it: the page's clock at the events and at
 * `data-state="ready"`, ms between them, and once every chart is drawn (`data-charts="drawn"`)
 * the clock then and `#status`'s `data-rest-ms`. Rejects when the page says
 * `data-state="error"` or `data-charts="error"`. */
export async function formatChange(page, format) {
  return page.locator('#format').evaluate(
    (el, value) =>
      new Promise((resolve, reject) => {
        const body = document.body;
        let t0;
        let ready = null;
        const done = () => {
          if (ready === null && body.dataset.state === 'ready') {
            const t1 = performance.now();
            ready = { t0, t1, ms: t1 - t0 };
          } else if (body.dataset.state === 'error' || body.dataset.charts === 'error') {
            obs.disconnect();
            reject(new Error(`a Format change to ${value}: ${document.getElementById('error').textContent}`));
            return;
          }
          if (ready !== null && body.dataset.charts !== 'pending') {
            obs.disconnect();
            const restMs = Number(document.getElementById('status').dataset.restMs);
            resolve({ ...ready, t2: performance.now(), restMs });
          }
        };
        const obs = new MutationObserver(done);
        obs.observe(body, { attributes: true, attributeFilter: ['data-state', 'data-charts'] });
        t0 = performance.now();
        el.value = value;
        el.dispatchEvent(new Event('input', { bubbles: true }));
        el.dispatchEvent(new Event('change', { bubbles: true }));
        Promise.resolve().then(() => {
          if (body.dataset.state !== 'busy') done();
        });
      }),
    format,
  );
}
