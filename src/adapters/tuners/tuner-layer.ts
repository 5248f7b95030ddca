/**
 * What every wrapper layer of a tuner method (LoRA linear/embedding, IA³ linear, …) shares: the base layer's parameters
 * kept under their original keys, the per-adapter bookkeeping, the merged list, and the link to the
 * managing model that says which adapters run.
 */
import { shareModelGuid } from '../model-guid.js';
import { tf, type Tensor, type Variable } from '../../backend/tf.js';
import { check } from '../../errors.js';
import { Linear } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';

/**
 * Tells wrappers which adapters run on this call, in execution order. The managing `PeftModel`
 * supplies it (enabled adapters in insertion order, or none inside `withAdaptersDisabled`).
 *
 * Per-sample selection (SPEC §4.5): during `PeftModel.forward(input, {adapterNames})` the model
 * either runs each row group with its own `activeAdapters()` answer (grouped fallback), or answers
 * {@link TunerContext.rowAdapters} so that every wrapper computes all rows in one pass.
 */
export interface TunerContext {
  activeAdapters(): readonly string[];
  /**
   * The adapter batch row `b` runs on this call (`null` = none, the base), or `null` when there is
   * no per-sample selection and every row runs `activeAdapters()`. Wrappers given a plan expect
   * dim 0 of their input to be the batch.
   */
  rowAdapters?(): readonly (string | null)[] | null;
}

/** Parameters keyed by adapter name with no `.weight` suffix: state key `<dict>.<name>`. */
export class ParameterDict extends Module {
  static override readonly typeName: string = 'ParameterDict';
  /** Registers `t` (a tensor is wrapped in a trainable variable) under `name`. */
  set(name: string, t: Tensor | Variable): Variable {
    return this.registerParameter(name, t);
  }
  /** The parameter `name`, or undefined. */
  get(name: string): Variable | undefined {
    return this.getParameter(name);
  }
  /** True when `name` is held. */
  has(name: string): boolean {
    return this.getParameter(name) !== undefined;
  }
  /** Removes and disposes `name`. */
  delete(name: string): void {
    this.removeParameter(name)?.dispose();
  }
  /** Held names, in insertion order. */
  keys(): string[] {
    return [...this._parameters.keys()];
  }
}

/** One adapter tensor: its key relative to the wrapper, its PEFT key suffix (§4.3), the variable. */
export interface AdapterTensor {
  key: string;
  peftKey: string;
  param: Variable;
}

/** Which registered tuner method a wrapper implements (its `TunerMethod.name`, e.g. `'lora'`). */
export type TunerKind = string;

/**
 * Base of the wrapper layers. The wrapped layer's own variables are registered on the wrapper under
 * their original names (`weight`, `bias`), so the model's state keys do not change when a layer is
 * wrapped; the original layer object is kept (not registered) in {@link baseLayer} and put back by
 * `unload()`.
 *
 * PEFT note: PEFT moves the base layer under `base_layer` (keys `….base_layer.weight`); the library
 * keeps the original keys and adds `base_layer` only in PEFT files (§4.3).
 */
export abstract class BaseTunerLayer extends Module {
  static override readonly typeName: string = 'BaseTunerLayer';
  /** Names of the children holding per-adapter tensors (what PEFT calls `adapter_layer_names`). */
  static readonly adapterLayerNames: readonly string[] = [];
  /** The layer this wrapper replaced. It shares its variables with the wrapper. */
  readonly baseLayer: Module;
  /** Which adapters run; null: every held adapter. Set by the managing model. */
  ctx: TunerContext | null = null;
  /** Path of this layer in its model, for messages. */
  layerPath = '';
  /** Adapters merged into the base weights, in merge order. */
  readonly mergedAdapters: string[] = [];

  abstract readonly tunerKind: TunerKind;

  constructor(base: Module) {
    super();
    this.baseLayer = base;
    shareModelGuid(base, this);
    this.training = base.training;
    for (const [name, p] of base._parameters) this.registerParameter(name, p);
  }

  /** Held adapter names, in insertion order. */
  abstract heldAdapters(): string[];

  /** Tensors of adapter `name`: keys relative to this wrapper (e.g. `lora_A.<name>.weight`) and PEFT suffixes. */
  abstract adapterParameters(name: string): AdapterTensor[];

  /** Removes adapter `name` and frees its tensors (it must not be merged). */
  abstract removeAdapter(name: string): void;

  /**
   * Merges adapter `name` into the base weights. With `checkFinite`, a non-finite result →
   * `NON_FINITE_MERGE` and nothing changes.
   */
  abstract mergeAdapter(name: string, checkFinite: boolean): void;

  /** Undoes the merge of adapter `name` (the most recent merge of this layer). */
  abstract unmergeAdapter(name: string): void;

  /**
   * Forgets that adapter `name` is merged without touching the weights (used when a failed safe merge
   * restores a snapshot, and by unload). Subclasses free cached merge state.
   */
  forgetMerge(name: string): void {
    const i = this.mergedAdapters.lastIndexOf(name);
    if (i >= 0) this.mergedAdapters.splice(i, 1);
  }

  /** Frees every adapter tensor and merge record, leaving the base weights as they are (unload). */
  releaseAll(): void {
    for (const n of [...this.mergedAdapters]) this.forgetMerge(n);
    for (const n of this.heldAdapters()) this.removeAdapter(n);
  }

  /** True when adapter `name` is held here. */
  holds(name: string): boolean {
    return this.heldAdapters().includes(name);
  }

  /** Adapters whose branch runs on this call: active, held here, not merged. */
  runNames(): string[] {
    const held = this.heldAdapters();
    const active = this.ctx ? this.ctx.activeAdapters() : held;
    return active.filter((n) => held.includes(n) && !this.mergedAdapters.includes(n));
  }

  /**
   * The per-sample plan of this call (SPEC §4.5), or null. Input `x` must carry the batch on dim 0,
   * else `BATCH_SELECTION` naming this layer and both sizes.
   */
  protected rowPlan(x: Tensor): readonly (string | null)[] | null {
    const plan = this.ctx?.rowAdapters?.() ?? null;
    if (!plan) return null;
    check(
      x.rank > 0 && x.shape[0] === plan.length,
      'BATCH_SELECTION',
      () =>
        `per-sample adapter selection: '${this.label()}' received an input of shape [${x.shape.join(', ')}] whose dim 0 is not the batch of ${plan.length} rows; per-row LoRA needs the batch on dim 0 of every wrapped layer's input`,
      () => ({ layer: this.label(), batch: plan.length, shape: x.shape }),
    );
    return plan;
  }

  /** A label for messages. */
  protected label(): string {
    return this.layerPath || this.typeName;
  }

  /** Base weight variable. */
  get weight(): Variable {
    return this.getParameter('weight')!;
  }

  /** Base bias variable, if any. */
  get bias(): Variable | null {
    return this.getParameter('bias') ?? null;
  }

  /**
   * Writes a merge's new weight (and bias) into the base layer and records the merge; the new tensors
   * are consumed. With `checkFinite`, a non-finite result frees them (and `alsoFree`) and throws
   * `NON_FINITE_MERGE` before anything is written.
   */
  protected commitMerge(
    name: string,
    newW: Tensor,
    newB: Tensor | null,
    checkFinite: boolean,
    alsoFree?: Tensor | null,
  ): void {
    if (checkFinite) {
      try {
        this.checkFinite(newW, name);
        if (newB) this.checkFinite(newB, name);
      } catch (e) {
        newW.dispose();
        newB?.dispose();
        alsoFree?.dispose();
        throw e;
      }
    }
    assignCast(this.weight, newW);
    if (newB) assignCast(this.bias!, newB);
    this.mergedAdapters.push(name);
  }

  /** Throws `NON_FINITE_MERGE` if `t` holds NaN or ±∞. */
  protected checkFinite(t: Tensor, adapter: string): void {
    const ok = tf.tidy(() => tf.all(tf.isFinite(t)).dataSync()[0] === 1);
    check(
      ok,
      'NON_FINITE_MERGE',
      () =>
        `merging adapter '${adapter}' into '${this.label()}' gives non-finite weights; the weights were left untouched`,
      () => ({ adapter, layer: this.label() }),
    );
  }
}

/** Assigns `value` (float32) to `v`, cast to `v`'s dtype. `value` is disposed. */
export function assignCast(v: Variable, value: Tensor): void {
  tf.tidy(() => v.assign(value.dtype === v.dtype ? value : tf.cast(value, v.dtype)));
  value.dispose();
}

/** Float32 view of a variable (for merges computed in float32). */
export function f32(t: Tensor): Tensor {
  return t.dtype === 'float32' ? t : tf.cast(t, 'float32');
}

/**
 * Base of the wrappers of a `Linear` (LoRA, IA³): checks the wrapped layer and reads its sizes,
 * honouring `fanInFanOut` (a base weight stored `[in, out]`).
 */
export abstract class LinearTunerLayer extends BaseTunerLayer {
  static override readonly typeName: string = 'LinearTunerLayer';
  override readonly baseLayer: Linear;
  /** Input width of the layer. */
  readonly inFeatures: number;
  /** Output width of the layer. */
  readonly outFeatures: number;
  /** The base weight is stored `[in, out]`. */
  readonly fanInFanOut: boolean;

  constructor(options: { base: Linear; fanInFanOut?: boolean }) {
    const base = options.base;
    check(
      base instanceof Linear,
      'UNSUPPORTED_TARGET',
      () => `${new.target.typeName} wraps a Linear, got ${(base as Module)?.typeName ?? typeof base}`,
    );
    super(base);
    this.baseLayer = base;
    this.fanInFanOut = options.fanInFanOut ?? false;
    const [d0, d1] = base.weight.shape as [number, number];
    this.inFeatures = this.fanInFanOut ? d0 : d1;
    this.outFeatures = this.fanInFanOut ? d1 : d0;
  }
}
