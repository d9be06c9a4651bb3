// The page's model-file steps in headless Chromium, on a large safetensors file: the time from
// choosing the file to its tensor list shown, from picking a 4096 x 11008 F16 tensor to ready,
// and from a Format change on it to ready (and to every chart drawn). Make the file with
// `python3 scripts/make_big_safetensors.py --sparse /tmp/model.safetensors` (about 5 GB, sparse).
//
// Needs pkg/ built (`make wasm`), playwright-core (npm) and /usr/bin/chromium.
//
// With `--early N`, first, on a page just opened: the tensor picked, and N pairs of Format changes
// (q4_K, then q8_0) made while the comparison of every format is still being measured, each
// 0.15 to 0.55 s after the last was ready, timed from before the page can take the change
// (node's clock) to ready.
//
// Usage: node scripts/bench-model-page.mjs FILE [--tensor NAME] [--reps 3] [--early N]
//        [--screenshot PNG]
import { formatChange, startPage } from './browser.mjs';
import { statSync } from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const file = args[0];
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const tensor = opt('--tensor', 'model.layers.0.mlp.down_proj.weight');
const reps = Number(opt('--reps', '3'));
const FORMATS = ['q8_0', 'q4_0', 'nf4', 'q4_K', 'fp8-e4m3'];
const early = Number(opt('--early', '0'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A Format change timed from node's clock before it is sent (a page busy with other work
 * takes it only when that is done) to `data-state="ready"`; and the rows the comparison had
 * left when it was ready. */
async function changeNow(page, format) {
  const t0 = Date.now();
  const t1 = await page.evaluate(
    (value) =>
      new Promise((resolve) => {
        const body = document.body;
        const obs = new MutationObserver(() => {
          if (body.dataset.state !== 'ready') return;
          obs.disconnect();
          resolve(performance.timeOrigin + performance.now());
        });
        obs.observe(body, { attributes: true, attributeFilter: ['data-state'] });
        const el = document.getElementById('format');
        el.value = value;
        el.dispatchEvent(new Event('input', { bubbles: true }));
        el.dispatchEvent(new Event('change', { bubbles: true }));
      }),
    format,
  );
  const left = (await page.textContent('#formats-status')).match(/(\d+) rows? to go/);
  return `${format} ${Math.round(t1 - t0)}${left ? ` (${left[1]} rows left)` : ''}`;
}

/** Opens the file on a new page and picks the tensor; resolves once the pick is ready. */
async function openAndPick(page) {
  await page.goto(`${origin}/?n=1000`);
  await page.waitForFunction(() => document.body.dataset.state === 'ready');
  await page.setInputFiles('#file', file);
  await page.waitForFunction(() => document.querySelectorAll('#tensor-list li').length > 0 && document.body.dataset.state === 'ready');
  await page.evaluate((name) => {
    const li = [...document.querySelectorAll('#tensor-list li')].find((l) => l.querySelector('.tname').textContent === name);
    li.querySelector('button').click();
  }, tensor);
  await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { polling: 20, timeout: 60_000 });
}

/** Runs `act` in the page and returns ms from it to `data-state="ready"` and to every chart
 * drawn (`data-charts` not "pending"). */
function timed(page, act, arg) {
  return page.evaluate(
    ([src, a]) =>
      new Promise((resolve, reject) => {
        const body = document.body;
        let ready = null;
        const t0 = performance.now();
        const done = () => {
          if (body.dataset.state === 'error') {
            obs.disconnect();
            reject(new Error(document.getElementById('error').textContent));
          } else if (ready === null && body.dataset.state === 'ready') ready = performance.now() - t0;
          if (ready !== null && body.dataset.charts !== 'pending') {
            obs.disconnect();
            resolve({ ms: ready, drawnMs: performance.now() - t0 });
          }
        };
        const obs = new MutationObserver(done);
        obs.observe(body, { attributes: true, attributeFilter: ['data-state', 'data-charts'] });
        // eslint-disable-next-line no-new-func
        new Function('a', src)(a);
      }),
    [act, arg],
  );
}

/** The size of the page's wasm memory (which grows and never shrinks: its high-water mark). */
async function wasmMemory(page) {
  const bytes = await page.evaluate(async () => {
    const m = await import('/pkg/quantviz.js');
    return (await m.default()).memory.buffer.byteLength;
  });
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

const { origin, browser, stop } = await startPage();
try {
  if (early > 0) {
    // First, in the fresh browser: what a user who changes the format at once meets.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const fresh = await context.newPage();
    fresh.on('pageerror', (e) => console.error('page error:', e.message));
    await openAndPick(fresh);
    const changes = [];
    for (let i = 0; i < early; i++) {
      for (const f of ['q4_K', 'q8_0']) {
        await new Promise((r) => setTimeout(r, 150 + Math.random() * 400));
        changes.push(await changeNow(fresh, f));
      }
    }
    console.log(`changes during the comparison, on a page just opened (ms from the change to ready): ${changes.join(', ')}`);
    await context.close();
  }
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`${origin}/?n=1000`);
  await page.waitForFunction(() => document.body.dataset.state === 'ready');
  const size = statSync(file).size;
  const name = path.basename(file);
  // The list: from the file input's change event to the list shown.
  await page.evaluate(() => {
    document.getElementById('file').addEventListener('change', () => (window.__t0 = performance.now()), { capture: true });
  });
  await page.setInputFiles('#file', file);
  await page.waitForFunction(
    (n) => document.getElementById('model-summary').textContent.startsWith(n) && document.body.dataset.state === 'ready',
    name,
    { polling: 'raf', timeout: 60_000 },
  );
  const listMs = await page.evaluate(() => performance.now() - window.__t0);
  const headerMs = Number(await page.getAttribute('#model-tensors', 'data-ms'));
  const count = await page.locator('#tensor-list li').count();
  console.log(`file: ${name}, ${(size / 1e9).toFixed(2)} GB, ${count} tensors`);
  console.log(`| tensor list shown (change event to list; header read and parsed) | ${listMs.toFixed(0)} ms (${headerMs} ms) | target ≤ 1000 ms |`);
  const picks = [];
  for (let i = 0; i < reps; i++) {
    const r = await timed(
      page,
      `const li = [...document.querySelectorAll('#tensor-list li')].find((l) => l.querySelector('.tname').textContent === a);
       li.querySelector('button').click();`,
      tensor,
    );
    picks.push(r);
  }
  console.log(`| pick ${tensor} to ready (median of ${reps}; all charts drawn) | ${median(picks.map((p) => p.ms)).toFixed(0)} ms (${median(picks.map((p) => p.drawnMs)).toFixed(0)} ms) | target ≤ 3000 ms |`);
  console.log(`  picks: ${picks.map((p) => `${p.ms.toFixed(0)}/${p.drawnMs.toFixed(0)}`).join(', ')}`);
  console.log(`  the page's wasm memory after the picks: ${await wasmMemory(page)}`);
  const fmts = [];
  for (const f of FORMATS) {
    const r = await formatChange(page, f);
    fmts.push({ f, ms: r.ms, all: r.t2 - r.t0 });
  }
  console.log(`| Format change to ready (median of ${FORMATS.length}; all charts drawn) | ${median(fmts.map((x) => x.ms)).toFixed(0)} ms (${median(fmts.map((x) => x.all)).toFixed(0)} ms) | target ≤ 1000 ms |`);
  console.log(`  formats: ${fmts.map((x) => `${x.f} ${x.ms.toFixed(0)}/${x.all.toFixed(0)}`).join(', ')}`);
  console.log(`  the page's wasm memory after the format changes: ${await wasmMemory(page)}`);
  const source = await page.textContent('#data-source');
  console.log(`data: ${source}`);
  const shot = opt('--screenshot', null);
  if (shot) await page.screenshot({ path: shot });
} finally {
  await stop();
}
