/**
 * The MAM adapter (He et al. 2022, type `mam`): prefix tuning on every attention plus the scaled
 * parallel adapter beside every FFN under one name (B-336), with its config checks, cached
 * generation, merge and leak checks.
 */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { getAdapterTypeSchema, ParallelAdapter } from '../../../src/adapters/index.js';
import { MamAdapter } from '../../../src/adapters/mam/layer.js';
import { mergeAndUnloadPrefix } from '../../../src/adapters/prefix/hosts.js';
import { trainableParameterReport } from '../../../src/adapters/report.js';
import { CharLM } from '../../../src/models/char-lm.js';
import type { TransformerDecoder } from '../../../src/nn/transformer.js';
import { createRng, manualSeed } from '../../../src/rng.js';
import { maxAbsDiff, thrown } from '../../helpers.js';

const D = 16;

function tinyLM(): CharLM {
  manualSeed(5);
  return new CharLM({ vocabSize: 12, dModel: D, numLayers: 2, nHead: 2, dFF: 32, maxLen: 8 });
}

function ids(): Tensor {
  const rng = createRng(1);
  return tf.tensor2d(
    Array.from({ length: 2 }, () => Array.from({ length: 8 }, () => Math.floor(rng.next() * 12))),
    [2, 8],
    'int32',
  );
}

function bytes(t: Tensor): number[] {
  const d = t.dataSync() as Float32Array;
  return Array.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
}

/** Moves every parameter of adapter `name` off its initial values (the parallel part starts at zero). */
function perturb(lm: CharLM, name: string): void {
  lm.namedParameters()
    .filter(([k]) => k.includes(`adapter_layer.${name}.`))
    .forEach(([, p], i) =>
      tf.tidy(() => p.assign(tf.add(p, tf.randomNormal(p.shape, 0, 0.2, 'float32', 50 + i)))),
    );
}

const MAM = { type: 'mam', prefix: { numVirtualTokens: 3 }, ffn: { dim: 4, scaling: 4 } };

describe('mam adapter', () => {
  it('config: nested prefix and ffn parts with defaults; bad parts → INVALID_CONFIG naming the part and its fields', () => {
    const f = getAdapterTypeSchema('mam').fields;
    expect(Object.keys(f).sort()).toEqual(['enabled', 'ffn', 'prefix', 'type']);
    const lm = tinyLM();
    lm.addAdapter('decoder:m', MAM);
    expect(lm.cfg.adapters!.m).toEqual({
      type: 'mam',
      enabled: true,
      prefix: { numVirtualTokens: 3, prefixProjection: false, encoderHiddenSize: null },
      ffn: { dim: 4, scaling: 4, activation: 'relu', dropout: 0 },
    });
    for (const [cfg, part] of [
      [{ ...MAM, prefix: {} }, 'numVirtualTokens'],
      [{ ...MAM, ffn: { dim: 0 } }, 'dim'],
      [{ ...MAM, ffn: { dim: 4, size: 2 } }, 'ffn'],
      [{ type: 'mam', prefix: { numVirtualTokens: 2 } }, 'ffn'],
    ] as const) {
      const e = thrown(() => lm.addAdapter('decoder:n', cfg as Record<string, unknown> as { type: string }));
      expect(e.code, JSON.stringify(cfg)).toBe('INVALID_CONFIG');
      expect(e.message, JSON.stringify(cfg)).toContain(part);
    }
    expect(lm.adapterNames()).toEqual(['m']);
    lm.dispose();
  });

  it('B-336 disabled → base outputs bit for bit; parameter count = prefix part + parallel part; save/load round-trips bit for bit', () => {
    const lm = tinyLM();
    lm.eval();
    const x = ids();
    const base = bytes(lm.forward(x));
    const before = lm.numParameters();
    lm.addAdapter('decoder:m', {
      ...MAM,
      prefix: { numVirtualTokens: 3, prefixProjection: true, encoderHiddenSize: 6 },
    });
    // One name: the stack holds the prefix part, every block a parallel adapter.
    const decoder = lm.getChild('decoder') as TransformerDecoder;
    expect(lm.getAdapterModule('m')).toBeInstanceOf(MamAdapter);
    for (const b of decoder.blocks()) {
      const host = b as unknown as {
        getAdapterModule(n: string): unknown;
        adapterLocations(n: string): string[];
      };
      expect(host.getAdapterModule('m')).toBeInstanceOf(ParallelAdapter);
      expect(host.adapterLocations('m')).toEqual(['mha', 'post']);
    }
    const L = 2;
    const prefixPart = 3 * D + (D * 6 + 6) + (6 * L * 2 * D + L * 2 * D);
    const parallelPart = L * (2 * D * 4 + D + 4);
    expect(lm.numParameters() - before).toBe(prefixPart + parallelPart);
    expect(trainableParameterReport(lm).byAdapter.m).toBe(prefixPart + parallelPart);
    perturb(lm, 'm');
    const on = bytes(lm.forward(x));
    expect(on).not.toEqual(base);
    lm.setEnabledAdapters('m', false);
    expect(bytes(lm.forward(x))).toEqual(base);
    lm.setEnabledAdapters('m', true);
    expect(bytes(lm.forward(x))).toEqual(on);

    // freeze: the whole unit trains.
    lm.freeze();
    lm.unfreezeEnabledAdapters();
    const trainable = lm
      .namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([k]) => k);
    expect(trainable.length).toBe(5 + L * 4);
    expect(trainable.every((k) => k.includes('adapter_layer.m.'))).toBe(true);

    const file = lm.saveAdapters('m');
    const fresh = tinyLM();
    fresh.eval();
    const tensors = tf.memory().numTensors;
    const r = fresh.loadAdapters(file);
    expect(r.loaded).toEqual(['m']);
    const out = (f: () => Tensor) => tf.tidy(() => bytes(f()));
    expect(out(() => fresh.forward(x))).toEqual(on);
    fresh.setEnabledAdapters('m', false);
    expect(out(() => fresh.forward(x))).toEqual(base);
    fresh.deleteAdapter('m');
    expect(tf.memory().numTensors).toBe(tensors);
    fresh.dispose();
    lm.dispose();
  });

  it('merging its prefix MLP keeps outputs within 1e-6; cached generation equals uncached; a forward leaks nothing', () => {
    const lm = tinyLM();
    lm.eval();
    lm.addAdapter('decoder:m', { ...MAM, prefix: { numVirtualTokens: 2, prefixProjection: true } });
    perturb(lm, 'm');
    const x = ids();
    const y = lm.forward(x);
    const tensors = tf.memory().numTensors;
    tf.dispose(lm.forward(x));
    expect(tf.memory().numTensors).toBe(tensors);
    expect(mergeAndUnloadPrefix(lm, 'm')).toEqual(['m']);
    expect(maxAbsDiff(lm.forward(x), y)).toBeLessThan(1e-6);
    expect((lm.cfg.adapters!.m as { prefix: unknown }).prefix).toEqual({
      numVirtualTokens: 2,
      prefixProjection: false,
      encoderHiddenSize: null,
    });
    const prompt = Int32Array.from([3, 1]);
    const cached = lm.generate(prompt, 6, { rng: createRng(2), cache: true });
    const plain = lm.generate(prompt, 6, { rng: createRng(2), cache: false });
    expect(Array.from(cached)).toEqual(Array.from(plain));
    lm.dispose();
  });
});
