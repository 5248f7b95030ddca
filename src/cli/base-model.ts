/** The CLI's default base model; loading and encoding live in the train layer. */
import { fileURLToPath } from 'node:url';
import { loadBaseModel as loadBaseModelFrom, type BaseModel } from '../recipes/base-model.js';

export { encodeCorpus, type BaseModel, type CorpusSplit } from '../recipes/base-model.js';

/** The pretrained Moby-Dick model shipped in the repository. */
export const DEFAULT_BASE_DIR = fileURLToPath(new URL('../../assets/mobydick-char-lm', import.meta.url));

/** Loads a character LM checkpoint directory (`config.json` + `model.safetensors`); default: the shipped model. */
export function loadBaseModel(dir: string = DEFAULT_BASE_DIR): Promise<BaseModel> {
  return loadBaseModelFrom(dir);
}
