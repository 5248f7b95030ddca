/**
 * The model registry: every model this library builds from a stored config, by the name its config
 * records in `model`, and whole-model checkpoints restored through it.
 */
import { AdapterError, describeValue, isPlainObject, notOneOf } from '../errors.js';
import { restoreModel, type ModelCheckpoint } from '../io/model-checkpoint.js';
import { CHAR_LM, CharLM, type CharLMConfig } from './char-lm.js';
import { ENCODER_CLASSIFIER, EncoderClassifier, type EncoderClassifierConfig } from './encoder-classifier.js';
import { MLP_CLASSIFIER, MlpClassifier, type MlpClassifierConfig } from './mlp-classifier.js';

/** Names {@link buildModel} accepts in `cfg.model`. */
export const MODEL_NAMES = [CHAR_LM, ENCODER_CLASSIFIER, MLP_CLASSIFIER] as const;
/** A registered model name. */
export type ModelName = (typeof MODEL_NAMES)[number];

/** Any model the registry builds. */
export type RegisteredModel = CharLM | EncoderClassifier | MlpClassifier;

/** A config naming its model. */
export type ModelConfig =
  | (CharLMConfig & { model: 'char-lm' })
  | (EncoderClassifierConfig & { model: 'encoder-classifier' })
  | (MlpClassifierConfig & { model: 'mlp-classifier' });

/**
 * @param name - A value to test.
 * @returns Whether `name` is one of {@link MODEL_NAMES}.
 */
export function isModelName(name: unknown): name is ModelName {
  return typeof name === 'string' && (MODEL_NAMES as readonly string[]).includes(name);
}

/**
 * Builds the model a config names in `model` (the config's own adapters are recreated).
 *
 * @param cfg - A model config with `model` set to one of {@link MODEL_NAMES}.
 * @returns A new model.
 * @throws AdapterError `INVALID_CONFIG` when `cfg` is not an object or `model` is missing or unknown
 *   (naming the value and listing the valid names), or when the model rejects its config.
 */
export function buildModel(cfg: CharLMConfig & { model: 'char-lm' }): CharLM;
export function buildModel(cfg: EncoderClassifierConfig & { model: 'encoder-classifier' }): EncoderClassifier;
export function buildModel(cfg: MlpClassifierConfig & { model: 'mlp-classifier' }): MlpClassifier;
export function buildModel(cfg: unknown): RegisteredModel;
export function buildModel(cfg: unknown): RegisteredModel {
  if (!isPlainObject(cfg)) {
    throw new AdapterError(
      'INVALID_CONFIG',
      `buildModel: expected a model config object, got ${describeValue(cfg)}`,
      {
        valid: [...MODEL_NAMES],
      },
    );
  }
  const name = cfg.model;
  switch (name) {
    case CHAR_LM:
      return new CharLM(cfg as unknown as CharLMConfig);
    case ENCODER_CLASSIFIER:
      return new EncoderClassifier(cfg as unknown as EncoderClassifierConfig);
    case MLP_CLASSIFIER:
      return new MlpClassifier(cfg as unknown as MlpClassifierConfig);
    default:
      throw new AdapterError(
        'INVALID_CONFIG',
        name === undefined
          ? `buildModel: the config has no 'model' field; set it to one of: ${MODEL_NAMES.join(', ')}`
          : `buildModel: ${notOneOf('model', name, MODEL_NAMES)}`,
        { field: 'model', value: name, valid: [...MODEL_NAMES] },
      );
  }
}

/** Top-level module names of state-dict keys (`encoder.layers.0…` → `encoder`), in first-seen order. */
function topLevel(keys: readonly string[]): string[] {
  return [...new Set(keys.map((k) => k.split('.')[0]!))];
}

/**
 * Restores a whole-model checkpoint (`saveModel`): builds the model its config names with
 * {@link buildModel} (recreating recorded adapters) and loads every weight strictly.
 *
 * @param ckpt - The checkpoint.
 * @returns The restored model.
 * @throws AdapterError `CHECKPOINT_FORMAT` on unreadable config or weights; `INVALID_CONFIG` from
 *   {@link buildModel}; `STATE_DICT_MISMATCH` when the weights do not fit the model the config
 *   builds (e.g. weights of another architecture), naming the model, the top-level modules on
 *   each side, and the missing / unexpected keys and shape mismatches.
 */
export function restoreModelFromCheckpoint(ckpt: ModelCheckpoint): RegisteredModel {
  try {
    return restoreModel((cfg) => buildModel(cfg), ckpt);
  } catch (e) {
    if (!(e instanceof AdapterError) || e.code !== 'STATE_DICT_MISMATCH') throw e;
    const missing = (e.details['missingKeys'] as string[] | undefined) ?? [];
    const unexpected = (e.details['unexpectedKeys'] as string[] | undefined) ?? [];
    let name: unknown;
    try {
      name = (JSON.parse(ckpt.config) as { model?: unknown }).model;
    } catch {
      name = undefined;
    }
    const hint =
      missing.length || unexpected.length
        ? ` The weights hold modules [${topLevel(unexpected).join(', ') || '—'}] the model lacks, and lack [${topLevel(missing).join(', ') || '—'}]` +
          ` it has; they were probably saved from a different architecture or configuration.`
        : '';
    throw new AdapterError(
      'STATE_DICT_MISMATCH',
      `restoreModelFromCheckpoint: the checkpoint weights do not fit the ${JSON.stringify(name)} model its config builds.${hint} ${e.message}`,
      { ...e.details, model: name },
    );
  }
}
