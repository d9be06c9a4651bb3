// The KL and rotation cards end to end in headless Chromium: kl through the Calibration control
// and through a link, the KL chart drawn (pixels read back), its threshold the core's, the
// rotation card with its block drawn and its numbers, and kl with asymmetric refused with the
// core's message while the view stays.
//
// Needs pkg/ built (`make wasm`); `make test-e2e` runs it with the other files here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClean, expectNoError, savedUrl, usePage, waitState } from './harness.mjs';

/** Laplace values with outliers, where KL, percentile and least-error clip apart. */
const DATA = 'dist=laplace:0,1&n=20000&seed=5&outliers=20&outlier_value=40&bits=4';
/** The core's message for kl with the asymmetric scheme (src/error.rs), its start. */
const KL_ASYMMETRIC = 'calibration kl is symmetric-only';
/** The light theme's colours of the kl calibration and of the rotated values (src/charts/theme.rs). */
const KL = [0x86, 0x3b, 0xc4];
const ROTATED = [0xe0, 0x6c, 0x00];

const web = usePage();

/** How many pixels of `#chart-NAME` are within a small distance of `rgb`, in its upper and lower
 * half, and in how many pixel columns; read from a copy, as the harness does. */
function colourCount(page, name, rgb) {
  return page.evaluate(
    ([id, c]) => {
      const canvas = document.getElementById(id);
      const copy = document.createElement('canvas');
      copy.width = canvas.width;
      copy.height = canvas.height;
      const g = copy.getContext('2d', { willReadFrequently: true });
      g.drawImage(canvas, 0, 0);
      const d = g.getImageData(0, 0, copy.width, copy.height).data;
      const out = { upper: 0, lower: 0, columns: 0 };
      const cols = new Set();
      for (let y = 0; y < copy.height; y += 1) {
        for (let x = 0; x < copy.width; x += 1) {
          const i = (y * copy.width + x) * 4;
          if (Math.abs(d[i] - c[0]) + Math.abs(d[i + 1] - c[1]) + Math.abs(d[i + 2] - c[2]) < 24) {
            if (y < copy.height / 2) out.upper += 1;
            else out.lower += 1;
            cols.add(x);
          }
        }
      }
      out.columns = cols.size;
      return out;
    },
    [`chart-${name}`, rgb],
  );
}

/** What the core itself says for the page's current query: the summary, and the KL and rotation
 * numbers, from a Session of the page's own module. */
function coreSays(page) {
  return page.evaluate(async () => {
    const m = await import('/pkg/quantviz.js');
    const s = new m.Session();
    const summary = JSON.parse(s.update(location.search.slice(1)));
    let rotation = null;
    try {
      rotation = JSON.parse(s.rotation());
    } catch {
      rotation = null;
    }
    const kl = summary.settings.calibration === 'kl' ? JSON.parse(s.kl()) : null;
    s.free();
    return { summary, kl, rotation };
  });
}

/** The `data-value` and the text of `#id`. */
async function shown(page, id) {
  const el = page.locator(`#${id}`);
  return { value: await el.getAttribute('data-value'), text: (await el.textContent()).trim() };
}

/** Asserts the KL card shows, its chart drawn, and its threshold the summary's clip value. */
async function checkKlCard(page, what) {
  assert.ok(await page.locator('#kl-card').isVisible(), `${what}: the KL card shows`);
  await page.locator('#chart-kl').scrollIntoViewIfNeeded();
  await waitState(page, 'ready');
  const purple = await colourCount(page, 'kl', KL);
  // The threshold: a line through both panels (and the least divergence's mark).
  assert.ok(purple.upper > 50 && purple.lower > 50, `${what}: the KL threshold drawn in both panels ${JSON.stringify(purple)}`);
  const { summary, kl } = await coreSays(page);
  const t = await shown(page, 'kl-threshold');
  assert.equal(Number(t.value), summary.result.clip_max, `${what}: the threshold shown is the summary's clip value`);
  assert.equal(Number(t.value), kl.threshold);
  assert.ok(Math.abs(Number(t.text) - kl.threshold) <= 1e-3 * kl.threshold, `${what}: '${t.text}' reads ${kl.threshold}`);
  for (const id of ['kl-bin', 'kl-divergence', 'kl-percentile', 'kl-mse', 'kl-absmax']) {
    const s = await shown(page, id);
    assert.ok(s.text !== '' && s.text !== '–', `${what}: #${id} shows '${s.text}'`);
  }
  assert.equal(Number((await shown(page, 'kl-mse')).value), kl.mse_threshold);
  assert.equal(Number((await shown(page, 'kl-percentile')).value), kl.percentile_threshold);
}

test('kl through the Calibration control: symmetric, the KL card drawn with the core threshold; asymmetric then is refused with the core message and the view stays', async () => {
  const { page, problems, close } = await web.open(`/?${DATA}`);
  assert.ok(await page.locator('#kl-card').isHidden(), 'no KL card with min-max');
  assert.equal(await page.inputValue('#scheme'), 'asymmetric');
  await page.getByLabel('Calibration', { exact: true }).selectOption('kl');
  await waitState(page, 'ready');
  await expectNoError(page, 'kl');
  assert.equal(await page.inputValue('#scheme'), 'symmetric', 'kl takes the symmetric scheme, as a link with kl alone does');
  const url = new URL(await savedUrl(page));
  assert.equal(url.searchParams.get('calibration'), 'kl');
  assert.equal(url.searchParams.get('scheme'), 'symmetric');
  await checkKlCard(page, 'control');
  const before = await shown(page, 'kl-threshold');
  const shows = await page.locator('#chart-kl').getAttribute('data-shows');

  // Asymmetric with kl: the core's message, the view and the URL as they were.
  await page.getByLabel('Scheme', { exact: true }).selectOption('asymmetric');
  await waitState(page, 'error');
  const message = await page.textContent('#error');
  assert.ok(message.includes(KL_ASYMMETRIC), `the core's message: ${message}`);
  assert.equal(await page.getAttribute('#scheme', 'aria-invalid'), 'true');
  assert.ok(await page.locator('#kl-card').isVisible(), 'the KL card stays');
  assert.deepEqual(await shown(page, 'kl-threshold'), before);
  assert.equal(await page.locator('#chart-kl').getAttribute('data-shows'), shows, 'the chart is not redrawn');
  assert.equal(new URL(page.url()).searchParams.get('scheme'), 'symmetric');

  // Back to symmetric: the same view again, no error.
  await page.getByLabel('Scheme', { exact: true }).selectOption('symmetric');
  await waitState(page, 'ready');
  await expectNoError(page, 'symmetric again');
  // Min-max hides the card.
  await page.getByLabel('Calibration', { exact: true }).selectOption('minmax');
  await waitState(page, 'ready');
  assert.ok(await page.locator('#kl-card').isHidden(), 'no KL card with min-max');
  assertClean(problems);
  await close();
});

test('kl through a link: kl alone is symmetric and drawn; kl with asymmetric shows the core message over the defaults', async () => {
  {
    const { page, problems, close } = await web.open(`/?${DATA}&calibration=kl`);
    await expectNoError(page, 'kl link');
    assert.equal(await page.inputValue('#calibration'), 'kl');
    assert.equal(await page.inputValue('#scheme'), 'symmetric');
    await checkKlCard(page, 'link');
    assertClean(problems);
    await close();
  }
  {
    const { page, problems, close } = await web.open(`/?${DATA}&calibration=kl&scheme=asymmetric`, { state: 'error' });
    const message = await page.textContent('#error');
    assert.ok(message.includes(KL_ASYMMETRIC), `the core's message: ${message}`);
    assert.ok(message.includes('showing the default settings instead'), message);
    assert.ok(await page.locator('#kl-card').isHidden());
    await page.waitForFunction(() => document.body.dataset.charts === 'drawn');
    assertClean(problems);
    await close();
  }
});

test('the rotation card with rotate=hadamard:32: the block of the largest value before and after, the error in both bases', async () => {
  const { page, problems, close } = await web.open('/?shape=64,256&seed=2&bits=4&outliers=1&outlier_value=25&rotate=hadamard:32');
  await expectNoError(page, 'rotation');
  assert.ok(await page.locator('#rotation-card').isVisible(), 'the rotation card shows');
  assert.ok(await page.locator('#kl-card').isHidden(), 'no KL card with min-max');
  await page.locator('#chart-rotation').scrollIntoViewIfNeeded();
  await waitState(page, 'ready');
  const orange = await colourCount(page, 'rotation', ROTATED);
  assert.ok(orange.columns > 200, `the rotated values' line spans the block ${JSON.stringify(orange)}`);
  const { rotation } = await coreSays(page);
  assert.equal(rotation.k, 32);
  assert.equal(rotation.peak_before, 25, 'the block holds the outlier');
  assert.ok(rotation.peak_after < 25 / 2, `spread: ${rotation.peak_after}`);
  assert.equal(Number((await shown(page, 'rot-block')).value), rotation.block);
  const mo = await shown(page, 'rot-mse-original');
  const mr = await shown(page, 'rot-mse-rotated');
  assert.equal(Number(mo.value), rotation.original.mse);
  assert.equal(Number(mr.value), rotation.rotated.mse);
  // An orthogonal rotation keeps the error: both bases agree to rounding.
  assert.ok(Math.abs(rotation.original.mse - rotation.rotated.mse) <= 1e-9 * rotation.rotated.mse);
  for (const id of ['rot-block', 'rot-peaks', 'rot-mse-original', 'rot-mse-rotated', 'rot-sqnr-original', 'rot-sqnr-rotated']) {
    const s = await shown(page, id);
    assert.ok(s.text !== '' && s.text !== '–', `#${id} shows '${s.text}'`);
  }
  assertClean(problems);
  await close();
});
