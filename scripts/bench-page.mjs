// The page's speed in headless Chromium: time to first render and the time from a Bits change
// to `data-state="ready"`, at `/?n=100000` and `/?n=1000000` (and the default page's first
// render), each the median of 5, and the time from a Format change to ready at a million
// values (the median of 10 formats); prints Markdown tables. `scripts/bench.py` runs it. The Bits
// changes step through widths the page has not shown yet (never back and forth between two).
//
// Needs pkg/ built (`make wasm`), playwright-core (npm) and /usr/bin/chromium. Starts
// `python3 scripts/serve.py` on a free port and stops it at the end.
//
// The page's test contract: `document.body.dataset.state` is "busy" while it updates and
// "ready" when what is on screen shows it ("error" on bad input); `data-charts` is "pending"
// while charts off screen still show the state before, "drawn" once the page has drawn them too
// (after a Bits step, once the slider rests); `#status` carries the last update's time in
// `data-ms` and that later drawing's in `data-rest-ms`; the bit-width control's label starts
// with "Bits". Besides the time to ready, the table gives the later drawing's median ("then off
// screen") and that of the two added ("ready + off screen"): the whole work of a change.
//
// With `--warm R` it also times R more rounds of the first five widths on the same page, each
// round after an untimed change to 7 or 8 bits, and prints their median ("warm"): the page as
// it runs once its code has been optimized and those widths' labels measured. The five timed
// changes are each width's first visit on a page just loaded, and take a few ms more (V8's
// baseline code, mostly), more still on a busy machine.
//
// It also times Bits changes at the default size on a page scrolled to the Model section (the
// network evaluated at each new width, its flipped images and accuracy chart on screen): the
// median of REPS changes, each to a width the page has not shown yet, after the section has its
// model and chart.
//
// Usage: node scripts/bench-page.mjs [--reps 5] [--warm 0] [--json] [--model-only]
import { bitsChange, extraFlags, formatChange, startPage } from './browser.mjs';

const PAGES = [
  { url: '/', label: 'default', firstRenderTarget: 500 },
  { url: '/?n=100000', label: 'n = 100,000', bitsTarget: 8 },
  { url: '/?n=1000000', label: 'n = 1,000,000', bitsTarget: 16 },
];
const TIMEOUT_MS = 60_000;
/** The Format changes' page: a million values, rounded to a multiple of 256 so that every
 * format (the K-quants' super-block is 256) takes them. */
/** The Model section's page: the default data size, scrolled to the section. */
const MODEL_PAGE = { url: '/', label: 'default, at the Model section', bitsTarget: 16 };
const FORMAT_PAGE = { url: '/?n=1000192', label: 'n = 1,000,192', formatTarget: 16 };
/** The formats the timed Format changes step through, each new to the page (the session keeps
 * only the last format's run, so none is reused), after a warm-up to q8_0. */
const FORMAT_STEPS = ['q4_0', 'nf4', 'q4_K', 'mxfp4', 'fp8-e4m3', 'nvfp4', 'q6_K', 'q4_1', 'q2_K', 'q5_K', 'q3_K', 'fp8-e5m2'];
/** The widths the timed Bits changes step through after the warm-up at 7 (the page opens at 8):
 * each one new to the page, so that no per-width result computed before can answer. */
const BIT_STEPS = [5, 10, 4, 12, 6, 11, 3, 9, 13, 2];

const args = process.argv.slice(2);
const REPS = Number(argValue('--reps') ?? 5);
const WARM = Number(argValue('--warm') ?? 0);
const JSON_OUT = args.includes('--json');
/** Only the Model section's Bits changes. */
const MODEL_ONLY = args.includes('--model-only');

function argValue(name) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const k = s.length;
  if (k === 0) return NaN;
  return k % 2 ? s[(k - 1) / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
}

// Runs in the page before its own scripts: notes when `data-state` first becomes "ready",
// in ms since navigation start (performance.now()'s origin). It then stops observing, so that
// the timed Bits changes after it do not make mutation records for it.
function recordFirstReady() {
  window.__qvFirstReady = undefined;
  const check = () => {
    const b = document.body;
    if (window.__qvFirstReady === undefined && b && b.dataset.state === 'ready') {
      window.__qvFirstReady = performance.now();
      observer.disconnect();
    }
    if (b && b.dataset.state === 'error' && window.__qvError === undefined) {
      window.__qvError = document.querySelector('#error')?.textContent || 'data-state="error"';
      observer.disconnect();
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ['data-state'],
  });
}

/** Loads `url` and returns ms from navigation start to the first `data-state="ready"`. */
async function firstRender(page, url) {
  await page.goto(url, { waitUntil: 'commit' });
  const handle = await page.waitForFunction(
    () => window.__qvFirstReady ?? (window.__qvError ? `error: ${window.__qvError}` : undefined),
    null,
    { timeout: TIMEOUT_MS },
  );
  const v = await handle.jsonValue();
  if (typeof v !== 'number') throw new Error(`${url}: ${v}`);
  return v;
}

/** Changes Bits to `bits` (browser.mjs: `bitsChange`) and returns ms from the events to
 * `data-state="ready"`, `#status`'s `data-ms` afterwards, and the ms the page then took to draw
 * the charts that were off screen (`restMs`, once the slider rests). */
async function timeBitsChange(page, bits) {
  const { ms, restMs } = await bitsChange(page, bits);
  const statusMs = Number(await page.locator('#status').getAttribute('data-ms'));
  return { ms, statusMs, restMs };
}

async function measure(browser, origin, spec) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(recordFirstReady);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const first = [];
  for (let i = 0; i < REPS; i++) first.push(await firstRender(page, origin + spec.url));
  const row = { page: spec.url, label: spec.label, firstRender: median(first), firstRenders: first };
  if (spec.bitsTarget !== undefined) {
    await timeBitsChange(page, 7); // warm-up
    const changes = [];
    for (let i = 0; i < REPS; i++) {
      changes.push(await timeBitsChange(page, BIT_STEPS[i % BIT_STEPS.length]));
    }
    row.bitsChange = median(changes.map((c) => c.ms));
    row.bitsChanges = changes.map((c) => c.ms);
    row.statusMs = median(changes.map((c) => c.statusMs));
    row.restMs = median(changes.map((c) => c.restMs));
    // What a change costs in all, as before the page put off the charts off screen.
    row.withRest = median(changes.map((c) => c.ms + c.restMs));
    row.bitsTarget = spec.bitsTarget;
    const warm = [];
    for (let r = 0; r < WARM; r++) {
      await timeBitsChange(page, r % 2 ? 8 : 7);
      for (let i = 0; i < Math.min(REPS, BIT_STEPS.length); i++) {
        warm.push((await timeBitsChange(page, BIT_STEPS[i])).ms);
      }
    }
    if (warm.length) {
      row.bitsChangeWarm = median(warm);
      row.bitsChangesWarm = warm;
    }
  }
  row.firstRenderTarget = spec.firstRenderTarget;
  row.errors = errors;
  await context.close();
  return row;
}

/** Changes Format through the formats in `FORMAT_STEPS` on `FORMAT_PAGE` and returns the ms
 * from the events to `data-state="ready"` of each, `#status`'s `data-ms`, and the later drawing
 * of the charts off screen. The warm-up (int to q8_0) also has the page compute the comparison
 * of every format, which a Format change keeps. */
async function measureFormats(browser, origin) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(origin + FORMAT_PAGE.url);
  await page.waitForFunction(() => document.body.dataset.state === 'ready' && document.body.dataset.charts === 'drawn', null, {
    timeout: TIMEOUT_MS,
  });
  await formatChange(page, 'q8_0');
  const changes = [];
  for (let i = 0; i < Math.min(REPS * 2, FORMAT_STEPS.length); i++) {
    const format = FORMAT_STEPS[i];
    const { ms, restMs } = await formatChange(page, format);
    const statusMs = Number(await page.locator('#status').getAttribute('data-ms'));
    changes.push({ format, ms, statusMs, restMs });
  }
  await context.close();
  return {
    page: FORMAT_PAGE.url,
    label: FORMAT_PAGE.label,
    formatChange: median(changes.map((c) => c.ms)),
    formatChanges: changes,
    statusMs: median(changes.map((c) => c.statusMs)),
    restMs: median(changes.map((c) => c.restMs)),
    formatTarget: FORMAT_PAGE.formatTarget,
    errors,
  };
}

/** Bits changes on the default page scrolled to the Model section, once its model is loaded
 * and its chart drawn: ms from the events to `data-state="ready"` of each. */
async function measureModel(browser, origin) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(origin + MODEL_PAGE.url);
  const drawn = () =>
    page.waitForFunction(
      () =>
        document.getElementById('model-accuracy').textContent !== '' &&
        document.body.dataset.state === 'ready' &&
        document.body.dataset.charts === 'drawn',
      null,
      { timeout: TIMEOUT_MS },
    );
  await drawn();
  await page.evaluate(() => document.getElementById('model').scrollIntoView({ block: 'start' }));
  await drawn();
  await timeBitsChange(page, 7); // warm-up
  const changes = [];
  for (let i = 0; i < REPS; i++) {
    const bits = BIT_STEPS[i % BIT_STEPS.length];
    changes.push({ bits, ...(await timeBitsChange(page, bits)) });
  }
  const onScreen = await page.evaluate(() => {
    const r = document.getElementById('chart-accuracy').getBoundingClientRect();
    return r.bottom > 0 && r.top < window.innerHeight;
  });
  if (!onScreen) errors.push('the accuracy chart was not on screen');
  await context.close();
  return {
    page: MODEL_PAGE.url,
    label: MODEL_PAGE.label,
    bitsChange: median(changes.map((c) => c.ms)),
    changes,
    statusMs: median(changes.map((c) => c.statusMs)),
    restMs: median(changes.map((c) => c.restMs)),
    bitsTarget: MODEL_PAGE.bitsTarget,
    errors,
  };
}

function fmt(x) {
  return Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : '–';
}

function verdict(value, target) {
  if (target === undefined) return '';
  return value <= target ? `≤ ${target} ms: met` : `≤ ${target} ms: NOT met`;
}

async function main() {
  const { origin, browser, stop } = await startPage();
  try {
    const version = browser.version();
    const rows = [];
    const model = await measureModel(browser, origin);
    if (MODEL_ONLY) {
      const each = model.changes.map((c) => `${c.bits} bits ${fmt(c.ms)}`).join(', ');
      console.log(JSON_OUT ? JSON.stringify({ chromium: version, reps: REPS, model }) : `${model.label}: Bits change → ready ${fmt(model.bitsChange)} ms (median of ${REPS}: ${each}), data-ms ${fmt(model.statusMs)}, then off screen ${fmt(model.restMs)} ms; ${verdict(model.bitsChange, model.bitsTarget)}${model.errors.length ? `; errors: ${model.errors.join('; ')}` : ''}`);
      return;
    }
    for (const spec of PAGES) rows.push(await measure(browser, origin, spec));
    const formats = await measureFormats(browser, origin);
    if (JSON_OUT) {
      console.log(JSON.stringify({ chromium: version, extraFlags: extraFlags(), reps: REPS, rows, formats, model }));
      return;
    }
    const flags = extraFlags();
    const extra = flags.length ? `, with the extra flags ${flags.join(' ')}` : '';
    console.log(`Headless Chromium ${version}${extra}, median of ${REPS}; times in ms.\n`);
    console.log(
      '| page | first render | target | Bits change → ready | the changes, in order | `#status` data-ms | target |' +
        ' then off screen | ready + off screen |' +
        (WARM ? ` warm: median of ${WARM} × ${Math.min(REPS, BIT_STEPS.length)} |` : ''),
    );
    console.log('|---|---:|---|---:|---|---:|---|---:|---:|' + (WARM ? '---:|' : ''));
    for (const r of rows) {
      // Every change, not only the median: on a busy machine the spread says how far to trust it.
      const each = r.bitsChanges
        ? r.bitsChanges.map((ms, i) => `${BIT_STEPS[i % BIT_STEPS.length]} bits ${fmt(ms)}`).join(', ')
        : '–';
      console.log(
        `| \`${r.page}\` | ${fmt(r.firstRender)} | ${verdict(r.firstRender, r.firstRenderTarget)} |` +
          ` ${fmt(r.bitsChange)} | ${each} | ${fmt(r.statusMs)} | ${verdict(r.bitsChange, r.bitsTarget)} |` +
          ` ${fmt(r.restMs)} | ${fmt(r.withRest)} |` +
          (WARM ? ` ${fmt(r.bitsChangeWarm)} |` : ''),
      );
    }
    console.log(`\n| page | Format change → ready | the changes, in order | \`#status\` data-ms | target | then off screen |`);
    console.log('|---|---:|---|---:|---|---:|');
    const each = formats.formatChanges.map((c) => `${c.format} ${fmt(c.ms)}`).join(', ');
    console.log(
      `| \`${formats.page}\` | ${fmt(formats.formatChange)} | ${each} | ${fmt(formats.statusMs)} |` +
        ` ${verdict(formats.formatChange, formats.formatTarget)} | ${fmt(formats.restMs)} |`,
    );
    console.log(`\n| page | Bits change → ready | the changes, in order | \`#status\` data-ms | target | then off screen |`);
    console.log('|---|---:|---|---:|---|---:|');
    const modelEach = model.changes.map((c) => `${c.bits} bits ${fmt(c.ms)}`).join(', ');
    console.log(
      `| ${model.label} | ${fmt(model.bitsChange)} | ${modelEach} | ${fmt(model.statusMs)} |` +
        ` ${verdict(model.bitsChange, model.bitsTarget)} | ${fmt(model.restMs)} |`,
    );
    const errors = rows.concat([formats, model]).flatMap((r) => r.errors);
    if (errors.length) console.log(`\nPage errors: ${errors.join('; ')}`);
  } finally {
    await stop();
  }
}

main().catch((e) => {
  console.error(`bench-page: ${e.stack || e}`);
  process.exit(1);
});
