// The matrix on the page end to end in headless Chromium: Rows and Columns, Granularity and
// Rotate through the controls and the URL, the heatmap and the scales drawn (read back),
// pointing at the heatmap, and bad combinations that say so and keep the view.
//
// Needs pkg/ built (`make wasm`); `make test-e2e` runs it with the other files here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClean, canvasReport, expectNoError, savedUrl, usePage, waitState } from './harness.mjs';

/** Pages at a path, each in a fresh context (see harness.mjs). */
const { open } = usePage();

/** Types `value` into the field labelled `label` and commits it (Enter). */
async function type(page, selector, value, state = 'ready') {
  await page.fill(selector, value);
  await page.press(selector, 'Enter');
  await waitState(page, state);
}

test('Rows, Columns, Granularity and Rotate through the controls: in the URL, the heatmap and scales drawn', async () => {
  const { page, problems, close } = await open('/?n=4096');
  assert.ok(await page.locator('#matrix-section').isHidden(), 'no matrix on 1-D data');
  // Channel needs 2-D data: greyed, with the reason.
  assert.ok(await page.locator('#granularity option[value="channel"]').isDisabled());
  assert.match(await page.textContent('#granularity-why'), /channel needs Rows and Columns/);
  await page.fill('#rows', '64');
  await type(page, '#cols', '256');
  await expectNoError(page, 'shape');
  assert.ok(await page.locator('#matrix-section').isVisible());
  assert.equal(await page.inputValue('#n'), String(64 * 256));
  assert.ok(await page.locator('#n').isDisabled(), 'Values is Rows × Columns');
  await page.selectOption('#granularity', 'group');
  await waitState(page, 'ready');
  await type(page, '#group-size', '32');
  await page.selectOption('#rotate', 'hadamard');
  await waitState(page, 'ready');
  await expectNoError(page, 'group:32 + hadamard');
  const url = new URL(await savedUrl(page));
  assert.equal(url.searchParams.get('shape'), '64,256');
  assert.equal(url.searchParams.get('granularity'), 'group:32');
  assert.equal(url.searchParams.get('rotate'), 'hadamard');
  assert.equal(url.searchParams.get('n'), String(64 * 256), 'the shape gives the count');
  assert.match(await page.textContent('#matrix-facts'), /512 scales, one per group of 32/);
  assert.match(await page.textContent('#matrix-facts'), /rotated by a Hadamard block of 256/);
  await page.locator('#chart-scales').scrollIntoViewIfNeeded();
  await waitState(page, 'ready');
  // The heatmap fills its plot; the scales are a line.
  for (const [name, ink] of [['heatmap', 0.3], ['scales', 0.01]]) {
    const c = await canvasReport(page, name);
    assert.ok(c.inkFraction > ink && c.colors >= 3, `${name} drawn (${c.inkFraction}, ${c.colors} colours)`);
  }
  // The heatmap is a picture: many colours in its middle.
  assert.ok((await canvasReport(page, 'heatmap')).colors >= 16, 'the heatmap has many colours');
  // The error view and the mean redraw it without an update.
  await page.check('input[name="heat-value"][value="error"]');
  await waitState(page, 'ready');
  await page.selectOption('#heat-reduce', 'mean');
  await waitState(page, 'ready');
  await expectNoError(page, 'error view');
  assert.ok((await canvasReport(page, 'heatmap')).inkFraction > 0.05);
  // Format other than int: Granularity greyed with its reason.
  await page.selectOption('#granularity', 'tensor');
  await waitState(page, 'ready');
  await page.selectOption('#format', 'nf4');
  await waitState(page, 'ready');
  assert.ok(await page.locator('#granularity').isDisabled());
  assert.match(await page.textContent('#granularity-why'), /int only/);
  await expectNoError(page, 'nf4 on the matrix');
  assertClean(problems);
  await close();
});

test('a link sets the matrix controls; the page writes the same query back', async () => {
  const q = 'shape=128,512&row_spread=1&outlier_channels=4:30&granularity=channel&rotate=hadamard:64&bits=4';
  const { page, problems, close } = await open(`/?${q}`);
  await expectNoError(page, 'link');
  assert.equal(await page.inputValue('#rows'), '128');
  assert.equal(await page.inputValue('#cols'), '512');
  assert.equal(await page.inputValue('#row-spread'), '1');
  assert.equal(await page.inputValue('#outlier-k'), '4');
  assert.equal(await page.inputValue('#outlier-f'), '30');
  assert.equal(await page.inputValue('#granularity'), 'channel');
  assert.equal(await page.inputValue('#rotate'), 'hadamard:k');
  assert.equal(await page.inputValue('#rotate-k'), '64');
  const url = new URL(await savedUrl(page));
  for (const [k, v] of new URLSearchParams(q)) assert.equal(url.searchParams.get(k), v, k);
  // Reloading the saved URL shows the same view.
  const again = await open(url.pathname + url.search);
  assert.equal(await again.page.textContent('#matrix-facts'), await page.textContent('#matrix-facts'));
  assertClean(again.problems);
  await again.close();
  assertClean(problems);
  await close();
});

test('pointing at the heatmap reads the row, column, value, unit and scale', async () => {
  const { page, problems, close } = await open('/?shape=32,128&granularity=group:64&bits=4');
  await page.locator('#chart-heatmap').scrollIntoViewIfNeeded();
  await waitState(page, 'ready');
  const box = await page.locator('#chart-heatmap').boundingBox();
  // Sweep across the canvas until a cell answers (the plot lies inside its axes).
  let text = '';
  for (let f = 0.3; f < 0.9 && text === ''; f += 0.1) {
    await page.mouse.move(box.x + box.width * f, box.y + box.height * 0.55);
    text = (await page.textContent('#heatmap-hover')).trim();
  }
  assert.match(text, /^row \d+, column \d+: x = -?[\d.e-]+, x̂ = -?[\d.e-]+, error -?[\d.e-]+; unit \d+ of 64, scale [\d.e-]+/);
  await page.mouse.move(box.x + 2, box.y + 2);
  assert.equal((await page.textContent('#heatmap-hover')).trim(), '', 'off the plot: nothing');
  assertClean(problems);
  await close();
});

test('bad combinations say what would be right and keep the view', async () => {
  const { page, problems, close } = await open('/?shape=16,64&granularity=group:32');
  const before = await page.textContent('#matrix-facts');
  // A group larger than a row.
  await type(page, '#group-size', '100', 'error');
  let msg = await page.textContent('#error');
  assert.ok(await page.locator('#error').isVisible());
  assert.match(msg, /group/i);
  assert.match(msg, /64/);
  assert.equal(await page.textContent('#matrix-facts'), before, 'the view stays');
  assert.equal(new URL(page.url()).searchParams.get('granularity'), 'group:32');
  // Back to a good value clears it.
  await type(page, '#group-size', '16');
  await expectNoError(page, 'group 16');
  // Channel on 1-D data, from a link: the message, and the defaults underneath.
  const one = await open('/?n=1000&granularity=channel', { state: 'error' });
  msg = await one.page.textContent('#error');
  assert.match(msg, /channel/);
  assert.match(msg, /2-D|rows|shape/i);
  // A Hadamard block that does not divide the row.
  await page.selectOption('#rotate', 'hadamard:k');
  await type(page, '#rotate-k', '48', 'error');
  assert.match(await page.textContent('#error'), /power of two/);
  assert.equal(new URL(page.url()).searchParams.get('rotate'), 'hadamard:64', 'the last good view stays');
  assertClean(problems);
  await one.close();
  await close();
});

test("a file's 2-D tensor shows its matrix, and the cards show the run at the granularity", async () => {
  // The Digits network's first layer, 128 x 64, one scale per row: the MSE is quantize's,
  // `quantviz quantize --input models/digits-mlp.safetensors --tensor fc1.weight --bits 3
  // --granularity channel --json` (0.0024856298306828156).
  const { page, problems, close } = await open('/?preset=digits-mlp&tensor=fc1.weight&granularity=channel&bits=3');
  await expectNoError(page, 'file channel');
  assert.ok(await page.locator('#matrix-section').isVisible(), 'the matrix of a 2-D tensor');
  assert.match(await page.textContent('#matrix-facts'), /^128 × 64 values\. 128 scales, one per row/);
  assert.equal(await page.textContent('#metric-mse'), '0.002486');
  assert.match(await page.textContent('#metric-scale-what'), /128 scales, one per row/);
  assert.match(await page.textContent('#metric-granular'), /The cards show this run/);
  assert.ok(!(await page.locator('#granularity option[value="channel"]').isDisabled()), 'channel fits a 2-D tensor');
  assert.ok(await page.locator('#granularity-why').isHidden());
  // Back at one scale for the tensor, the cards are the per-tensor run's again.
  await page.selectOption('#granularity', 'tensor');
  await waitState(page, 'ready');
  assert.ok(await page.locator('#metric-granular').isHidden());
  assert.notEqual(await page.textContent('#metric-mse'), '0.002486');
  assertClean(problems);
  await close();
});

test('generated 2-D data: the cards are the matrix\'s run, not the per-tensor one', async () => {
  // `quantviz quantize --generate normal:0,1 --shape 64,256 --bits 4 --granularity channel`
  // gives MSE 0.011714644316149568.
  const { page, problems, close } = await open('/?shape=64,256&bits=4&granularity=channel');
  assert.equal(await page.textContent('#metric-mse'), '0.01171');
  assert.match(await page.textContent('#matrix-facts'), /MSE 0\.01171/);
  assert.equal(await page.textContent('#metric-zero-point'), 'per unit');
  assertClean(problems);
  await close();
});

test("a link whose settings fit neither the file's tensor nor the generated data shows the defaults", async () => {
  // fc1.bias is 1-D: channel fits neither it nor the generated 1-D data the page falls back to.
  const { page, problems, close } = await open('/?preset=digits-mlp&tensor=fc1.bias&granularity=channel', { state: 'error' });
  assert.match(await page.textContent('#error'), /channel.*showing the generated data instead/s);
  assert.notEqual(await page.textContent('#metric-mse'), '–', 'numbers are shown');
  assert.notEqual(await page.inputValue('#n'), '', 'the controls are filled');
  assert.ok((await canvasReport(page, 'histogram')).inkFraction > 0.01, 'the histogram is drawn');
  assertClean(problems);
  await close();
});

test("a rotation at one scale for the tensor: the cards show the rotated run's scale and zero point", async () => {
  // `quantviz quantize --generate uniform:0,5 --shape 32,128 --rotate hadamard --bits 4 --json
  // --codes`: scales [2.430219211765929], zero_points [2.0], mse 0.5027598191762701.
  const { page, problems, close } = await open('/?shape=32,128&rotate=hadamard&bits=4&dist=uniform:0,5');
  assert.equal(await page.textContent('#metric-scale'), '2.430219211765929');
  assert.equal(await page.textContent('#metric-zero-point'), '2');
  assert.equal(await page.textContent('#metric-mse'), '0.5028');
  assertClean(problems);
  await close();
});
