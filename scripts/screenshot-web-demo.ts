/**
 * Writes docs/web-demo.png, the README's picture of the web demo: starts the demo server, opens the page
 * in headless Chromium, trains a LinearAdapter on the State of the Union sample with the page's own
 * buttons, samples with the adapter off and on, and takes a screenshot.
 *
 *   npx tsx scripts/screenshot-web-demo.ts [steps]
 */
import { join } from 'node:path';
import { findChromium, launchChromium } from '../test/browser/chromium.js';
import { startDemoServer } from '../web/server.js';

const steps = process.argv[2] ?? '40';
const chromium = findChromium();
if (!chromium)
  throw new Error('no Chromium found: install it with `apt-get install chromium` or set CHROMIUM_PATH');
const server = await startDemoServer();
const browser = await launchChromium(chromium);
try {
  const page = await browser.context.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
  await page.fill('#steps', steps);
  await page.click('#train');
  await page.waitForFunction(
    () => /training: done|failed/.test(document.getElementById('status')?.textContent ?? ''),
    null,
    { timeout: 600_000 },
  );
  await page.click('#sample');
  await page.waitForFunction(
    () => /sampling: done|failed/.test(document.getElementById('status')?.textContent ?? ''),
    null,
    { timeout: 120_000 },
  );
  const out = join(import.meta.dirname, '..', 'docs', 'web-demo.png');
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}
