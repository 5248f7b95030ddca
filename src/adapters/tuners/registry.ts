/**
 * The registry of tuner methods (what PEFT calls `register_peft_method`): each method folder
 * (`lora/`, `ia3/`, …) declares its config parsing, its wrapper layers and the hooks the core calls,
 * and registers itself once. The core (`PeftModel`, target matching, the PEFT reader) asks the
 * registry and never names a method. Tuner methods are not host adapters (SPEC §2.3), so they live
 * here instead of the adapter type registry: `listAdapterTypes()` is unchanged.
 */
import { AdapterError, describeValue, isPlainObject } from '../../errors.js';
import type { Tensor } from '../../backend/tf.js';
import type { Module } from '../../nn/module.js';
import type { TypeSchema } from '../config-schema.js';
import type { WeightedAdapterOptions, WeightedHost } from './combination.js';
import type { MatchedTarget, TargetPlan } from './targets.js';
import type { BaseTunerConfig } from './tuner-config.js';
import type { BaseTunerLayer } from './tuner-layer.js';

/**
 * Config types by method name, for typing only. A method folder adds its entry:
 *
 * ```ts
 * declare module '../tuners/registry.js' {
 *   interface TunerConfigTypes { lora: { config: LoraConfig; normalized: NormalizedLoraConfig } }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface TunerConfigTypes {}

/** A config `PeftModel` accepts: any registered method's config. */
export type WrapperConfig = {
  [K in keyof TunerConfigTypes]: TunerConfigTypes[K] extends { config: infer C } ? C : never;
}[keyof TunerConfigTypes];
/** Its stored, normalised form. */
export type NormalizedWrapperConfig = {
  [K in keyof TunerConfigTypes]: TunerConfigTypes[K] extends { normalized: infer N } ? N : never;
}[keyof TunerConfigTypes];

/** How a wrapper layer class declares where its adapter tensors live (what PEFT calls `adapter_layer_names`). */
export interface TunerLayerClass {
  readonly typeName: string;
  readonly adapterLayerNames: readonly string[];
}

/**
 * Frozen tensors one adapter shares across all its wrapper layers (VeRA's projections `vera_A` /
 * `vera_B`), created once per adapter by {@link TunerMethod.createSharedState} and owned by the
 * managing model, which disposes them with the adapter.
 */
export interface SharedAdapterState {
  /**
   * The tensors saved with the adapter (none when the adapter does not save them): each one's PEFT key after
   * `base_model.` (`'vera_A'`), the live tensor, and how to replace it with a loaded value (the
   * value is the caller's: copy it).
   */
  peftTensors(): Array<{ peftKey: string; tensor: Tensor; assign(value: Tensor): void }>;
  /** Frees the tensors. */
  dispose(): void;
}

/** Which base biases an adapter trains and saves (PEFT's `bias`): none, those of wrapped layers, every bias. */
export type TunerBiasMode = 'none' | 'lora_only' | 'all';

/**
 * A tuner method: what the core needs to know to wrap, run, merge and save it. `C` is the method's
 * normalised config.
 */
export interface TunerMethod<C extends BaseTunerConfig = BaseTunerConfig> {
  /** The config `type` (`'lora'`). Unique. */
  readonly name: string;
  /** The name in messages (`'LoRA'`). */
  readonly displayName: string;
  /**
   * The wrapper layer classes. Their `adapterLayerNames` are the method's parameter prefixes (unique
   * across methods); the core reads them to tell adapter tensors from base parameters.
   */
  readonly layerClasses: readonly TunerLayerClass[];
  /**
   * Wrappers compute a per-sample selection (SPEC §4.5) in one pass from `TunerContext.rowAdapters`.
   * False: the model runs once per row group instead (same result).
   */
  readonly perRowSelection: boolean;
  /** The introspectable schema (`getWrapperTypeSchema`). */
  describe(): TypeSchema;
  /** Validates a caller's config and returns a fresh normalised copy (`INVALID_CONFIG` naming the field). */
  parse(cfg: unknown, where: string): C;
  /**
   * Fills in what the model declares (e.g. default targets) and re-runs the method's cross-field
   * checks; `targetModules` must be set on return. Returns a fresh copy.
   */
  resolveDefaults(model: Module, cfg: C, where: string): C;
  /** Whether the method can wrap `base` (the layer under any existing wrapper). */
  canWrap(base: Module, cfg: C): boolean;
  /** The layer types it can wrap with `cfg`, for `UNSUPPORTED_TARGET` messages (`'Linear, Embedding'`). */
  supportedTargets(cfg: C): string;
  /** Per-module values recorded for a matched module (LoRA: r, alpha, scaling). Default: all null. */
  describeTarget?(cfg: C, path: string): Omit<MatchedTarget, 'path' | 'kind'>;
  /** Method-specific checks of a complete plan (after the core's own), e.g. IA³'s feed-forward subset rule. */
  checkPlan?(plan: TargetPlan, cfg: C, where: string): void;
  /**
   * Creates what adapter `name` shares across its layers, once per adapter after validation and
   * before its layers (PEFT's `_pre_injection_hook`); passed to every `createOrUpdateLayer` call as
   * `shared`. Absent: nothing is shared.
   */
  createSharedState?(args: { name: string; config: C; plan: TargetPlan }): SharedAdapterState;
  /**
   * Adds adapter `name` at a target: to `current` when it is already one of this method's wrappers,
   * else to a new wrapper around `current`, returned (the core puts it in the model).
   */
  createOrUpdateLayer(args: {
    current: Module;
    name: string;
    config: C;
    target: MatchedTarget;
    /** What {@link createSharedState} returned for this adapter, if the method has it. */
    shared?: SharedAdapterState;
  }): BaseTunerLayer;
  /** Which base biases an adapter with `cfg` trains and saves. Default `'none'`. */
  biasMode?(cfg: C): TunerBiasMode;
  /**
   * Present when unmerging only approximately restores the weights: the warning (prefixed by the
   * operation) logged after an unmerge.
   */
  approximateUnmergeWarning?(where: string): string;
  /** `PeftModel.addWeightedAdapter` for this method; absent → `UNSUPPORTED_FEATURE`. */
  addWeightedAdapter?(
    host: WeightedHost,
    adapters: string[],
    weights: number[],
    newName: string,
    opts: WeightedAdapterOptions,
  ): void;
}

const methods = new Map<string, TunerMethod>();
/** The prefix every modules-to-save copy lives under. */
const MODULES_TO_SAVE = 'modules_to_save';

/**
 * Registers a tuner method. A name, parameter prefix or layer class another method already
 * registered → `REGISTRY_CONFLICT`, naming it.
 *
 * @example
 * ```ts
 * registerTunerMethod(loraMethod); // in lora/index.ts
 * ```
 */
export function registerTunerMethod<C extends BaseTunerConfig>(method: TunerMethod<C>): void {
  const clash = (what: string) =>
    new AdapterError('REGISTRY_CONFLICT', `registerTunerMethod('${method.name}'): ${what}`, {
      type: method.name,
    });
  if (methods.has(method.name)) throw clash(`a tuner method called '${method.name}' is already registered`);
  for (const other of methods.values()) {
    for (const cls of method.layerClasses) {
      if (other.layerClasses.includes(cls))
        throw clash(`layer class ${cls.typeName} already belongs to '${other.name}'`);
      for (const p of cls.adapterLayerNames) {
        if (p === MODULES_TO_SAVE || other.layerClasses.some((o) => o.adapterLayerNames.includes(p))) {
          throw clash(
            `parameter prefix '${p}' is already used by '${p === MODULES_TO_SAVE ? 'modules-to-save copies' : other.name}'`,
          );
        }
      }
    }
  }
  methods.set(method.name, method as unknown as TunerMethod);
  internalKeyPattern = null;
}

/** Removes a registered method (tests and plug-ins that register temporarily). */
export function unregisterTunerMethod(name: string): boolean {
  internalKeyPattern = null;
  return methods.delete(name);
}

/** The wrapper config types, in registration order (`['lora', 'ia3']` for the built-ins). */
export function listWrapperTypes(): string[] {
  return [...methods.keys()];
}

/** The registered method `name`; unknown → `UNKNOWN_TYPE` listing the registered ones. */
export function getTunerMethod(name: unknown, where = 'getTunerMethod'): TunerMethod {
  const m = typeof name === 'string' ? methods.get(name) : undefined;
  if (!m) {
    throw new AdapterError(
      'UNKNOWN_TYPE',
      `${where}: wrapper config type ${JSON.stringify(name)} is not one of: ${listWrapperTypes().join(', ')}`,
      { type: name, valid: listWrapperTypes() },
    );
  }
  return m;
}

/** Schema of a wrapper config type; unknown name → `UNKNOWN_TYPE` listing the valid ones. */
export function getWrapperTypeSchema(name: string): TypeSchema {
  return getTunerMethod(name, 'getWrapperTypeSchema').describe();
}

/** Validates a config of any registered method (dispatch on `type`) and returns a fresh normalised copy. */
export function parseWrapperConfig(cfg: unknown, where: string): NormalizedWrapperConfig {
  if (!isPlainObject(cfg)) {
    throw new AdapterError(
      'INVALID_CONFIG',
      `${where}: expected a config object like {type: '${listWrapperTypes()[0] ?? '<method>'}', targetModules: [...]}, got ${describeValue(cfg)}`,
    );
  }
  if (cfg.type === undefined) {
    throw new AdapterError(
      'INVALID_CONFIG',
      `${where}: the config has no 'type'; wrapper config types: ${listWrapperTypes().join(', ')}`,
      {
        valid: listWrapperTypes(),
      },
    );
  }
  return getTunerMethod(cfg.type, where).parse(cfg, where) as NormalizedWrapperConfig;
}

/** The method whose wrapper `layer` is. */
export function tunerMethodOfLayer(layer: BaseTunerLayer): TunerMethod {
  return getTunerMethod(layer.tunerKind, layer.typeName);
}

let internalKeyPattern: RegExp | null = null;

/**
 * True for state keys inside wrapper internals or modules-to-save copies (not base parameters):
 * a segment is a parameter prefix some registered method declares, or `modules_to_save`.
 */
export function isAdapterInternalKey(key: string): boolean {
  if (!internalKeyPattern) {
    const prefixes = [...methods.values()].flatMap((m) => m.layerClasses.flatMap((c) => c.adapterLayerNames));
    const alternatives = [...prefixes, MODULES_TO_SAVE].map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    internalKeyPattern = new RegExp(`(^|\\.)(${alternatives.join('|')})\\.`);
  }
  return internalKeyPattern.test(key);
}
