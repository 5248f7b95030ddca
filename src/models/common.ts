import type { AdapterModelConfig } from '../adapters/model.js';
import { CharVocab, type CharVocabJSON } from '../data/vocab.js';
import { AdapterError, check, notOneOf } from '../errors.js';
import { withAdapterModel } from '../io/adapter-model.js';
import { Linear } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import type { TransformerStackOptions } from '../nn/transformer.js';
import { POSITIONAL_KINDS, registerEmbeddings, type PositionalKind } from './positions.js';

/** Checks a model config field is an integer ≥ 1, naming the model and field otherwise. */
export function requirePositiveInt(cfg: Record<string, unknown>, field: string, model: string): number {
  const v = cfg[field];
  check(
    Number.isInteger(v) && (v as number) >= 1,
    'INVALID_CONFIG',
    () => `${model} config: ${field} must be an integer ≥ 1, got ${JSON.stringify(v)}`,
    () => ({ field, value: v }),
  );
  return v as number;
}

/** Checks a config field is one of `choices` (or absent, giving `fallback`). */
/**
 * Checks a classifier's optional `labels` (class names, one per output column, all different): what
 * an output extension's new labels are checked against.
 */
export function requireLabels(cfg: Record<string, unknown>, numClasses: number, model: string): void {
  const v = cfg.labels;
  if (v === undefined) return;
  check(
    Array.isArray(v) &&
      v.length === numClasses &&
      v.every((l) => typeof l === 'string' && l !== '') &&
      new Set(v).size === v.length,
    'INVALID_CONFIG',
    () =>
      `${model} config: labels must be ${numClasses} different non-empty strings (one per class), got ${JSON.stringify(v)}`,
    () => ({ field: 'labels', value: v }),
  );
}

export function requireChoice<T extends string>(
  cfg: Record<string, unknown>,
  field: string,
  choices: readonly T[],
  fallback: T,
  model: string,
): T {
  const v = cfg[field] ?? fallback;
  if (!(choices as readonly unknown[]).includes(v)) {
    throw new AdapterError('INVALID_CONFIG', `${model} config: ${notOneOf(field, v, choices)}`, {
      field,
      valid: [...choices],
    });
  }
  return v as T;
}

/** The fields every transformer sequence model's config has. */
export interface SequenceModelConfig {
  vocabSize: number;
  dModel: number;
  numLayers: number;
  nHead: number;
  dFF: number;
  /** Longest input (positions). */
  maxLen: number;
  /** Dropout inside the transformer blocks. Default 0. */
  dropout?: number;
  /** `'learned'` (default) or `'sinusoidal'` position embeddings. */
  positional?: PositionalKind;
  /** The character vocabulary the ids come from (`CharVocab.toJSON()`), kept with checkpoints. */
  vocab?: CharVocabJSON;
}

/**
 * Checks a sequence model's config: sizes are integers ≥ 1 (plus `extraFields`), `positional` is
 * known, `dModel` divides by `nHead`, and a stored vocabulary has `vocabSize` entries. Returns the
 * positional kind with its default.
 */
export function checkSequenceConfig(
  cfg: SequenceModelConfig,
  model: string,
  extraFields: readonly string[] = [],
): PositionalKind {
  const c = cfg as unknown as Record<string, unknown>;
  for (const f of ['vocabSize', 'dModel', 'numLayers', 'nHead', 'dFF', 'maxLen', ...extraFields])
    requirePositiveInt(c, f, model);
  const positional = requireChoice(c, 'positional', POSITIONAL_KINDS, 'learned', model);
  check(
    cfg.dModel % cfg.nHead === 0,
    'INVALID_CONFIG',
    () => `${model} config: dModel (${cfg.dModel}) must be divisible by nHead (${cfg.nHead})`,
    () => ({ field: 'nHead', value: cfg.nHead }),
  );
  if (cfg.vocab !== undefined) {
    const size = CharVocab.fromJSON(cfg.vocab).size;
    check(
      size === cfg.vocabSize,
      'INVALID_CONFIG',
      () =>
        `${model} config: vocabSize (${cfg.vocabSize}) differs from the size of the stored vocabulary (${size})`,
      () => ({ field: 'vocabSize', value: cfg.vocabSize, expected: size }),
    );
  }
  return positional;
}

/** What a transformer sequence model holds between its embeddings and its output. */
export interface SequenceModelParts {
  /** Child name and class of the transformer stack (`'decoder'`, `TransformerDecoder`). */
  stack: readonly [name: string, ctor: new (options: TransformerStackOptions) => Module];
  /** Child name and width of the linear output layer (`'lm_head'`, `vocabSize`). */
  head: readonly [name: string, outFeatures: number];
  /** Config fields besides the shared sizes that must be integers ≥ 1. */
  extraFields?: readonly string[];
}

/**
 * Builds a transformer sequence model's modules on `model` (after checking `cfg`, see
 * {@link checkSequenceConfig}): `tok_emb` and the positions, the stack (GELU, `cfg.dropout`), the head.
 * Returns the config to store: a copy of `cfg` with `model` and `positional` written out.
 */
export function buildSequenceModel<C extends SequenceModelConfig, M extends string>(
  model: Module,
  cfg: C,
  name: M,
  parts: SequenceModelParts,
): C & { model: M; positional: PositionalKind } {
  const positional = checkSequenceConfig(cfg, name, parts.extraFields);
  const stored = { ...structuredClone(cfg), model: name, positional };
  const { dModel, numLayers, nHead, dFF } = cfg;
  registerEmbeddings(model, cfg, positional);
  const [stackName, Stack] = parts.stack;
  model.registerModule(
    stackName,
    new Stack({ numLayers, dModel, nHead, dFF, dropout: cfg.dropout ?? 0, activation: 'gelu' }),
  );
  const [headName, outFeatures] = parts.head;
  model.registerModule(headName, new Linear({ inFeatures: dModel, outFeatures }));
  return stored;
}

/** Where a built-in model keeps its adapters and LoRA targets (see {@link withBuiltinAdapters}). */
export interface BuiltinAdapterLayout {
  /** The submodule whose blocks hold adapters; also the default module of adapter names. */
  module: string;
  /** The output layer, never an `'all-linear'` LoRA target. */
  outputLayer: string;
  /** Module paths LoRA targets by default. */
  loraTargets: readonly string[];
}

// Mixin constructors must take `any[]` (TS2545).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ModelCtor = new (...args: any[]) => Module & { cfg: AdapterModelConfig };

/**
 * The adapter model of a built-in model class: adapters (and their files) on `layout.module`, reached
 * by `''` too, the LoRA defaults, and the set-up every adapter model's constructor ends with (plain
 * submodules upgraded to their registered adapter classes, recorded adapters restored).
 */
export function withBuiltinAdapters<TBase extends ModelCtor>(Base: TBase, layout: BuiltinAdapterLayout) {
  return class BuiltinAdapterModel extends withAdapterModel(Base) {
    /** Module paths LoRA targets by default. */
    readonly defaultLoraTargets = [...layout.loraTargets];
    /** The output layer, excluded from `'all-linear'`. */
    readonly outputLayerPath = layout.outputLayer;

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    constructor(...args: any[]) {
      super(...args);
      this.adapterModuleNames = ['', layout.module];
      this.defaultAdapterModuleName = layout.module;
      this.replaceAdapterCompatibleModules();
      this.setupAdapters();
    }
  };
}
