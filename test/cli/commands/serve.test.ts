/** `adapterkit serve` as users start it: a child process that listens on loopback and stops on SIGTERM. */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { complete, tempDir, writeBaseModel, writeStoreAdapter } from '../../server/fixtures.js';

it('adapterkit serve --base --store --port 0 serves the base and a store adapter on 127.0.0.1, and exits 0 on SIGTERM', async () => {
  const base = join(await tempDir('cli-base'), 'tiny');
  const store = await tempDir('cli-store');
  await mkdir(base, { recursive: true });
  await writeBaseModel(base);
  await writeStoreAdapter(store, 'a', 10);
  const main = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', main, 'serve', '--base', base, '--store', store, '--port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /serving on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const models = await (await fetch(`${url}/v1/models`)).json();
    expect(models.data.map((m: { id: string }) => m.id)).toEqual(['tiny', 'a']);
    await complete(url, { model: 'a', prompt: 'the ', max_tokens: 5 });
    await complete(url, { model: 'tiny', prompt: 'the ', max_tokens: 5 });
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
});
