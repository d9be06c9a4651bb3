// The guided tour in headless Chromium: every step loads from its link without an error and shows
// its title; Next, Previous and the arrow keys move between steps and keep the step in the URL;
// a control changed inside a step stays live.
//
// Needs pkg/ built (`make wasm`); `make test-e2e` runs it with the other files here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClean, expectNoError, savedUrl, usePage, waitState } from './harness.mjs';

/** The tour's steps, in order: the lessons. */
const LESSON_TITLES = [
  'Min-max: the notebook’s quantizer',
  'One outlier ruins the scale',
  'Percentile clipping',
  'Least-error clipping',
  'Bits against error: about 6 dB a bit',
  'Per-channel and group scales',
  'The 4-bit formats side by side',
  'Rotation spreads an outlier',
  'Does the model still work?',
];

const web = usePage();

test('every step loads from its link without an error and shows its title', async () => {
  assert.ok(LESSON_TITLES.length >= 8, 'at least 8 steps');
  for (const [i, title] of LESSON_TITLES.entries()) {
    const { page, problems, close } = await web.open(`/?lesson=${i + 1}`);
    await expectNoError(page, `step ${i + 1}`);
    assert.ok(await page.locator('#lesson').isVisible(), `step ${i + 1}: the panel shows`);
    assert.equal((await page.textContent('#lesson-title')).trim(), title);
    const text = (await page.textContent('#lesson')).trim();
    assert.ok(text.length > 200, `step ${i + 1}: says what to notice (${text.length} characters)`);
    assert.equal(new URL(await savedUrl(page)).searchParams.get('lesson'), String(i + 1));
    assertClean(problems);
    await close();
  }
});

test('Next, Previous and the arrow keys move between steps; the controls stay live', async () => {
  const { page, problems, close } = await web.open('/?lesson=1');
  assert.ok(await page.locator('#lesson-prev').isDisabled(), 'no step before the first');
  await page.click('#lesson-next');
  await waitState(page, 'ready');
  assert.equal((await page.textContent('#lesson-title')).trim(), LESSON_TITLES[1]);
  assert.equal(new URL(await savedUrl(page)).searchParams.get('lesson'), '2');
  // Step 2 is at 4 bits; the learner may change them and stay in the step.
  assert.equal(await page.inputValue('#bits'), '4');
  await page.locator('#bits').fill('6');
  await waitState(page, 'ready');
  await expectNoError(page, 'a control changed in a step');
  const url = new URL(await savedUrl(page));
  assert.equal(url.searchParams.get('bits'), '6');
  assert.equal(url.searchParams.get('lesson'), '2');
  // The arrow keys, away from the form's fields.
  await page.locator('#lesson-title').click();
  await page.keyboard.press('ArrowRight');
  await waitState(page, 'ready');
  assert.equal((await page.textContent('#lesson-title')).trim(), LESSON_TITLES[2]);
  await page.keyboard.press('ArrowLeft');
  await waitState(page, 'ready');
  assert.equal((await page.textContent('#lesson-title')).trim(), LESSON_TITLES[1]);
  await page.click('#lesson-prev');
  await waitState(page, 'ready');
  assert.equal((await page.textContent('#lesson-title')).trim(), LESSON_TITLES[0]);
  // Leaving the tour keeps the view and drops the step from the URL.
  await page.click('#lesson-close');
  assert.ok(await page.locator('#lesson').isHidden());
  assert.equal(new URL(await savedUrl(page)).searchParams.get('lesson'), null);
  assertClean(problems);
  await close();
});

test('a step that does not exist says so and shows the page', async () => {
  const { page, problems, close } = await web.open('/?lesson=99', { state: 'error' });
  assert.match(await page.textContent('#error'), /lesson: the tour has steps 1 to \d+/);
  assert.ok(await page.locator('#lesson').isHidden());
  assert.ok(await page.locator('#chart-histogram').isVisible(), 'the default view under the message');
  assertClean(problems);
  await close();
});
