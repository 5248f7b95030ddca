import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeElements, parseSafetensors } from '../../src/io/safetensors.js';
import { runTrainingCase, type GoldenTensor, type TrainingCase } from '../../tools/golden/group-t.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'golden');
const CASES = readdirSync(FIXTURES)
  .filter((d) => d.startsWith('t-'))
  .sort();

/** Reads every tensor of a safetensors file through the library's parser. */
function readTensors(file: string): Map<string, GoldenTensor> {
  const bytes = readFileSync(file);
  const parsed = parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file);
  const out = new Map<string, GoldenTensor>();
  for (const [name, entry] of parsed.tensors) {
    const values = decodeElements(entry);
    let data: Float32Array | Int32Array | Uint8Array;
    if (values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array)
      data = values;
    else if (values instanceof BigInt64Array || values instanceof BigUint64Array)
      data = Int32Array.from(values, (v) => Number(v));
    else if (values instanceof Float64Array) data = Float32Array.from(values);
    else data = Int32Array.from(values as ArrayLike<number>);
    out.set(name, { shape: entry.shape, data });
  }
  return out;
}

/** A case's `case.json`, with the fields these tests edit. */
type Case = TrainingCase & { config: Record<string, unknown>; tensors: Array<{ name: string }> };

function loadCase(name: string): { dir: string; json: Case } {
  const dir = path.join(FIXTURES, name);
  return { dir, json: JSON.parse(readFileSync(path.join(dir, 'case.json'), 'utf8')) as Case };
}

describe('golden group T', () => {
  it('has the fixture cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(6);
  });

  it.each(CASES)('%s', async (name) => {
    const { dir, json } = loadCase(name);
    const result = await runTrainingCase(dir, json, readTensors);
    expect(result.detail).toBeTypeOf('string');
    expect(result, result.detail).toMatchObject({ ok: true });
    expect(result.detail).not.toContain('tensor count changed'); // no leaks
  });

  it('an unknown component fails with the reason', async () => {
    const { dir, json } = loadCase('t-adamw-wd0.01');
    const r = await runTrainingCase(
      dir,
      { ...json, config: { ...json.config, component: 'SGD' } },
      readTensors,
    );
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('unknown component "SGD"');
    expect(r.detail).toContain('AdamW');
  });

  it('an expected tensor the component does not produce is a failure', async () => {
    const { dir, json } = loadCase('t-lr-warmup-cosine');
    const tensors = [
      ...json.tensors,
      { ...json.tensors.find((t) => t.name === 'expected.lr'), name: 'expected.momentum' },
    ];
    const reader = (f: string) => {
      const m = readTensors(f);
      m.set('expected.momentum', m.get('expected.lr')!);
      return m;
    };
    const r = await runTrainingCase(dir, { ...json, tensors }, reader);
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('expected.momentum: not computed');
  });

  it('a wrong value is caught (changed hyper-parameter)', async () => {
    const { dir, json } = loadCase('t-adamw-wd0.01');
    const r = await runTrainingCase(
      dir,
      { ...json, config: { ...json.config, weightDecay: 0.1 } },
      readTensors,
    );
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('expected.params');
  });
});
