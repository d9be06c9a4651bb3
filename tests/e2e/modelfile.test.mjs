// Model files on the page in headless Chromium: a safetensors or GGUF file's tensor list, its
// search, a tensor picked and drawn in every chart, the link that names it, refusals and bad
// files that keep the view, the digits preset, and that only the header and the picked
// tensor's bytes are read from the file.
//
// Needs pkg/ built (`make wasm`); `make test-e2e` runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../scripts/browser.mjs';
import { assertClean, canvasReport, expectNoError, savedUrl, usePage, waitState } from './harness.mjs';

const TINY_ST = readFileSync(path.join(ROOT, 'tests/fixtures/models/tiny.safetensors'));
const TINY_GGUF = readFileSync(path.join(ROOT, 'tests/fixtures/models/tiny.gguf'));
/** The safetensors header's end: 8 bytes of length, then the JSON. */
const ST_HEADER_END = 8 + Number(TINY_ST.readBigUInt64LE(0));
const ST_HEADER = JSON.parse(TINY_ST.subarray(8, ST_HEADER_END).toString('utf8'));

const web = usePage();

/** Opens `pathname` with every `Blob.slice` and `arrayBuffer` of the page recorded in
 * `window.__reads` (a read of a File itself, not a slice of it, is marked `whole`). */
async function openRecorded(pathname) {
  const r = await web.open(pathname, { state: 'ready' });
  await r.page.evaluate(() => {
    const reads = [];
    window.__reads = reads;
    const slice = Blob.prototype.slice;
    Blob.prototype.slice = function (start, end, type) {
      const b = slice.call(this, start, end, type);
      b.__from = { file: this instanceof File ? this.name : null, start: start ?? 0, end: end ?? this.size };
      return b;
    };
    const arrayBuffer = Blob.prototype.arrayBuffer;
    Blob.prototype.arrayBuffer = function () {
      reads.push(this instanceof File ? { file: this.name, whole: true, size: this.size } : { ...this.__from, size: this.size });
      return arrayBuffer.call(this);
    };
    for (const m of ['text', 'stream']) {
      const f = Blob.prototype[m];
      Blob.prototype[m] = function (...args) {
        if (this instanceof File) reads.push({ file: this.name, whole: true, size: this.size, how: m });
        return f.apply(this, args);
      };
    }
  });
  return r;
}

async function chooseFile(page, name, buffer) {
  await page.getByLabel('Load your own values').setInputFiles({ name, mimeType: 'application/octet-stream', buffer });
}

/** The names of the tensors the list shows (not filtered out). */
function shownTensors(page) {
  return page.$$eval('#tensor-list li:not([hidden]) .tname', (els) => els.map((e) => e.textContent));
}

async function pickTensor(page, name, state = 'ready') {
  // A refused tensor's button is aria-disabled: clicked anyway, as a user may.
  await page.locator('#tensor-list li', { hasText: name }).first().locator('button').click({ force: state === 'error' });
  await waitState(page, state);
}

/** Every chart the page shows at int is drawn: ink in its plot area. */
async function assertChartsDrawn(page) {
  for (const name of ['histogram', 'error', 'compare', 'mapping', 'sweep']) {
    const r = await canvasReport(page, name);
    assert.ok(r.inkFraction > 0.005, `${name} chart is drawn: ${JSON.stringify(r)}`);
  }
}

test('a safetensors file: its tensors listed and searched, one picked and drawn, only its bytes read', async () => {
  const { page, problems, close } = await openRecorded('/?n=2000');
  await chooseFile(page, 'tiny.safetensors', TINY_ST);
  await waitState(page, 'ready');
  await expectNoError(page);
  assert.deepEqual(await shownTensors(page), Object.keys(ST_HEADER).filter((k) => k !== '__metadata__'));
  assert.match(await page.textContent('#model-summary'), /tiny\.safetensors: safetensors, 5 tensors, 1,860 parameters/);
  assert.match(await page.textContent('#tensor-list'), /F32 \[16 × 64\] · 1,024/);
  // Listing the tensors does not change the data.
  assert.match(await page.textContent('#data-source'), /^Generated/);

  await page.fill('#tensor-search', 'ATTN');
  assert.deepEqual(await shownTensors(page), ['layers.0.attn.q.weight', 'layers.0.attn.k.weight']);
  assert.equal(await page.textContent('#tensor-count'), '2 of 5 tensors');
  await page.fill('#tensor-search', '');
  assert.equal((await shownTensors(page)).length, 5);

  await pickTensor(page, 'layers.0.attn.k.weight');
  await expectNoError(page);
  assert.match(await page.textContent('#data-source'), /layers\.0\.attn\.k\.weight of tiny\.safetensors.*F16 \[8, 64\].* 512 values/);
  await assertChartsDrawn(page);
  const url = new URL(await savedUrl(page));
  assert.equal(url.searchParams.get('tensor'), 'layers.0.attn.k.weight');
  assert.equal(url.searchParams.get('preset'), null);
  assert.equal(await page.textContent('#tensor-list button[aria-current="true"] .tname'), 'layers.0.attn.k.weight');

  // What was read: the first bytes and the header, then the tensor's bytes; never the file whole.
  const reads = await page.evaluate(() => window.__reads);
  const [s, e] = ST_HEADER['layers.0.attn.k.weight'].data_offsets.map((o) => o + ST_HEADER_END);
  assert.ok(reads.length >= 3, JSON.stringify(reads));
  for (const r of reads) {
    assert.ok(!r.whole, `the file is never read whole: ${JSON.stringify(r)}`);
    const header = r.start === 0 && r.end <= ST_HEADER_END;
    const tensor = r.start === s && r.end === e;
    assert.ok(header || tensor, `only the header and the tensor: ${JSON.stringify(r)} (tensor ${s}..${e})`);
  }
  assert.ok(reads.some((r) => r.start === s && r.end === e), 'the tensor was read');

  // A format change keeps the tensor, and the link still names it.
  await page.selectOption('#format', 'q4_0');
  await waitState(page, 'ready');
  await expectNoError(page);
  assert.match(await page.textContent('#data-source'), /layers\.0\.attn\.k\.weight/);
  const url2 = new URL(await savedUrl(page));
  assert.equal(url2.searchParams.get('tensor'), 'layers.0.attn.k.weight');
  assert.equal(url2.searchParams.get('format'), 'q4_0');
  await close();
  assertClean(problems);
});

test('a refused tensor says why, and bad files name themselves, both keeping the view', async () => {
  const { page, problems, close } = await openRecorded('/?n=2000');
  await chooseFile(page, 'tiny.safetensors', TINY_ST);
  await waitState(page, 'ready');
  await pickTensor(page, 'layers.0.attn.q.weight');
  const shown = await page.textContent('#data-source');
  const mse = await page.textContent('#metric-mse');

  const row = page.locator('#tensor-list li', { hasText: 'position_ids' });
  assert.equal(await row.getAttribute('class'), 'refused');
  assert.match(await row.textContent(), /I32/);
  await pickTensor(page, 'position_ids', 'error');
  assert.match(await page.textContent('#error'), /tiny\.safetensors.*position_ids.*I32/);
  assert.equal(await page.textContent('#data-source'), shown);
  assert.equal(await page.textContent('#metric-mse'), mse);
  assert.ok(!(await page.evaluate(() => window.__reads)).some((r) => r.start > 0 && r.end === TINY_ST.length), 'nothing of it read');

  // Cut inside the header; a header whose tensors reach past the end (the data cut off).
  for (const [name, bytes, says] of [
    ['cut.safetensors', TINY_ST.subarray(0, 100), /cut\.safetensors/],
    ['short.safetensors', TINY_ST.subarray(0, TINY_ST.length - 40), /short\.safetensors/],
    ['notes.gguf', Buffer.from('these are not weights at all'), /notes\.gguf.*not a model file/],
    ['empty.safetensors', Buffer.alloc(0), /empty\.safetensors.*empty/],
  ]) {
    await chooseFile(page, name, bytes);
    await waitState(page, 'error');
    const err = await page.textContent('#error');
    assert.match(err, says, name);
    assert.ok(!err.includes('\n'), `one line: ${err}`);
    assert.equal(await page.textContent('#data-source'), shown, `${name}: the view stays`);
    assert.equal(await page.textContent('#metric-mse'), mse);
    assert.match(await page.textContent('#model-summary'), /tiny\.safetensors/, `${name}: the list stays`);
  }
  // The list of the good file still works after the bad ones.
  await pickTensor(page, 'layers.0.mlp.up.weight');
  await expectNoError(page);
  assert.match(await page.textContent('#data-source'), /layers\.0\.mlp\.up\.weight.*BF16/);
  await close();
  assertClean(problems);
});

test('a GGUF file: its float tensors load, the quantized one is refused by its type', async () => {
  const { page, problems, close } = await openRecorded('/?n=2000');
  await chooseFile(page, 'tiny.gguf', TINY_GGUF);
  await waitState(page, 'ready');
  assert.deepEqual(await shownTensors(page), ['blk.0.attn_q.weight', 'blk.0.attn_k.weight', 'blk.0.ffn_up.weight']);
  const q8 = page.locator('#tensor-list li', { hasText: 'blk.0.ffn_up.weight' });
  assert.equal(await q8.getAttribute('class'), 'refused');
  assert.match(await q8.textContent(), /Q8_0 \[4 × 64\]/);
  await pickTensor(page, 'blk.0.attn_k.weight');
  await expectNoError(page);
  assert.match(await page.textContent('#data-source'), /blk\.0\.attn_k\.weight of tiny\.gguf.*F16 \[8, 64\]/);
  await assertChartsDrawn(page);
  for (const r of await page.evaluate(() => window.__reads)) assert.ok(!r.whole, JSON.stringify(r));
  await pickTensor(page, 'blk.0.ffn_up.weight', 'error');
  assert.match(await page.textContent('#error'), /tiny\.gguf.*blk\.0\.ffn_up\.weight.*Q8_0/);
  await close();
  assertClean(problems);
});

test('the digits preset opens the repository model, and its link opens it again', async () => {
  const { page, problems, close } = await web.open('/');
  await page.getByRole('button', { name: 'Digits MLP weights' }).click();
  await waitState(page, 'ready');
  await expectNoError(page);
  assert.match(await page.textContent('#data-source'), /fc1\.weight of digits-mlp\.safetensors.*F32 \[128, 64\].* 8192 values/);
  assert.deepEqual(await shownTensors(page), ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
  await assertChartsDrawn(page);
  await pickTensor(page, 'fc2.weight');
  const url = new URL(await savedUrl(page));
  assert.equal(url.searchParams.get('preset'), 'digits-mlp');
  assert.equal(url.searchParams.get('tensor'), 'fc2.weight');
  await close();
  assertClean(problems);

  // The link: the same tensor, with the link's format.
  const again = await web.open(`/?preset=digits-mlp&tensor=fc2.weight&format=fp8-e4m3`);
  await expectNoError(again.page);
  assert.match(await again.page.textContent('#data-source'), /fc2\.weight of digits-mlp\.safetensors/);
  assert.equal(await again.page.inputValue('#format'), 'fp8-e4m3');
  const url2 = new URL(await savedUrl(again.page));
  assert.equal(url2.searchParams.get('tensor'), 'fc2.weight');
  assert.equal(url2.searchParams.get('preset'), 'digits-mlp');
  // Generated values again: the link forgets the tensor.
  await again.page.getByRole('button', { name: 'Use generated values' }).click();
  await waitState(again.page, 'ready');
  const url3 = new URL(await savedUrl(again.page));
  assert.equal(url3.searchParams.get('tensor'), null);
  assert.equal(url3.searchParams.get('preset'), null);
  await again.close();
  assertClean(again.problems);
});

test('a link naming a tensor of a file says the file cannot be in a link and shows generated data', async () => {
  const { page, problems, close } = await web.open('/?tensor=model.layers.0.mlp.up_proj.weight&bits=4', { state: 'error' });
  const err = await page.textContent('#error');
  assert.match(err, /model\.layers\.0\.mlp\.up_proj\.weight.*the file itself cannot be in a link.*generated data/);
  assert.match(await page.textContent('#data-source'), /^Generated/);
  assert.equal(await page.inputValue('#bits'), '4');
  await assertChartsDrawn(page);
  // A preset link naming a tensor the file does not have: says so, shows generated data.
  const bad = await web.open('/?preset=digits-mlp&tensor=fc9.weight', { state: 'error' });
  assert.match(await bad.page.textContent('#error'), /digits-mlp\.safetensors.*fc9\.weight/);
  assert.match(await bad.page.textContent('#data-source'), /^Generated/);
  await bad.close();
  await close();
  assertClean(problems);
  assertClean(bad.problems);
});

test('another file of values after a model file: the model file and its tensor list go', async () => {
  const { page, problems, close } = await web.open('/?n=2000', { state: 'ready' });
  await chooseFile(page, 'tiny.gguf', TINY_GGUF);
  await waitState(page, 'ready');
  assert.ok(await page.locator('#model-tensors').isVisible(), 'the GGUF file is listed');
  await chooseFile(page, 'values.csv', Buffer.from('1\n2\n3\n4.5\n'));
  await waitState(page, 'ready');
  await expectNoError(page);
  assert.match(await page.textContent('#data-source'), /values\.csv/);
  assert.ok(await page.locator('#model-tensors').isHidden(), 'no tensor list of the file no longer open');
  assert.equal(await page.locator('#tensor-list li').count(), 0);
  await close();
  assertClean(problems);
});
