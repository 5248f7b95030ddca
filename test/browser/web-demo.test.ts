/**
 * The web demo in headless Chromium (Debian's, driven by playwright-core): training on wasm, cpu and
 * webgl, the browser's losses against Node's from the same seed, adapter download and upload, a
 * screenshot, and webgpu. Without a Chromium these tests print one line and are skipped, except under
 * CI (CI=true), where that is a failure.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { startDemoServer, type DemoServer } from '../../web/server.js';
import { DemoSession, type DemoTrainOptions } from '../../web/demo/session.js';
import { findChromium, launchChromium, NO_CHROMIUM_MESSAGE } from './chromium.js';

const chromiumPath = findChromium();
const inCi = Boolean(process.env['CI']) && process.env['CI'] !== 'false';
if (!chromiumPath && !inCi) console.warn(NO_CHROMIUM_MESSAGE);

const repo = join(import.meta.dirname, '..', '..');
const artifacts = join(repo, 'test-artifacts');
const modelDir = join(repo, 'assets', 'mobydick-char-lm');
/** A short text the adapter can learn in a few steps: the loss falls clearly, not just by noise. */
const TEXT = readFileSync(join(repo, 'assets', 'sotu-sample.txt'), 'utf8').slice(23, 183);
const RUN: Omit<DemoTrainOptions, 'method' | 'lr'> = { text: TEXT, steps: 8, batch: 4, seqLen: 16, seed: 1 };
const LINEAR = { ...RUN, method: 'linear', lr: 0.03 } as const;
/**
 * Largest difference allowed between a browser's per-step loss and Node's. Same model, data and seed;
 * the backends differ only in float32 rounding order (measured: equal to 4 decimals on wasm, cpu, webgl).
 */
const LOSS_TOLERANCE = 1e-3;

/** What the page exposes on `window.adapterkitDemo`, driven through `page.evaluate`. */
type Demo = Record<string, (...args: unknown[]) => unknown> & {
  ready: Promise<void>;
  setBackend(name: string): Promise<{ name: string }>;
};
const call = <T>(page: Page, fn: string, ...args: unknown[]): Promise<T> =>
  page.evaluate(
    ([f, a]) =>
      (window as unknown as { adapterkitDemo: Demo }).adapterkitDemo[f as string]!(...(a as unknown[])),
    [fn, args] as const,
  ) as Promise<T>;

async function openDemo(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await page.evaluate(() => (window as unknown as { adapterkitDemo: Demo }).adapterkitDemo.ready);
  return page;
}

/** Node's losses and fixed-text loss after the same run, on Node's wasm backend. */
async function nodeReference(
  o: DemoTrainOptions,
): Promise<{ losses: number[]; before: number; after: number }> {
  await initBackend({ backend: 'wasm' });
  const session = DemoSession.fromFiles(
    readFileSync(join(modelDir, 'config.json'), 'utf8'),
    new Uint8Array(readFileSync(join(modelDir, 'model.safetensors'))),
  );
  const before = session.loss(o.text, 64);
  const { losses } = await session.train(o);
  const after = session.loss(o.text, 64);
  session.reset();
  return { losses, before, after };
}

describe.runIf(!chromiumPath && inCi)('browser tests under CI', () => {
  it('need a Chromium', () => {
    expect.fail(`${NO_CHROMIUM_MESSAGE} (CI is set, so the browser tests must run)`);
  });
});

describe.runIf(chromiumPath)('the web demo in headless Chromium', () => {
  let server: DemoServer;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  let node: Awaited<ReturnType<typeof nodeReference>>;

  beforeAll(async () => {
    node = await nodeReference(LINEAR);
    server = await startDemoServer();
    browser = await launchChromium(chromiumPath!);
    page = await openDemo(browser.context, server.url);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('starts on wasm by default, with the .wasm files from wasmPaths and the JavaScript kernels', async () => {
    const info = await call<{ name: string; wasmPaths: string; platform: string; kernels: string }>(
      page,
      'info',
    );
    expect(info).toMatchObject({ name: 'wasm', wasmPaths: '/wasm/', platform: 'browser', kernels: 'js' });
    expect(await page.locator('#backend-badge').textContent()).toMatch(/^wasm/);
  });

  for (const backend of ['wasm', 'cpu', 'webgl'] as const) {
    it(`trains on ${backend}: the loss falls and equals Node's within ${LOSS_TOLERANCE} at every step`, async () => {
      const info = await call<{ name: string }>(page, 'setBackend', backend);
      expect(info.name).toBe(backend);
      const before = await call<number>(page, 'loss', TEXT, 64);
      const { losses } = await call<{ losses: number[] }>(page, 'train', LINEAR);
      const after = await call<number>(page, 'loss', TEXT, 64);
      expect(losses).toHaveLength(RUN.steps);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(mean(losses.slice(-3))).toBeLessThan(mean(losses.slice(0, 3)));
      expect(after).toBeLessThan(before - 0.2);
      losses.forEach((l, i) => expect(Math.abs(l - node.losses[i]!)).toBeLessThan(LOSS_TOLERANCE));
      expect(Math.abs(before - node.before)).toBeLessThan(LOSS_TOLERANCE);
      expect(Math.abs(after - node.after)).toBeLessThan(LOSS_TOLERANCE);
      expect(await page.locator('#backend-badge').textContent()).toMatch(new RegExp(`^${backend}`));
    }, 240_000);
  }

  it('saves a screenshot of the page after training (test-artifacts/web-demo.png)', async () => {
    await call(page, 'setBackend', 'wasm');
    await call(page, 'train', LINEAR);
    await call(page, 'sample', 'The ', 80, 3);
    expect(await page.locator('#progress-text').textContent()).toMatch(/^trained .* ms\/step on wasm/);
    mkdirSync(artifacts, { recursive: true });
    const file = join(artifacts, 'web-demo.png');
    await page.screenshot({ path: file, fullPage: true });
    expect(statSync(file).size).toBeGreaterThan(20_000);
  });

  it('adapter file and PEFT zip round-trip through the download and upload buttons', async () => {
    for (const o of [LINEAR, { ...RUN, method: 'lora', lr: 0.01, steps: 3 } as const]) {
      await call(page, 'train', o);
      const trained = {
        loss: await call<number>(page, 'loss', TEXT, 64),
        text: await call<{ on: string }>(page, 'sample', 'The ', 40, 7),
      };
      const button = o.method === 'linear' ? '#download-adapter' : '#download-peft';
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
      const file = await download.path();
      const bytes = readFileSync(file);
      if (o.method === 'lora') {
        expect(download.suggestedFilename()).toBe('peft-adapter.zip');
        const entries = unzipSync(new Uint8Array(bytes));
        expect(Object.keys(entries).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
        expect(JSON.parse(new TextDecoder().decode(entries['adapter_config.json']))).toMatchObject({
          peft_type: 'LORA',
          r: 8,
        });
      } else {
        expect(download.suggestedFilename()).toBe('adapter.safetensors');
      }
      // Back to the bare base model, then load the downloaded file through the file input.
      await call(page, 'setBackend', 'wasm');
      expect(await call(page, 'adapterKind')).toBeNull();
      await page.setInputFiles('#upload', file);
      await page.waitForFunction(() =>
        /loading .*: done/.test(document.getElementById('status')!.textContent ?? ''),
      );
      expect(await call(page, 'adapterKind')).toBe(o.method === 'linear' ? 'adapter-file' : 'peft');
      expect(Math.abs((await call<number>(page, 'loss', TEXT, 64)) - trained.loss)).toBeLessThan(1e-6);
      expect((await call<{ on: string }>(page, 'sample', 'The ', 40, 7)).on).toBe(trained.text.on);
    }
  });

  it('an adapter file that is not one is refused with a clear message on the page', async () => {
    await page.setInputFiles('#upload', {
      name: 'notes.safetensors',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from('not a safetensors file'),
    });
    await page.waitForFunction(() => /failed/.test(document.getElementById('status')!.textContent ?? ''));
    expect(await page.locator('#status').textContent()).toMatch(
      /loading notes\.safetensors failed: adapter file: .*header/,
    );
  });

  it('webgpu without a WebGPU adapter is reported unavailable, and the active backend stays', async () => {
    await call(page, 'setBackend', 'wasm');
    const hasAdapter = await page.evaluate(async () => {
      const g = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
      return g ? (await g.requestAdapter()) !== null : false;
    });
    if (hasAdapter) return; // a machine with a GPU: the next test covers webgpu
    const message = await page.evaluate(async () => {
      try {
        await (window as unknown as { adapterkitDemo: Demo }).adapterkitDemo.setBackend('webgpu');
        return 'no error';
      } catch (e) {
        return (e as Error).message;
      }
    });
    expect(message).toMatch(
      /webgpu: unavailable, the browser offers no WebGPU adapter.*--enable-unsafe-webgpu/,
    );
    expect((await call<{ name: string }>(page, 'info')).name).toBe('wasm');
    expect(await page.locator('#backend-badge').textContent()).toMatch(/^wasm/);
    expect(await page.locator('#status').textContent()).toMatch(
      /switching backend failed: .*webgpu: unavailable/,
    );
  });

  it('webgpu trains where Chromium exposes an adapter, and is otherwise reported unavailable with a clear message', async () => {
    const gpu = await launchChromium(chromiumPath!, { webgpu: true });
    try {
      const p = await openDemo(gpu.context, server.url);
      const hasAdapter = await p.evaluate(async () => {
        const g = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
        return g ? (await g.requestAdapter()) !== null : false;
      });
      const result = await p.evaluate(async () => {
        const demo = (window as unknown as { adapterkitDemo: Demo }).adapterkitDemo;
        try {
          return { info: await demo.setBackend('webgpu') };
        } catch (e) {
          return { error: (e as Error).message };
        }
      });
      if (hasAdapter) {
        expect(result.error).toBeUndefined();
        expect(result.info?.name).toBe('webgpu');
        // Two steps only: on a machine without a GPU, webgpu runs on a software Vulkan and is very slow.
        const o = { ...LINEAR, steps: 2 };
        const { losses } = await call<{ losses: number[] }>(p, 'train', o);
        const ref = await nodeReference(o);
        losses.forEach((l, i) => expect(Math.abs(l - ref.losses[i]!)).toBeLessThan(LOSS_TOLERANCE));
      } else {
        expect(result.error).toMatch(/webgpu/);
        console.warn(`webgpu unavailable in this Chromium; reported as: ${result.error}`);
      }
    } finally {
      await gpu.close();
    }
  }, 300_000);
});
