/**
 * `npx tsx bench/js-kernels.ts [--only gelu,…] [--steps] [--ops gelu,sum,…]`: the JavaScript fused kernels against
 * TensorFlow.js's own decompositions on plain wasm (native kernels off, as with `ADAPTERKIT_NATIVE=0`),
 * at the bench model's shapes (batch 16 × 128 tokens, d_model 256, FFN 1024, vocabulary 96, 4 heads).
 *
 * Each op is timed forward + backward where it has a gradient, JS kernel on and off in alternation
 * (the order swapping every round) after warm-up rounds, and the medians and the median of the
 * per-round ratios printed. Forward-only rows measure the JS kernel in inference too, where the
 * library does not use GELU's and LayerNorm's (JS_TRAINING_ONLY_OPS).
 * `--steps` then times whole training steps (full, LinearAdapter, LoRA) with the JS kernels of
 * `--ops` (default: the kept set, JS_KERNEL_OPS) on and off, in alternation. Prints; writes nothing.
 */
import { initBackend } from '../src/backend/backend.js';
import { registerHeapKernels, unregisterHeapKernels } from '../src/backend/fused-kernels.js';
import { activateJsKernels, JS_KERNEL_OPS } from '../src/backend/js-kernels.js';
import { HEAP_OPS, type HeapOp } from '../src/backend/kernels/heap-kernels.js';
import { jsHeapKernels } from '../src/backend/kernels/js-heap-kernels.js';
import { softmaxLastAxis } from '../src/backend/kernels/softmax.js';
import { tf, type Tensor } from '../src/backend/tf.js';
import '../src/index.js';
import { PeftModel } from '../src/adapters/index.js';
import { CharLM, type CharLMConfig } from '../src/models/char-lm.js';
import { gelu } from '../src/nn/activations.js';
import { layerNorm } from '../src/nn/layers.js';
import { manualSeed } from '../src/rng.js';
import { AdamW } from '../src/train/adamw.js';
import { crossEntropy } from '../src/train/losses.js';

const CFG: CharLMConfig = { vocabSize: 96, dModel: 256, numLayers: 4, nHead: 4, dFF: 1024, maxLen: 128 };
const BATCH = 16;
const TOKENS = BATCH * CFG.maxLen;
const REPS = Number(process.env.BENCH_REPS ?? 9);
const STEP_REPS = Number(process.env.BENCH_STEP_REPS ?? 5);
const WARMUP = 15;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

await initBackend({ native: false, jsKernels: false });

/**
 * Times `run` (which returns what it made, to be read and disposed) with `op`'s JS kernel on (in
 * inference too, whatever JS_TRAINING_ONLY_OPS says) and off.
 */
function onOff(op: HeapOp, run: () => Tensor | Tensor[]): { on: number; off: number; ratio: number } {
  const time = (js: boolean) => {
    if (js) registerHeapKernels(jsHeapKernels, 'js', [op]);
    else unregisterHeapKernels();
    const t0 = performance.now();
    const out = run();
    for (const t of [out].flat()) t.dataSync();
    const ms = performance.now() - t0;
    tf.dispose(out);
    return ms;
  };
  // V8 optimises a kernel fully only after a dozen or more calls; a training run makes thousands.
  for (let i = 0; i < WARMUP; i++) {
    time(true);
    time(false);
  }
  const on: number[] = [];
  const off: number[] = [];
  for (let r = 0; r < REPS; r++) {
    if (r % 2) {
      on.push(time(true));
      off.push(time(false));
    } else {
      off.push(time(false));
      on.push(time(true));
    }
  }
  unregisterHeapKernels();
  return { on: median(on), off: median(off), ratio: median(on.map((x, i) => x / off[i]!)) };
}

const seeded = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
const ffn = seeded([BATCH, CFG.maxLen, CFG.dFF], 1);
const ffnDy = seeded([BATCH, CFG.maxLen, CFG.dFF], 2);
const hidden = seeded([BATCH, CFG.maxLen, CFG.dModel], 3);
const hiddenDy = seeded([BATCH, CFG.maxLen, CFG.dModel], 4);
const gamma = tf.variable(tf.ones([CFG.dModel]));
const beta = tf.variable(tf.zeros([CFG.dModel]));
const logits = seeded([BATCH, CFG.maxLen, CFG.vocabSize], 5);
const targets = tf.randomUniform([BATCH, CFG.maxLen], 0, CFG.vocabSize, 'int32', 6);
const scores = seeded([BATCH, CFG.nHead, CFG.maxLen, CFG.maxLen], 7);
const scoresDy = seeded([BATCH, CFG.nHead, CFG.maxLen, CFG.maxLen], 8);
const table = seeded([CFG.vocabSize, CFG.dModel], 9);
const ids = tf.randomUniform([TOKENS], 0, CFG.vocabSize, 'int32', 10);
const ffn2d = tf.reshape(ffn, [TOKENS, CFG.dFF]);
const hidden2d = tf.reshape(hidden, [TOKENS, CFG.dModel]);

// AdamW over the bench model's parameters (3.2 M), with fixed gradients.
manualSeed(0);
const model = new CharLM(structuredClone(CFG));
const named = model.namedParameters().filter(([, v]) => v.trainable);
const grads = Object.fromEntries(named.map(([k, v], i) => [k, seeded(v.shape, 100 + i)]));

type Case = [label: string, op: HeapOp, run: () => Tensor | Tensor[]];
const cases: Case[] = [
  [`GELU fwd+bwd [${ffn.shape}]`, 'gelu', () => tf.grad((x: Tensor) => gelu(x))(ffn, ffnDy) as Tensor],
  [`GELU fwd only (inference) [${ffn.shape}]`, 'gelu', () => gelu(ffn)],
  [
    `LayerNorm fwd+bwd [${hidden.shape}]`,
    'layerNorm',
    () => tf.grads((x: Tensor, g: Tensor, b: Tensor) => layerNorm(x, g, b))([hidden, gamma, beta], hiddenDy),
  ],
  [`LayerNorm fwd only [${hidden.shape}]`, 'layerNorm', () => layerNorm(hidden, gamma, beta)],
  [`Sum bias grad [${ffn2d.shape}] axis 0`, 'sum', () => tf.sum(ffn2d, 0)],
  [`Sum bias grad [${hidden2d.shape}] axis 0`, 'sum', () => tf.sum(hidden2d, 0)],
  [`Sum rows [${scores.shape}] last axis`, 'sum', () => tf.sum(scores, -1)],
  [`embedding gather ${TOKENS} × [${table.shape}]`, 'gather', () => tf.gather(table, ids)],
  [
    `cross-entropy fwd+bwd [${logits.shape}]`,
    'crossEntropy',
    () => {
      const { value, grads: g } = tf.valueAndGrads((l: Tensor) => crossEntropy(l, targets))([logits]);
      return [value, ...g];
    },
  ],
  [
    `softmax fwd+bwd [${scores.shape}]`,
    'softmaxGrad',
    () => tf.grad((x: Tensor) => softmaxLastAxis(x))(scores, scoresDy) as Tensor,
  ],
];

console.log(
  `JS kernels vs TensorFlow.js's decomposition on plain wasm (native off); median of ${REPS}, alternating; load ${loadAverage()}`,
);
console.log(`${'op'.padEnd(48)} ${'JS ms'.padStart(8)} ${'tfjs ms'.padStart(8)}  JS/tfjs`);
const print = (label: string, r: { on: number; off: number; ratio: number }) =>
  console.log(
    `${label.padEnd(48)} ${r.on.toFixed(1).padStart(8)} ${r.off.toFixed(1).padStart(8)}  ${r.ratio.toFixed(2)}`,
  );
// `--only gelu,adamw`: just those ops' rows.
const only = arg('--only')?.split(',');
for (const [label, op, run] of cases) if (!only || only.includes(op)) print(label, onOff(op, run));

// AdamW: the update mutates the model's variables; both sides do the same work each time.
if (!only || only.includes('adamw')) {
  const opt = new AdamW(named, { lr: 1e-4, weightDecay: 0.01 });
  print(
    `AdamW update, ${named.reduce((n, [, v]) => n + v.size, 0)} parameters`,
    onOff('adamw', () => {
      opt.step(grads);
      return [];
    }),
  );
  opt.dispose();
}
tf.dispose([ffn, ffnDy, hidden, hiddenDy, gamma, beta, logits, targets, scores, scoresDy, table, ids]);
tf.dispose([ffn2d, hidden2d, ...Object.values(grads)]);
model.dispose();

function loadAverage(): string {
  const os = process.getBuiltinModule?.('node:os') as typeof import('node:os') | undefined;
  return os
    ? os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(', ')
    : '?';
}

if (process.argv.includes('--steps')) {
  const raw = arg('--ops');
  const ops = raw ? (raw.split(',') as HeapOp[]) : [...JS_KERNEL_OPS];
  const unknown = ops.filter((o) => !(HEAP_OPS as readonly string[]).includes(o));
  if (unknown.length) throw new Error(`--ops: unknown ${unknown.join(', ')}; valid: ${HEAP_OPS.join(', ')}`);
  const fresh = () => {
    manualSeed(0);
    return new CharLM(structuredClone(CFG));
  };
  const adapterModel = () => {
    const m = fresh();
    m.addAdapter('a', { type: 'linear', inFeatures: CFG.dModel, dim: 32 });
    m.freeze();
    m.unfreezeEnabledAdapters();
    return m.train();
  };
  const loraModel = () => {
    const m = PeftModel.wrap(fresh(), {
      type: 'lora',
      r: 8,
      loraAlpha: 16,
      targetModules: ['q_proj', 'v_proj'],
    });
    m.train();
    return m as unknown as CharLM;
  };
  const sIds = tf.randomUniform([BATCH, CFG.maxLen], 0, CFG.vocabSize, 'int32', 1);
  const sTargets = tf.randomUniform([BATCH, CFG.maxLen], 0, CFG.vocabSize, 'int32', 2);
  console.log(
    `\ntraining steps, JS kernels [${ops.join(', ')}] on vs off; median of ${STEP_REPS}, alternating`,
  );
  for (const [label, make] of [
    ['full', fresh],
    ['LinearAdapter', adapterModel],
    ['LoRA', loraModel],
  ] as const) {
    const m = make();
    const params = m.namedParameters().filter(([, v]) => v.trainable);
    const opt = new AdamW(params, { lr: 1e-3 });
    const vars = params.map(([, v]) => v);
    const step = (js: boolean) => {
      if (js) activateJsKernels({ ops });
      else activateJsKernels({ enabled: false });
      const t0 = performance.now();
      tf.tidy(() => {
        const { value, grads: g } = tf.variableGrads(() => crossEntropy(m.forward(sIds), sTargets), vars);
        opt.step(g);
        value.dataSync();
      });
      return performance.now() - t0;
    };
    step(true);
    step(false);
    const on: number[] = [];
    const off: number[] = [];
    for (let r = 0; r < STEP_REPS; r++) {
      if (r % 2) {
        on.push(step(true));
        off.push(step(false));
      } else {
        off.push(step(false));
        on.push(step(true));
      }
    }
    print(`${label} step (2048 tokens)`, {
      on: median(on),
      off: median(off),
      ratio: median(on.map((x, i) => x / off[i]!)),
    });
    opt.dispose();
    m.dispose();
  }
  console.log(`load ${loadAverage()}`);
  tf.dispose([sIds, sTargets]);
  activateJsKernels({ enabled: false });
}
