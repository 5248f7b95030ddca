/**
 * The insertion-point report: every host of a model with its points, the adapter types each point
 * takes, the defaults, and where held adapters run.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../src/index.js';
import * as models from '../../src/models/index.js';
import { inspectInsertionPoints } from '../../src/adapters/index.js';
import { CharLM } from '../../src/models/char-lm.js';
import { MlpClassifier } from '../../src/models/mlp-classifier.js';
import { createRng, setRng } from '../../src/rng.js';

function tinyLM(): CharLM {
  setRng(createRng(5));
  return new CharLM({ vocabSize: 12, dModel: 16, numLayers: 2, nHead: 2, dFF: 32, maxLen: 8 });
}

describe('inspectInsertionPoints', () => {
  it("lists each transformer block's points, the types each takes and the defaults; containers are left out", () => {
    const lm = tinyLM();
    const r = inspectInsertionPoints(lm);
    expect(r.hosts.map((h) => h.path)).toEqual(['decoder.layers.0', 'decoder.layers.1']);
    const block = r.hosts[0]!;
    expect(block.host).toBe('TransformerDecoderBlockAdapter');
    expect(block.points.map((p) => p.name)).toEqual([
      'input',
      'attention',
      'attentionOutput',
      'mha',
      'parallelFfn',
      'ffnOutput',
      'post',
    ]);
    const byName = Object.fromEntries(block.points.map((p) => [p.name, p]));
    expect(byName.post!.types).toEqual(['linear', 'transformerMultiHeadAttention']);
    expect(byName.post!.defaultFor).toEqual(['linear']);
    expect(byName.mha!.defaultFor).toEqual(['transformerMultiHeadAttention']);
    expect(byName.parallelFfn!.types).toEqual(['parallel']);
    expect(byName.parallelFfn!.defaultFor).toEqual(['parallel']);
    expect(byName.attention!.types).toEqual([]);
    expect(byName.ffnOutput!.where).toContain('before its residual add');
    expect(block.adapters).toEqual([]);
    lm.dispose();
  });

  it('reports where each held adapter runs, and does not change the model', () => {
    const lm = tinyLM();
    lm.addAdapter('ffn', { type: 'linear', inFeatures: 16, dim: 4, location: 'ffnOutput' });
    lm.addAdapter('out', { type: 'linear', inFeatures: 16, dim: 4 });
    lm.setEnabledAdapters('out', false);
    const before = JSON.stringify(lm.cfg);
    const r = inspectInsertionPoints(lm);
    expect(r.hosts[1]!.adapters).toEqual([
      { name: 'ffn', type: 'linear', location: 'ffnOutput', enabled: true },
      { name: 'out', type: 'linear', location: 'post', enabled: false },
    ]);
    expect(JSON.stringify(lm.cfg)).toBe(before);
    lm.dispose();
  });

  it('a host without insertion points (it runs adapters on its output) is listed with no points', () => {
    setRng(createRng(1));
    const mlp = new MlpClassifier({ inFeatures: 4, hidden: [8, 8], numClasses: 2 });
    mlp.addAdapter('t', { type: 'linear', inFeatures: 8, dim: 2 });
    const r = inspectInsertionPoints(mlp);
    expect(r.hosts.length).toBeGreaterThan(0);
    for (const h of r.hosts) expect(h.points).toEqual([]);
    expect(r.hosts.flatMap((h) => h.adapters.map((a) => [a.name, a.location]))).toContainEqual(['t', null]);
    mlp.dispose();
  });
});

describe('README: insertion points', () => {
  it('the example runs as printed', () => {
    const text = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const section = text.slice(text.indexOf('## Insertion points'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)![1]!.replace(/^import .*\n/m, '');
    const printed: string[] = [];
    const log = (...a: unknown[]) => printed.push(a.join(' '));
    const body = `${block}\nreturn lm;`;
    const run = new Function('models', 'inspectInsertionPoints', 'console', body) as (
      ...a: unknown[]
    ) => CharLM;
    const lm = run(models, inspectInsertionPoints, { log });
    const expected = block
      .split('\n')
      .map((l, i, all) => (all[i - 1]?.startsWith('console.log(') && l.startsWith('// ') ? l.slice(3) : null))
      .filter((l): l is string => l !== null);
    expect(expected).toEqual(['attn@attentionOutput gate@ffnOutput']);
    expect(printed).toEqual(expected);
    lm.dispose();
  });
});
