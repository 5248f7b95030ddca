import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsAdapterStore, type AdapterInput } from '../../src/store/index.js';

const enc = (s: string) => new TextEncoder().encode(s);

function input(name: string, weights = 'w1', jobId: string | null = 'job-1'): AdapterInput {
  return {
    name,
    jobId,
    kind: 'lora',
    format: 'peft',
    base: { name: 'tiny', config: { dModel: 8 } },
    config: { r: 2 },
    metrics: { finalLoss: 1.5 },
    files: { 'peft/adapter_config.json': enc('{"r":2}'), 'peft/adapter_model.safetensors': enc(weights) },
  };
}

describe('FsAdapterStore', () => {
  let root: string;
  let store: FsAdapterStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'adapterkit-store-'));
    store = new FsAdapterStore(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('puts, lists, gets with verified files, and deletes', async () => {
    const r = await store.put(input('customer-a'));
    expect(r.outcome).toBe('written');
    expect(r.manifest.files['peft/adapter_model.safetensors']).toMatch(/^[0-9a-f]{64}$/);
    expect(await store.has('customer-a')).toBe(true);
    expect((await store.list()).map((m) => m.name)).toEqual(['customer-a']);
    const got = await store.get('customer-a');
    expect(new TextDecoder().decode(got.files['peft/adapter_model.safetensors'])).toBe('w1');
    expect(got.manifest.contentHash).toBe(r.manifest.contentHash);
    expect(await store.delete('customer-a')).toBe(true);
    expect(await store.delete('customer-a')).toBe(false);
    expect(await store.has('customer-a')).toBe(false);
  });

  it('a second put of the same content or the same job is a no-op; different content is refused unless replace', async () => {
    const first = await store.put(input('a'));
    expect((await store.put(input('a'))).outcome).toBe('unchanged');
    // Same job redelivered with different bytes: still one adapter, the first one.
    const again = await store.put(input('a', 'w-other', 'job-1'));
    expect(again.outcome).toBe('unchanged');
    expect(again.manifest.contentHash).toBe(first.manifest.contentHash);
    await expect(store.put(input('a', 'w2', 'job-2'))).rejects.toMatchObject({ code: 'DUPLICATE_ADAPTER' });
    const replaced = await store.put(input('a', 'w2', 'job-2'), { replace: true });
    expect(replaced.outcome).toBe('replaced');
    expect((await store.manifest('a')).jobId).toBe('job-2');
    expect((await readdir(store.adaptersDir)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('concurrent puts of one name leave exactly one adapter directory', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.put(input('race', `w${i}`, `job-${i}`))),
    );
    const written = results.filter((r) => r.status === 'fulfilled' && r.value.outcome === 'written');
    expect(written).toHaveLength(1);
    expect(
      results
        .filter((r) => r.status === 'rejected')
        .every((r) => (r as PromiseRejectedResult).reason.code === 'DUPLICATE_ADAPTER'),
    ).toBe(true);
    expect(await readdir(store.adaptersDir)).toEqual(['race']);
  });

  it('get detects a file that no longer matches its manifest', async () => {
    await store.put(input('b'));
    await writeFile(join(store.adapterDir('b'), 'peft/adapter_model.safetensors'), 'tampered');
    await expect(store.get('b')).rejects.toMatchObject({ code: 'CHECKPOINT_MISMATCH' });
  });

  it('rejects bad names and paths, reports unknown adapters with what is stored', async () => {
    await expect(store.put(input('.hidden'))).rejects.toMatchObject({ code: 'INVALID_ADAPTER_NAME' });
    await expect(store.put(input('a/b'))).rejects.toMatchObject({ code: 'INVALID_ADAPTER_NAME' });
    await expect(store.put({ ...input('c'), files: { '../x': enc('x') } })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    await store.put(input('known'));
    await expect(store.get('missing')).rejects.toThrow(/no adapter 'missing'.*stored: known/);
  });

  it('ignores temporary entries and sweeps those of dead writers', async () => {
    await store.put(input('ok'));
    const dead = join(store.adaptersDir, `.tmp-x.${hostname()}.999999999.abc`);
    const live = join(store.adaptersDir, `.tmp-y.${hostname()}.${process.pid}.abc`);
    await mkdir(dead);
    await mkdir(live);
    expect((await store.list()).map((m) => m.name)).toEqual(['ok']);
    expect(await store.sweepStale()).toEqual([`.tmp-x.${hostname()}.999999999.abc`]);
    expect((await readdir(store.adaptersDir)).sort()).toEqual([
      `.tmp-y.${hostname()}.${process.pid}.abc`,
      'ok',
    ]);
  });
});
