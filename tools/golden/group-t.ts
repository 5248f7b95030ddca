/**
 * Golden runner for group T (training numerics): AdamW, global-norm clipping, learning-rate schedules,
 * cross-entropy / bits per character, gradient accumulation and a tiny MLP trained for a few steps.
 *
 * `runTrainingCase` accepts any case folder of these components: it reads the component's options from
 * `config`, its inputs from the `param`/`input` tensors, computes every quantity the component defines, and
 * compares each `expected.*` tensor the case lists with `|got − want| ≤ atol + rtol·|want|`. An unknown
 * component, an unsupported option or an expected tensor the component does not produce is a failure with
 * the reason, never a silent pass.
 */
import path from 'node:path';
import { tf, type Tensor, type Variable } from '../../src/backend/tf.js';
import { activationFn } from '../../src/nn/activations.js';
import { Linear } from '../../src/nn/layers.js';
import { Module, toVariable } from '../../src/nn/module.js';
import { AdamW, type AdamWParamGroup } from '../../src/train/adamw.js';
import { clipGradNorm } from '../../src/train/clip.js';
import { crossEntropy, mseLoss, tokenNll } from '../../src/train/losses.js';
import { constantLr, createSchedule, type LrSchedule } from '../../src/train/schedule.js';
import { Trainer } from '../../src/train/trainer.js';

/** A tensor as the runner's reader returns it. */
export interface GoldenTensor {
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

/** Reads every tensor of a file (the runner supplies it; the argument is the file's full path). */
export type ReadTensors = (file: string) => Map<string, GoldenTensor> | Promise<Map<string, GoldenTensor>>;

/** Result of one case. */
export interface CaseResult {
  ok: boolean;
  detail: string;
}

/** A computed value: shape and values (compared against the expected tensor of the same name). */
interface Got {
  shape: number[];
  data: ArrayLike<number>;
}

/** A failure with a reason that the runner reports as is. */
class CaseFailure extends Error {}

function fail(msg: string): never {
  throw new CaseFailure(msg);
}

interface CaseTensorSpec {
  name: string;
  role: string;
  file?: string;
  dtype?: string;
  shape?: number[];
}

/** Tensors of a case by name, with typed accessors. */
class Inputs {
  constructor(private readonly tensors: Map<string, GoldenTensor>) {}

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  get(name: string): GoldenTensor {
    const t = this.tensors.get(name);
    if (!t) fail(`input tensor '${name}' is not in the case`);
    return t;
  }

  /** A new float32 tf tensor. */
  float(name: string): Tensor {
    const t = this.get(name);
    return tf.tensor(Float32Array.from(t.data as ArrayLike<number>), t.shape, 'float32');
  }

  /** A new int32 tf tensor. */
  int(name: string): Tensor {
    const t = this.get(name);
    return tf.tensor(Int32Array.from(t.data as ArrayLike<number>), t.shape, 'int32');
  }

  /** Row `i` of a stacked `[steps, ...shape]` tensor, as a new float32 tensor. */
  row(name: string, i: number): Tensor {
    const t = this.get(name);
    const inner = t.shape.slice(1);
    const n = inner.reduce((a, b) => a * b, 1);
    if (i >= (t.shape[0] ?? 0)) fail(`'${name}' has ${t.shape[0]} rows; row ${i} was needed`);
    return tf.tensor(
      Float32Array.from(t.data as ArrayLike<number> as Float32Array).subarray(i * n, (i + 1) * n),
      inner,
      'float32',
    );
  }
}

function num(config: Record<string, unknown>, key: string, fallback?: number): number {
  const v = config[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v))
    fail(`config.${key} must be a finite number, got ${JSON.stringify(config[key])}`);
  return v;
}

function optionalNum(config: Record<string, unknown>, key: string): number | undefined {
  return config[key] === undefined || config[key] === null ? undefined : num(config, key);
}

function betasOf(config: Record<string, unknown>): [number, number] {
  const b = config.betas ?? [0.9, 0.999];
  if (!Array.isArray(b) || b.length !== 2 || !b.every((x) => typeof x === 'number'))
    fail(`config.betas must be [beta1, beta2], got ${JSON.stringify(b)}`);
  return [b[0], b[1]];
}

/** Rejects optimizer options whose non-default value this library does not implement. */
function checkOptimizerName(config: Record<string, unknown>): void {
  const name = config.optimizer;
  if (name !== undefined && name !== 'AdamW')
    fail(`config.optimizer ${JSON.stringify(name)} is not supported (only AdamW)`);
  for (const key of ['foreach', 'capturable', 'differentiable', 'fused']) {
    if (config[key] === true) fail(`config.${key} = true is not supported`);
  }
}

function adamwOptions(config: Record<string, unknown>) {
  checkOptimizerName(config);
  return {
    lr: num(config, 'lr', 1e-3),
    betas: betasOf(config),
    eps: num(config, 'eps', 1e-8),
    weightDecay: num(config, 'weightDecay', 1e-2),
    amsgrad: config.amsgrad === true,
    maximize: config.maximize === true,
  };
}

function paramNamesOf(config: Record<string, unknown>, specs: CaseTensorSpec[]): string[] {
  const names = config.paramNames;
  if (names === undefined) return specs.filter((s) => s.role === 'param').map((s) => s.name);
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string'))
    fail(`config.paramNames must be a list of names`);
  return names as string[];
}

/** Values of a tensor, as a Got. */
function got(t: Tensor): Got {
  return { shape: [...t.shape], data: Float32Array.from(t.dataSync() as ArrayLike<number>) };
}

function scalarGot(x: number): Got {
  return { shape: [], data: [x] };
}

/** Stacks per-step snapshots into `[steps, ...shape]`. */
function stack(rows: Got[]): Got {
  const inner = rows[0]?.shape ?? [];
  const n = inner.reduce((a, b) => a * b, 1);
  const data = new Float32Array(rows.length * n);
  rows.forEach((r, i) => data.set(Array.from(r.data), i * n));
  return { shape: [rows.length, ...inner], data };
}

/**
 * Emits per-step snapshots under `name`: stacked `[steps, ...]` when the case declares one more axis than a
 * snapshot has, else the last snapshot.
 */
function emitSeries(out: Map<string, Got>, specs: CaseTensorSpec[], name: string, rows: Got[]): void {
  if (rows.length === 0) return;
  const spec = specs.find((s) => s.name === name);
  const rank = rows[0]!.shape.length;
  if (spec?.shape && spec.shape.length === rank + 1) out.set(name, stack(rows));
  else out.set(name, rows[rows.length - 1]!);
}

// ---------------------------------------------------------------------------------------------------------------
// Components
// ---------------------------------------------------------------------------------------------------------------

type Component = (
  config: Record<string, unknown>,
  inputs: Inputs,
  specs: CaseTensorSpec[],
) => Promise<Map<string, Got>>;

/** AdamW on given parameters with given per-step gradients (`grads.<name>` row t−1 = gradient at step t). */
const adamwComponent: Component = async (config, inputs, specs) => {
  const names = paramNamesOf(config, specs);
  const opts = adamwOptions(config);
  const gradRows = names
    .filter((n) => inputs.has(`grads.${n}`))
    .map((n) => inputs.get(`grads.${n}`).shape[0] ?? 0);
  const steps = config.steps === undefined ? Math.max(0, ...gradRows) : num(config, 'steps');
  const lrs = config.lrs;
  if (lrs !== undefined && (!Array.isArray(lrs) || lrs.length < steps))
    fail(`config.lrs must list one learning rate per step (${steps})`);
  const vars = new Map<string, Variable>(names.map((n) => [n, toVariable(inputs.float(n), true)]));
  let groups: AdamWParamGroup[] | null = null;
  if (config.paramGroups !== undefined) {
    if (!Array.isArray(config.paramGroups))
      fail('config.paramGroups must be a list of {params, weightDecay?}');
    groups = (config.paramGroups as Array<{ params: string[]; weightDecay?: number }>).map((g) => ({
      params: g.params.map((n) => {
        const v = vars.get(n);
        if (!v) fail(`config.paramGroups names unknown parameter '${n}'`);
        return [n, v] as [string, Variable];
      }),
      ...(g.weightDecay !== undefined ? { weightDecay: g.weightDecay } : {}),
    }));
  }
  const noDecay = config.noDecay;
  if (noDecay !== undefined && (!Array.isArray(noDecay) || !noDecay.every((n) => typeof n === 'string')))
    fail('config.noDecay must be a list of parameter names');
  const opt = new AdamW(groups ?? [...vars.entries()], {
    ...opts,
    ...(noDecay ? { noDecay: (p: string) => (noDecay as string[]).includes(p) } : {}),
  });
  const out = new Map<string, Got>();
  try {
    const history = new Map<string, Got[]>(names.map((n) => [n, []]));
    for (let t = 0; t < steps; t++) {
      const grads = new Map<string, Tensor>();
      for (const n of names) if (inputs.has(`grads.${n}`)) grads.set(n, inputs.row(`grads.${n}`, t));
      try {
        opt.step(grads, Array.isArray(lrs) ? Number(lrs[t]) : opts.lr);
      } finally {
        tf.dispose([...grads.values()]);
      }
      for (const n of names) history.get(n)!.push(got(vars.get(n)!));
    }
    const state = opt.getState();
    for (const n of names) {
      emitSeries(out, specs, `expected.params.${n}`, history.get(n)!);
      out.set(`expected.final.${n}`, history.get(n)![steps - 1] ?? got(vars.get(n)!));
      const s = state.params[n]!;
      out.set(`expected.exp_avg.${n}`, { shape: s.shape, data: s.expAvg });
      out.set(`expected.exp_avg_sq.${n}`, { shape: s.shape, data: s.expAvgSq });
      if (s.maxExpAvgSq) out.set(`expected.max_exp_avg_sq.${n}`, { shape: s.shape, data: s.maxExpAvgSq });
      out.set(`expected.step.${n}`, scalarGot(s.step));
    }
  } finally {
    opt.dispose();
    tf.dispose([...vars.values()]);
  }
  return out;
};

/** clip_grad_norm_ over `grads.<name>`. */
const clipComponent: Component = async (config, inputs, specs) => {
  const names =
    config.paramNames !== undefined
      ? paramNamesOf(config, specs)
      : specs
          .filter((s) => s.role === 'input' && s.name.startsWith('grads.'))
          .map((s) => s.name.slice('grads.'.length));
  const rawType = config.normType ?? 2;
  const normType =
    rawType === 'inf' || rawType === 'Infinity'
      ? Infinity
      : typeof rawType === 'number'
        ? rawType
        : fail(`config.normType ${JSON.stringify(rawType)} is not a number or 'inf'`);
  if (config.errorIfNonfinite === true) fail('config.errorIfNonfinite = true is not supported');
  const grads = new Map<string, Tensor>(names.map((n) => [n, inputs.float(`grads.${n}`)]));
  try {
    const r = clipGradNorm(grads, num(config, 'maxNorm'), { normType, eps: num(config, 'epsilon', 1e-6) });
    const out = new Map<string, Got>([
      ['expected.total_norm', scalarGot(r.totalNorm)],
      ['expected.clip_coef', scalarGot(r.clipCoef)],
    ]);
    for (const n of names) out.set(`expected.grads.${n}`, got(r.grads.get(n)!));
    tf.dispose([...r.grads.values()].filter((t): t is Tensor => t !== null));
    return out;
  } finally {
    tf.dispose([...grads.values()]);
  }
};

/** Learning rate at each index of the `steps` tensor. */
const scheduleComponent: Component = async (config, inputs) => {
  const type = config.schedule ?? config.type;
  let schedule: LrSchedule;
  if (type === 'linearWarmupCosine') {
    schedule = createSchedule({
      type: 'linearWarmupCosine',
      baseLr: num(config, 'baseLr'),
      warmupSteps: num(config, 'warmupSteps'),
      totalSteps: num(config, 'totalSteps'),
      minLr: num(config, 'minLr', 0),
    });
  } else if (type === 'constant') {
    schedule = constantLr(num(config, 'baseLr', config.lr as number));
  } else {
    fail(`config.schedule ${JSON.stringify(type)} is not one of: linearWarmupCosine, constant`);
  }
  const steps = Array.from(inputs.get('steps').data as ArrayLike<number>);
  return new Map([
    ['expected.lr', { shape: [steps.length], data: Float32Array.from(steps, (s) => schedule(s)) }],
  ]);
};

/** Token nll, mean nats and bits per character. */
const crossEntropyComponent: Component = async (config, inputs) => {
  if (config.maskMeaning !== undefined && config.maskMeaning !== 'true = padding')
    fail(`config.maskMeaning ${JSON.stringify(config.maskMeaning)} is not supported (only "true = padding")`);
  const logits = inputs.float('logits');
  const targets = inputs.int('targets');
  const mask = inputs.has('mask') ? inputs.int('mask') : null;
  const ignoreIndex = optionalNum(config, 'ignoreIndex');
  const opts = { mask, ...(ignoreIndex !== undefined ? { ignoreIndex } : {}) };
  try {
    const nll = tokenNll(logits, targets, opts);
    const loss = crossEntropy(logits, targets, opts);
    const nats = loss.dataSync()[0]!;
    const out = new Map<string, Got>([
      ['expected.token_nll', got(nll)],
      ['expected.loss_nats', scalarGot(nats)],
      ['expected.bpc', scalarGot(nats / Math.LN2)],
    ]);
    tf.dispose([nll, loss]);
    return out;
  } finally {
    tf.dispose([logits, targets, ...(mask ? [mask] : [])]);
  }
};

// --- models for gradient accumulation and MLP training -----------------------------------------------------------

interface BuiltModel {
  model: Module;
  forward: (x: Tensor) => Tensor;
}

const LINEAR_SPEC = /^Linear\(\s*(\d+)\s*,\s*(\d+)\s*(?:,\s*bias\s*=\s*(True|False|true|false)\s*)?\)$/;
/** `GELU(exact)`, `ReLU()`, `gelu(approximate='tanh')` … → a function; `null` when unknown. */
function activationFromSpec(spec: string): ((x: Tensor) => Tensor) | null {
  const key = spec.replace(/\s+/g, '').toLowerCase().replace(/["']/g, '').replace(/\(\)$/, '');
  if (['gelu', 'gelu(exact)', 'gelu(none)', 'gelu(approximate=none)', 'gelu(erf)'].includes(key))
    return activationFn('gelu');
  if (['gelu(tanh)', 'gelu(approximate=tanh)'].includes(key)) {
    const c = Math.sqrt(2 / Math.PI);
    return (x) =>
      tf.tidy(() =>
        tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(c, tf.add(x, tf.mul(0.044715, tf.pow(x, 3))))))),
      );
  }
  if (key === 'tanh') return (x) => tf.tanh(x);
  if (key === 'sigmoid') return (x) => tf.sigmoid(x);
  if (['relu', 'selu', 'silu', 'swish', 'identity', 'hardtanh'].includes(key)) return activationFn(key);
  return null;
}

/** Registers `module` under a possibly dotted path (`layers.0`), creating plain parent modules as needed. */
function registerAt(root: Module, dotted: string, module: Module): void {
  const parts = dotted.split('.');
  let parent = root;
  for (const part of parts.slice(0, -1))
    parent = parent.getChild(part) ?? parent.registerModule(part, new Module());
  parent.registerModule(parts[parts.length - 1]!, module);
}

/**
 * Builds `Linear` / activation layers from specs such as `Linear(8,16)`, `GELU(exact)`. The i-th Linear
 * is registered under the i-th distinct prefix of `paramNames` (`fc1` for `fc1.weight`), so the module's
 * state-dict keys are the case's parameter names; a single Linear with unprefixed names is the model itself.
 */
function buildModel(layers: string[], paramNames: string[]): BuiltModel {
  const prefixes: string[] = [];
  for (const n of paramNames) {
    const i = n.lastIndexOf('.');
    const pre = i < 0 ? '' : n.slice(0, i);
    if (!prefixes.includes(pre)) prefixes.push(pre);
  }
  const fns: Array<(x: Tensor) => Tensor> = [];
  const linears: Array<[string, Linear]> = [];
  for (const spec of layers) {
    const m = LINEAR_SPEC.exec(spec.trim());
    if (m) {
      const pre = prefixes[linears.length];
      if (pre === undefined)
        fail(`model layer ${spec} has no parameter names in config.paramNames (${paramNames.join(', ')})`);
      const hasBias = paramNames.includes(pre ? `${pre}.bias` : 'bias');
      if (m[3] !== undefined && /^true$/i.test(m[3]) !== hasBias)
        fail(`model layer ${spec} disagrees with paramNames about its bias`);
      const lin = new Linear({ inFeatures: Number(m[1]), outFeatures: Number(m[2]), bias: hasBias });
      linears.push([pre, lin]);
      fns.push((x) => lin.forward(x));
      continue;
    }
    const act = activationFromSpec(spec);
    if (!act)
      fail(
        `model layer ${JSON.stringify(spec)} is not supported (Linear(in,out) or an activation: GELU, GELU(tanh), ReLU, Tanh, Sigmoid, SiLU, SELU, Hardtanh, Identity)`,
      );
    fns.push(act);
  }
  if (linears.length !== prefixes.length)
    fail(`the model has ${linears.length} Linear layers but paramNames name ${prefixes.length} modules`);
  let model: Module;
  if (linears.length === 1 && linears[0]![0] === '') model = linears[0]![1];
  else {
    if (linears.some(([p]) => p === ''))
      fail(`parameter names ${paramNames.join(', ')} cannot be mapped onto ${linears.length} Linear layers`);
    model = new Module();
    for (const [p, lin] of linears) registerAt(model, p, lin);
  }
  return { model, forward: (x) => fns.reduce((h, f) => f(h), x) };
}

function modelFromConfig(config: Record<string, unknown>, names: string[]): BuiltModel {
  const m = config.model;
  if (m === 'linear')
    return buildModel([`Linear(${num(config, 'inFeatures')},${num(config, 'outFeatures')})`], names);
  if (m !== null && typeof m === 'object' && Array.isArray((m as { layers?: unknown }).layers)) {
    return buildModel((m as { layers: string[] }).layers, names);
  }
  return fail(`config.model ${JSON.stringify(m)} is not supported ('linear' or {layers: [...]})`);
}

type LossFn = (pred: Tensor, y: Tensor) => tf.Scalar;

function lossFromConfig(config: Record<string, unknown>): { fn: LossFn; targetsInt: boolean } {
  switch (config.loss) {
    case 'mse_mean':
    case 'mse':
    case 'mseMean':
      return { fn: (p, y) => mseLoss(p, y), targetsInt: false };
    case 'crossEntropyMean':
    case 'cross_entropy_mean':
    case 'crossEntropy':
      return { fn: (p, y) => crossEntropy(p, y), targetsInt: true };
    default:
      return fail(`config.loss ${JSON.stringify(config.loss)} is not one of: mse_mean, crossEntropyMean`);
  }
}

function scheduleFromConfig(config: Record<string, unknown>, lr: number): LrSchedule {
  const s = config.lrSchedule ?? config.scheduleConfig;
  if (s === undefined) return constantLr(lr);
  if (s === null || typeof s !== 'object') fail(`config.lrSchedule must be an object`);
  const c = s as Record<string, unknown>;
  const type = c.schedule ?? c.type;
  if (type === 'linearWarmupCosine') {
    return createSchedule({
      type,
      baseLr: num(c, 'baseLr', lr),
      warmupSteps: num(c, 'warmupSteps'),
      totalSteps: num(c, 'totalSteps'),
      minLr: num(c, 'minLr', 0),
    });
  }
  if (type === 'constant') return constantLr(num(c, 'baseLr', lr));
  return fail(`config.lrSchedule type ${JSON.stringify(type)} is not one of: linearWarmupCosine, constant`);
}

function loadParams(model: Module, inputs: Inputs, names: string[]): void {
  const sd = new Map<string, Tensor>(names.map((n) => [n, inputs.float(n)]));
  try {
    model.loadStateDict(sd, { strict: true });
  } finally {
    tf.dispose([...sd.values()]);
  }
}

/** Gradients and loss of `lossOf()` with respect to the model's parameters, by parameter path. */
function gradientsByPath(model: Module, lossOf: () => tf.Scalar): { loss: number; grads: Map<string, Got> } {
  const named = model.namedParameters();
  const { value, grads } = tf.variableGrads(
    lossOf,
    named.map(([, p]) => p),
  );
  const out = new Map<string, Got>();
  for (const [path, p] of named) {
    const g = grads[p.name];
    if (g) out.set(path, got(g));
  }
  const loss = value.dataSync()[0]!;
  tf.dispose([value, ...Object.values(grads).filter((g): g is Tensor => g !== null)]);
  return { loss, grads: out };
}

/** Consecutive row ranges of the micro-batches. */
function microBatchRanges(config: Record<string, unknown>, rows: number): Array<[number, number]> {
  let sizes: number[];
  if (Array.isArray(config.microBatchSizes)) sizes = (config.microBatchSizes as unknown[]).map(Number);
  else {
    const k = num(config, 'microBatches');
    const size = config.microBatchSize === undefined ? rows / k : num(config, 'microBatchSize');
    sizes = Array.from({ length: k }, () => size);
  }
  if (!sizes.every((s) => Number.isInteger(s) && s > 0))
    fail(`micro-batch sizes must be positive integers, got ${sizes.join(', ')}`);
  if (sizes.reduce((a, b) => a + b, 0) !== rows)
    fail(`micro-batch sizes ${sizes.join(', ')} do not add up to the ${rows} rows of x`);
  const out: Array<[number, number]> = [];
  let start = 0;
  for (const s of sizes) {
    out.push([start, s]);
    start += s;
  }
  return out;
}

interface Batch {
  x: Tensor;
  y: Tensor;
}

/**
 * Trains `model` with the library's Trainer (AdamW, constant or configured lr, optional clipping), recording
 * losses, per-step gradients (as the optimizer saw them) and per-step parameters.
 */
async function trainWithTrainer(
  built: BuiltModel,
  config: Record<string, unknown>,
  lossFn: LossFn,
  batchesPerStep: Batch[],
  steps: number,
): Promise<{ losses: number[]; grads: Array<Map<string, Got>>; params: Array<Map<string, Got>> }> {
  const opts = adamwOptions(config);
  const grads: Array<Map<string, Got>> = [];
  const params: Array<Map<string, Got>> = [];
  const maxGradNorm = optionalNum(config, 'maxGradNorm');
  const trainer = new Trainer<Batch>({
    model: built.model,
    loss: (b) => lossFn(built.forward(b.x), b.y),
    optimizer: opts,
    schedule: scheduleFromConfig(config, opts.lr),
    gradAccumulationSteps: batchesPerStep.length,
    maxGradNorm: maxGradNorm ?? null,
    maxSteps: steps,
    onGradients: (g) => grads.push(new Map([...g].map(([k, t]) => [k, got(t)]))),
    onStep: () => {
      params.push(new Map(built.model.namedParameters().map(([k, p]) => [k, got(p)])));
    },
  });
  try {
    const result = await trainer.fit((_step, micro) => batchesPerStep[micro]!);
    if (result.step !== steps)
      fail(`the trainer stopped after ${result.step} of ${steps} steps (${result.stopReason})`);
    return { losses: result.losses, grads, params };
  } finally {
    trainer.dispose();
  }
}

/** Micro-batch losses and gradients, their mean, and the AdamW step(s) taken with the accumulated gradient. */
const gradAccumulationComponent: Component = async (config, inputs, specs) => {
  const names = paramNamesOf(config, specs);
  const built = modelFromConfig(config, names);
  const { fn: lossFn, targetsInt } = lossFromConfig(config);
  const x = inputs.float('x');
  const y = targetsInt ? inputs.int('y') : inputs.float('y');
  const ranges = microBatchRanges(config, x.shape[0]!);
  const micro: Batch[] = ranges.map(([s, n]) => ({ x: tf.slice(x, s, n), y: tf.slice(y, s, n) }));
  try {
    loadParams(built.model, inputs, names);
    const out = new Map<string, Got>();
    const perMicro = micro.map((b) => gradientsByPath(built.model, () => lossFn(built.forward(b.x), b.y)));
    out.set('expected.microbatch_losses', {
      shape: [perMicro.length],
      data: Float32Array.from(perMicro, (m) => m.loss),
    });
    for (const n of names) {
      const rows = perMicro.map((m) => m.grads.get(n) ?? fail(`no gradient reached parameter '${n}'`));
      out.set(`expected.microbatch_grads.${n}`, stack(rows));
    }
    const steps = config.steps === undefined ? 1 : num(config, 'steps');
    const trained = await trainWithTrainer(built, config, lossFn, micro, steps);
    emitSeries(out, specs, 'expected.loss', trained.losses.map(scalarGot));
    emitSeries(out, specs, 'expected.losses', trained.losses.map(scalarGot));
    for (const n of names) {
      emitSeries(
        out,
        specs,
        `expected.grad.${n}`,
        trained.grads.map((g) => g.get(n) ?? fail(`no accumulated gradient for '${n}'`)),
      );
      emitSeries(
        out,
        specs,
        `expected.params.${n}`,
        trained.params.map((p) => p.get(n)!),
      );
    }
    return out;
  } finally {
    tf.dispose([x, y, ...micro.flatMap((b) => [b.x, b.y])]);
    built.model.dispose();
  }
};

/** Full-batch training for a few steps: losses, first-step gradients, parameters after step 1 and at the end. */
const mlpTrainingComponent: Component = async (config, inputs, specs) => {
  const names = paramNamesOf(config, specs);
  const built = modelFromConfig(config, names);
  const { fn: lossFn, targetsInt } = lossFromConfig(config);
  const x = inputs.float('x');
  const y = targetsInt ? inputs.int('y') : inputs.float('y');
  const batch: Batch = { x, y };
  try {
    loadParams(built.model, inputs, names);
    const steps = num(config, 'steps');
    const trained = await trainWithTrainer(built, config, lossFn, [batch], steps);
    const out = new Map<string, Got>();
    out.set('expected.losses', { shape: [trained.losses.length], data: Float64Array.from(trained.losses) });
    const final = tf.tidy(() => lossFn(built.forward(x), y));
    out.set('expected.final_loss', scalarGot(final.dataSync()[0]!));
    final.dispose();
    for (let s = 0; s < steps; s++) {
      for (const n of names) {
        const g = trained.grads[s]?.get(n);
        if (g) out.set(`expected.grads_step${s + 1}.${n}`, g);
        const p = trained.params[s]?.get(n);
        if (p) out.set(`expected.after_step${s + 1}.${n}`, p);
      }
    }
    for (const n of names) {
      const p = trained.params[steps - 1]?.get(n);
      if (p) out.set(`expected.final.${n}`, p);
    }
    return out;
  } finally {
    tf.dispose([x, y]);
    built.model.dispose();
  }
};

const COMPONENTS: Record<string, Component> = {
  AdamW: adamwComponent,
  clipGradNorm: clipComponent,
  lrSchedule: scheduleComponent,
  crossEntropyBpc: crossEntropyComponent,
  gradAccumulation: gradAccumulationComponent,
  mlpTraining: mlpTrainingComponent,
};

// ---------------------------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------------------------

function compare(
  name: string,
  g: Got,
  want: GoldenTensor,
  atol: number,
  rtol: number,
  worstSeen: { diff: number; name: string },
): string | null {
  const ws = want.shape;
  if (g.shape.length !== ws.length || g.shape.some((d, i) => d !== ws[i])) {
    return `${name}: shape [${g.shape.join(', ')}] computed, [${ws.join(', ')}] expected`;
  }
  let bad = 0;
  let first = '';
  let worst = 0;
  for (let i = 0; i < want.data.length; i++) {
    const w = Number(want.data[i]);
    const v = Number(g.data[i]);
    const ok = Number.isNaN(w) ? Number.isNaN(v) : w === v || Math.abs(v - w) <= atol + rtol * Math.abs(w);
    if (!ok) {
      if (bad === 0) first = `first at flat index ${i}: got ${v}, want ${w}`;
      bad++;
    }
    if (Number.isFinite(w) && Number.isFinite(v)) worst = Math.max(worst, Math.abs(v - w));
  }
  if (worst > worstSeen.diff) Object.assign(worstSeen, { diff: worst, name });
  return bad
    ? `${name}: ${bad}/${want.data.length} elements outside atol ${atol} + rtol ${rtol}·|want| (${first}; max |diff| ${worst.toExponential(3)})`
    : null;
}

/** A group T `case.json`, as the runner reads it; each field is checked where it is used. */
export interface TrainingCase {
  name?: unknown;
  group?: unknown;
  config?: unknown;
  tensors?: unknown;
  tolerance?: { atol?: unknown; rtol?: unknown } | null;
}

/**
 * Runs one group-T case: dispatches on `config.component`, then compares every `expected.*` tensor of the case.
 *
 * @param caseDir - The case folder (tensor files are read from here).
 * @param caseJson - The parsed `case.json`.
 * @param readTensors - Reads all tensors of a file, given its full path.
 */
export async function runTrainingCase(
  caseDir: string,
  caseJson: TrainingCase,
  readTensors: ReadTensors,
): Promise<CaseResult> {
  const startTensors = tf.memory().numTensors;
  try {
    if (caseJson === null || typeof caseJson !== 'object') fail('case.json is not an object');
    const config = caseJson.config as Record<string, unknown>;
    if (config === null || typeof config !== 'object') fail('case.json has no config object');
    const component = config.component;
    const run =
      typeof component === 'string' && Object.hasOwn(COMPONENTS, component) ? COMPONENTS[component]! : null;
    if (!run)
      fail(
        `unknown component ${JSON.stringify(component)}; group T components: ${Object.keys(COMPONENTS).join(', ')}`,
      );
    const specs = caseJson.tensors as CaseTensorSpec[];
    if (!Array.isArray(specs)) fail('case.json has no tensors list');
    const tol = caseJson.tolerance;
    if (!tol || typeof tol.atol !== 'number' || typeof tol.rtol !== 'number')
      fail('case.json has no tolerance {atol, rtol}');

    const files = new Map<string, Map<string, GoldenTensor>>();
    const all = new Map<string, GoldenTensor>();
    for (const spec of specs) {
      const file = spec.file ?? 'tensors.safetensors';
      if (!files.has(file)) files.set(file, await readTensors(path.join(caseDir, file)));
      const t = files.get(file)!.get(spec.name);
      if (!t) fail(`tensor '${spec.name}' is listed in case.json but missing from ${file}`);
      if (
        spec.shape &&
        (spec.shape.length !== t.shape.length || spec.shape.some((d, i) => d !== t.shape[i]))
      ) {
        fail(
          `tensor '${spec.name}': case.json says shape [${spec.shape.join(', ')}], ${file} holds [${t.shape.join(', ')}]`,
        );
      }
      all.set(spec.name, t);
    }
    const inputs = new Inputs(
      new Map([...all].filter(([n]) => specs.some((s) => s.name === n && s.role !== 'expected'))),
    );
    const computed = await run(config, inputs, specs);

    const expected = specs.filter((s) => s.role === 'expected');
    if (expected.length === 0) fail('the case lists no expected tensors');
    const problems: string[] = [];
    const worst = { diff: 0, name: '' };
    for (const spec of expected) {
      const g = computed.get(spec.name);
      if (!g) {
        problems.push(`${spec.name}: not computed by component ${component}`);
        continue;
      }
      const p = compare(spec.name, g, all.get(spec.name)!, tol.atol, tol.rtol, worst);
      if (p) problems.push(p);
    }
    // Reported, not failed: the numbers are the contract here, and a concurrent caller could move the count.
    // test/train checks the tensor count of every component strictly.
    const leaked = tf.memory().numTensors - startTensors;
    const leakText = leaked !== 0 ? `; note: the tensor count changed by ${leaked} during the run` : '';
    if (problems.length) return { ok: false, detail: `${component}: ${problems.join('; ')}${leakText}` };
    const worstText =
      (worst.name ? `; max |diff| ${worst.diff.toExponential(2)} in ${worst.name}` : '') + leakText;
    return {
      ok: true,
      detail: `${component}: ${expected.length} expected tensor(s) within atol ${tol.atol}, rtol ${tol.rtol}${worstText}`,
    };
  } catch (e) {
    const msg = e instanceof CaseFailure ? e.message : `error: ${(e as Error)?.stack ?? String(e)}`;
    return { ok: false, detail: msg };
  }
}
