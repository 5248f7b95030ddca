/**
 * `npm run bench:browser`: the library's own training step (the web demo's: LinearAdapter on the shipped
 * Moby-Dick model through `trainLm` and the Trainer) in headless Chromium on each backend. Prints the first
 * step (kernel compilation on webgl and webgpu) and the median of the rest, and writes
 * bench/browser-results.json. This is what the browser default order (wasm, webgl, cpu) rests on.
 *
 * Options (environment): CHROMIUM_PATH, BENCH_BACKENDS (default wasm,webgl,cpu,webgpu), BENCH_STEPS (6).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findChromium, launchChromium } from '../test/browser/chromium.js';
import { startDemoServer } from '../web/server.js';

const SHAPES = [
  { batch: 8, seqLen: 64 }, // the demo page's default
  { batch: 2, seqLen: 16 }, // a tiny step: fixed costs dominate
];
const steps = Number(process.env['BENCH_STEPS'] ?? 6);
const backends = (process.env['BENCH_BACKENDS'] ?? 'wasm,webgl,cpu,webgpu').split(',');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const chromium = findChromium();
if (!chromium) {
  console.error(
    'bench:browser needs a Chromium: install it with `apt-get install chromium` or set CHROMIUM_PATH',
  );
  process.exit(1);
}
/** What the demo page exposes on `window.adapterkitDemo`, as far as the benchmark drives it. */
interface DemoWindow {
  adapterkitDemo: {
    ready: Promise<void>;
    setBackend(name: string): Promise<unknown>;
    train(options: Record<string, unknown>): Promise<{ stepMs: number[] }>;
  };
}

const text = readFileSync(join(import.meta.dirname, '..', 'assets', 'sotu-sample.txt'), 'utf8');
const server = await startDemoServer();
const browser = await launchChromium(chromium, { webgpu: true });
const results: Array<Record<string, unknown>> = [];
try {
  const page = await browser.context.newPage();
  await page.goto(server.url);
  await page.evaluate(() => (window as unknown as DemoWindow).adapterkitDemo.ready);
  console.log(`Chromium ${browser.context.browser()?.version() ?? ''}; ${steps} steps per run; ms per step`);
  for (const backend of backends) {
    const switched = await page
      .evaluate((b) => (window as unknown as DemoWindow).adapterkitDemo.setBackend(b), backend)
      .then(
        () => null,
        (e: Error) => e.message,
      );
    if (switched) {
      console.log(`${backend}: unavailable (${switched})`);
      results.push({ backend, unavailable: switched });
      continue;
    }
    for (const shape of SHAPES) {
      const r = await page.evaluate((o) => (window as unknown as DemoWindow).adapterkitDemo.train(o), {
        method: 'linear',
        text,
        steps,
        lr: 0.01,
        seed: 0,
        ...shape,
      });
      const row = {
        backend,
        ...shape,
        firstStepMs: Math.round(r.stepMs[0]),
        medianMs: Math.round(median(r.stepMs.slice(1))),
      };
      results.push(row);
      console.log(
        `${backend.padEnd(7)} batch ${shape.batch} × ${shape.seqLen}: first ${row.firstStepMs} ms, then ${row.medianMs} ms/step`,
      );
    }
  }
} finally {
  await browser.close();
  await server.close();
}
writeFileSync(
  join(import.meta.dirname, 'browser-results.json'),
  JSON.stringify({ date: new Date().toISOString(), steps, results }, null, 2) + '\n',
);
