import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { CharVocab } from '../../src/data/vocab.js';
import { CharLM } from '../../src/models/char-lm.js';
import '../../src/node.js'; // file access for checkpointDir and resume
import { evaluateBpc, evaluateBpcAsync, lmLoss, trainLm } from '../../src/recipes/lm.js';
import { manualSeed } from '../../src/rng.js';
import { checkpointFileName } from '../../src/train/checkpoint.js';
import { crossEntropy, tokenNll } from '../../src/train/losses.js';
import { thrown, thrownAsync } from '../helpers.js';

const TEXT = Array.from({ length: 40 }, (_, i) => `row ${i % 5}: the cat sat on the mat.\n`).join('');
const vocab = CharVocab.fromText(TEXT);
const ids = vocab.encode(TEXT);

function tinyLm(seed = 1): CharLM {
  manualSeed(seed);
  return new CharLM({ vocabSize: vocab.size, dModel: 8, numLayers: 1, nHead: 2, dFF: 16, maxLen: 16 });
}

const base = { ids, batch: 4, seqLen: 16, lr: 0.01, seed: 3 };
const params = (m: CharLM) => m.namedParameters().map(([k, v]) => [k, Array.from(v.dataSync())]);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('lmLoss', () => {
  it('is the mean cross-entropy of the next characters', () => {
    const model = tinyLm();
    const inputs = Int32Array.from(ids.subarray(0, 8));
    const targets = Int32Array.from(ids.subarray(1, 9));
    const batch = {
      inputs,
      targets,
      starts: Int32Array.of(0),
      batch: 1,
      seqLen: 8,
      shape: [1, 8] as [number, number],
    };
    const got = lmLoss(batch, model).arraySync() as number;
    const want = tf.tidy(
      () =>
        crossEntropy(
          model.forward(tf.tensor2d(inputs, [1, 8], 'int32')),
          tf.tensor2d(targets, [1, 8], 'int32'),
        ).arraySync() as number,
    );
    expect(got).toBeCloseTo(want, 6);
    model.dispose();
  });
});

describe('trainLm', () => {
  it('lowers the loss, is reproducible for a seed and leaks no tensors', async () => {
    const run = async (model: CharLM) => {
      await trainLm({ ...base, model, steps: 1 }); // builds the model's per-length caches
      const before = tf.memory().numTensors;
      const losses = await trainLm({ ...base, model, steps: 12, warmupSteps: 2 });
      expect(tf.memory().numTensors).toBe(before);
      return losses;
    };
    const a = tinyLm();
    const lossesA = await run(a);
    expect(lossesA).toHaveLength(12);
    expect(lossesA[11]!).toBeLessThan(lossesA[0]!);
    const b = tinyLm();
    expect(await run(b)).toEqual(lossesA);
    expect(params(b)).toEqual(params(a));
    a.dispose();
    b.dispose();
  });

  it('adds the auxiliary losses it is given, and none by default', async () => {
    const a = tinyLm();
    const b = tinyLm();
    const plain = await trainLm({ ...base, model: a, steps: 1 });
    const withAux = await trainLm({ ...base, model: b, steps: 1, auxiliaryLosses: () => 5 });
    expect(withAux[0]!).toBeCloseTo(plain[0]! + 5, 4);
    a.dispose();
    b.dispose();
  });

  it('resumes from the newest checkpoint in checkpointDir', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'adapterkit-trainlm-'));
    dirs.push(dir);
    const first = tinyLm();
    const losses = await trainLm({ ...base, model: first, steps: 4, checkpointEvery: 2, checkpointDir: dir });
    expect(readdirSync(dir).sort()).toEqual([checkpointFileName(2), checkpointFileName(4)]);
    const again = tinyLm(9); // other initial weights: the checkpoint replaces them
    expect(await trainLm({ ...base, model: again, steps: 4, checkpointDir: dir, resume: true })).toEqual(
      losses,
    );
    expect(params(again)).toEqual(params(first));
    first.dispose();
    again.dispose();
  });

  it('rejects a step count below 1 and a learning rate that is not positive', async () => {
    const model = tinyLm();
    const steps = await thrownAsync(() => trainLm({ ...base, model, steps: 0 }));
    expect(steps.code).toBe('INVALID_CONFIG');
    expect(steps.message).toBe('trainLm: steps must be an integer ≥ 1, got 0');
    const lr = await thrownAsync(() => trainLm({ ...base, model, steps: 1, lr: 0 }));
    expect(lr.message).toBe('trainLm: the learning rate must be > 0, got 0');
    model.dispose();
  });
});

describe('evaluateBpc', () => {
  it('is the summed next-character NLL of every window over the target count, in bits, in eval mode', () => {
    const model = tinyLm();
    model.train();
    const seqLen = 16;
    let nats = 0;
    let count = 0;
    model.inEvalMode(() => {
      for (let s = 0; s + 1 < ids.length; s += seqLen) {
        const n = Math.min(seqLen, ids.length - 1 - s);
        nats += tf.tidy(
          () =>
            tf
              .sum(
                tokenNll(
                  model.forward(tf.tensor2d(ids.subarray(s, s + n), [1, n], 'int32')),
                  tf.tensor2d(ids.subarray(s + 1, s + 1 + n), [1, n], 'int32'),
                ),
              )
              .dataSync()[0]!,
        );
        count += n;
      }
    });
    const got = evaluateBpc(model, ids, { seqLen, batch: 3 });
    expect(got).toBeCloseTo(nats / count / Math.LN2, 4);
    expect(model.training).toBe(true); // mode restored
    model.dispose();
  });

  it('evaluateBpcAsync gives the same value and reports every batch; windows samples evenly', async () => {
    const model = tinyLm();
    const opts = { seqLen: 16, batch: 4 };
    const seen: Array<[number, number]> = [];
    const sync = evaluateBpc(model, ids, opts);
    expect(
      await evaluateBpcAsync(model, ids, {
        ...opts,
        onBatch: (done, total) => void seen.push([done, total]),
      }),
    ).toBe(sync);
    const total = seen[0]![1];
    expect(seen.map(([d]) => d)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    const sampled = evaluateBpc(model, ids, { ...opts, windows: 5 });
    expect(Number.isFinite(sampled)).toBe(true);
    expect(evaluateBpc(model, ids, { ...opts, windows: 5 })).toBe(sampled);
    model.dispose();
  });

  it('a text shorter than one window is INVALID_INPUT', () => {
    const model = tinyLm();
    const err = thrown(() => evaluateBpc(model, ids.subarray(0, 10), { seqLen: 16, batch: 2 }));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toContain('shorter than one window (17)');
    model.dispose();
  });
});
