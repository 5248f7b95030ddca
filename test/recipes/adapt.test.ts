import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { CharVocab } from '../../src/data/vocab.js';
import { CharLM } from '../../src/models/char-lm.js';
import {
  ADAPT_METHODS,
  ADAPTER_NAME,
  adaptCharLm,
  attachMethod,
  type AdaptMethod,
} from '../../src/recipes/adapt.js';
import { manualSeed } from '../../src/rng.js';
import { thrown, thrownAsync } from '../helpers.js';

const TEXT = Array.from({ length: 30 }, (_, i) => `line ${i % 4}: a dog ran by.\n`).join('');
const vocab = CharVocab.fromText(TEXT);
const ids = vocab.encode(TEXT);
const x = () => tf.tensor2d(ids.subarray(0, 8), [1, 8], 'int32');

function tinyLm(): CharLM {
  manualSeed(4);
  return new CharLM({ vocabSize: vocab.size, dModel: 8, numLayers: 1, nHead: 2, dFF: 16, maxLen: 16 });
}

const trainable = (m: { namedParameters(): Array<[string, { trainable: boolean }]> }) =>
  m
    .namedParameters()
    .filter(([, p]) => p.trainable)
    .map(([k]) => k);

const outputOf = (f: () => tf.Tensor) => tf.tidy(() => Array.from(f().dataSync()));

describe('attachMethod', () => {
  it('linear, parallel, prefix and mam add one adapter, train only it, and can run with it disabled', () => {
    for (const method of [
      { kind: 'linear', dim: 4 },
      { kind: 'parallel', dim: 4, scaling: 2 },
      { kind: 'prefix', numVirtualTokens: 3 },
      { kind: 'prefix', numVirtualTokens: 3, prefixProjection: true, encoderHiddenSize: 8 },
      { kind: 'mam', numVirtualTokens: 2, dim: 4, scaling: 4 },
    ] as AdaptMethod[]) {
      const model = tinyLm();
      const baseOut = outputOf(() => model.forward(x()));
      const attached = attachMethod(model, method);
      expect(attached.model).toBe(model);
      expect(attached.auxiliaryLosses).toBe(model);
      expect(model.getEnabledAdapters()).toEqual([ADAPTER_NAME]);
      const names = trainable(model);
      expect(names.length).toBeGreaterThan(0);
      expect(names.every((k) => k.includes(`.${ADAPTER_NAME}.`))).toBe(true);
      expect(model.training).toBe(true);
      model.eval();
      expect(attached.withAdapterDisabled!(() => outputOf(() => model.forward(x())))).toEqual(baseOut);
      expect(model.getEnabledAdapters()).toEqual([ADAPTER_NAME]); // re-enabled afterwards
      model.dispose();
    }
  });

  it('lora wraps the model in PEFT, trains only the LoRA factors, and has no auxiliary losses', () => {
    const model = tinyLm();
    model.eval();
    const baseOut = outputOf(() => model.forward(x()));
    const attached = attachMethod(model, {
      kind: 'lora',
      r: 2,
      alpha: 4,
      targetModules: ['q_proj', 'v_proj'],
    });
    expect(attached.peft).toBeDefined();
    expect(attached.model).toBe(attached.peft);
    expect(attached.auxiliaryLosses).toBeUndefined();
    const names = trainable(attached.peft!);
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((k) => /lora_[AB]/.test(k))).toBe(true);
    attached.peft!.eval();
    expect(attached.withAdapterDisabled!(() => outputOf(() => attached.model.forward(x())))).toEqual(baseOut);
    model.dispose();
  });

  it('vera wraps the model in PEFT, trains only the VeRA scaling vectors, and starts at the base output', () => {
    const model = tinyLm();
    model.eval();
    const baseOut = outputOf(() => model.forward(x()));
    const attached = attachMethod(model, { kind: 'vera', r: 16, targetModules: ['q_proj', 'fc1'] });
    expect(attached.peft!.peftConfigFor('default')).toMatchObject({
      type: 'vera',
      r: 16,
      projectionPrngKey: 0,
    });
    const names = trainable(attached.peft!);
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((k) => /vera_lambda_[bd]/.test(k))).toBe(true);
    attached.peft!.eval();
    expect(outputOf(() => attached.model.forward(x()))).toEqual(baseOut);
    expect(attached.withAdapterDisabled!(() => outputOf(() => attached.model.forward(x())))).toEqual(baseOut);
    model.dispose();
  });

  it('full trains every parameter, or those matching `trainable`; a pattern matching nothing is INVALID_CONFIG', () => {
    const model = tinyLm();
    const all = model.namedParameters().map(([k]) => k);
    model.freeze();
    const full = attachMethod(model, { kind: 'full' });
    expect(full.withAdapterDisabled).toBeUndefined();
    expect(full.auxiliaryLosses).toBe(model);
    expect(trainable(model)).toEqual(all);
    attachMethod(model, { kind: 'full', trainable: '\\.ffn\\.' });
    expect(trainable(model).length).toBeGreaterThan(0);
    expect(trainable(model).every((k) => k.includes('.ffn.'))).toBe(true);
    const err = thrown(() => attachMethod(model, { kind: 'full', trainable: 'nothing_like_this' }));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain("'nothing_like_this' matches no parameter path; paths look like");
    model.dispose();
  });

  it('an unknown method is INVALID_CONFIG listing the methods', () => {
    const model = tinyLm();
    const err = thrown(() => attachMethod(model, { kind: 'adaptr' } as unknown as AdaptMethod));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toBe(`adaptation method "adaptr" is not one of: ${ADAPT_METHODS.join(', ')}`);
    model.dispose();
  });
});

describe('adaptCharLm', () => {
  it('trains the attached method only and reports its size and losses', async () => {
    const model = tinyLm();
    const frozen = model
      .getChild('tok_emb')!
      .parameters()
      .map((p) => Array.from(p.dataSync()));
    const result = await adaptCharLm({
      model,
      method: { kind: 'linear', dim: 4 },
      ids,
      steps: 3,
      batch: 2,
      seqLen: 8,
      lr: 0.01,
      seed: 1,
    });
    expect(result.losses).toHaveLength(3);
    expect(result.trainableParams).toBe(model.numParameters({ trainableOnly: true }));
    expect(result.trainableParams).toBeLessThan(result.totalParams);
    expect(result.tokensPerSecond).toBeGreaterThan(0);
    expect(
      model
        .getChild('tok_emb')!
        .parameters()
        .map((p) => Array.from(p.dataSync())),
    ).toEqual(frozen);
    model.dispose();
  });

  it('rejects fewer than one step before touching the model', async () => {
    const model = tinyLm();
    const err = await thrownAsync(() =>
      adaptCharLm({
        model,
        method: { kind: 'linear', dim: 4 },
        ids,
        steps: 0,
        batch: 2,
        seqLen: 8,
        lr: 0.01,
        seed: 1,
      }),
    );
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toBe('adapt: steps must be ≥ 1, got 0');
    expect(model.getEnabledAdapters()).toEqual([]);
    model.dispose();
  });
});
