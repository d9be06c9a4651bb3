// The page end to end in headless Chromium: it loads, draws every chart, shows the notebook's
// numbers, follows its controls and its URL, survives bad input, and stays on its own host.
//
// Needs pkg/ built (`make wasm`); `make test-e2e` runs it as `node --test tests/e2e/`.
// Screenshots go to artifacts/ (gitignored); `make screenshot` makes the README's.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../scripts/browser.mjs';
import { toPalettePng } from './palette-png.mjs';
import { assertClean, canvasReport, expectNoError, savedUrl, twoFrames, usePage, waitState } from './harness.mjs';

const ARTIFACTS = path.join(ROOT, 'artifacts');
/** The notebook's first example (asymmetric and symmetric 8-bit min-max of its 20 values). */
const NOTEBOOK_SCALE = '0.7617254901960785';
const NOTEBOOK_ZERO_POINT = '62';
const NOTEBOOK_SYMMETRIC_SCALE = '1.1569291338582677';
const METRICS = ['scale', 'zero-point', 'mse', 'sqnr', 'max-error', 'clipped'];
const CHARTS = ['histogram', 'error', 'compare', 'mapping', 'sweep'];

/** Pages at a path, each in a fresh context (see harness.mjs). */
const { open } = usePage();

before(() => {
  mkdirSync(ARTIFACTS, { recursive: true });
});

test('the page loads, every chart is drawn crisp, and every number is shown', async () => {
  const { page, problems, close } = await open('/', { deviceScaleFactor: 2 });
  await expectNoError(page);
  const status = page.locator('#status');
  assert.match(await status.textContent(), /^Updated in \d+ ms$/);
  assert.ok(Number(await status.getAttribute('data-ms')) >= 0);
  for (const id of METRICS) {
    const text = (await page.textContent(`#metric-${id}`)).trim();
    assert.ok(text !== '' && text !== '–', `#metric-${id} shows a number, got '${text}'`);
  }
  assert.ok((await page.locator('#formulas li').count()) >= 2, 'the board has formulas');
  assert.ok((await page.locator('#values-table tbody tr').count()) >= 5, 'the table has rows');
  assert.notEqual((await page.textContent('#conclusion')).trim(), '');
  for (const name of CHARTS) {
    const c = await canvasReport(page, name);
    assert.equal(c.width, Math.round(c.cssWidth * 2), `${name}: backing store is css width × dpr`);
    assert.equal(c.height, Math.round(c.cssHeight * 2), `${name}: backing store is css height × dpr`);
    assert.ok(c.inkFraction > 0.01, `${name}: something is drawn inside the plot area (${c.inkFraction})`);
    assert.ok(c.colors >= 3, `${name}: more than a flat fill inside the plot area (${c.colors} colours)`);
  }
  await labelsAreThere(page);
  await page.screenshot({ path: path.join(ARTIFACTS, 'page-default-dpr2.png') });
  await close();
  assertClean(problems);
});

test('the notebook min-max preset shows the notebook numbers, asymmetric and symmetric', async () => {
  const { page, problems, close } = await open('/?preset=notebook-minmax');
  assert.equal(await page.textContent('#metric-scale'), NOTEBOOK_SCALE);
  assert.equal(await page.textContent('#metric-zero-point'), NOTEBOOK_ZERO_POINT);
  assert.deepEqual((await codes(page)).slice(0, 3), ['255', '0', '62']);
  assert.match(await page.textContent('#formulas'), new RegExp(NOTEBOOK_SCALE.replace('.', '\\.')));
  await page.screenshot({ path: path.join(ARTIFACTS, 'page-notebook-minmax.png'), fullPage: true });

  // The Scheme control switches to symmetric and keeps the notebook's data.
  await page.getByLabel('Scheme').selectOption('symmetric');
  await waitState(page, 'ready');
  assert.equal(await page.textContent('#metric-scale'), NOTEBOOK_SYMMETRIC_SCALE);
  assert.equal(await page.textContent('#metric-zero-point'), '0');
  const q = new URL(await savedUrl(page)).searchParams;
  assert.equal(q.get('scheme'), 'symmetric');
  assert.equal(q.get('preset'), 'notebook-minmax');
  await close();

  // The same from a link.
  const linked = await open('/?preset=notebook-minmax&scheme=symmetric');
  assert.equal(await linked.page.textContent('#metric-scale'), NOTEBOOK_SYMMETRIC_SCALE);
  await linked.close();
  assertClean(problems);
  assertClean(linked.problems);
});

test('downloads and the link: CSV of the values, PNG of a chart, the URL on the clipboard', async () => {
  const { page, problems, close } = await open('/?preset=notebook-minmax', {
    acceptDownloads: true,
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  const lines = (await readAll(await csv.createReadStream())).toString('utf8').trim().split('\n');
  assert.equal(lines[0], 'index,original,code,dequantized,error');
  assert.equal(lines.length, 21, 'a header and the notebook\'s 20 values');
  assert.match(lines[1], /^0,146\.93,255,/);
  const [png] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('button.png[data-chart="mapping"]').click(),
  ]);
  assert.equal(png.suggestedFilename(), 'quantviz-mapping.png');
  const bytes = await readAll(await png.createReadStream());
  assert.deepEqual([...bytes.subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG file');
  await page.getByRole('button', { name: 'Copy link' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), await savedUrl(page));
  await close();
  assertClean(problems);
});

test('the preset buttons load the notebook experiments', async () => {
  const { page, problems, close } = await open('/?bits=4&n=1000');
  await page.getByRole('button', { name: 'Notebook: min-max' }).click();
  await waitState(page, 'ready');
  assert.equal(await page.textContent('#metric-scale'), NOTEBOOK_SCALE);
  assert.equal(new URL(await savedUrl(page)).searchParams.get('preset'), 'notebook-minmax');
  assert.equal(await page.inputValue('#bits'), '8', 'a preset starts from its own settings');
  await page.getByRole('button', { name: 'Notebook: percentile' }).click();
  await waitState(page, 'ready');
  assert.equal(new URL(await savedUrl(page)).searchParams.get('preset'), 'notebook-percentile');
  assert.equal(await page.inputValue('#calibration'), 'percentile');
  await close();
  assertClean(problems);
});

test('the notebook percentile preset compares min-max and percentile without the outlier', async () => {
  const { page, problems, close } = await open('/?preset=notebook-percentile');
  assert.equal(await page.inputValue('#calibration'), 'percentile');
  assert.equal(await page.inputValue('#percentile'), '99.99');
  assert.match(await page.textContent('#data-source'), /10000/);
  const inliers = page.locator('#metric-inliers');
  assert.ok(await inliers.isVisible(), 'the error without the outlier is shown');
  assert.match(await inliers.textContent(), /Without the outlier/);
  // The comparison table: min-max spends its 256 levels on the outlier, percentile clips it.
  const row = (cal) => page.locator(`#compare-table tr[data-scheme="asymmetric"][data-calibration="${cal}"]`);
  const inlierMse = async (cal) => Number(await row(cal).locator('td').nth(4).textContent());
  assert.ok(await page.locator('#compare-table th', { hasText: 'MSE without outliers' }).isVisible());
  const minmax = await inlierMse('minmax');
  const percentile = await inlierMse('percentile:99.99');
  assert.ok(Number.isFinite(minmax) && Number.isFinite(percentile), `${minmax}, ${percentile}`);
  assert.ok(percentile < minmax / 4, `percentile (${percentile}) beats min-max (${minmax}) on the inliers`);
  assert.equal(await row('percentile:99.99').getAttribute('aria-current'), 'true');
  assert.ok(Number(await row('percentile:99.99').locator('td').nth(3).textContent()) >= 1, 'percentile clips');
  await page.screenshot({ path: path.join(ARTIFACTS, 'page-notebook-percentile.png'), fullPage: true });

  // The experiment's own knobs (its seed, the outlier's value) keep the preset; others leave it.
  await page.getByLabel('Seed', { exact: true }).fill('7');
  await waitState(page, 'ready');
  assert.equal(new URL(await savedUrl(page)).searchParams.get('preset'), 'notebook-percentile');
  assert.match(await page.textContent('#data-source'), /seed=7/);
  await page.getByLabel('Values', { exact: true }).fill('3000');
  await waitState(page, 'ready');
  assert.equal(new URL(await savedUrl(page)).searchParams.get('preset'), null);
  assert.equal(await page.textContent('#metric-clipped-of'), 'of 3000');
  await close();
  assertClean(problems);
});

test('a control change updates numbers and URL without a reload, and a reload restores it', async () => {
  const { page, problems, close } = await open('/?n=3000');
  await page.evaluate(() => (window.__sameDocument = true));
  const before = await metrics(page);
  assert.equal(new URL(await savedUrl(page)).searchParams.get('bits'), '8');

  // Bits by keyboard: two steps down.
  await page.getByLabel('Bits').focus();
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await waitState(page, 'ready');
  assert.equal(await page.textContent('#bits-out'), '6');
  assert.equal(new URL(await savedUrl(page)).searchParams.get('bits'), '6');
  const six = await metrics(page);
  assert.notEqual(six.scale, before.scale, 'the scale follows the bits');
  assert.notEqual(six.mse, before.mse, 'the error follows the bits');

  // A new distribution starts from the core's default parameters, shown in its own inputs.
  await page.getByLabel('Distribution').selectOption('uniform');
  await waitState(page, 'ready');
  assert.equal(new URL(await savedUrl(page)).searchParams.get('dist'), 'uniform:-1,1');
  assert.equal(await page.inputValue('#dist-lo'), '-1');
  assert.ok(await page.locator('#dist-hi').isVisible());
  assert.ok(await page.locator('#dist-std').isHidden());
  await page.locator('#dist-hi').fill('3');
  await waitState(page, 'ready');
  assert.equal(new URL(await savedUrl(page)).searchParams.get('dist'), 'uniform:-1,3');

  // Typing: Values and the Calibration menu.
  await page.getByLabel('Values', { exact: true }).fill('5000');
  await waitState(page, 'ready');
  await page.getByLabel('Calibration').selectOption('mse');
  await waitState(page, 'ready');
  const url = new URL(await savedUrl(page));
  assert.equal(url.searchParams.get('n'), '5000');
  assert.equal(url.searchParams.get('calibration'), 'mse');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload happened');
  const shown = await metrics(page);
  const table = await codes(page);

  await page.reload();
  await waitState(page, 'ready');
  assert.equal(await savedUrl(page), url.href, 'the URL survives the reload');
  assert.deepEqual(await metrics(page), shown, 'the same numbers after the reload');
  assert.deepEqual(await codes(page), table, 'the same table after the reload');
  assert.equal(await page.inputValue('#bits'), '6');
  assert.equal(await page.inputValue('#n'), '5000');
  assert.equal(await page.inputValue('#calibration'), 'mse');
  assert.equal(await page.inputValue('#dist'), 'uniform');
  assert.equal(await page.inputValue('#dist-hi'), '3');
  await close();
  assertClean(problems);
});

test('changes made together all apply: a new distribution and Bits in one go', async () => {
  // The first change's update is superseded by the second's before it starts; the one that
  // runs must still start the new distribution from its defaults and leave the preset.
  const { page, problems, close } = await open('/?preset=notebook-percentile');
  await page.evaluate(() => {
    const dist = document.querySelector('#dist');
    dist.value = 'laplace';
    dist.dispatchEvent(new Event('input', { bubbles: true }));
    const bits = document.querySelector('#bits');
    bits.value = '5';
    bits.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await waitState(page, 'ready');
  await expectNoError(page);
  const url = new URL(await savedUrl(page));
  assert.equal(url.searchParams.get('bits'), '5');
  assert.equal(url.searchParams.get('dist'), 'laplace:0,1', 'the new distribution from its defaults');
  assert.equal(url.searchParams.get('preset'), null, 'a data change leaves the preset');
  assert.equal(await page.inputValue('#dist-scale'), '1');
  assert.equal(await page.textContent('#bits-codes'), 'codes 0 … 31');
  await close();
  assertClean(problems);
});

test('Bits changes redraw every chart and every number, the same as a fresh load of that width', async () => {
  // 100,000 values: the view counts over the sorted values, the comparison in one fused pass.
  const { page, problems, close } = await open('/?n=100000');
  let previous = await snapshot(page);
  for (const bits of [5, 12, 3]) {
    await page.getByLabel('Bits').evaluate((el, v) => {
      el.value = String(v);
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }, bits);
    await waitState(page, 'ready');
    await expectNoError(page);
    const now = await snapshot(page);
    assert.equal(now.codes, `codes 0 … ${2 ** bits - 1}`);
    assert.match(now.formulas, new RegExp(`2\\^${bits} − 1`), `the formulas are for ${bits} bits`);
    for (const name of CHARTS) {
      assert.notEqual(now.charts[name], previous.charts[name], `${name}: redrawn for ${bits} bits`);
    }
    // The page keeps the sweep chart's base across Bits changes and draws only the marker.
    const sweep = await sweepAgainstWhole(page);
    assert.equal(sweep.differing, 0, `sweep at ${bits} bits: the base kept plus the marker is the chart drawn whole (${sweep.size})`);
    for (const id of ['scale', 'mse', 'sqnr']) assert.notEqual(now.metrics[id], previous.metrics[id], `${id} follows the bits`);
    assert.notEqual(now.compare, previous.compare, 'the comparison follows the bits');
    previous = now;
  }
  // Nothing stale: the page after its changes is the page loaded at the last width.
  const fresh = await open('/?n=100000&bits=3');
  const loaded = await snapshot(fresh.page);
  assert.deepEqual(previous, loaded, 'after Bits changes, the page equals a fresh load of the same settings');
  await fresh.close();
  assertClean(fresh.problems);
  // What the kept sweep base shows changes with the scheme and calibration: it is drawn anew.
  for (const [label, value] of [
    ['Scheme', 'symmetric'],
    ['Calibration', 'mse'],
  ]) {
    await page.getByLabel(label).selectOption(value);
    await waitState(page, 'ready');
    const sweep = await sweepAgainstWhole(page);
    assert.equal(sweep.differing, 0, `sweep after ${label} → ${value}: the chart drawn whole`);
  }
  await page.getByLabel('Bits').evaluate((el) => {
    el.value = '6';
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await waitState(page, 'ready');
  assert.equal((await sweepAgainstWhole(page)).differing, 0, 'sweep at 6 bits after both changes');
  await close();
  assertClean(problems);
});

test('bad input shows a message, keeps the last good view, and clears when fixed', async () => {
  const { page, problems, close } = await open('/?n=2000');
  const good = await metrics(page);
  const goodUrl = await savedUrl(page);
  const cases = [
    ['Values', '0', /\bn\b.*1 to 10000000|values/i],
    ['Values', '-5', /-5/],
    ['Values', '20000000', /20000000/],
    ['Seed', 'abc', /seed.*abc/i],
  ];
  for (const [label, bad, message] of cases) {
    const input = page.getByLabel(label, { exact: true });
    const was = await input.inputValue();
    await input.fill(bad);
    await waitState(page, 'error');
    const error = page.locator('#error');
    assert.ok(await error.isVisible(), `${label}=${bad} shows #error`);
    assert.match(await error.textContent(), message, `${label}=${bad}: the message says what is wrong`);
    assert.equal(await input.getAttribute('aria-invalid'), 'true');
    assert.deepEqual(await metrics(page), good, `${label}=${bad}: the last good numbers stay`);
    assert.equal(await savedUrl(page), goodUrl, `${label}=${bad}: the URL keeps the last good state`);
    await input.fill(was);
    await waitState(page, 'ready');
    assert.ok(await error.isHidden(), `fixing ${label} clears #error`);
    assert.equal(await input.getAttribute('aria-invalid'), null);
  }
  // A good new value after a bad one: computed, not stuck on the old view.
  await page.getByLabel('Seed', { exact: true }).fill('oops');
  await waitState(page, 'error');
  await page.getByLabel('Seed', { exact: true }).fill('7');
  await waitState(page, 'ready');
  assert.equal(new URL(await savedUrl(page)).searchParams.get('seed'), '7');
  assert.notEqual((await metrics(page)).mse, good.mse);
  await close();
  assertClean(problems);
});

test('a broken link shows its message over the default view', async () => {
  const { page, problems, close } = await open('/?bits=40', { state: 'error' });
  assert.match(await page.textContent('#error'), /bits.*40/);
  assert.notEqual(await page.textContent('#metric-scale'), '–', 'the defaults are shown underneath');
  await close();
  assertClean(problems);
});

test('your own file is read in the browser, quantized, and can be left again', async () => {
  const { page, problems, close } = await open('/?n=2000');
  const requests = [];
  page.on('request', (r) => requests.push(r.method()));
  await page.getByLabel('Load your own values').setInputFiles({
    name: 'weights.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('-1.5,0.25\n2,3.75\n0.5\n'),
  });
  await waitState(page, 'ready');
  assert.match(await page.textContent('#data-source'), /weights\.csv/);
  assert.equal(await page.locator('#values-table tbody tr').count(), 5);
  assert.equal(await page.textContent('#metric-clipped-of'), 'of 5');
  assert.ok(!requests.includes('POST') && !requests.includes('PUT'), 'nothing is uploaded');
  await page.getByRole('button', { name: 'Use generated values' }).click();
  await waitState(page, 'ready');
  assert.doesNotMatch(await page.textContent('#data-source'), /weights\.csv/);
  // A file with a word among its numbers: a message naming the file, the view stays.
  const good = await metrics(page);
  await page.getByLabel('Load your own values').setInputFiles({
    name: 'notes.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from('1, 2\nthree, 4\n'),
  });
  await waitState(page, 'error');
  assert.match(await page.textContent('#error'), /notes\.txt.*three/);
  assert.deepEqual(await metrics(page), good);
  assert.doesNotMatch(await page.textContent('#data-source'), /notes\.txt/);
  await close();
  assertClean(problems);
});

test('a million values: says it is working, then shows them', async () => {
  const { page, problems, close } = await open('/?n=1000');
  await page.evaluate(() => {
    window.__statuses = [];
    const status = document.getElementById('status');
    new MutationObserver(() => window.__statuses.push(status.textContent)).observe(status, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
  await page.getByLabel('Values', { exact: true }).fill('1000000');
  await waitState(page, 'ready', 60_000);
  assert.ok((await page.evaluate(() => window.__statuses)).includes('Working…'));
  assert.equal(await page.textContent('#metric-clipped-of'), 'of 1000000');
  await close();
  assertClean(problems);
});

test('a laptop screen (1280 × 900) shows the histogram, drawn, without scrolling', async () => {
  // The notebook's percentile preset: its conclusion and the outliers' line make the numbers card
  // at its tallest.
  for (const url of ['/', '/?preset=notebook-percentile']) {
    const { page, problems, close } = await open(url);
    const box = await page.evaluate(() => {
      const r = document.getElementById('chart-histogram').getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, scrollY: window.scrollY, height: window.innerHeight };
    });
    assert.equal(box.scrollY, 0);
    assert.ok(box.top > 0 && box.bottom <= box.height, `${url}: histogram at ${box.top}..${box.bottom} px of ${box.height}`);
    assert.ok((await canvasReport(page, 'histogram')).inkFraction > 0.01, `${url}: histogram drawn`);
    await close();
    assertClean(problems);
  }
});

test('an update draws the charts on screen first, the others just after, and all of them', async () => {
  const { page, problems, close } = await open('/?n=100000', { acceptDownloads: true });
  // What each chart shows (`data-shows`, a count of the page's states) at the moment the page
  // says ready after a change of the control labelled `label`, and once every chart is drawn.
  // (After a step of the Bits slider the page draws the rest once it rests, after a choice
  // just after the frame.)
  const change = (label, value) =>
    page.getByLabel(label).evaluate(
      (el, value) =>
        new Promise((resolve, reject) => {
          const body = document.body;
          const shows = () =>
            Object.fromEntries([...document.querySelectorAll('canvas[id^="chart-"]')].map((c) => [c.id.slice(6), Number(c.dataset.shows)]));
          let atReady = null;
          const obs = new MutationObserver(() => {
            if (body.dataset.state === 'error') reject(new Error(document.getElementById('error').textContent));
            if (atReady === null && body.dataset.state === 'ready') atReady = { shows: shows(), charts: body.dataset.charts };
            if (atReady !== null && body.dataset.charts === 'drawn') {
              obs.disconnect();
              resolve({ atReady, after: shows() });
            }
          });
          obs.observe(body, { attributes: true, attributeFilter: ['data-state', 'data-charts'] });
          el.value = String(value);
          el.dispatchEvent(new Event('input', { bubbles: true }));
        }),
      value,
    );
  const newest = (shows) => Math.max(...Object.values(shows));

  // At the top of the page only the histogram is on screen.
  let before = await snapshot(page);
  let now;
  for (const [label, value] of [['Bits', 5], ['Scheme', 'symmetric']]) {
    const r = await change(label, value);
    assert.equal(r.atReady.charts, 'pending', `${label}: charts off screen are drawn after ready`);
    assert.equal(r.atReady.shows.histogram, newest(r.atReady.shows), `${label}: the histogram is drawn by ready`);
    for (const name of ['error', 'compare', 'mapping', 'sweep']) {
      assert.ok(r.atReady.shows[name] < r.atReady.shows.histogram, `${label}: ${name} (off screen) is drawn after ready`);
    }
    for (const name of CHARTS) assert.equal(r.after[name], r.atReady.shows.histogram, `${label}: ${name} shows the update in the end`);
    await twoFrames(page); // a chart drawn off screen reaches its canvas a frame later
    now = await snapshot(page);
    for (const name of CHARTS) assert.notEqual(now.charts[name], before.charts[name], `${label}: ${name} redrawn`);
    before = now;
  }

  // Scrolled to the comparison, it is the comparison that is drawn by ready.
  await page.locator('#chart-compare').scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.getElementById('chart-histogram').getBoundingClientRect().bottom < 0);
  await twoFrames(page);
  before = now;
  const r = await change('Bits', 3);
  assert.equal(r.atReady.shows.compare, newest(r.atReady.shows), 'the comparison, on screen, is drawn by ready');
  assert.ok(r.atReady.shows.histogram < r.atReady.shows.compare, 'the histogram, off screen, after ready');
  for (const name of CHARTS) assert.equal(r.after[name], r.atReady.shows.compare, `${name} shows the update in the end`);
  await twoFrames(page);
  now = await snapshot(page);
  for (const name of CHARTS) assert.notEqual(now.charts[name], before.charts[name], `${name}: redrawn for 3 bits`);

  // A PNG of the histogram asked for while it is off screen and not yet drawn is of the update.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByLabel('Bits').evaluate(
      (el) =>
        new Promise((resolve) => {
          const obs = new MutationObserver(() => {
            if (document.body.dataset.state !== 'ready') return;
            obs.disconnect();
            const shows = (n) => Number(document.getElementById(`chart-${n}`).dataset.shows);
            const stale = shows('histogram') < shows('compare');
            document.querySelector('button.png[data-chart="histogram"]').click();
            resolve(stale);
          });
          obs.observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
          el.value = '6';
          el.dispatchEvent(new Event('input', { bubbles: true }));
        }),
    ).then((stale) => assert.ok(stale, 'the histogram was still to be drawn')),
  ]);
  const png = await readAll(await download.createReadStream());
  await waitState(page, 'ready');
  const same = await page.evaluate(async (bytes) => {
    const canvas = document.getElementById('chart-histogram');
    const pixels = (source) => {
      const c = document.createElement('canvas');
      [c.width, c.height] = [canvas.width, canvas.height];
      const g = c.getContext('2d', { willReadFrequently: true });
      g.drawImage(source, 0, 0);
      return g.getImageData(0, 0, c.width, c.height).data;
    };
    const image = await createImageBitmap(new Blob([new Uint8Array(bytes)], { type: 'image/png' }), {
      premultiplyAlpha: 'none',
      colorSpaceConversion: 'none',
    });
    const [a, b] = [pixels(image), pixels(canvas)];
    return image.width === canvas.width && image.height === canvas.height && a.every((v, i) => v === b[i]);
  }, [...png]);
  assert.ok(same, 'the PNG is the histogram as drawn for 6 bits');
  await expectNoError(page);
  await close();
  assertClean(problems);
});

test('charts off screen are drawn one per task, and a change made between them goes first', async () => {
  // On a large tensor a chart's first draw takes a few hundred ms: a change waits for the one
  // under way, not for every chart off screen.
  const { page, problems, close } = await open('/?n=100000');
  const OFF = ['error', 'compare', 'mapping', 'sweep'];
  const r = await page.getByLabel('Bits').evaluate(
    (el, OFF) =>
      new Promise((resolve, reject) => {
        const body = document.body;
        const shows = (n) => Number(document.getElementById(`chart-${n}`).dataset.shows);
        const seen = Object.fromEntries(OFF.map((n) => [n, new Set()]));
        let first = null; // the state the first change shows, once ready
        let drawnWith = null; // how many charts off screen showed it after the first was drawn
        const obs = new MutationObserver(() => {
          if (body.dataset.state === 'error') reject(new Error(document.getElementById('error').textContent));
          for (const n of OFF) seen[n].add(shows(n));
          if (first === null && body.dataset.state === 'ready') first = shows('histogram');
          if (first !== null && drawnWith === null && OFF.some((n) => shows(n) === first)) {
            drawnWith = OFF.filter((n) => shows(n) === first).length;
            el.value = '6';
            el.dispatchEvent(new Event('input', { bubbles: true }));
            return;
          }
          if (drawnWith !== null && body.dataset.state === 'ready' && body.dataset.charts === 'drawn') {
            obs.disconnect();
            resolve({ first, drawnWith, last: shows('histogram'), after: OFF.map(shows), seen: OFF.map((n) => [...seen[n]]) });
          }
        });
        obs.observe(body, { attributes: true, subtree: true, attributeFilter: ['data-state', 'data-charts', 'data-shows'] });
        el.value = '5';
        el.dispatchEvent(new Event('input', { bubbles: true }));
      }),
    OFF,
  );
  assert.equal(r.drawnWith, 1, 'one chart off screen drawn in a task');
  assert.ok(r.last > r.first, 'the second change is a newer state');
  assert.deepEqual(r.after, OFF.map(() => r.last), 'every chart shows the second change in the end');
  const skipped = r.seen.filter((states) => !states.includes(r.first)).length;
  assert.ok(skipped >= OFF.length - 2, `charts not yet drawn went straight to the newer state: ${JSON.stringify(r.seen)}`);
  await expectNoError(page);
  await close();
  assertClean(problems);
});

test('a redraw of one chart while the charts off screen are drawn: they are drawn all the same', async () => {
  // The heatmap's view, changed between two of the charts drawn one per task after a Bits
  // change, is a new state of its own (as the block inspected is): the rest move on to it.
  const { page, problems, close } = await open('/?shape=256,512');
  const r = await page.getByLabel('Bits').evaluate(
    (el) =>
      new Promise((resolve, reject) => {
        const body = document.body;
        const canvases = () => [...document.querySelectorAll('canvas[id^="chart-"]')].filter((c) => c.closest('[hidden]') === null);
        const shows = (c) => Number(c.dataset.shows);
        let lagging = null; // the charts not yet drawn at ready
        let changed = false;
        const obs = new MutationObserver(() => {
          if (body.dataset.state === 'error') reject(new Error(document.getElementById('error').textContent));
          const newest = Math.max(...canvases().map(shows));
          if (lagging === null && body.dataset.state === 'ready') lagging = canvases().filter((c) => shows(c) < newest).map((c) => c.id);
          const left = (lagging ?? []).filter((id) => shows(document.getElementById(id)) < newest);
          if (!changed && lagging !== null && left.length > 0 && left.length < lagging.length) {
            changed = true;
            const reduce = document.getElementById('heat-reduce');
            reduce.value = 'mean';
            reduce.dispatchEvent(new Event('change', { bubbles: true }));
            return;
          }
          if (changed && body.dataset.state === 'ready' && body.dataset.charts === 'drawn') {
            obs.disconnect();
            resolve({ lagging, after: canvases().map(shows), newest });
          }
        });
        obs.observe(body, { attributes: true, subtree: true, attributeFilter: ['data-state', 'data-charts', 'data-shows'] });
        setTimeout(() => reject(new Error(`changed: ${changed}, lagging: ${lagging}, data-charts: ${body.dataset.charts}`)), 20_000);
        el.value = '5';
        el.dispatchEvent(new Event('input', { bubbles: true }));
        el.dispatchEvent(new Event('change', { bubbles: true }));
      }),
  );
  assert.ok(r.lagging.length >= 3, `charts off screen at ready: ${r.lagging}`);
  assert.deepEqual(r.after, r.after.map(() => r.newest), 'every chart shows the newest state');
  await expectNoError(page);
  await close();
  assertClean(problems);
});

test('360 px wide: no horizontal scroll, everything reachable', async () => {
  const { page, problems, close } = await open('/?preset=notebook-minmax', {
    viewport: { width: 360, height: 780 },
  });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the viewport`);
  for (const name of CHARTS) {
    const c = await canvasReport(page, name);
    assert.ok(c.cssWidth <= 360 && c.cssWidth > 250, `${name} fits (${c.cssWidth}px)`);
    assert.ok(c.inkFraction > 0.01, `${name}: drawn at 360 px`);
  }
  await page.screenshot({ path: path.join(ARTIFACTS, 'page-360.png'), fullPage: true });
  await close();
  assertClean(problems);
});

test('dark colour scheme: dark page and dark charts', async () => {
  const { page, problems, close } = await open('/?preset=notebook-percentile', { colorScheme: 'dark' });
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.ok(luminance(parseRgb(bg)) < 0.2, `page background is dark (${bg})`);
  for (const name of CHARTS) {
    const c = await canvasReport(page, name);
    assert.ok(luminance(c.background) < 0.25, `${name}: dark chart background (${c.background})`);
    assert.ok(c.inkFraction > 0.01, `${name}: drawn in dark mode`);
  }
  await page.getByLabel('Bits').evaluate((el) => {
    el.value = '5';
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await waitState(page, 'ready');
  assert.equal((await sweepAgainstWhole(page)).differing, 0, 'dark sweep: base kept + marker = whole');
  await page.screenshot({ path: path.join(ARTIFACTS, 'page-dark.png'), fullPage: true });
  await close();
  assertClean(problems);
});

test('wide desktop screenshot', async () => {
  const { page, problems, close } = await open('/?preset=notebook-percentile', {
    viewport: { width: 1400, height: 900 },
  });
  // A viewport as tall as the page, so the sticky controls are shown whole.
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: 1400, height });
  await waitState(page, 'ready');
  const file = path.join(ARTIFACTS, 'page-1400.png');
  await page.screenshot({ path: file, fullPage: true });
  assert.ok(statSync(file).size > 10_000);
  const small = toPalettePng(readFileSync(file));
  assert.ok(small.length < 500_000, `a palette PNG of it stays under 500 KB (${small.length} bytes)`);
  await close();
  assertClean(problems);
});

// ---------------------------------------------------------------------------------------------

/** The six metric texts. */
async function metrics(page) {
  const out = {};
  for (const id of METRICS) out[id] = await page.textContent(`#metric-${id}`);
  return out;
}

/** Everything a Bits change must update: numbers, texts, tables, and a digest of each chart's
 * pixels. */
async function snapshot(page) {
  const out = await page.evaluate((names) => {
    const digest = (canvas) => {
      // Read a copy, so that the test's readbacks do not make the page's canvas warn.
      const copy = document.createElement('canvas');
      copy.width = canvas.width;
      copy.height = canvas.height;
      const g = copy.getContext('2d', { willReadFrequently: true });
      g.drawImage(canvas, 0, 0);
      const data = g.getImageData(0, 0, canvas.width, canvas.height).data;
      let h = 0x811c9dc5;
      for (let i = 0; i < data.length; i += 1) h = Math.imul(h ^ data[i], 0x01000193) >>> 0;
      return `${canvas.width}x${canvas.height}:${h.toString(16)}`;
    };
    const text = (sel) => document.querySelector(sel).textContent;
    return {
      charts: Object.fromEntries(names.map((n) => [n, digest(document.getElementById(`chart-${n}`))])),
      codes: text('#bits-codes'),
      formulas: text('#formulas'),
      table: text('#values-table tbody'),
      compare: text('#compare-table tbody'),
      conclusion: text('#conclusion'),
      current: document.querySelector('#compare-table tbody tr.current')?.dataset.calibration ?? null,
    };
  }, CHARTS);
  out.metrics = await metrics(page);
  return out;
}

/** Compares the page's sweep chart, pixel by pixel, with the whole chart (`draw("sweep")`)
 * drawn by a second session of the same settings (the URL's, with the Bits control's width)
 * on a canvas of the same size, dpr and colours. Generated data or a preset only: a second
 * session cannot have a file the page loaded. */
async function sweepAgainstWhole(page) {
  // The URL holds the settings once the page has written it (see `savedUrl`).
  await page.waitForFunction(() => document.body.dataset.url !== 'pending');
  return page.evaluate(async () => {
    const { Session } = await import('/pkg/quantviz.js');
    const canvas = document.getElementById('chart-sweep');
    const q = new URLSearchParams(location.search);
    q.set('bits', document.getElementById('bits').value);
    const session = new Session();
    session.update(q.toString());
    const whole = new OffscreenCanvas(canvas.width, canvas.height);
    session.draw('sweep', whole, window.devicePixelRatio || 1, matchMedia('(prefers-color-scheme: dark)').matches);
    session.free();
    const pixels = (source) => {
      const copy = document.createElement('canvas');
      copy.width = canvas.width;
      copy.height = canvas.height;
      const g = copy.getContext('2d', { willReadFrequently: true });
      g.drawImage(source, 0, 0);
      return g.getImageData(0, 0, canvas.width, canvas.height).data;
    };
    const a = pixels(canvas);
    const b = pixels(whole);
    let differing = 0;
    for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) differing += 1;
    return { differing, size: `${canvas.width}x${canvas.height}` };
  });
}

/** The code column of the table of first values. */
async function codes(page) {
  return page.locator('#values-table tbody tr td:nth-child(3)').allTextContents();
}

/** Every control is found by the word its visible label starts with. */
async function labelsAreThere(page) {
  const words = ['Distribution', 'Values', 'Seed', 'Outliers', 'Outlier value', 'Bits', 'Scheme', 'Calibration', 'Zero point'];
  const labels = await page.evaluate(() =>
    [...document.querySelectorAll('label')].filter((l) => l.control).map((l) => l.textContent.trim()),
  );
  for (const w of words) {
    assert.ok(labels.some((l) => l.startsWith(w)), `a visible label starts with '${w}': ${labels.join(' | ')}`);
    assert.ok(await page.getByLabel(w).first().isVisible(), `the control labelled '${w}' is visible`);
  }
}

async function readAll(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

function parseRgb(css) {
  return css.match(/\d+/g).slice(0, 3).map(Number);
}

/** Relative luminance of an sRGB colour, 0 (black) to 1 (white). */
function luminance([r, g, b]) {
  const lin = (c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

test("a preset's link says the preset's own count: keys it ignores give way", async () => {
  const { page, problems, close } = await open('/?preset=notebook-minmax&n=5&shape=4,5&outliers=3');
  await expectNoError(page, 'preset');
  const url = new URL(await savedUrl(page));
  assert.equal(url.searchParams.get('n'), '20');
  assert.equal(url.searchParams.get('shape'), null);
  assert.equal(url.searchParams.get('outliers'), '0');
  assert.equal(await page.inputValue('#n'), '20');
  assert.equal(await page.inputValue('#rows'), '');
  assertClean(problems);
  await close();
});
