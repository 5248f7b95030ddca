import { CharVocab, type CharVocabJSON } from '../data/vocab.js';
import { AdapterError, check, notOneOf } from '../errors.js';
import { POSITIONAL_KINDS, type PositionalKind } from './positions.js';

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
