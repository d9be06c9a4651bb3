// The page's worker end to end in headless Chromium: on data large enough, a K-quant change is
// split between the page and a Web Worker, and the page shows what one run on one core shows.
//
// Needs pkg/ built (`make wasm`); `make test-e2e` runs it with the other files here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClean, expectNoError, usePage, waitState } from './harness.mjs';

/** The fewest values the page splits a run for (`helpMinValues`), a multiple of 256. */
const N = 8_388_608;
const METRICS = ['mse', 'sqnr', 'max-error', 'clipped'];

const web = usePage();

/** Opens the page on N values in q8_0 (with or without Web Workers), changes the format to
 * q4_K as a user would, and returns what it shows. */
async function q4kOn(workers) {
  // Without workers: `Worker` removed before the page's scripts run, as in a browser that has none.
  const initScript = workers ? undefined : () => delete window.Worker;
  const { page, problems, close } = await web.open(`/?n=${N}&format=q8_0`, { initScript });
  try {
    if (workers) {
      await page.waitForFunction(() => document.body.dataset.helper !== undefined, null, { timeout: 60_000 });
      assert.equal(await page.evaluate(() => document.body.dataset.helper), 'ready');
      // The page's own code warmed up on a throwaway session, which leaves the shown state be.
      await page.waitForFunction(() => document.body.dataset.warm !== undefined, null, { timeout: 60_000 });
      assert.equal(await page.evaluate(() => document.body.dataset.warm), 'done');
    } else {
      assert.equal(await page.evaluate(() => document.body.dataset.helper), undefined);
    }
    await page.getByLabel('Format', { exact: true }).selectOption('q4_K');
    await waitState(page, 'ready', 60_000);
    await expectNoError(page, 'q4_K');
    const shown = {};
    for (const m of METRICS) shown[m] = await page.locator(`#metric-${m}`).textContent();
    const cores = await page.locator('#status').getAttribute('data-cores');
    const status = await page.locator('#status').textContent();
    await assertClean(problems);
    return { shown, cores, status };
  } finally {
    await close();
  }
}

test('a K-quant change on 8M values runs on two cores and shows what one core shows', async () => {
  const two = await q4kOn(true);
  assert.equal(two.cores, '2', two.status);
  assert.match(two.status, /on two cores/);
  const one = await q4kOn(false);
  assert.equal(one.cores, '1', one.status);
  assert.deepEqual(two.shown, one.shown);
});

test('the pieces made by the page and by quantizePart join to the one-run summary in wasm', async () => {
  const { page, problems, close } = await web.open('/?n=1000');
  try {
    const [joined, whole] = await page.evaluate(async (n) => {
      const m = await import('/pkg/quantviz.js');
      const base = `dist=normal:0,1&n=${n}&seed=5`;
      const query = `${base}&format=q6_K`;
      const s = new m.Session();
      s.update(base);
      const job = JSON.parse(s.formatJob(query));
      // The worker's pieces from the back, the page's from the front, joined in order.
      const meet = Math.floor(job.pieces / 2);
      const tail = [];
      for (let i = job.pieces - 1; i >= meet; i -= 1) {
        const values = new Float32Array(Math.min(job.piece, job.n - i * job.piece));
        s.formatPieceValues(i, values);
        tail[i] = m.quantizePart(job.format, job.block, values);
      }
      for (let i = 0; i < meet; i += 1) s.formatPiece(i);
      for (let i = meet; i < job.pieces; i += 1) s.formatTail(i, tail[i]);
      const a = s.update(query);
      const one = new m.Session();
      one.update(base);
      const b = one.update(query);
      s.free();
      one.free();
      return [a, b];
    }, N);
    assert.equal(joined, whole);
    await assertClean(problems);
  } finally {
    await close();
  }
});
