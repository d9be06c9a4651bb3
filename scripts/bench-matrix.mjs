// The matrix's speed on the page in headless Chromium: the time from a Granularity change to
// `data-state="ready"` at 1024 x 1024 values (the heatmap and scales on screen, drawn before
// ready), and the time from a heatmap view change (max / mean, each a new grid over every
// value) to ready on 4096 x 2048 generated values (generated data takes at most 10,000,000) and
// on a 4096 x 4096 float32 tensor opened from a model file (made once in the system's temporary
// folder); each the median of the changes; prints a Markdown table (`--json` for JSON). The page's test contract is described
// at the top of scripts/bench-page.mjs.
//
// Needs pkg/ built (`make wasm`), playwright-core (npm) and /usr/bin/chromium.
//
// Usage: node scripts/bench-matrix.mjs [--reps 9] [--json]
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPage } from './browser.mjs';

const args = process.argv.slice(2);
const REPS = Number(args[args.indexOf('--reps') + 1] || 9);
const JSON_OUT = args.includes('--json');
const TIMEOUT_MS = 120_000;

/** Granularity changes: each a new run (the session keeps only the current one). */
const GRANULARITY_PAGE = '/?shape=1024,1024&bits=4';
const GRANULARITY_STEPS = [
  ['channel', null],
  ['group', '128'],
  ['tensor', null],
  ['group', '32'],
  ['channel', null],
  ['group', '64'],
];
/** 4096 rows: 4096 x 2048 (8,388,608 values) generated; generated data takes at most
 * 10,000,000 values, so the 4096 x 4096 tensor comes from a model file (`FILE_TENSOR`). */
const HEATMAP_PAGE = '/?shape=4096,2048&bits=4&granularity=group:128';
const FILE_PAGE = '/?bits=4&granularity=group:128';
const FILE_TENSOR = 'w4096';

/** A safetensors file of one 4096 x 4096 float32 tensor, seeded, in the system's temporary
 * folder (made once: 64 MB). */
function matrixFile() {
  const file = path.join(os.tmpdir(), 'quantviz-matrix-4096.safetensors');
  if (existsSync(file)) return file;
  const n = 4096 * 4096;
  const header = Buffer.from(JSON.stringify({ [FILE_TENSOR]: { dtype: 'F32', shape: [4096, 4096], data_offsets: [0, 4 * n] } }));
  const values = new Float32Array(n);
  let s = 42n;
  for (let i = 0; i < n; i++) {
    // A sum of four uniforms, about normal; the row's magnitude varies as weights' rows do.
    let t = 0;
    for (let k = 0; k < 4; k++) {
      s = (s * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
      t += Number(s >> 40n) / 2 ** 24;
    }
    values[i] = (t - 2) * (1 + (Math.floor(i / 4096) % 7) / 7);
  }
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(file, Buffer.concat([len, header, Buffer.from(values.buffer)]));
  return file;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const k = s.length;
  return k % 2 ? s[(k - 1) / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
}

/** Sets the controls `changes` ([selector, value], the last one's events fire) and returns
 * the ms from those events to `data-state="ready"`. */
function timeChange(page, changes) {
  return page.evaluate(
    (changes) =>
      new Promise((resolve, reject) => {
        const body = document.body;
        const done = () => {
          if (body.dataset.state === 'error' || body.dataset.charts === 'error') {
            obs.disconnect();
            reject(new Error(document.getElementById('error').textContent));
          } else if (body.dataset.state === 'ready') {
            obs.disconnect();
            resolve(performance.now() - t0);
          }
        };
        const obs = new MutationObserver(done);
        obs.observe(body, { attributes: true, attributeFilter: ['data-state', 'data-charts'] });
        for (const [sel, value] of changes) document.querySelector(sel).value = value;
        const el = document.querySelector(changes[changes.length - 1][0]);
        const t0 = performance.now();
        el.dispatchEvent(new Event('input', { bubbles: true }));
        el.dispatchEvent(new Event('change', { bubbles: true }));
      }),
    changes,
  );
}

/** The page at `url`, every chart drawn and the heatmap scrolled into view; `before(page)`, where
 * given, runs once the page is first ready (to open a file, say). */
async function open(browser, origin, url, before = null) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(origin + url);
  if (before) {
    await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: TIMEOUT_MS });
    await before(page);
  }
  await page.waitForFunction(() => document.body.dataset.state === 'ready' && document.body.dataset.charts === 'drawn', null, {
    timeout: TIMEOUT_MS,
  });
  await page.locator('#chart-heatmap').scrollIntoViewIfNeeded();
  await page.waitForTimeout(300);
  return { context, page, errors };
}

/** Opens `file` in the page and picks its tensor. */
async function pickFrom(page, file) {
  await page.setInputFiles('#file', file);
  await page.waitForFunction(() => document.querySelectorAll('#tensor-list li').length > 0 && document.body.dataset.state === 'ready', null, {
    timeout: TIMEOUT_MS,
  });
  await page.locator('#tensor-list li', { hasText: FILE_TENSOR }).first().locator('button').click();
}

async function main() {
  const { origin, browser, stop } = await startPage();
  try {
    const g = await open(browser, origin, GRANULARITY_PAGE);
    const granularity = [];
    for (let i = 0; i < REPS + 1; i++) {
      const [value, size] = GRANULARITY_STEPS[i % GRANULARITY_STEPS.length];
      const changes = size ? [['#group-size', size], ['#granularity', value]] : [['#granularity', value]];
      const ms = await timeChange(g.page, changes);
      if (i > 0) granularity.push(ms); // the first is a warm-up
    }
    await g.context.close();
    const h = await open(browser, origin, HEATMAP_PAGE);
    const heatmap = [];
    for (let i = 0; i < REPS + 1; i++) {
      const ms = await timeChange(h.page, [['#heat-reduce', i % 2 ? 'max' : 'mean']]);
      if (i > 0) heatmap.push(ms);
    }
    await h.context.close();
    const file = matrixFile();
    const f = await open(browser, origin, FILE_PAGE, (page) => pickFrom(page, file));
    const heatmapFile = [];
    for (let i = 0; i < REPS + 1; i++) {
      const ms = await timeChange(f.page, [['#heat-reduce', i % 2 ? 'max' : 'mean']]);
      if (i > 0) heatmapFile.push(ms);
    }
    await f.context.close();
    const out = {
      chromium: browser.version(),
      granularity: { page: GRANULARITY_PAGE, median: median(granularity), each: granularity, target: 16 },
      heatmap: { page: HEATMAP_PAGE, median: median(heatmap), each: heatmap, target: 50 },
      heatmapFile: { page: `${FILE_PAGE}, a 4096 x 4096 float32 tensor from a file`, median: median(heatmapFile), each: heatmapFile, target: 50 },
      errors: [...g.errors, ...h.errors, ...f.errors],
    };
    if (JSON_OUT) {
      console.log(JSON.stringify(out));
      return;
    }
    console.log(`Headless Chromium ${out.chromium}; times in ms, medians of ${REPS}.\n`);
    console.log('| change | page | → ready (median) | each | target |');
    console.log('|---|---|---:|---|---|');
    for (const [name, r] of [['Granularity', out.granularity], ['heatmap view (new grid)', out.heatmap], ['heatmap view, 4096 x 4096', out.heatmapFile]]) {
      const met = r.median <= r.target ? 'met' : 'NOT met';
      console.log(`| ${name} | \`${r.page}\` | ${r.median.toFixed(1)} | ${r.each.map((x) => x.toFixed(1)).join(', ')} | ≤ ${r.target}: ${met} |`);
    }
    if (out.errors.length) console.log(`\nPage errors: ${out.errors.join('; ')}`);
  } finally {
    await stop();
  }
}

main().catch((e) => {
  console.error(`bench-matrix: ${e.stack || e}`);
  process.exit(1);
});
