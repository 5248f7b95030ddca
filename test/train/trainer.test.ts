import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import { AdapterError } from '../../src/errors.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { BatchNorm1d, Dropout, Linear } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import '../../src/io/node-path-files.js'; // checkpointDir, saveCheckpoint, loadCheckpoint
import { createRng, manualSeed } from '../../src/rng.js';
import { decodeTrainerCheckpoint, encodeTrainerCheckpoint } from '../../src/train/checkpoint.js';
import { mseLoss } from '../../src/train/losses.js';
import { Trainer, type StepInfo, type TrainerOptions } from '../../src/train/trainer.js';

const tmpDirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'adapterkit-trainer-'));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

/** A frozen 4→4 feature layer, optional dropout, and a trainable 4→1 head. */
class Regressor extends Module {
  static override readonly typeName = 'Regressor';
  readonly base: Linear;
  readonly drop: Dropout;
  readonly head: Linear;
  constructor(p = 0) {
    super();
    this.base = this.registerModule('base', new Linear({ inFeatures: 4, outFeatures: 4 }));
    this.drop = this.registerModule('drop', new Dropout({ p }));
    this.head = this.registerModule('head', new Linear({ inFeatures: 4, outFeatures: 1 }));
  }
  override forward(x: Tensor): Tensor {
    return this.head.forward(this.drop.forward(tf.tanh(this.base.forward(x))));
  }
}

function buildModel(seed: number, p = 0): Regressor {
  manualSeed(seed);
  const m = new Regressor(p);
  for (const q of m.base.parameters()) q.trainable = false;
  return m;
}

interface Batch {
  x: Tensor;
  y: Tensor;
}

/** 32 rows, y = a fixed linear function of x. */
function makeData(): { x: Tensor; y: Tensor; micro: (k: number) => Batch[] } {
  const rng = createRng(123);
  const xs = Float32Array.from({ length: 32 * 4 }, () => rng.next() * 2 - 1);
  const ys = Float32Array.from({ length: 32 }, (_, i) => 0.7 * xs[4 * i]! - 0.4 * xs[4 * i + 1]! + 0.2);
  const x = tf.tensor2d(xs, [32, 4]);
  const y = tf.tensor2d(ys, [32, 1]);
  return {
    x,
    y,
    micro: (k) => {
      const n = 32 / k;
      return Array.from({ length: k }, (_, i) => ({ x: tf.slice(x, i * n, n), y: tf.slice(y, i * n, n) }));
    },
  };
}

const data = makeData();
const fullBatch: Batch = { x: data.x, y: data.y };
const mse = (b: Batch, m: Module) => mseLoss(m.forward(b.x), b.y);

function trainer(model: Module, extra: Partial<TrainerOptions<Batch>> = {}): Trainer<Batch> {
  return new Trainer<Batch>({
    model,
    loss: mse,
    optimizer: { lr: 0.05, weightDecay: 0.01 },
    maxSteps: 20,
    ...extra,
  });
}

const bits = (t: Tensor) => Buffer.from((t.dataSync() as Float32Array).slice().buffer).toString('hex');

describe('Trainer', () => {
  it('the loss falls on a tiny regression; frozen parameters are bit-identical and have no optimizer state', async () => {
    const model = buildModel(1);
    const frozenBefore = model.base.parameters().map(bits);
    const t = trainer(model, { maxSteps: 60, schedule: { warmupSteps: 5, minLr: 0.005 } });
    expect(t.trainablePaths()).toEqual(['head.weight', 'head.bias']);
    expect(Object.keys(t.optimizer.getState().params)).toEqual(['head.weight', 'head.bias']);
    const result = await t.fit(() => fullBatch);
    expect(result.stopReason).toBe('maxSteps');
    expect(result.losses).toHaveLength(60);
    expect(result.losses[59]!).toBeLessThan(result.losses[0]! * 0.2);
    expect(model.base.parameters().map(bits)).toEqual(frozenBefore);
    t.dispose();
    model.dispose();
  });

  it('keeps the tensor count flat over 50 steps (with clipping, accumulation and an auxiliary loss)', async () => {
    const model = new AuxModel(0.01);
    const micro = data.micro(2);
    const t = new Trainer<Batch>({
      model,
      loss: mse,
      optimizer: { lr: 0.01 },
      maxGradNorm: 0.5,
      gradAccumulationSteps: 2,
      auxiliaryLosses: model,
    });
    await t.fit((_s, k) => micro[k]!, { steps: 1 });
    const before = tf.memory().numTensors;
    await t.fit((_s, k) => micro[k]!, { steps: 51 });
    expect(t.step).toBe(51);
    expect(tf.memory().numTensors).toBe(before);
    t.dispose();
    model.dispose();
    tf.dispose(micro.flatMap((b) => [b.x, b.y]));
  });

  it('gradient accumulation over equal micro-batches equals the full-batch gradient', async () => {
    const full = buildModel(2);
    const { value, grads } = tf.variableGrads(
      () => mse(fullBatch, full) as tf.Scalar,
      full.trainableParameters(),
    );
    const want = new Map(
      full
        .namedParameters()
        .filter(([, p]) => p.trainable)
        .map(([k, p]) => [k, Array.from(grads[p.name]!.dataSync())]),
    );
    const fullLoss = value.dataSync()[0]!;
    tf.dispose([value, ...Object.values(grads).filter((g): g is Tensor => g !== null)]);

    const model = buildModel(2);
    const micro = data.micro(4);
    const seen = new Map<string, number[]>();
    const t = trainer(model, {
      gradAccumulationSteps: 4,
      onGradients: (g, step) => {
        if (step === 1) for (const [k, v] of g) seen.set(k, Array.from(v.dataSync()));
      },
    });
    const result = await t.fit((_s, k) => micro[k]!, { steps: 1 });
    expect([...seen.keys()]).toEqual([...want.keys()]);
    for (const [k, w] of want)
      seen.get(k)!.forEach((g, i) => expect(Math.abs(g - w[i]!)).toBeLessThan(1e-6 + 1e-5 * Math.abs(w[i]!)));
    expect(result.losses[0]).toBeCloseTo(fullLoss, 6);
    t.dispose();
    model.dispose();
    full.dispose();
    tf.dispose(micro.flatMap((b) => [b.x, b.y]));
  });

  it('resuming from a checkpoint reproduces the uninterrupted run bit for bit (with dropout and a seeded RNG)', async () => {
    const dir = tmp();
    const micro = data.micro(2);
    const source = (step: number, k: number) => micro[(step + k) % 2]!;
    const opts: Partial<TrainerOptions<Batch>> = {
      seed: 7,
      gradAccumulationSteps: 2,
      maxGradNorm: 1,
      schedule: { warmupSteps: 3, totalSteps: 20, minLr: 0.001 },
    };

    const a = buildModel(3, 0.25);
    const ta = trainer(a, { ...opts, checkpointEvery: 10, checkpointDir: dir });
    const ra = await ta.fit(source);
    expect(ra.step).toBe(20);
    expect(readdirSync(dir).sort()).toEqual([
      'checkpoint-00000010.safetensors',
      'checkpoint-00000020.safetensors',
    ]);

    const b = buildModel(3, 0.25);
    const tb = trainer(b, opts);
    await tb.loadCheckpoint(path.join(dir, 'checkpoint-00000010.safetensors'));
    expect(tb.step).toBe(10);
    expect(tb.losses).toEqual(ra.losses.slice(0, 10));
    const rb = await tb.fit(source);
    expect(rb.losses).toHaveLength(20);
    for (let i = 10; i < 20; i++) expect(Object.is(rb.losses[i], ra.losses[i])).toBe(true);
    for (const [k, p] of a.namedParameters()) expect(bits(b.stateDict().get(k)!), k).toBe(bits(p));

    // Without the RNG state, the dropout draws (and so the losses) differ: the RNG really is part of the state.
    const c = buildModel(3, 0.25);
    const tc = trainer(c, opts);
    const ckpt = decodeTrainerCheckpoint(readFileSync(path.join(dir, 'checkpoint-00000010.safetensors')));
    tc.restore({ ...ckpt, rngState: (ckpt.rngState! + 1) >>> 0 });
    const rc = await tc.fit(source);
    expect(rc.losses.slice(10)).not.toEqual(ra.losses.slice(10));

    for (const x of [ta, tb, tc]) x.dispose();
    for (const m of [a, b, c]) m.dispose();
    tf.dispose(micro.flatMap((m) => [m.x, m.y]));
  });

  it('checkpoints are valid safetensors files, written atomically, pruned with keepLastCheckpoints', async () => {
    const dir = tmp();
    const model = buildModel(4);
    const t = trainer(model, { checkpointEvery: 2, checkpointDir: dir, keepLastCheckpoints: 2, maxSteps: 7 });
    await t.fit(() => fullBatch);
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['checkpoint-00000004.safetensors', 'checkpoint-00000006.safetensors']); // no temp files left
    const parsed = parseSafetensors(new Uint8Array(readFileSync(path.join(dir, files[1]!))));
    expect([...parsed.tensors.keys()].sort()).toEqual(
      [
        'losses',
        'optimizer/head.bias/exp_avg',
        'optimizer/head.bias/exp_avg_sq',
        'optimizer/head.weight/exp_avg',
        'optimizer/head.weight/exp_avg_sq',
        'params/head.bias',
        'params/head.weight',
      ].sort(),
    );
    const ckpt = t.checkpoint();
    const round = decodeTrainerCheckpoint(encodeTrainerCheckpoint(ckpt));
    expect(round.losses).toEqual(ckpt.losses);
    expect(round.params.get('head.weight')!.data).toEqual(ckpt.params.get('head.weight')!.data);
    expect(round.optimizer.params['head.bias']!.step).toBe(7);

    // A model whose trainable parameters differ is rejected before anything changes.
    const other = buildModel(4);
    for (const p of other.base.parameters()) p.trainable = true;
    const to = trainer(other);
    const before = other.namedParameters().map(([, p]) => bits(p));
    const err = await to.loadCheckpoint(dir).then(
      () => null,
      (e: unknown) => e as AdapterError,
    );
    expect(err?.code).toBe('CHECKPOINT_MISMATCH');
    expect(err?.message).toContain("trainable parameter 'base.weight' is not in the checkpoint");
    expect(other.namedParameters().map(([, p]) => bits(p))).toEqual(before);
    expect(to.step).toBe(0);
    for (const x of [t, to]) x.dispose();
    for (const m of [model, other]) m.dispose();
  });

  it('checkpoints persistent buffers (batch-norm statistics) and restores them exactly', async () => {
    const build = () => {
      manualSeed(9);
      const m = new BnModel();
      return m;
    };
    const a = build();
    const ta = trainer(a);
    await ta.fit(() => fullBatch, { steps: 3 });
    const ckpt = ta.checkpoint();
    expect([...ckpt.buffers.keys()]).toEqual(['bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']);
    expect(ckpt.buffers.get('bn.num_batches_tracked')).toMatchObject({
      dtype: 'int32',
      data: Int32Array.from([3]),
    });
    const b = build();
    const tb = trainer(b);
    tb.restore(decodeTrainerCheckpoint(encodeTrainerCheckpoint(ckpt)));
    for (const [k, t] of a.stateDict())
      expect(bits(tf.cast(b.stateDict().get(k)!, 'float32')), k).toBe(bits(tf.cast(t, 'float32')));
    await ta.fit(() => fullBatch, { steps: 5 });
    await tb.fit(() => fullBatch, { steps: 5 });
    expect(tb.losses).toEqual(ta.losses);
    for (const x of [ta, tb]) x.dispose();
    for (const m of [a, b]) m.dispose();
  });

  it('a missing checkpoint path is a clear error', async () => {
    const model = buildModel(8);
    const t = trainer(model);
    await expect(t.loadCheckpoint(path.join(tmp(), 'nope'))).rejects.toThrow(
      /no such file or directory: .*nope/,
    );
    await expect(t.loadCheckpoint(tmp())).rejects.toThrow(/no checkpoint-\*\.safetensors file in/);
    t.dispose();
    model.dispose();
  });

  it('adds the model’s auxiliary losses inside the differentiated function', async () => {
    const lambda = 0.5;
    const model = new AuxModel(lambda);
    const ref = new AuxModel(0);
    ref.loadStateDict(model.stateDict());
    // Reference: d/dθ [mse + λ·Σ head.weight²], computed directly.
    const { grads } = tf.variableGrads(
      () => tf.add(mse(fullBatch, ref), tf.mul(lambda, tf.sum(tf.square(ref.lin.weight)))) as tf.Scalar,
      ref.trainableParameters(),
    );
    const want = Array.from(grads[ref.lin.weight.name]!.dataSync());
    tf.dispose(Object.values(grads).filter((g): g is Tensor => g !== null));
    let got: number[] = [];
    const t = new Trainer<Batch>({
      model,
      loss: mse,
      auxiliaryLosses: model,
      onGradients: (g) => (got = Array.from(g.get('lin.weight')!.dataSync())),
    });
    await t.fit(() => fullBatch, { steps: 1 });
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 5));
    expect(model.pending).toBeNull(); // collected with reset
    t.dispose();
    model.dispose();
    ref.dispose();
  });

  it('adds auxiliary losses only when the option names them: a source, true for the model, or a function', async () => {
    const lambda = 0.5;
    const gradOf = async (model: AuxModel, opts: Partial<TrainerOptions<Batch>>): Promise<number[]> => {
      let got: number[] = [];
      const t = new Trainer<Batch>({
        model,
        loss: mse,
        ...opts,
        onGradients: (g) => (got = Array.from(g.get('lin.weight')!.dataSync())),
      });
      await t.fit(() => fullBatch, { steps: 1 });
      t.dispose();
      return got;
    };
    const plain = new AuxModel(0);
    const want = await gradOf(plain, {});
    const withAux = await gradOf(new AuxModel(lambda), { auxiliaryLosses: true });
    const silent = new AuxModel(lambda);
    expect(await gradOf(silent, {})).toEqual(want); // not asked for: the registered loss is left alone
    expect(silent.pending).not.toBeNull();
    const byFn = new AuxModel(lambda);
    const fromFn = await gradOf(byFn, {
      auxiliaryLosses: () => byFn.collectAuxiliaryLosses({ reset: true }).total,
    });
    expect(fromFn).toEqual(withAux);
    expect(withAux.some((g, i) => Math.abs(g - want[i]!) > 1e-4)).toBe(true);
    for (const m of [plain, silent, byFn]) m.dispose();
  });

  it('evaluates in eval mode, restores every module’s mode, and stops early', async () => {
    const model = buildModel(5);
    model.base.eval(); // a frozen part kept in eval mode must stay there
    const modes: boolean[] = [];
    const metrics = [1.0, 0.8, 0.9, 0.85, 0.95, 0.7];
    const evalSteps: number[] = [];
    const t = trainer(model, {
      maxSteps: 100,
      evalEvery: 2,
      evalFn: (m, step) => {
        modes.push(m.training, (m as Regressor).head.training);
        evalSteps.push(step);
        return metrics[evalSteps.length - 1]!;
      },
      earlyStopping: { patience: 3 },
    });
    const r = await t.fit(() => fullBatch);
    expect(r.stopReason).toBe('earlyStopping');
    expect(evalSteps).toEqual([2, 4, 6, 8, 10]);
    expect(r.step).toBe(10);
    expect(r.bestMetric).toBe(0.8);
    expect(r.bestStep).toBe(4);
    expect(modes.every((m) => m === false)).toBe(true);
    expect(model.training).toBe(true);
    expect(model.head.training).toBe(true);
    expect(model.base.training).toBe(false);
    t.dispose();
    model.dispose();
  });

  it('reports progress through onStep and reads iterables until they end', async () => {
    const model = buildModel(6);
    const infos: StepInfo[] = [];
    const t = trainer(model, {
      schedule: { warmupSteps: 2, totalSteps: 4 },
      countTokens: (b) => b.x.shape[0]!,
      onStep: (i) => {
        infos.push(i);
      },
    });
    const r = await t.fit([fullBatch, fullBatch, fullBatch], { steps: 10 });
    expect(r.stopReason).toBe('dataExhausted');
    expect(infos.map((i) => i.step)).toEqual([1, 2, 3]);
    expect(infos.map((i) => i.lr)).toEqual([0.025, 0.05, 0.05]);
    expect(infos.map((i) => i.totalTokens)).toEqual([32, 64, 96]);
    expect(infos.every((i) => i.gradNorm === null && Number.isFinite(i.loss) && i.elapsedMs >= 0)).toBe(true);
    t.dispose();
    model.dispose();
  });

  it('a loss that is not 0-d is INVALID_INPUT, and the trainer and engine stay usable', async () => {
    const model = buildModel(10);
    let bad = true;
    const t = new Trainer<Batch>({
      model,
      loss: (b, m) => (bad ? (m.forward(b.x) as tf.Scalar) : mse(b, m)),
    });
    const before = tf.memory().numTensors;
    await expect(t.trainStep([fullBatch])).rejects.toThrow(
      /loss must return a 0-d tensor, got shape \[32, 1\]/,
    );
    expect(t.step).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    bad = false;
    const info = await t.trainStep([fullBatch]);
    expect(info.step).toBe(1);
    expect(Number.isFinite(info.loss)).toBe(true);
    t.dispose();
    model.dispose();
  });

  it('rejects bad options with INVALID_CONFIG naming the field', () => {
    const model = buildModel(7);
    expect(() => trainer(model, { gradAccumulationSteps: 0 })).toThrow(
      /gradAccumulationSteps must be an integer ≥ 1/,
    );
    expect(() => trainer(model, { evalEvery: 5 })).toThrow(/evalFn must be a function/);
    expect(() => trainer(model, { checkpointEvery: 5 })).toThrow(/checkpointDir must be a directory path/);
    const frozen = buildModel(7);
    frozen.freeze();
    expect(() => trainer(frozen)).toThrow(/has no trainable parameters/);
    model.dispose();
    frozen.dispose();
  });
});

/**
 * A linear model with an L2 auxiliary loss on its weight, registered during forward and returned by
 * `collectAuxiliaryLosses` (the model-level contract of SPEC §2.10).
 */
class AuxModel extends Module {
  static override readonly typeName = 'AuxModel';
  readonly lin: Linear;
  pending: Tensor | null = null;
  constructor(readonly lambda: number) {
    super();
    manualSeed(11);
    this.lin = this.registerModule('lin', new Linear({ inFeatures: 4, outFeatures: 1 }));
  }
  override forward(x: Tensor): Tensor {
    if (this.training && this.lambda > 0) {
      this.pending?.dispose();
      this.pending = tf.keep(tf.mul(this.lambda, tf.sum(tf.square(this.lin.weight))));
    }
    return this.lin.forward(x);
  }
  collectAuxiliaryLosses({ reset = false } = {}): { total: Tensor | 0 } {
    const total: Tensor | 0 = this.pending ? tf.add(this.pending, 0) : 0;
    if (reset) {
      this.pending?.dispose();
      this.pending = null;
    }
    return { total };
  }
}

/** Linear → BatchNorm1d → Linear: has persistent float and int32 buffers. */
class BnModel extends Module {
  static override readonly typeName = 'BnModel';
  readonly a = this.registerModule('a', new Linear({ inFeatures: 4, outFeatures: 3 }));
  readonly bn = this.registerModule('bn', new BatchNorm1d({ features: 3 }));
  readonly b = this.registerModule('b', new Linear({ inFeatures: 3, outFeatures: 1 }));
  override forward(x: Tensor): Tensor {
    return this.b.forward(this.bn.forward(this.a.forward(x)));
  }
}
