// Makes docs/screenshot.png, the README's picture: the page on the notebook's percentile
// experiment, 1400 pixels wide and as tall as the page, written as a palette PNG.
// Usage: node scripts/screenshot.mjs   (after `make wasm`; `make screenshot` does both)
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, startPage } from './browser.mjs';
import { toPalettePng } from '../tests/e2e/palette-png.mjs';

const { origin, browser, stop } = await startPage();
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(`${origin}/?preset=notebook-percentile`);
  await page.waitForSelector('body[data-state="ready"]');
  // A viewport as tall as the page, so the sticky controls are shown whole.
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: 1400, height });
  await page.waitForSelector('body[data-charts="drawn"]');
  await page.waitForTimeout(100);
  const png = toPalettePng(await page.screenshot({ fullPage: true }));
  if (errors.length) throw new Error(`console errors: ${errors.join('; ')}`);
  if (png.length >= 500_000) throw new Error(`the screenshot is ${png.length} bytes: keep it under 500 KB`);
  mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
  writeFileSync(path.join(ROOT, 'docs', 'screenshot.png'), png);
  console.log(`wrote docs/screenshot.png (${png.length} bytes)`);
} finally {
  await stop();
}
