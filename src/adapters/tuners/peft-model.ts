/**
 * The PEFT-managed model (SPEC §4.1, §4.6; what PEFT calls `PeftModel` + `BaseTuner`): wraps the
 * targeted layers of a model in place, manages named adapters of one registered tuner method (LoRA,
 * IA³, …), merges and unloads them, and exposes each adapter's normalised config and the tensors
 * the PEFT format (§4.3, `io/peft-keys.ts`) names.
 */
import { shareModelGuid } from '../model-guid.js';
import { tf, type Tensor, type Variable } from '../../backend/tf.js';
import { AdapterError, check, notOneOf } from '../../errors.js';
import { logger } from '../../logger.js';
import { BatchNorm } from '../../nn/layers.js';
import { Module, type StateDict } from '../../nn/module.js';
import { restoreAfter } from '../../nn/restore-after.js';
import { isAdapterHost } from '../host-brand.js';
import { checkAdapterName, libraryFrozen, type AdapterHostModule } from '../host.js';
import { BASE_SELECTION, batchSizeOf, groupRows, normalizeSelection, runRowGroups } from '../per-sample.js';
import type { AdapterRecord } from './adapter-record.js';
import type { WeightedAdapterOptions } from './combination.js';
import { ModulesToSaveWrapper, selectModulesToSave } from './modules-to-save.js';
import {
  getTunerMethod,
  isAdapterInternalKey,
  listWrapperTypes,
  parseWrapperConfig,
  tunerMethodOfLayer,
  type NormalizedWrapperConfig,
  type SharedAdapterState,
  type TunerBiasMode,
  type TunerMethod,
  type WrapperConfig,
} from './registry.js';
import { adapterStateDict } from './state.js';
import {
  enforceTargets,
  expandAllLinear,
  planTargets,
  resolveModelDefaults,
  type MatchedTarget,
} from './targets.js';
import type { BaseTunerConfig } from './tuner-config.js';
import { BaseTunerLayer, LinearTunerLayer, type TunerContext } from './tuner-layer.js';

/** Options of {@link PeftModel.wrap}. */
export interface WrapOptions {
  /** Name of the first adapter. Default `'default'`. */
  adapterName?: string;
  /** Unmatched list targets warn instead of throwing `TARGET_NOT_FOUND`. Default false. */
  allowPartialMatch?: boolean;
}

export type { AdapterRecord } from './adapter-record.js';

const managers = new WeakMap<Module, PeftModel>();

/** The {@link PeftModel} managing `model`, if any. */
export function peftModelOf(model: Module): PeftModel | undefined {
  return managers.get(model);
}

/**
 * A model whose targeted `Linear`/`Embedding` layers carry LoRA (or IA³) adapters. The wrapped model is
 * changed in place ({@link model}); its state keys stay the original ones, plus the adapter keys
 * (`<path>.lora_A.<n>.weight`, …, SPEC §4.1). The PeftModel is itself a transparent `Module`: its
 * `namedParameters()`, `stateDict()`, `train()`, `trainableParameters()` are the wrapped model's.
 *
 * Adapters run when enabled; a new adapter is enabled (execution order = insertion order; LoRA
 * deltas are summed on the same input). Every base parameter is frozen by {@link wrap}.
 *
 * PEFT note: PEFT's `add_adapter` leaves a new adapter inactive; here, as for NeMo-style hosts
 * (SPEC §2.5), it is enabled.
 *
 * @example
 * ```ts
 * const peft = PeftModel.wrap(model, { type: 'lora', targetModules: ['q_proj', 'v_proj'], r: 8, loraAlpha: 16 });
 * const y = peft.forward(x);
 * peft.addAdapter('task2', { type: 'lora', targetModules: ['q_proj'] });
 * peft.setActiveAdapters(['task2']);
 * const merged = peft.mergeAndUnload(); // the original model, weights merged
 * ```
 */
export class PeftModel extends Module {
  static override readonly typeName: string = 'PeftModel';
  /** The wrapped model (changed in place; what PEFT calls `base_model.model`). */
  readonly model: Module;
  private readonly records = new Map<string, AdapterRecord>();
  private readonly enabled = new Set<string>();
  private override: readonly string[] | null = null;
  /** Per-sample selection of the current call: adapter of each batch row (null = base), else null. */
  private rowPlan: (string | null)[] | null = null;
  /** Shared with every wrapper layer: which adapters run. */
  private readonly ctx: TunerContext;

  protected constructor(model: Module) {
    super();
    this.model = model;
    shareModelGuid(model, this);
    this.training = model.training;
    this.ctx = {
      activeAdapters: () => this.override ?? this.getEnabledAdapters(),
      rowAdapters: () => this.rowPlan,
    };
  }

  /**
   * Wraps `model` in place with adapter `adapterName` built from `cfg` (a `lora` or `ia3` config), after
   * freezing every base parameter (batch norms included, recorded as library-frozen). Validation and
   * target matching (§4.2) run first: on any error the model is unchanged.
   */
  static wrap(model: Module, cfg: WrapperConfig, opts: WrapOptions = {}): PeftModel {
    check(
      model instanceof Module,
      'INVALID_INPUT',
      () => `PeftModel.wrap expects a Module, got ${typeof model}`,
    );
    check(
      !(model instanceof PeftModel),
      'UNSUPPORTED_FEATURE',
      () => 'PeftModel.wrap: the model is already a PeftModel; use addAdapter()',
    );
    check(
      !managers.has(model),
      'UNSUPPORTED_FEATURE',
      () =>
        `PeftModel.wrap: this ${model.typeName} is already managed by a PeftModel; add adapters with peft.addAdapter()`,
    );
    const peft = new this(model); // a subclass's wrap() builds the subclass
    peft.addAdapterImpl(opts.adapterName ?? 'default', cfg, {
      allowPartialMatch: opts.allowPartialMatch ?? false,
      freezeBase: true,
    });
    return peft;
  }

  // ---- transparent module: the tree is the wrapped model's ----

  override namedModules(prefix = ''): Array<[string, Module]> {
    return this.model.namedModules(prefix);
  }

  override getChild(name: string): Module | undefined {
    return this.model.getChild(name);
  }

  override train(mode = true): this {
    this.model.train(mode);
    this.training = mode;
    return this;
  }

  /** Frees every tensor of the wrapped model, adapters and merge caches included. */
  override dispose(): void {
    for (const layer of this.tunerLayers()) for (const n of [...layer.mergedAdapters]) layer.forgetMerge(n);
    super.dispose();
    for (const r of this.records.values()) r.shared?.dispose();
    this.records.clear();
    this.enabled.clear();
    managers.delete(this.model);
  }

  // ---- adapters ----

  /** Every adapter name, in insertion (execution) order. */
  adapterNames(): string[] {
    return [...this.records.keys()];
  }

  /** Which registered method the adapters implement (`'lora'`, `'ia3'`, …), or null when none is held. */
  get tunerType(): string | null {
    const first = this.records.values().next().value as AdapterRecord | undefined;
    return first ? first.config.type : null;
  }

  /**
   * Adds adapter `name`. Order: name checks (`INVALID_ADAPTER_NAME`, `RESERVED_NAME`,
   * `DUPLICATE_ADAPTER`), config validation (`INVALID_CONFIG`, `UNKNOWN_TYPE`), kind mixing
   * (`UNSUPPORTED_FEATURE`), target matching (`TARGET_NOT_FOUND`, `UNSUPPORTED_TARGET`); only then is
   * the model changed. The new adapter is enabled and trainable.
   */
  addAdapter(name: string, cfg: WrapperConfig, opts: { allowPartialMatch?: boolean } = {}): void {
    this.addAdapterImpl(name, cfg, { allowPartialMatch: opts.allowPartialMatch ?? false, freezeBase: false });
  }

  private addAdapterImpl(
    name: string,
    cfg: WrapperConfig,
    opts: { allowPartialMatch: boolean; freezeBase: boolean },
  ): void {
    const where = `addAdapter('${name}')`;
    checkAdapterName(name, name);
    check(
      !this.records.has(name),
      'DUPLICATE_ADAPTER',
      () => `${where}: adapter '${name}' already exists; held: ${this.adapterNames().join(', ')}`,
      () => ({ name }),
    );
    const normalized = resolveModelDefaults(
      this.model,
      parseWrapperConfig(cfg, where) as BaseTunerConfig,
      where,
    );
    const method = getTunerMethod(normalized.type, where);
    const kind = this.tunerType;
    check(
      kind === null || kind === normalized.type,
      'UNSUPPORTED_FEATURE',
      () =>
        `${where}: this model holds ${kind} adapters (${this.adapterNames().join(', ')}); ${normalized.type} and ${kind} adapters cannot be mixed in one model`,
      () => ({ held: kind, added: normalized.type }),
    );
    const bias = biasModeOf(method, normalized);
    if (this.records.size > 0) {
      const withBias = [...this.records.values()]
        .filter((r) => biasModeOf(method, r.config) !== 'none')
        .map((r) => r.name);
      if (bias !== 'none') withBias.push(name);
      check(
        withBias.length === 0,
        'UNSUPPORTED_FEATURE',
        () =>
          `${where}: bias other than 'none' (adapters: ${withBias.join(', ')}) is supported with a single adapter only (as PEFT); set bias: 'none'`,
        () => ({ adapters: withBias }),
      );
    }
    const plan = planTargets(this.model, normalized);
    enforceTargets(plan, normalized, { allowPartialMatch: opts.allowPartialMatch, where });
    for (const t of plan.planned) {
      const m = t.candidate.module;
      const fifo = normalized.fanInFanOut;
      if (m instanceof LinearTunerLayer && fifo !== undefined && m.fanInFanOut !== fifo) {
        throw new AdapterError(
          'INVALID_CONFIG',
          `${where}: fanInFanOut ${fifo} disagrees with the other adapters on '${t.path}' (${m.fanInFanOut}); it describes the base weight's layout`,
          { field: 'fanInFanOut' },
        );
      }
    }
    const mtsPaths = this.planModulesToSave(
      normalized.modulesToSave,
      plan.planned.map((p) => p.path),
      opts.allowPartialMatch,
      where,
    );

    // Everything is validated: mutate.
    if (opts.freezeBase) this.freezeBase();
    const stored = structuredClone(normalized);
    if (stored.targetModules === 'all-linear') stored.targetModules = expandAllLinear(plan.report);
    const record: AdapterRecord = {
      name,
      config: stored,
      targets: plan.report.matched,
      layers: [],
      copies: [],
      unfrozenBiases: [],
    };
    this.records.set(name, record);
    this.enabled.add(name);
    try {
      record.shared = method.createSharedState?.({ name, config: normalized, plan }) ?? null;
      for (const t of plan.planned)
        record.layers.push({
          path: t.path,
          layer: this.attachLayer(method, t.candidate.module, name, normalized, t, record.shared),
        });
      for (const path of mtsPaths) record.copies.push({ path, wrapper: this.attachCopy(path, name) });
      if (bias !== 'none') this.unfreezeBiases(record, bias);
    } catch (e) {
      this.removeRecord(name);
      throw e;
    }
    managers.set(this.model, this);
  }

  /** Freezes every parameter of the wrapped model; batch norms are recorded as library-frozen. */
  private freezeBase(): void {
    for (const p of this.model.parameters()) p.trainable = false;
    for (const [, m] of this.model.namedModules()) if (m instanceof BatchNorm) libraryFrozen.add(m);
  }

  /**
   * Adds adapter `name` at target `t` through the method's `createOrUpdateLayer`; a new wrapper is
   * linked to this model and put in place of `current`.
   */
  private attachLayer(
    method: TunerMethod,
    current: Module,
    name: string,
    cfg: BaseTunerConfig,
    t: MatchedTarget,
    shared: SharedAdapterState | null,
  ): BaseTunerLayer {
    const layer = method.createOrUpdateLayer({
      current,
      name,
      config: cfg,
      target: t,
      ...(shared ? { shared } : {}),
    });
    if (layer !== current) {
      layer.ctx = this.ctx;
      layer.layerPath = t.path;
      this.model.setSubmodule(t.path, layer);
    }
    return layer;
  }

  /**
   * The module paths `modulesToSave` selects: `key === m` or `key` ends with `.m` (outermost match
   * only). Entries matching nothing → `TARGET_NOT_FOUND` (a warning with `allowPartialMatch`); a
   * selected module that is also targeted → `UNSUPPORTED_FEATURE`.
   *
   * PEFT note: PEFT matches a plain string suffix (`head` also selects `lm_head`); the library matches
   * at `.` boundaries and warns naming the modules PEFT would also have selected.
   */
  private planModulesToSave(
    list: string[] | null,
    targeted: string[],
    allowPartialMatch: boolean,
    where: string,
  ): string[] {
    if (!list || list.length === 0) return [];
    const entries: Array<[string, Module]> = [];
    const opaque: string[] = [];
    for (const [path, m] of this.model.namedModules()) {
      if (path === '' || opaque.some((p) => path.startsWith(p))) continue;
      entries.push([path, m]);
      if (m instanceof BaseTunerLayer) opaque.push(`${path}.`);
      if (m instanceof ModulesToSaveWrapper) opaque.push(`${path}.modules_to_save`);
    }
    const { chosen, suffixOnly, unmatched } = selectModulesToSave(
      entries.map(([p]) => p),
      list,
    );
    if (unmatched.length) {
      const paths = entries.map(([p]) => p);
      const msg = `${where}: modulesToSave ${unmatched.map((m) => `'${m}'`).join(', ')} not found in the model; module paths: ${paths.slice(0, 30).join(', ')}${paths.length > 30 ? `, … (${paths.length} in all)` : ''}`;
      if (allowPartialMatch) logger().warn(msg);
      else throw new AdapterError('TARGET_NOT_FOUND', msg, { unmatched });
    }
    if (suffixOnly.length) {
      logger().warn(
        `${where}: modulesToSave matches at '.' boundaries; PEFT's plain suffix match would also select ${suffixOnly.join(', ')}`,
      );
    }
    const clash = chosen.filter((c) => {
      const m = entries.find(([p]) => p === c)![1];
      return m instanceof BaseTunerLayer || targeted.some((t) => t === c || t.startsWith(`${c}.`));
    });
    check(
      clash.length === 0,
      'UNSUPPORTED_FEATURE',
      () => `${where}: ${clash.join(', ')} cannot be both a tuner target and in modulesToSave`,
      () => ({ paths: clash }),
    );
    return chosen;
  }

  /** Adds a trainable copy of the module at `path` for `name`, wrapping it on first use. */
  private attachCopy(path: string, name: string): ModulesToSaveWrapper {
    let current: Module | undefined;
    for (const [p, m] of this.model.namedModules()) if (p === path) current = m;
    let wrapper: ModulesToSaveWrapper;
    if (current instanceof ModulesToSaveWrapper) {
      wrapper = current;
    } else {
      wrapper = new ModulesToSaveWrapper(current!);
      wrapper.ctx = this.ctx;
      wrapper.layerPath = path;
      this.model.setSubmodule(path, wrapper);
    }
    wrapper.addCopy(name);
    return wrapper;
  }

  /**
   * `bias: 'lora_only'`: biases of wrapped layers become trainable; `'all'`: every bias.
   * PEFT note: PEFT's `'all'` selects every parameter whose name contains `bias`; the library selects
   * parameters named exactly `bias` (the last key segment).
   */
  private unfreezeBiases(record: AdapterRecord, mode: Exclude<TunerBiasMode, 'none'>): void {
    const biases: Variable[] = [];
    if (mode === 'lora_only') {
      for (const { layer } of record.layers) if (layer.bias) biases.push(layer.bias);
    } else {
      for (const [key, p] of this.model.namedParameters()) {
        if ((key === 'bias' || key.endsWith('.bias')) && !isAdapterInternalKey(key)) biases.push(p);
      }
    }
    for (const b of biases) {
      if (!b.trainable) {
        b.trainable = true;
        record.unfrozenBiases.push(b);
      }
    }
  }

  /** Removes every trace of adapter `name` (tensors, copies, biases, config); unwraps emptied layers. */
  private removeRecord(name: string): void {
    const record = this.records.get(name);
    if (!record) return;
    for (const { path, layer } of record.layers) {
      if (layer.holds(name)) {
        layer.forgetMerge(name);
        layer.removeAdapter(name);
      }
      if (layer.heldAdapters().length === 0) {
        layer.baseLayer.training = layer.training;
        this.model.setSubmodule(path, layer.baseLayer);
      }
    }
    for (const { path, wrapper } of record.copies) {
      wrapper.removeCopy(name);
      if (wrapper.heldAdapters().length === 0) {
        wrapper.originalModule.training = wrapper.training;
        this.model.setSubmodule(path, wrapper.originalModule);
      }
    }
    for (const b of record.unfrozenBiases) b.trainable = false;
    record.shared?.dispose();
    this.records.delete(name);
    this.enabled.delete(name);
  }

  /** The record of `name`, else `UNKNOWN_ADAPTER` listing the held names. */
  private record(name: string, where: string): AdapterRecord {
    const r = this.records.get(name);
    check(
      r,
      'UNKNOWN_ADAPTER',
      () => `${where}: ${notOneOf('adapter', name, this.adapterNames())}`,
      () => ({ name, valid: this.adapterNames() }),
    );
    return r;
  }

  /**
   * Sets the `enabled` flag of adapter `name`, or of every adapter when `name` is omitted or null.
   * Never reorders. No adapters → `NO_ADAPTERS`; unknown name → `UNKNOWN_ADAPTER`.
   */
  setEnabledAdapters(name?: string | null, enabled = true): void {
    check(
      this.records.size > 0,
      'NO_ADAPTERS',
      () => 'setEnabledAdapters: the model holds no adapters; add one first',
    );
    const names =
      name === undefined || name === null
        ? this.adapterNames()
        : [this.record(name, 'setEnabledAdapters').name];
    for (const n of names) {
      if (enabled) this.enabled.add(n);
      else this.enabled.delete(n);
    }
  }

  /** Enables exactly `names` (what PEFT calls `set_adapter`); every other adapter is disabled. */
  setActiveAdapters(names: string | string[]): void {
    const list = typeof names === 'string' ? [names] : names;
    check(
      this.records.size > 0,
      'NO_ADAPTERS',
      () => 'setActiveAdapters: the model holds no adapters; add one first',
    );
    for (const n of list) this.record(n, 'setActiveAdapters');
    this.enabled.clear();
    for (const n of list) this.enabled.add(n);
  }

  /** Enabled adapters in execution (insertion) order. */
  getEnabledAdapters(): string[] {
    return this.adapterNames().filter((n) => this.enabled.has(n));
  }

  /**
   * Removes adapter `name`: its tensors from every wrapper, its modules-to-save copies, its config and
   * its order entry (layers left with no adapter are unwrapped). A merged adapter is unmerged first.
   * Unknown name → `UNKNOWN_ADAPTER`.
   */
  deleteAdapter(name: string): void {
    const record = this.record(name, 'deleteAdapter');
    if (this.isMerged(name))
      warnApproximateUnmerge(
        record.layers.map((l) => l.layer),
        'deleteAdapter',
      );
    for (const { layer } of record.layers) {
      if (!layer.mergedAdapters.includes(name)) continue;
      // Unmerge everything merged after it, unmerge it, then merge the others back (exact for DoRA too).
      const after = layer.mergedAdapters.slice(layer.mergedAdapters.lastIndexOf(name) + 1);
      for (const n of [...after].reverse()) layer.unmergeAdapter(n);
      layer.unmergeAdapter(name);
      for (const n of after) layer.mergeAdapter(n, false);
    }
    this.removeRecord(name);
    if (this.records.size === 0) managers.delete(this.model);
  }

  /**
   * Makes adapter `name`'s tensors (and its modules-to-save copies) trainable or frozen (what PEFT
   * does for `is_trainable` / `_freeze_adapter`).
   */
  setAdapterTrainable(name: string, trainable: boolean): void {
    const record = this.record(name, 'setAdapterTrainable');
    for (const { layer } of record.layers)
      for (const t of layer.adapterParameters(name)) t.param.trainable = trainable;
    for (const { wrapper } of record.copies) {
      for (const p of wrapper.modules_to_save.get(name)?.parameters() ?? []) p.trainable = trainable;
    }
  }

  /**
   * Runs `fn` with every adapter off (modules-to-save originals used, merged adapters unmerged),
   * restoring the previous state afterwards, also when `fn` throws or its promise rejects.
   */
  withAdaptersDisabled<T>(fn: () => T): T {
    const merged = this.tunerLayers()
      .map((layer) => ({ layer, names: [...layer.mergedAdapters] }))
      .filter((m) => m.names.length);
    warnApproximateUnmerge(
      merged.map((m) => m.layer),
      'withAdaptersDisabled',
    );
    for (const { layer, names } of merged) for (const n of [...names].reverse()) layer.unmergeAdapter(n);
    const prev = this.override;
    this.override = [];
    return restoreAfter(fn, () => {
      this.override = prev;
      for (const { layer, names } of merged) for (const n of names) layer.mergeAdapter(n, false);
    });
  }

  /**
   * Runs the wrapped model's forward with the enabled adapters.
   *
   * With `adapterNames` (per-sample selection, SPEC §4.5), row `i` of the batch (dim 0 of the input,
   * or of its first tensor) runs adapter `adapterNames[i]`, `'__base__'` for none, whatever the
   * enabled flags (which stay unchanged). Each row gets exactly what a forward with only its adapter
   * enabled gives it, in the current mode; training is allowed and gradients reach only adapters some
   * row selects. Errors: length ≠ batch → `BATCH_SELECTION` naming both numbers; an unknown name →
   * `UNKNOWN_ADAPTER` listing the valid names and `'__base__'`; any adapter merged →
   * `BATCH_SELECTION` (unmerge first); a list entry → `BATCH_SELECTION`.
   *
   * How: LoRA wrappers compute every row in one pass per layer from a per-row plan (a one-hot
   * selection of stacked, zero-padded `A`/`B` and batched matMuls; see `LoraLinear`), with DoRA
   * adapters run per row group inside the layer. IA³ adapters, and selections of adapters that hold
   * `modulesToSave` copies, run the whole model once per row group (rows with the same selection) and
   * stitch the rows back: the same result, one pass per group. A single group is a plain forward with
   * that selection active.
   *
   * PEFT note: PEFT's mixed-batch inference forbids training and merged adapters; here training is
   * allowed.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- returns what the wrapped model's forward returns
  override forward(input: unknown, opts: { adapterNames?: string[] } = {}): any {
    if (opts.adapterNames !== undefined) return this.forwardPerSample(input, opts.adapterNames);
    return tf.tidy(() => this.model.forward(input));
  }

  /** Per-sample selection (SPEC §4.5); see {@link forward}. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- returns what the wrapped model's forward returns
  private forwardPerSample(input: unknown, selection: readonly string[]): any {
    // One walk of the tree (not one per adapter): this runs on every decoding step of a server.
    const mergedSet = new Set(this.tunerLayers().flatMap((l) => l.mergedAdapters));
    const merged = this.adapterNames().filter((n) => mergedSet.has(n));
    check(
      merged.length === 0,
      'BATCH_SELECTION',
      () =>
        `forward with adapterNames: adapter(s) ${merged.join(', ')} are merged into the base weights, so rows cannot opt out of them; call unmergeAdapters() first`,
      () => ({ merged }),
    );
    check(
      Array.isArray(selection),
      'BATCH_SELECTION',
      () =>
        `forward: adapterNames must be an array with one adapter name per batch row, got ${typeof selection}`,
    );
    const bad = selection.findIndex((n) => typeof n !== 'string');
    check(
      bad < 0,
      'BATCH_SELECTION',
      () =>
        `forward: adapterNames[${bad}] must be one adapter name or '${BASE_SELECTION}' (LoRA adapters are summed, not chained), got ${JSON.stringify(selection[bad])}`,
    );
    const batch = batchSizeOf(input);
    const perRow = normalizeSelection(selection, batch, this.adapterNames());
    const groups = groupRows(perRow);
    const selected = groups.flatMap((g) => g.names);
    const prevOverride = this.override;
    try {
      if (groups.length === 1) {
        this.override = selected;
        return tf.tidy(() => this.model.forward(input));
      }
      const onePass = this.tunerType !== null && getTunerMethod(this.tunerType).perRowSelection;
      const grouped = !onePass || selected.some((n) => this.records.get(n)!.copies.length > 0);
      if (grouped) {
        return tf.tidy(
          () =>
            runRowGroups(input, batch, groups, (part, names) => {
              this.override = names;
              return this.model.forward(part);
            }) as tf.TensorContainer,
        );
      }
      // One pass: every wrapper reads the per-row plan (modules-to-save wrappers see `selected`,
      // none of which holds a copy, and run their original module).
      this.override = selected;
      this.rowPlan = perRow.map((names) => names[0] ?? null);
      return tf.tidy(() => this.model.forward(input));
    } finally {
      this.override = prevOverride;
      this.rowPlan = null;
    }
  }

  /** Wrapper layers in the model, in module order. */
  private tunerLayers(): BaseTunerLayer[] {
    return this.model
      .namedModules()
      .filter(([, m]) => m instanceof BaseTunerLayer)
      .map(([, m]) => m as BaseTunerLayer);
  }

  /** True when adapter `name` is merged into some layer. */
  isMerged(name: string): boolean {
    return this.tunerLayers().some((l) => l.mergedAdapters.includes(name));
  }

  /**
   * Merges adapters (default: the enabled ones) into the base weights (§4.6): linear
   * `W += s·(B·A)` (transposed with `fanInFanOut`), bias `+= s·b_B` with `loraBias`, embedding
   * `E += s·(B·A)ᵀ`; DoRA `W ← (m/Wn) ⊙ (W + s·B·A)`; IA³ scales rows (and the bias) or columns.
   * Float32 compute, cast to the weight dtype. Merged branches are skipped in forward. Already merged
   * → a warning, no change. `safeMerge`: any non-finite merged value → `NON_FINITE_MERGE` naming
   * layer and adapter, every weight left bitwise untouched. A NeMo-style host adapter's name →
   * `MERGE_UNSUPPORTED` naming it and its type; another unknown name → `UNKNOWN_ADAPTER`.
   */
  mergeAdapters(names?: string[], opts: { safeMerge?: boolean } = {}): void {
    const list = [...new Set(names ?? this.getEnabledAdapters())];
    for (const n of list) {
      if (this.records.has(n)) continue;
      const hostType = this.hostAdapterType(n);
      if (hostType !== undefined) {
        throw new AdapterError(
          'MERGE_UNSUPPORTED',
          `mergeAdapters: '${n}' is a ${hostType} adapter; only tuner adapters (${listWrapperTypes().join(', ')}) can be merged (${hostType} is not linear in the input)`,
          { name: n, type: hostType },
        );
      }
      this.record(n, 'mergeAdapters');
    }
    const already = list.filter((n) => this.isMerged(n));
    if (already.length) logger().warn(`mergeAdapters: ${already.join(', ')} already merged; left unchanged`);
    const todo = list.filter((n) => !already.includes(n));
    const safe = opts.safeMerge ?? false;
    const snapshots = new Map<BaseTunerLayer, { w: Tensor; b: Tensor | null; merged: number }>();
    try {
      for (const layer of this.tunerLayers()) {
        for (const n of todo) {
          if (!layer.holds(n)) continue;
          if (safe && !snapshots.has(layer)) {
            snapshots.set(layer, {
              w: tf.clone(layer.weight),
              b: layer.bias ? tf.clone(layer.bias) : null,
              merged: layer.mergedAdapters.length,
            });
          }
          layer.mergeAdapter(n, safe);
        }
      }
    } catch (e) {
      for (const [layer, s] of snapshots) {
        for (const n of layer.mergedAdapters.slice(s.merged).reverse()) layer.forgetMerge(n);
        layer.weight.assign(s.w);
        if (s.b) layer.bias!.assign(s.b);
      }
      throw e;
    } finally {
      for (const s of snapshots.values()) {
        s.w.dispose();
        s.b?.dispose();
      }
    }
  }

  /** The type of a NeMo-style host adapter called `name` somewhere in the model, if any. */
  private hostAdapterType(name: string): string | undefined {
    for (const [, m] of this.model.namedModules()) {
      if (!isAdapterHost(m)) continue;
      const host = m as AdapterHostModule;
      if (host.heldAdapterNames().includes(name))
        return String(host.getAdapterCfg(name)?.type ?? host.getAdapterModule(name)?.typeName);
    }
    return undefined;
  }

  /**
   * Subtracts every merged delta, in reverse merge order per layer. Nothing merged → a warning. A
   * method whose unmerge is approximate (IA³ divides by `l + 1e-8`) warns so.
   */
  unmergeAdapters(): void {
    const unmerged: BaseTunerLayer[] = [];
    for (const layer of this.tunerLayers()) {
      if (layer.mergedAdapters.length) unmerged.push(layer);
      while (layer.mergedAdapters.length)
        layer.unmergeAdapter(layer.mergedAdapters[layer.mergedAdapters.length - 1]!);
    }
    if (!unmerged.length) logger().warn('unmergeAdapters: no adapter is merged');
    warnApproximateUnmerge(unmerged, 'unmergeAdapters');
  }

  /**
   * Merges (`names`, default the enabled adapters), then removes every wrapper: returns the wrapped
   * model with the original modules back in place (state keys exactly the original ones). A
   * modules-to-save module is replaced by the running adapter's copy. This PeftModel then holds no
   * adapters. Base parameters stay frozen (call `unfreeze()` to train them).
   */
  mergeAndUnload(opts: { names?: string[]; safeMerge?: boolean } = {}): Module {
    if (this.records.size) this.mergeAdapters(opts.names, { safeMerge: opts.safeMerge ?? false });
    return this.unloadImpl(true);
  }

  /**
   * Removes every wrapper without merging (merged adapters are unmerged first) and returns the wrapped
   * model with its original modules, whose outputs equal the original base.
   *
   * PEFT note: PEFT's `unload` keeps the active modules-to-save copy; here the original module is put
   * back so that the result is the original base.
   */
  unload(): Module {
    if (this.tunerLayers().some((l) => l.mergedAdapters.length)) this.unmergeAdapters();
    return this.unloadImpl(false);
  }

  private unloadImpl(keepCopies: boolean): Module {
    for (const [path, m] of this.model.namedModules()) {
      if (m instanceof BaseTunerLayer) {
        m.releaseAll();
        m.baseLayer.training = m.training;
        this.model.setSubmodule(path, m.baseLayer);
      }
    }
    for (const [path, m] of this.model.namedModules()) {
      if (!(m instanceof ModulesToSaveWrapper)) continue;
      const keep = keepCopies ? m.activeModule() : m.originalModule;
      for (const n of m.heldAdapters()) if (m.modules_to_save.get(n) !== keep) m.removeCopy(n);
      if (keep !== m.originalModule) {
        m.modules_to_save.delete(m.heldAdapters()[0]!);
        m.originalModule.dispose(); // no longer part of the model
      } else {
        keep.training = m.training;
      }
      this.model.setSubmodule(path, keep);
    }
    for (const r of this.records.values()) r.shared?.dispose();
    this.records.clear();
    this.enabled.clear();
    managers.delete(this.model);
    return this.model;
  }

  /**
   * Adds `newName`, a combination of existing LoRA adapters (what PEFT calls `add_weighted_adapter`):
   * `'linear'` sums √|wᵢsᵢ|-weighted A's and B's (equal ranks required), `'cat'` concatenates
   * `wᵢsᵢAᵢ` and `Bᵢ` (rank = Σ rᵢ; the delta is exactly Σ wᵢ·ΔWᵢ), `'svd'` (default) factorises
   * Σ wᵢ·ΔWᵢ at rank `svdRank` (default max rᵢ). The new adapter has `loraAlpha = r` (scaling 1) and,
   * as in PEFT, is frozen and not enabled. See {@link WeightedAdapterOptions}.
   */
  addWeightedAdapter(
    adapters: string[],
    weights: number[],
    newName: string,
    opts: WeightedAdapterOptions = {},
  ): void {
    const where = 'addWeightedAdapter';
    const method = this.tunerType === null ? undefined : getTunerMethod(this.tunerType, where);
    if (!method?.addWeightedAdapter) {
      for (const a of Array.isArray(adapters) ? adapters : []) this.record(a, where);
      const able = listWrapperTypes().filter((n) => getTunerMethod(n).addWeightedAdapter);
      throw new AdapterError(
        'UNSUPPORTED_FEATURE',
        `${where}: ${method ? `${method.displayName} adapters` : 'these adapters'} cannot be combined; methods whose adapters can: ${able.join(', ')}`,
        { type: method?.name ?? null, valid: able },
      );
    }
    method.addWeightedAdapter(
      {
        records: this.records,
        record: (n, w) => this.record(n, w),
        addAdapter: (n, c) => this.addAdapter(n, c as WrapperConfig),
        deleteAdapter: (n) => this.deleteAdapter(n),
        setAdapterTrainable: (n, t) => this.setAdapterTrainable(n, t),
        disable: (n) => this.enabled.delete(n),
      },
      adapters,
      weights,
      newName,
      opts,
    );
  }

  // ---- state and PEFT I/O ----

  /** Trainable parameters plus the running stats of library-frozen batch norms (B-170), by state key. */
  adapterStateDict(): StateDict {
    return adapterStateDict(this.model);
  }

  /** Adapter `name`'s normalised config (camelCase), as a saved config records it. */
  peftConfigFor(name: string): NormalizedWrapperConfig {
    return structuredClone(this.record(name, 'peftConfigFor').config) as NormalizedWrapperConfig;
  }

  /** Adapter `name`'s wrapped module paths with their resolved r / alpha / scaling (IA³: feed-forward flag). */
  wrappedModulesFor(name: string): MatchedTarget[] {
    return structuredClone(this.record(name, 'wrappedModulesFor').targets);
  }

  /**
   * @internal Where adapter `name`'s tensors live (wrapper layers and modules-to-save copies by path,
   * its config, the biases it trains), for checkpoint formats (`io/peft-keys.ts`). The record is the
   * model's own: do not change it. Unknown name → `UNKNOWN_ADAPTER`.
   */
  adapterRecord(name: string, where = 'adapterRecord'): Readonly<AdapterRecord> {
    return this.record(name, where);
  }
}

/** Warns once per method among `layers` whose unmerge is approximate (the method's own warning). */
function warnApproximateUnmerge(layers: readonly BaseTunerLayer[], where: string): void {
  const methods = new Set(layers.map((l) => tunerMethodOfLayer(l)));
  for (const m of methods) if (m.approximateUnmergeWarning) logger().warn(m.approximateUnmergeWarning(where));
}

/** The bias mode of an adapter config (`'none'` for methods that train no base bias). */
function biasModeOf(method: TunerMethod, cfg: BaseTunerConfig): TunerBiasMode {
  return method.biasMode ? method.biasMode(cfg) : 'none';
}
