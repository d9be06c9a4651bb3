import { startPage } from './browser.mjs';
const { origin, browser, stop } = await startPage();
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const errs = [];
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && errs.push(m.text()));
  page.on('pageerror', (e) => errs.push(e.message));
  await page.goto(`${origin}/${process.argv[2] ?? ''}`);
  await page.waitForFunction(() => document.getElementById('model-accuracy').textContent !== '');
  await page.locator('#model').scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.body.dataset.charts === 'drawn' && document.body.dataset.state === 'ready');
  await page.waitForTimeout(300);
  console.log(await page.evaluate(() => ({ acc: document.getElementById('model-accuracy').textContent, f: document.getElementById('model-float-accuracy').textContent, flips: document.querySelectorAll('#model-flips figure').length, status: document.getElementById('model-status').textContent, err: document.getElementById('error').textContent })));
  await page.locator('#model').screenshot({ path: process.argv[3] ?? '/tmp/mp/model.png' });
  console.log('errors', errs);
} finally {
  await stop();
}
