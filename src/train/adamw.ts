/**
 * AdamW with decoupled weight decay, as `torch.optim.AdamW` (PyTorch 1.13). TensorFlow.js has no AdamW, and
 * `tf.train.adam` adds eps to √v before the bias correction, which differs from PyTorch when gradients are
 * near eps; this optimizer follows PyTorch exactly.
 */
import { tf, type Tensor, type Variable } from '../backend/tf.js';
import { AdapterError, check } from '../errors.js';
import { heapKernelActive } from '../backend/kernels/heap-kernels.js';
import { nativeAdamWUpdate } from '../backend/kernels/adamw.js';
import { fmtShape, toVariable } from '../nn/module.js';

/** Options of {@link AdamW}; defaults are PyTorch's. */
export interface AdamWOptions {
  /** Learning rate used when `step` is called without one. Default 1e-3. */
  lr?: number;
  /** Coefficients of the running averages of the gradient and its square. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to √v̂ (after the bias correction). Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay factor: each step first does `p -= lr · weightDecay · p`. Default 1e-2. */
  weightDecay?: number;
  /** Use the maximum of all second moments so far (AMSGrad). Default false. */
  amsgrad?: boolean;
  /** Maximise the objective instead of minimising it. Default false. */
  maximize?: boolean;
  /**
   * Parameters for which this returns true get no weight decay (e.g. biases and norm gains; see
   * {@link noDecayBiasAndNorm}). Default: every parameter decays, as PyTorch with one parameter group.
   */
  noDecay?: (path: string, param: Variable) => boolean;
}

/** Parameters as `[path, variable]` pairs (e.g. filtered `module.namedParameters()`), a Map, or bare variables (keyed by `variable.name`). */
export type OptimizerParams =
  ReadonlyArray<readonly [string, Variable]> | ReadonlyMap<string, Variable> | readonly Variable[];

/** A set of parameters sharing a weight decay (PyTorch's parameter group). */
export interface AdamWParamGroup {
  params: OptimizerParams;
  /** Overrides the optimizer's `weightDecay` (and `noDecay`) for this group. */
  weightDecay?: number;
}

/**
 * Gradients for {@link AdamW.step}: a Map keyed by variable, a Map keyed by parameter path or variable
 * name, or a plain object keyed by variable name (what `tf.variableGrads` returns). `null` or missing
 * entries mean "no gradient": that parameter is skipped entirely this step (no decay, no state change), as
 * PyTorch skips parameters whose `.grad` is None.
 */
export type GradientInput =
  | ReadonlyMap<Variable, Tensor | null>
  | ReadonlyMap<string, Tensor | null>
  | Readonly<Record<string, Tensor | null>>;

/** Serialisable optimizer state of one parameter (PyTorch's `state[p]`). */
export interface AdamWParamState {
  /** Updates applied to this parameter so far. */
  step: number;
  /** The parameter's shape. */
  shape: number[];
  /** First moment m (`exp_avg`). */
  expAvg: Float32Array;
  /** Second moment v (`exp_avg_sq`). */
  expAvgSq: Float32Array;
  /** Running maximum of v (`max_exp_avg_sq`), only with `amsgrad`. */
  maxExpAvgSq?: Float32Array;
}

/** Serialisable optimizer state keyed by parameter path. */
export interface AdamWState {
  params: Record<string, AdamWParamState>;
}

/** What {@link AdamW.setState} accepts: state values as Float32Arrays or tensors. */
export interface AdamWStateInput {
  params: Record<
    string,
    {
      step: number;
      shape?: readonly number[];
      expAvg: Float32Array | Tensor;
      expAvgSq: Float32Array | Tensor;
      maxExpAvgSq?: Float32Array | Tensor;
    }
  >;
}

interface Slot {
  path: string;
  param: Variable;
  weightDecay: number;
  step: number;
  expAvg: Variable;
  expAvgSq: Variable;
  maxExpAvgSq: Variable | null;
}

/**
 * A weight-decay exclusion rule common in transformer training: no decay for biases, for norm layers'
 * parameters (any path segment containing `norm`, case-insensitive) and for every parameter of rank ≤ 1.
 *
 * @example
 * ```ts
 * new AdamW(params, { weightDecay: 0.1, noDecay: noDecayBiasAndNorm });
 * ```
 */
export function noDecayBiasAndNorm(path: string, param: Variable): boolean {
  const segments = path.split('.');
  return param.rank <= 1 || segments[segments.length - 1] === 'bias' || segments.some((s) => /norm/i.test(s));
}

function isParamGroupList(p: unknown): p is readonly AdamWParamGroup[] {
  return (
    Array.isArray(p) &&
    p.length > 0 &&
    p.every(
      (g) =>
        g !== null &&
        typeof g === 'object' &&
        !(g instanceof tf.Variable) &&
        !Array.isArray(g) &&
        'params' in g,
    )
  );
}

function toNamedList(params: OptimizerParams, where: string): Array<[string, Variable]> {
  let list: Array<[string, Variable]>;
  if (params instanceof Map) list = [...(params as ReadonlyMap<string, Variable>).entries()];
  else if (Array.isArray(params)) {
    list = (params as ReadonlyArray<Variable | readonly [string, Variable]>).map((e) =>
      e instanceof tf.Variable ? ([e.name, e] as [string, Variable]) : ([e[0], e[1]] as [string, Variable]),
    );
  } else {
    throw new AdapterError(
      'INVALID_CONFIG',
      `${where}: params must be an array of variables, of [path, variable] pairs, or a Map`,
    );
  }
  for (const [path, v] of list) {
    check(
      typeof path === 'string' && path.length > 0 && v instanceof tf.Variable,
      'INVALID_CONFIG',
      () =>
        `${where}: every parameter must be a tf.Variable with a non-empty path, got path ${JSON.stringify(path)}`,
    );
  }
  return list;
}

function checkHyper(ok: boolean, field: string, value: unknown, rule: string): void {
  check(
    ok,
    'INVALID_CONFIG',
    () => `AdamW: ${field} must be ${rule}, got ${JSON.stringify(value)}`,
    () => ({ field, value }),
  );
}

/**
 * AdamW with `torch.optim.AdamW` (PyTorch 1.13, `_single_tensor_adamw`) semantics. For each parameter p
 * with gradient g, at its step t (starting at 1):
 * 1. `p ← p · (1 − lr · weightDecay)` (decoupled decay; not added to g);
 * 2. `m ← β₁ m + (1 − β₁) g`, `v ← β₂ v + (1 − β₂) g²`;
 * 3. `p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + eps)`.
 *
 * State (m, v, step) exists only for the parameters passed in (frozen parameters never get any), is
 * created zero-filled at construction as non-trainable variables and updated with `assign`, so the tensor
 * count does not grow across steps. All math runs inside `tf.tidy`.
 *
 * @example
 * ```ts
 * const params = model.namedParameters().filter(([, p]) => p.trainable);
 * const opt = new AdamW(params, { lr: 1e-3, weightDecay: 0.01 });
 * const { value, grads } = tf.variableGrads(() => lossFn(), params.map(([, p]) => p));
 * opt.step(grads, 1e-3);
 * tf.dispose([value, ...Object.values(grads)]);
 * ```
 */
export class AdamW {
  /** Learning rate used by {@link AdamW.step} when none is passed. */
  readonly lr: number;
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  readonly maximize: boolean;
  private readonly slots: Slot[] = [];
  private readonly byVariable = new Map<Variable, Slot>();
  private readonly byName = new Map<string, Slot>();
  private disposed = false;

  /**
   * @param params the parameters to optimise (paths key the state), or parameter groups.
   * @param options hyper-parameters; PyTorch's defaults.
   */
  constructor(params: OptimizerParams | readonly AdamWParamGroup[], options: AdamWOptions = {}) {
    const lr = options.lr ?? 1e-3;
    const betas = options.betas ?? [0.9, 0.999];
    const eps = options.eps ?? 1e-8;
    const weightDecay = options.weightDecay ?? 1e-2;
    checkHyper(Number.isFinite(lr) && lr >= 0, 'lr', lr, 'a finite number ≥ 0');
    checkHyper(
      Array.isArray(betas) &&
        betas.length === 2 &&
        betas.every((b) => typeof b === 'number' && b >= 0 && b < 1),
      'betas',
      betas,
      'two numbers in [0, 1)',
    );
    checkHyper(Number.isFinite(eps) && eps >= 0, 'eps', eps, 'a finite number ≥ 0');
    checkHyper(
      Number.isFinite(weightDecay) && weightDecay >= 0,
      'weightDecay',
      weightDecay,
      'a finite number ≥ 0',
    );
    this.lr = lr;
    this.betas = [betas[0], betas[1]];
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.amsgrad = options.amsgrad ?? false;
    this.maximize = options.maximize ?? false;

    const groups: AdamWParamGroup[] = isParamGroupList(params)
      ? [...params]
      : [{ params: params as OptimizerParams }];
    for (const [gi, group] of groups.entries()) {
      const where = groups.length > 1 ? `AdamW param group ${gi}` : 'AdamW';
      if (group.weightDecay !== undefined) {
        checkHyper(
          Number.isFinite(group.weightDecay) && group.weightDecay >= 0,
          `paramGroups[${gi}].weightDecay`,
          group.weightDecay,
          'a finite number ≥ 0',
        );
      }
      for (const [path, param] of toNamedList(group.params, where)) {
        check(
          !this.byVariable.has(param),
          'INVALID_CONFIG',
          () => `${where}: parameter '${path}' is listed twice`,
        );
        check(
          !this.slots.some((s) => s.path === path),
          'INVALID_CONFIG',
          () => `${where}: two parameters share the path '${path}'`,
        );
        check(
          param.dtype === 'float32',
          'INVALID_CONFIG',
          () => `${where}: parameter '${path}' has dtype ${param.dtype}; AdamW needs float32`,
        );
        const wd =
          group.weightDecay !== undefined
            ? group.weightDecay
            : options.noDecay && options.noDecay(path, param)
              ? 0
              : weightDecay;
        const slot: Slot = {
          path,
          param,
          weightDecay: wd,
          step: 0,
          expAvg: toVariable(tf.zeros(param.shape), false),
          expAvgSq: toVariable(tf.zeros(param.shape), false),
          maxExpAvgSq: this.amsgrad ? toVariable(tf.zeros(param.shape), false) : null,
        };
        this.slots.push(slot);
        this.byVariable.set(param, slot);
      }
    }
    // Names resolve by path first, then by variable name.
    for (const s of this.slots) if (!this.byName.has(s.param.name)) this.byName.set(s.param.name, s);
    for (const s of this.slots) this.byName.set(s.path, s);
  }

  /** The parameter paths this optimizer holds state for, in order. */
  paths(): string[] {
    return this.slots.map((s) => s.path);
  }

  /** The weight decay applied to the parameter at `path` (0 when excluded). */
  weightDecayOf(path: string): number {
    const s = this.slots.find((x) => x.path === path);
    check(s, 'INVALID_INPUT', () => `AdamW: no parameter '${path}'; known: ${this.paths().join(', ')}`);
    return s.weightDecay;
  }

  private resolve(grads: GradientInput): Array<[Slot, Tensor]> {
    const out: Array<[Slot, Tensor]> = [];
    const seen = new Set<Slot>();
    const unknown: string[] = [];
    const add = (slot: Slot | undefined, key: string, g: Tensor | null | undefined) => {
      if (g === null || g === undefined) return;
      if (!slot) {
        unknown.push(key);
        return;
      }
      check(
        !seen.has(slot),
        'INVALID_INPUT',
        () => `AdamW.step: two gradients given for parameter '${slot.path}'`,
      );
      check(
        g instanceof tf.Tensor && !g.isDisposed,
        'INVALID_INPUT',
        () => `AdamW.step: gradient for '${slot.path}' is not a live tensor`,
      );
      check(
        g.shape.length === slot.param.shape.length && g.shape.every((d, i) => d === slot.param.shape[i]),
        'INVALID_INPUT',
        () =>
          `AdamW.step: gradient for '${slot.path}' has shape ${fmtShape(g.shape)}, the parameter has ${fmtShape(slot.param.shape)}`,
      );
      seen.add(slot);
      out.push([slot, g]);
    };
    if (grads instanceof Map) {
      for (const [k, g] of grads as ReadonlyMap<unknown, Tensor | null>) {
        if (k instanceof tf.Variable) add(this.byVariable.get(k), k.name, g);
        else add(this.byName.get(String(k)), String(k), g);
      }
    } else {
      for (const [k, g] of Object.entries(grads as Record<string, Tensor | null>))
        add(this.byName.get(k), k, g);
    }
    check(
      unknown.length === 0,
      'INVALID_INPUT',
      () =>
        `AdamW.step: gradients given for parameters this optimizer does not hold: ${unknown.join(', ')}; known: ${this.paths().join(', ')}`,
    );
    // Apply in the optimizer's parameter order, whatever the container's order.
    return out.sort((a, b) => this.slots.indexOf(a[0]) - this.slots.indexOf(b[0]));
  }

  /**
   * Applies one update to every parameter that has a gradient in `grads`, with learning rate `lr`
   * (default: the `lr` option). The gradients are read, not disposed.
   */
  step(grads: GradientInput, lr: number = this.lr): void {
    check(!this.disposed, 'INVALID_INPUT', () => 'AdamW.step: the optimizer has been disposed');
    check(
      Number.isFinite(lr) && lr >= 0,
      'INVALID_INPUT',
      () => `AdamW.step: lr must be a finite number ≥ 0, got ${lr}`,
    );
    const pairs = this.resolve(grads);
    const [beta1, beta2] = this.betas;
    const native = heapKernelActive('adamw');
    tf.tidy(() => {
      for (const [slot, grad] of pairs) {
        slot.step += 1;
        const t = slot.step;
        if (native && !slot.maxExpAvgSq) {
          // One fused pass (native or JavaScript) instead of about twelve elementwise kernels (same formula as below).
          const [p, m, v] = nativeAdamWUpdate(slot.param, grad, slot.expAvg, slot.expAvgSq, {
            decay: 1 - lr * slot.weightDecay,
            beta1,
            beta2,
            eps: this.eps,
            stepSize: lr / (1 - Math.pow(beta1, t)),
            sqrtBiasCorrection2: Math.sqrt(1 - Math.pow(beta2, t)),
            sign: this.maximize ? -1 : 1,
          });
          slot.expAvg.assign(m);
          slot.expAvgSq.assign(v);
          slot.param.assign(p);
          continue;
        }
        const g = this.maximize ? tf.neg(grad) : grad;
        const p0 = slot.weightDecay !== 0 ? tf.mul(slot.param, 1 - lr * slot.weightDecay) : slot.param;
        const m = tf.add(tf.mul(slot.expAvg, beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(slot.expAvgSq, beta2), tf.mul(tf.mul(g, g), 1 - beta2));
        slot.expAvg.assign(m);
        slot.expAvgSq.assign(v);
        const biasCorrection1 = 1 - Math.pow(beta1, t);
        const biasCorrection2 = 1 - Math.pow(beta2, t);
        const stepSize = lr / biasCorrection1;
        let vUsed: Tensor = v;
        if (slot.maxExpAvgSq) {
          vUsed = tf.maximum(slot.maxExpAvgSq, v);
          slot.maxExpAvgSq.assign(vUsed);
        }
        const denom = tf.add(tf.div(tf.sqrt(vUsed), Math.sqrt(biasCorrection2)), this.eps);
        slot.param.assign(tf.sub(p0, tf.mul(tf.div(m, denom), stepSize)));
      }
    });
  }

  /** A copy of the optimizer state (moments as Float32Arrays), keyed by parameter path. */
  getState(): AdamWState {
    check(!this.disposed, 'INVALID_INPUT', () => 'AdamW.getState: the optimizer has been disposed');
    const params: Record<string, AdamWParamState> = {};
    for (const s of this.slots) {
      const entry: AdamWParamState = {
        step: s.step,
        shape: [...s.param.shape],
        expAvg: Float32Array.from(s.expAvg.dataSync() as Float32Array),
        expAvgSq: Float32Array.from(s.expAvgSq.dataSync() as Float32Array),
      };
      if (s.maxExpAvgSq) entry.maxExpAvgSq = Float32Array.from(s.maxExpAvgSq.dataSync() as Float32Array);
      params[s.path] = entry;
    }
    return { params };
  }

  /**
   * Restores state saved by {@link AdamW.getState}. Every path of this optimizer must be present, with
   * matching sizes, and no other; everything is checked before anything is written.
   */
  setState(state: AdamWStateInput): void {
    check(!this.disposed, 'INVALID_INPUT', () => 'AdamW.setState: the optimizer has been disposed');
    check(
      state !== null &&
        typeof state === 'object' &&
        state.params !== null &&
        typeof state.params === 'object',
      'STATE_DICT_MISMATCH',
      () => 'AdamW.setState: expected {params: {path: {step, expAvg, expAvgSq}}}',
    );
    const problems: string[] = [];
    const given = Object.keys(state.params);
    const missing = this.paths().filter((p) => !(p in state.params));
    const unexpected = given.filter((p) => !this.slots.some((s) => s.path === p));
    if (missing.length) problems.push(`missing parameters: ${missing.join(', ')}`);
    if (unexpected.length) problems.push(`unexpected parameters: ${unexpected.join(', ')}`);
    const sizeOf = (x: Float32Array | Tensor) => (x instanceof tf.Tensor ? x.size : x.length);
    for (const s of this.slots) {
      const e = state.params[s.path];
      if (!e) continue;
      if (!Number.isInteger(e.step) || e.step < 0)
        problems.push(`'${s.path}': step must be an integer ≥ 0, got ${e.step}`);
      if (
        e.shape &&
        !(e.shape.length === s.param.shape.length && e.shape.every((d, i) => d === s.param.shape[i]))
      ) {
        problems.push(
          `'${s.path}': state shape ${fmtShape(e.shape)} differs from the parameter's ${fmtShape(s.param.shape)}`,
        );
      }
      const fields: Array<[string, Float32Array | Tensor | undefined]> = [
        ['expAvg', e.expAvg],
        ['expAvgSq', e.expAvgSq],
      ];
      if (this.amsgrad) fields.push(['maxExpAvgSq', e.maxExpAvgSq]);
      for (const [name, value] of fields) {
        if (value === undefined) problems.push(`'${s.path}': ${name} is missing`);
        else if (!(value instanceof Float32Array || value instanceof tf.Tensor))
          problems.push(`'${s.path}': ${name} must be a Float32Array or a tensor`);
        else if (sizeOf(value) !== s.param.size)
          problems.push(
            `'${s.path}': ${name} has ${sizeOf(value)} elements, the parameter has ${s.param.size}`,
          );
      }
    }
    if (problems.length) {
      throw new AdapterError('STATE_DICT_MISMATCH', `AdamW.setState failed: ${problems.join('; ')}`, {
        missing,
        unexpected,
      });
    }
    for (const s of this.slots) {
      const e = state.params[s.path]!;
      const assign = (target: Variable, value: Float32Array | Tensor) =>
        tf.tidy(() =>
          target.assign(
            value instanceof tf.Tensor
              ? tf.reshape(tf.cast(value, 'float32'), s.param.shape)
              : tf.tensor(value, s.param.shape, 'float32'),
          ),
        );
      assign(s.expAvg, e.expAvg);
      assign(s.expAvgSq, e.expAvgSq);
      if (s.maxExpAvgSq) assign(s.maxExpAvgSq, e.maxExpAvgSq!);
      s.step = e.step;
    }
  }

  /** Frees the state variables. The parameters are not touched. */
  dispose(): void {
    if (this.disposed) return;
    for (const s of this.slots) {
      s.expAvg.dispose();
      s.expAvgSq.dispose();
      s.maxExpAvgSq?.dispose();
    }
    this.disposed = true;
  }
}
