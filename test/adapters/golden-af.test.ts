/**
 * Golden cases of groups A–F (adapter networks and strategies), from test/fixtures/golden. Every case
 * folder whose name starts with a–f runs through the generic runner; nothing here knows case names.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { decodeElements, parseSafetensors } from '../../src/io/safetensors.js';
import { runAdapterCase, type FixtureTensor } from '../../tools/golden/group-adapters.js';

const ROOT = fileURLToPath(new URL('../fixtures/golden/', import.meta.url));
const CASES = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory() && /^[a-f]-/.test(d.name))
  .map((d) => d.name)
  .sort();

/** Decodes every tensor of a case's safetensors file (F32 → Float32Array, BOOL → Uint8Array, ints → Int32Array). */
function loadTensors(file: string): Map<string, FixtureTensor> {
  const parsed = parseSafetensors(new Uint8Array(readFileSync(file)), file);
  const out = new Map<string, FixtureTensor>();
  for (const [name, entry] of parsed.tensors) {
    const values = decodeElements(entry);
    let data: Float32Array | Int32Array | Uint8Array;
    if (values instanceof Float32Array || values instanceof Uint8Array || values instanceof Int32Array)
      data = values;
    else if (values instanceof BigInt64Array || values instanceof BigUint64Array)
      data = Int32Array.from(values, (v) => Number(v));
    else if (values instanceof Float64Array) data = Float32Array.from(values);
    else data = Int32Array.from(values as ArrayLike<number>);
    out.set(name, { shape: entry.shape, data, dtype: entry.dtype });
  }
  return out;
}

describe('golden A–F', () => {
  it('finds the copied fixture cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(12);
    for (const g of ['a', 'b', 'c', 'd', 'e', 'f'])
      expect(CASES.some((c) => c.startsWith(`${g}-`))).toBe(true);
  });

  it.each(CASES)('%s', async (name) => {
    const dir = join(ROOT, name);
    const caseJson = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
    const file = join(dir, 'tensors.safetensors');
    expect(existsSync(file)).toBe(true);
    const before = tf.memory().numTensors;
    const result = await runAdapterCase(dir, caseJson, loadTensors(file));
    expect(result.ok, result.detail).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('fails with a reason for an unknown group or component, never passes silently', async () => {
    const dir = join(ROOT, 'f-mha-nomask');
    const caseJson = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
    const tensors = loadTensors(join(dir, 'tensors.safetensors'));
    const badGroup = await runAdapterCase(dir, { ...caseJson, group: 'G' }, tensors);
    expect(badGroup.ok).toBe(false);
    expect(badGroup.detail).toContain('not an adapter group');
    const badType = await runAdapterCase(
      dir,
      { ...caseJson, config: { ...caseJson.config, adapterType: 'ConvAdapter' } },
      tensors,
    );
    expect(badType.ok).toBe(false);
    expect(badType.detail).toContain("unknown component 'ConvAdapter'");
    const badExpected = await runAdapterCase(
      dir,
      {
        ...caseJson,
        tensors: caseJson.tensors.map((t: { name: string; role: string }) =>
          t.name === 'expected.adapter_output' ? { ...t, name: 'expected.mystery' } : t,
        ),
      },
      new Map([...tensors].map(([k, v]) => [k === 'expected.adapter_output' ? 'expected.mystery' : k, v])),
    );
    expect(badExpected.ok).toBe(false);
    expect(badExpected.detail).toContain("don't know how to compute expected tensor 'mystery'");
  });

  it('detects a wrong result (perturbed expectation fails)', async () => {
    const dir = join(ROOT, 'f-relmha-padmask');
    const caseJson = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
    const tensors = loadTensors(join(dir, 'tensors.safetensors'));
    const want = tensors.get('expected.residual_output')!;
    const data = Float32Array.from(want.data);
    data[5] = data[5]! + 0.01;
    tensors.set('expected.residual_output', { ...want, data });
    const r = await runAdapterCase(dir, caseJson, tensors);
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('out of tolerance');
  });
});
