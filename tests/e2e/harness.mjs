// What the page's end-to-end tests share: a page opened in a fresh context with every console
// error, failed request and request to another host collected; waiting for the page's test
// contract (`data-state`, `data-charts`, `data-url`); a canvas read back.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { startPage } from '../../scripts/browser.mjs';

/** Starts the dev server and Chromium before a test file's tests and stops both after them.
 * `open(pathname, options)` is [`openPage`] on them; `browser` and `origin` are theirs once
 * started. */
export function usePage() {
  const web = {};
  before(async () => {
    Object.assign(web, await startPage());
  });
  after(async () => {
    await web.stop?.();
  });
  web.open = (pathname, options) => openPage(web.browser, web.origin, pathname, options);
  return web;
}

/** Opens `pathname` on `origin` in a new context of `browser` (1280 × 900 unless told) and waits
 * for `data-state` to be `state`; `initScript` runs before the page's own scripts. `problems`
 * collects what a clean page never shows. */
export async function openPage(browser, origin, pathname, { state = 'ready', initScript, ...contextOptions } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...contextOptions });
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!['blob:', 'data:'].includes(u.protocol) && u.origin !== origin) problems.push(`other host: ${r.url()}`);
  });
  await page.goto(origin + pathname);
  await waitState(page, state, 60_000);
  return { page, problems, close: () => context.close() };
}

/** The page's URL once the page has written the view's query there. */
export async function savedUrl(page) {
  await page.waitForFunction(() => document.body.dataset.url !== 'pending');
  return page.evaluate(() => location.href);
}

/** Waits until `data-state` is `state` and, for "ready", every chart shows it, then two
 * frames; throws if drawing a chart failed. */
export async function waitState(page, state, timeout = 30_000) {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
  await page.waitForFunction(
    (s) => {
      const b = document.body.dataset;
      return (b.state === s && (s !== 'ready' || b.charts !== 'pending')) || b.charts === 'error';
    },
    state,
    { timeout },
  );
  const charts = await page.evaluate(() => document.body.dataset.charts);
  if (charts === 'error') throw new Error(`drawing a chart failed: ${await page.textContent('#error')}`);
  await twoFrames(page);
}

/** Resolves after the page has rendered two more frames. */
export function twoFrames(page) {
  return page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

/** Asserts the page shows no error message. */
export async function expectNoError(page, what = 'the page') {
  assert.ok(await page.locator('#error').isHidden(), `${what}: no error: ${await page.textContent('#error')}`);
}

/** Asserts nothing went to the console, failed to load or went to another host. */
export function assertClean(problems) {
  assert.deepEqual(problems, [], 'no console errors, failed requests or other hosts');
}

/** A canvas (`#chart-NAME`) read back: its sizes, its background (the colour at a corner) and,
 * inside the middle of the plot area, the share of pixels that differ from the background and
 * how many colours there are. The test reads a copy, so that the page's canvas does not warn. */
export async function canvasReport(page, name) {
  return page.evaluate((id) => {
    const canvas = document.getElementById(id);
    const rect = canvas.getBoundingClientRect();
    const copy = document.createElement('canvas');
    copy.width = canvas.width;
    copy.height = canvas.height;
    const g = copy.getContext('2d', { willReadFrequently: true });
    g.drawImage(canvas, 0, 0);
    const corner = g.getImageData(1, 1, 1, 1).data;
    const x0 = Math.floor(canvas.width * 0.2);
    const y0 = Math.floor(canvas.height * 0.2);
    const w = Math.floor(canvas.width * 0.6);
    const h = Math.floor(canvas.height * 0.6);
    const d = g.getImageData(x0, y0, w, h).data;
    let ink = 0;
    const colors = new Set();
    for (let i = 0; i < d.length; i += 4) {
      const diff = Math.abs(d[i] - corner[0]) + Math.abs(d[i + 1] - corner[1]) + Math.abs(d[i + 2] - corner[2]);
      if (diff > 30) ink += 1;
      if (colors.size < 64) colors.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    }
    return {
      width: canvas.width,
      height: canvas.height,
      cssWidth: rect.width,
      cssHeight: rect.height,
      background: [corner[0], corner[1], corner[2]],
      inkFraction: ink / (w * h),
      colors: colors.size,
    };
  }, `chart-${name}`);
}
