// The Model section end to end in headless Chromium: the network fetched from the page's own
// server, its float and quantized accuracy, the flipped images drawn with their labels, the
// accuracy chart drawn, live with the Bits control, from a link, and a failed fetch said in the
// section.
//
// Needs pkg/ built (`make wasm`); `make test-e2e` runs it with the other files here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bitsChange } from '../../scripts/browser.mjs';
import { assertClean, canvasReport, expectNoError, usePage, waitState } from './harness.mjs';

const web = usePage();

/** Waits until the section shows the model, scrolls it into view and waits for its chart. */
async function atModel(page) {
  await page.waitForFunction(() => document.getElementById('model-accuracy').textContent !== '', null, { timeout: 30_000 });
  await page.evaluate(() => document.getElementById('model').scrollIntoView({ block: 'start' }));
  await waitState(page, 'ready');
  await page.waitForFunction(() => document.body.dataset.charts === 'drawn');
}

/** The correct count in a `96.67 % (348 / 360)` text. */
function correct(text) {
  const m = /\((\d+) \/ 360\)/.exec(text);
  assert.ok(m, `an accuracy with its count: '${text}'`);
  return Number(m[1]);
}

/** What the flipped images show: each figure's caption, and how many of its canvas's 64 pixels
 * are dark and how many light (read back). */
function flips(page) {
  return page.$$eval('#model-flips figure', (figs) =>
    figs.map((f) => {
      const c = f.querySelector('canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let dark = 0;
      let light = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] < 100) dark += 1;
        if (d[i] > 200) light += 1;
      }
      return { caption: f.querySelector('figcaption').textContent, size: [c.width, c.height], dark, light };
    }),
  );
}

test('the float and int8 accuracy, no flips, the accuracy chart drawn; 2 bits drops and draws its flips', async () => {
  const { page, problems, close } = await web.open('/');
  try {
    await atModel(page);
    await expectNoError(page);
    assert.equal(await page.textContent('#model-float-accuracy'), '96.67 % (348 / 360)');
    assert.equal(await page.textContent('#model-accuracy'), '96.67 % (348 / 360)', 'int8 per tensor loses nothing');
    assert.match(await page.textContent('#model-flips-count'), /no image changed its answer/i);
    assert.equal((await flips(page)).length, 0);
    const chart = await canvasReport(page, 'accuracy');
    assert.ok(chart.inkFraction > 0.01 && chart.colors >= 3, `#chart-accuracy drawn (${chart.inkFraction}, ${chart.colors} colours)`);
    assert.equal((await page.$$('#model-layers li')).length, 2, 'a bar per layer');
    assert.match(await page.textContent('#model-layers'), /fc1.*SQNR \d+\.\d dB.*fc2/s);

    await bitsChange(page, 2);
    await waitState(page, 'ready');
    await expectNoError(page, '2 bits');
    const at2 = correct(await page.textContent('#model-accuracy'));
    assert.ok(at2 < 300, `2 bits collapses: ${at2} of 360`);
    const count = await page.textContent('#model-flips-count');
    const n = Number(/^(\d+) of 360/.exec(count)?.[1]);
    assert.ok(n > 40, `many flips at 2 bits: '${count}'`);
    assert.match(count, /first 40 shown/);
    const shown = await flips(page);
    assert.equal(shown.length, 40);
    for (const f of shown) {
      assert.deepEqual(f.size, [8, 8]);
      assert.match(f.caption, /^\d: \d→\d$/, 'its true digit, then the float and quantized answers');
      assert.ok(f.dark >= 4 && f.light >= 4, `a digit drawn, dark on light: ${JSON.stringify(f)}`);
      const [label, answers] = f.caption.split(': ');
      const [was, now] = answers.split('→');
      assert.notEqual(was, now, 'its answer changed');
      assert.ok(label.length === 1);
    }
    // The chart is redrawn with the ring at 2 bits, still drawn.
    const after2 = await canvasReport(page, 'accuracy');
    assert.ok(after2.inkFraction > 0.01);
    assertClean(problems);
  } finally {
    await close();
  }
});

test('a link with a format shows its accuracy; the data controls do not change it', async () => {
  const { page, problems, close } = await web.open('/?n=8192&format=q4_0');
  try {
    await atModel(page);
    assert.equal(await page.textContent('#model-accuracy'), '96.39 % (347 / 360)', 'q4_0: one image lost, as `quantviz model` says');
    assert.match(await page.textContent('#model-weights'), /q4_0, 4\.50 bits per weight/);
    assert.equal((await flips(page)).length, 1);
    const before = await page.textContent('#model-accuracy');
    await page.locator('#seed').fill('12345');
    await page.locator('#seed').dispatchEvent('change');
    await waitState(page, 'ready');
    assert.equal(await page.textContent('#model-accuracy'), before);
    assertClean(problems);
  } finally {
    await close();
  }
});

test('a failed fetch of the model says so in the section, and the page works on', async () => {
  const context = await web.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.route('**/models/digits-test.safetensors', (route) => route.fulfill({ status: 404, body: 'gone' }));
  try {
    await page.goto(`${web.origin}/`);
    await page.waitForFunction(() => /Could not load the model/.test(document.getElementById('model-status').textContent));
    assert.match(await page.textContent('#model-status'), /models\/digits-test\.safetensors: HTTP 404/);
    assert.ok(await page.locator('#model-body').isHidden());
    await waitState(page, 'ready');
    await expectNoError(page, 'without the model');
    await bitsChange(page, 4);
    await waitState(page, 'ready');
    await expectNoError(page, 'a Bits change without the model');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
