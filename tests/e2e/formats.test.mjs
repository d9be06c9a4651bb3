// The formats on the page end to end in headless Chromium: the Format control and its presets,
// the comparison of every format on the first screen, the block inspector, the CSV, and the
// messages of formats that cannot take the data.
//
// Needs pkg/ built (`make wasm`); `make test-e2e` runs it with the other files here.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../scripts/browser.mjs';
import { assertClean, canvasReport, expectNoError, savedUrl, usePage, waitState } from './harness.mjs';

const ARTIFACTS = path.join(ROOT, 'artifacts');
const FORMATS = ['nf4', 'fp8-e4m3', 'fp8-e5m2', 'mxfp4', 'nvfp4', 'q4_0', 'q4_1', 'q8_0', 'q2_K', 'q3_K', 'q4_K', 'q5_K', 'q6_K'];
const METRICS = ['scale', 'zero-point', 'mse', 'sqnr', 'max-error', 'clipped'];
/** A count every format takes: a multiple of 256 (the K-quants' super-block). */
const N = 8192;

/** Pages at a path, each in a fresh context (see harness.mjs). */
const web = usePage();
const { open } = web;

before(() => {
  mkdirSync(ARTIFACTS, { recursive: true });
});

test('every format through the Format control: ready, in the URL, its comparison drawn on the first screen, the int controls greyed', async () => {
  const { page, problems, close } = await open(`/?n=${N}`);
  assert.equal(await page.inputValue('#format'), 'int');
  assert.ok(await page.locator('#block-inspector').isHidden(), 'no blocks with int');
  assert.equal(await page.locator('#bits').isDisabled(), false);
  for (const format of FORMATS) {
    await page.getByLabel('Format', { exact: true }).selectOption(format);
    await waitState(page, 'ready');
    await expectNoError(page, format);
    const url = new URL(await savedUrl(page));
    assert.equal(url.searchParams.get('format'), format, `${format}: in the URL`);
    assert.equal(await page.evaluate(() => document.body.dataset.format), format);
    // The comparison of every format is on the first screen, drawn.
    const box = await page.evaluate(() => {
      const r = document.getElementById('chart-formats').getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, scrollY: window.scrollY, height: window.innerHeight };
    });
    assert.equal(box.scrollY, 0);
    assert.ok(box.top > 0 && box.bottom <= box.height, `${format}: #chart-formats at ${box.top}..${box.bottom} px of ${box.height}`);
    for (const name of ['formats', 'histogram']) {
      const c = await canvasReport(page, name);
      assert.ok(c.inkFraction > 0.01 && c.colors >= 3, `${format}: ${name} drawn (${c.inkFraction}, ${c.colors} colours)`);
    }
    // The numbers are the format's.
    for (const id of METRICS) {
      const text = (await page.textContent(`#metric-${id}`)).trim();
      assert.ok(text !== '' && text !== '–', `${format}: #metric-${id} shows '${text}'`);
    }
    assert.equal(await page.textContent('#metric-clipped-name'), 'Saturated');
    // The int controls show what the format fixes, greyed, with the reason.
    for (const id of ['bits', 'scheme', 'calibration', 'zero-point']) {
      assert.ok(await page.locator(`#${id}`).isDisabled(), `${format}: #${id} greyed`);
    }
    const reason = page.locator('#format-fixes');
    assert.ok(await reason.isVisible(), `${format}: the reason is shown`);
    assert.match(await reason.textContent(), new RegExp(`${format} fixes these`));
    assert.match(await page.locator('[data-fixed="bits"]').textContent(), /\d-bit codes/);
    assert.ok(await page.locator('#block').isDisabled() === (format !== 'nf4'), `${format}: Block only for nf4`);
    // The rest of the format's view.
    assert.ok((await page.locator('#formats-table tbody tr').count()) >= 13 + 14, 'every format and the int schemes');
    assert.equal(await page.locator('#formats-table tr[aria-current="true"]').getAttribute('data-format'), format);
    assert.ok(await page.locator('#block-inspector').isVisible());
    assert.match(await page.textContent('#bit-budget'), /bits per weight/);
    assert.ok((await page.locator('#block-values tbody tr').count()) >= 16);
    assert.notEqual((await page.textContent('#format-about')).trim(), '');
    assert.ok(await page.locator('#chart-error').isHidden(), 'the int scheme\'s own charts hide');
  }
  await page.screenshot({ path: path.join(ARTIFACTS, 'page-format-q6_K.png') });
  // Back to int: the int view as before.
  await page.getByLabel('Format', { exact: true }).selectOption('int');
  await waitState(page, 'ready');
  assert.equal(new URL(await savedUrl(page)).searchParams.get('format'), null);
  assert.equal(await page.locator('#bits').isDisabled(), false);
  assert.ok(await page.locator('#block-inspector').isHidden());
  assert.ok(await page.locator('#chart-error').isVisible());
  assert.equal(await page.textContent('#metric-clipped-name'), 'Clipped');
  assert.match(await page.textContent('#metric-scale'), /^\d/);
  await close();
  assertClean(problems);
});

test('a format from a link: the histogram shows its levels, the blocks strip and the budget are drawn, the CSV is the format\'s', async () => {
  const { page, problems, close } = await open(`/?n=${N}&format=q4_K`, { acceptDownloads: true });
  assert.equal(await page.inputValue('#format'), 'q4_K');
  assert.match(await page.textContent('#bit-budget'), /1,152 bits for 256 values: 4\.5 bits per weight/);
  assert.ok((await page.locator('#bit-budget .seg').count()) >= 4, 'codes, scales, mins and super-scales');
  const blocks = await canvasReport(page, 'blocks');
  assert.ok(blocks.inkFraction > 0.01, `the blocks strip is drawn (${blocks.inkFraction})`);
  assert.match(await page.textContent('#formulas'), /scales of scales/);
  assert.match(await page.textContent('#block-subs'), /sub-block/);
  assert.equal(await page.locator('#block-subs tbody tr').count(), 8, 'q4_K: 8 sub-blocks of 32');
  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  const lines = (await readAll(await csv.createReadStream())).toString('utf8').trim().split('\n');
  assert.equal(lines[0], 'index,original,code,dequantized,error');
  assert.equal(lines.length, N + 1);
  const codes = lines.slice(1).map((l) => Number(l.split(',')[2]));
  assert.ok(codes.every((c) => Number.isInteger(c) && c >= 0 && c <= 15), 'q4_K codes are 0 to 15');
  await page.screenshot({ path: path.join(ARTIFACTS, 'page-format-q4_K.png'), fullPage: true });
  await close();
  assertClean(problems);
});

test('the block inspector: a click on the strip or a typed block shows its stored scale, values and reconstruction', async () => {
  const { page, problems, close } = await open(`/?n=${N}&format=q4_0`);
  assert.equal(await page.inputValue('#block-index'), '0');
  assert.match(await page.textContent('#block-stored'), /d\s*fp16\s*0x[0-9A-F]{4}/);
  assert.equal(await page.locator('#block-values tbody tr').count(), 32);
  assert.match(await page.textContent('#block-reconstruction'), /x̂ = \(q − 8\) · d = \(\d+ − 8\) · /);
  // A click three quarters along the strip selects a block there.
  const canvas = page.locator('#chart-blocks');
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  const shows = await canvas.getAttribute('data-shows');
  await canvas.click({ position: { x: box.width * 0.75, y: box.height * 0.5 } });
  await waitState(page, 'ready');
  const picked = Number(await page.inputValue('#block-index'));
  assert.ok(picked > 100 && picked < 255, `a block about three quarters along the 256: ${picked}`);
  assert.match(await page.textContent('#block-of'), new RegExp(`values ${picked * 32}–${picked * 32 + 31}`));
  assert.equal(Number(await page.locator('#block-values tbody tr th').first().textContent()), picked * 32);
  assert.notEqual(await canvas.getAttribute('data-shows'), shows, 'the strip is drawn again, marking it');
  // Pointing at the strip reads a block.
  await canvas.hover({ position: { x: box.width * 0.3, y: box.height * 0.5 } });
  await page.waitForFunction(() => document.getElementById('block-hover').textContent.startsWith('block '));
  // A typed block.
  await page.getByLabel('Inspect block').fill('5');
  await waitState(page, 'ready');
  assert.match(await page.textContent('#block-of'), /values 160–191/);
  // A value picked in the table has its reconstruction written out.
  await page.locator('#block-values tbody tr').nth(3).click();
  assert.match(await page.textContent('#block-reconstruction'), /^value 163: /);
  // Past the last block: a message, and the block shown stays.
  await page.getByLabel('Inspect block').fill('9999');
  await waitState(page, 'error');
  assert.match(await page.textContent('#error'), /0 to 255/);
  assert.match(await page.textContent('#block-of'), /values 160–191/);
  await close();
  assertClean(problems);
});

test('format presets set the format (and NF4\'s block) through the URL, keeping the data', async () => {
  const { page, problems, close } = await open(`/?n=${N}&seed=11`);
  for (const [name, format, block] of [
    ['bitsandbytes NF4 (QLoRA)', 'nf4', '64'],
    ['llama.cpp Q4_K_M', 'q4_K', null],
    ['llama.cpp Q8_0', 'q8_0', null],
    ['OCP MXFP4', 'mxfp4', null],
    ['NVFP4', 'nvfp4', null],
    ['FP8 E4M3', 'fp8-e4m3', null],
  ]) {
    const button = page.getByRole('button', { name, exact: true });
    await button.click();
    await waitState(page, 'ready');
    await expectNoError(page, name);
    const q = new URL(await savedUrl(page)).searchParams;
    assert.equal(q.get('format'), format, name);
    assert.equal(q.get('block'), block, name);
    assert.equal(q.get('seed'), '11', `${name}: the data stays`);
    assert.equal(await page.inputValue('#format'), format);
    assert.equal(await button.getAttribute('aria-pressed'), 'true');
  }
  // The notebook's presets still load their own data, with int.
  await page.getByRole('button', { name: 'Notebook: min-max' }).click();
  await waitState(page, 'ready');
  assert.equal(await page.inputValue('#format'), 'int');
  assert.equal(await page.textContent('#metric-scale'), '0.7617254901960785');
  await close();
  assertClean(problems);
});

test('NF4 takes its block from the Block control', async () => {
  const { page, problems, close } = await open(`/?n=${N}&format=nf4`);
  assert.equal(await page.inputValue('#block'), '64');
  const mse64 = await page.textContent('#metric-mse');
  await page.getByLabel('Block', { exact: true }).selectOption('1024');
  await waitState(page, 'ready');
  assert.equal(new URL(await savedUrl(page)).searchParams.get('block'), '1024');
  assert.notEqual(await page.textContent('#metric-mse'), mse64, 'a larger block, another error');
  assert.match(await page.textContent('#bit-budget'), /4\.03125 bits per weight/);
  await close();
  assertClean(problems);
});

test('a count the format\'s block does not divide: the message names the nearest counts, the view stays', async () => {
  const { page, problems, close } = await open('/?n=1024&format=q4_K');
  const good = await metrics(page);
  const goodUrl = await savedUrl(page);
  await page.getByLabel('Values', { exact: true }).fill('1000');
  await waitState(page, 'error');
  assert.match(await page.textContent('#error'), /q4_K quantizes blocks of 256 values.*768 or 1024/);
  assert.deepEqual(await metrics(page), good, 'the last good numbers stay');
  assert.equal(await savedUrl(page), goodUrl, 'the URL keeps the last good state');
  assert.equal(await page.getByLabel('Values', { exact: true }).getAttribute('aria-invalid'), 'true');
  await page.getByLabel('Values', { exact: true }).fill('2048');
  await waitState(page, 'ready');
  await expectNoError(page, 'n=2048');
  await close();
  assertClean(problems);

  // The same from a link: the message over the default view.
  const linked = await open('/?format=q4_K&n=1000', { state: 'error' });
  assert.match(await linked.page.textContent('#error'), /multiple of 256, such as 768 or 1024/);
  assert.notEqual(await linked.page.textContent('#metric-scale'), '–', 'the defaults are shown underneath');
  await linked.close();
  assertClean(linked.problems);
});

test('a block for a format that fixes its own: the message says it is fixed', async () => {
  const { page, problems, close } = await open('/?format=q4_0&block=64', { state: 'error' });
  assert.match(await page.textContent('#error'), /q4_0 has a fixed block of 32/);
  await close();
  assertClean(problems);
});

test('the comparison of every format with int: drawn off screen after ready, the current int width marked', async () => {
  const { page, problems, close } = await open(`/?n=${N}&bits=4`);
  const current = page.locator('#formats-table tr[aria-current="true"]');
  assert.equal(await current.getAttribute('data-format'), 'int');
  assert.equal(await current.getAttribute('data-bits'), '4');
  assert.ok((await page.locator('#formats-table tr.front').count()) >= 3, 'the front is marked');
  const c = await canvasReport(page, 'formats');
  assert.ok(c.inkFraction > 0.01, `drawn (${c.inkFraction})`);
  await close();
  assertClean(problems);
});

test('360 px wide with a format: no horizontal scroll, every format chart drawn', async () => {
  for (const format of ['q4_K', 'fp8-e4m3', 'nvfp4']) {
    const { page, problems, close } = await open(`/?n=${N}&format=${format}`, { viewport: { width: 360, height: 780 } });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${format}: the page is ${overflow}px wider than the viewport`);
    for (const name of ['formats', 'histogram', 'blocks']) {
      const c = await canvasReport(page, name);
      assert.ok(c.inkFraction > 0.01, `${format}: ${name} drawn at 360 px (${c.inkFraction})`);
    }
    await close();
    assertClean(problems);
  }
});

test('the comparison of every format on two million values is measured between the page\'s events: the controls stay live meanwhile', async () => {
  // Every text #formats-status shows, from the page's first script on.
  const initScript = () => {
    window.formatStatuses = [];
    document.addEventListener('DOMContentLoaded', () => {
      const el = document.getElementById('formats-status');
      new MutationObserver(() => {
        window.formatStatuses.push(el.textContent);
        // Whether the chart and table were dimmed when the status said so.
        const box = document.querySelector('#chart-formats').parentElement;
        window.formatDims ??= [];
        window.formatDims.push([el.textContent, el.closest('figure').dataset.computing, Number(getComputedStyle(box).opacity)]);
      }).observe(el, { childList: true, characterData: true, subtree: true });
    });
  };
  const { page, problems, close } = await open('/?n=4096', { initScript });
  await page.goto(`${web.origin}/?n=2000128&format=q8_0`);
  // Ready (the numbers and the charts on screen) before the comparison is complete.
  await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 60_000 });
  await page.waitForFunction(() => window.formatStatuses.some((t) => /rows to go/.test(t)), null, { timeout: 60_000 });
  const pending = await page.evaluate(() => document.body.dataset.charts === 'pending');
  const figure = page.locator('figure[data-chart="formats"]');
  // Whenever the status said so, the chart and table showed the state before, dimmed.
  const dims = await page.evaluate(() => window.formatDims.filter(([text]) => /rows to go/.test(text)));
  assert.ok(dims.length > 0);
  for (const d of dims) assert.ok(d[1] === 'true' && d[2] < 1, JSON.stringify(d));
  if (pending) {
    // A Format change made meanwhile is handled between two rows.
    await page.getByLabel('Format', { exact: true }).selectOption('q4_0');
    await page.waitForFunction(() => document.body.dataset.state === 'ready' && document.body.dataset.format === 'q4_0', null, { timeout: 60_000 });
  }
  await waitState(page, 'ready', 120_000);
  assert.equal(await page.textContent('#formats-status'), '');
  assert.equal(await figure.getAttribute('data-computing'), null, 'no longer dimmed');
  assert.ok((await page.locator('#formats-table tbody tr').count()) >= 13 + 14, 'every format and the int schemes');
  const current = pending ? 'q4_0' : 'q8_0';
  assert.equal(await page.locator('#formats-table tr[aria-current="true"]').getAttribute('data-format'), current);
  const c = await canvasReport(page, 'formats');
  assert.ok(c.inkFraction > 0.01 && c.colors >= 3, `formats drawn (${c.inkFraction}, ${c.colors} colours)`);
  await close();
  assertClean(problems);
});

// ---------------------------------------------------------------------------------------------
// The helpers of page.test.mjs, for this file's pages.

async function metrics(page) {
  const out = {};
  for (const id of METRICS) out[id] = await page.textContent(`#metric-${id}`);
  return out;
}

async function readAll(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

test('a block number past the last says how many blocks there are and keeps the block shown', async () => {
  const { page, problems, close } = await open('/?n=4096&format=q4_K');
  const shown = await page.textContent('#block-reconstruction');
  for (const bad of ['99999999999999999999', '16', '-1']) {
    await page.fill('#block-index', bad);
    await page.press('#block-index', 'Enter');
    await page.waitForFunction(() => !document.querySelector('#error').hidden);
    const msg = await page.textContent('#error');
    assert.match(msg, /this run has 16 blocks, 0 to 15/, bad);
    assert.ok(msg.includes(`'${bad}'`), `${bad}: ${msg}`);
    assert.equal(await page.textContent('#block-reconstruction'), shown, 'the block shown stays');
  }
  assertClean(problems);
  await close();
});

test('after a failed change, what is greyed follows the controls', async () => {
  // nf4 on 3 x 7 values, then a rotation that cannot fit a row of 7: the change fails.
  const { page, problems, close } = await open('/?shape=3,7&format=nf4');
  assert.ok(await page.locator('#bits').isDisabled(), 'nf4 fixes the bits');
  await page.selectOption('#rotate', 'hadamard');
  await waitState(page, 'error');
  // Format back to int: the update fails again (the rotation still does not fit), but the int
  // controls are free to change.
  await page.selectOption('#format', 'int');
  await waitState(page, 'error');
  assert.ok(!(await page.locator('#bits').isDisabled()), 'Bits is free with Format int');
  assert.ok(!(await page.locator('#granularity').isDisabled()), 'Granularity is free with Format int');
  assertClean(problems);
  await close();
});

test('with a matrix and a rotation, the page keeps its order: the numbers, then every format, then the rotation', async () => {
  const { page, problems, close } = await open('/?format=mxfp4&shape=64,256&rotate=hadamard');
  await waitState(page, 'ready');
  await expectNoError(page, 'mxfp4 rotated');
  const top = (sel) => page.evaluate((s) => document.querySelector(s).getBoundingClientRect().top, sel);
  const [numbers, formats, matrix, rotation] = await Promise.all(
    ['.summary', '#chart-formats', '#matrix-section', '#rotation-card'].map(top),
  );
  const height = await page.evaluate(() => window.innerHeight);
  assert.ok(numbers < formats && formats < matrix && matrix < rotation, `tops: numbers ${numbers}, formats ${formats}, matrix ${matrix}, rotation ${rotation}`);
  const bottom = await page.evaluate(() => document.getElementById('chart-formats').getBoundingClientRect().bottom);
  assert.ok(bottom <= height, `#chart-formats ends at ${bottom} px of ${height}`);
  await close();
  assertClean(problems);
});
