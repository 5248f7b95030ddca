/**
 * The `prefixTuning` adapter itself (PEFT's `PrefixEncoder`): config and schema, the `[P, L·2·D]`
 * layout of PEFT's `past_key_values`, parameter counts (B-335), and merging the projection MLP
 * (B-334).
 */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { buildAdapter, getAdapterTypeSchema, listAdapterTypes } from '../../../src/adapters/index.js';
import { mergeAndUnloadPrefix } from '../../../src/adapters/prefix/hosts.js';
import { PrefixTuningAdapter } from '../../../src/adapters/prefix/layer.js';
import { trainableParameterReport } from '../../../src/adapters/report.js';
import { CharLM } from '../../../src/models/char-lm.js';
import { createRng, manualSeed } from '../../../src/rng.js';
import { maxAbsDiff, thrown } from '../../helpers.js';

const D = 16;

function tinyLM(numLayers = 2): CharLM {
  manualSeed(5);
  return new CharLM({ vocabSize: 12, dModel: D, numLayers, nHead: 2, dFF: 32, maxLen: 8 });
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

describe('prefixTuning: config', () => {
  it('is a registered type with PEFT’s fields and defaults', () => {
    expect(listAdapterTypes()).toContain('prefixTuning');
    const f = getAdapterTypeSchema('prefixTuning').fields;
    expect(Object.keys(f).sort()).toEqual(
      [
        'type',
        'enabled',
        'numVirtualTokens',
        'prefixProjection',
        'encoderHiddenSize',
        'tokenDim',
        'numLayers',
        'numAttentionHeads',
      ].sort(),
    );
    expect(f.numVirtualTokens!.required).toBe(true);
    expect(f.prefixProjection!.default).toBe(false);
    expect(f.tokenDim!.required).toBe(false);
  });

  it('invalid configs → INVALID_CONFIG naming the field; without the model’s sizes it says to add it to a stack', () => {
    const sizes = { tokenDim: D, numLayers: 2, numAttentionHeads: 2 };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...sizes }, 'numVirtualTokens'],
      [{ ...sizes, numVirtualTokens: 0 }, 'numVirtualTokens'],
      [{ ...sizes, numVirtualTokens: 2, prefixProjection: 'yes' }, 'prefixProjection'],
      [{ ...sizes, numVirtualTokens: 2, encoderHiddenSize: 8 }, 'encoderHiddenSize'],
      [{ ...sizes, numVirtualTokens: 2, numAttentionHeads: 3 }, 'numAttentionHeads'],
      [{ ...sizes, numVirtualTokens: 2, dropout: 0.1 }, 'dropout'],
      [{ numVirtualTokens: 2 }, 'tokenDim'],
    ];
    for (const [cfg, field] of cases) {
      const e = thrown(() => buildAdapter({ type: 'prefixTuning', ...cfg }));
      expect(e.code, JSON.stringify(cfg)).toBe('INVALID_CONFIG');
      expect(e.message, JSON.stringify(cfg)).toContain(field);
    }
    expect(thrown(() => buildAdapter({ type: 'prefixTuning', numVirtualTokens: 2 })).message).toContain(
      'transformer stack',
    );
  });
});

describe('prefixTuning: layout and parameters', () => {
  it('layer l’s keys and values are PEFT’s past_key_values[l] (view [P, 2L, H, dk], entries 2l and 2l+1)', () => {
    const a = new PrefixTuningAdapter({
      numVirtualTokens: 3,
      tokenDim: 8,
      numLayers: 2,
      numAttentionHeads: 2,
      rng: createRng(2),
    });
    const all = a.forward();
    expect(all.shape).toEqual([3, 2 * 2 * 8]);
    // PEFT: view(P, 2L, H, dk).permute(1, 2, 0, 3) → [2L, H, P, dk]; heads merged back → [2L, P, D].
    const peft = tf.tidy(() =>
      tf.reshape(tf.transpose(tf.reshape(all, [3, 4, 2, 4]), [1, 0, 2, 3]), [4, 3, 8]),
    );
    for (const l of [0, 1]) {
      const { k, v } = a.layerPrefix(l);
      expect(maxAbsDiff(k, tf.squeeze(tf.slice(peft, [2 * l, 0, 0], [1, 3, 8]), [0]))).toBe(0);
      expect(maxAbsDiff(v, tf.squeeze(tf.slice(peft, [2 * l + 1, 0, 0], [1, 3, 8]), [0]))).toBe(0);
    }
    expect(thrown(() => a.layerPrefix(2)).code).toBe('INVALID_INPUT');
    a.dispose();
  });

  it('B-335 parameter count: numLayers·2·P·dModel without projection, PEFT’s formula with it', () => {
    for (const numLayers of [1, 3]) {
      const lm = tinyLM(numLayers);
      const base = lm.numParameters();
      lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 5 });
      expect(lm.numParameters() - base).toBe(numLayers * 2 * 5 * D);
      expect(trainableParameterReport(lm).byAdapter.p).toBe(numLayers * 2 * 5 * D);
      // PEFT: embedding P·D, Linear D→H, Linear H→L·2·D (H defaults to D).
      for (const h of [null, 7]) {
        const name = h === null ? 'q' : 'r';
        lm.addAdapter(`decoder:${name}`, {
          type: 'prefixTuning',
          numVirtualTokens: 5,
          prefixProjection: true,
          ...(h === null ? {} : { encoderHiddenSize: h }),
        });
        const H = h ?? D;
        const peft = 5 * D + (D * H + H) + (H * numLayers * 2 * D + numLayers * 2 * D);
        expect(lm.getAdapterModule(name)!.numParameters()).toBe(peft);
        expect(trainableParameterReport(lm).byAdapter[name]).toBe(peft);
      }
      lm.dispose();
    }
  });

  it('B-334 with prefixProjection the trainable tensors are the embedding and the MLP; mergeAndUnloadPrefix stores the computed prefixes, drops the MLP, and keeps outputs within 1e-6', () => {
    const lm = tinyLM();
    lm.eval();
    lm.addAdapter('decoder:p', {
      type: 'prefixTuning',
      numVirtualTokens: 4,
      prefixProjection: true,
      encoderHiddenSize: 8,
    });
    const adapter = lm.getAdapterModule('p') as PrefixTuningAdapter;
    expect([...adapter.stateDict().keys()]).toEqual([
      'embedding.weight',
      'transform.0.weight',
      'transform.0.bias',
      'transform.2.weight',
      'transform.2.bias',
    ]);
    lm.freeze();
    lm.unfreezeEnabledAdapters();
    expect(lm.trainableParameters().length).toBe(5);
    const x = ids();
    const before = lm.forward(x);
    const expectedPrefixes = adapter.forward();
    const tensors = tf.memory().numTensors;
    expect(mergeAndUnloadPrefix(lm)).toEqual(['p']);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(tensors); // the MLP's tensors are freed
    expect([...adapter.stateDict().keys()]).toEqual(['embedding.weight']);
    expect(adapter.stateDict().get('embedding.weight')!.shape).toEqual([4, 2 * 2 * D]);
    expect(maxAbsDiff(adapter.forward(), expectedPrefixes)).toBe(0);
    expect(lm.trainableParameters().length).toBe(1);
    expect(maxAbsDiff(lm.forward(x), before)).toBeLessThan(1e-6);
    expect(lm.cfg.adapters!.p).toMatchObject({ prefixProjection: false, encoderHiddenSize: null });
    expect(lm.getAdapterModule('p')!.numParameters()).toBe(2 * 2 * 4 * D);

    // Saved after the merge, the adapter loads into a fresh model in the merged layout, bit for bit.
    const file = lm.saveAdapters('p');
    const fresh = tinyLM();
    fresh.eval();
    fresh.loadAdapters(file);
    expect(bytes(fresh.forward(x))).toEqual(bytes(lm.forward(x)));
    expect(mergeAndUnloadPrefix(fresh)).toEqual([]);
    fresh.dispose();
    lm.dispose();
  });
});
