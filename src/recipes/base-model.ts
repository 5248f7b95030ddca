/** Loading a pretrained character-LM checkpoint directory and encoding the corpora with its vocabulary. */
import { loadTextCorpus, loadTuningSplit, type TextCorpusName } from '../data/datasets.js';
import { CharVocab } from '../data/vocab.js';
import { AdapterError } from '../errors.js';
import { readModelDir } from '../io/files-by-path.js';
import { MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE, restoreModel } from '../io/model-checkpoint.js';
import { CharLM, type CharLMConfig } from '../models/char-lm.js';

/** A loaded base model and its vocabulary. */
export interface BaseModel {
  model: CharLM;
  vocab: CharVocab;
  dir: string;
}

/** Loads a character LM checkpoint directory (`config.json` + `model.safetensors`). */
export async function loadBaseModel(dir: string): Promise<BaseModel> {
  const { stat } = await import('node:fs/promises');
  const info = await stat(dir).catch(() => null);
  if (!info) throw new AdapterError('INVALID_INPUT', `base model ${dir}: no such directory`, { path: dir });
  if (!info.isDirectory()) {
    throw new AdapterError(
      'INVALID_INPUT',
      `base model ${dir} is a file; --base takes a model directory (${MODEL_CONFIG_FILE} + ${MODEL_WEIGHTS_FILE})`,
      { path: dir },
    );
  }
  const ckpt = await readModelDir(dir);
  let cfg: Partial<CharLMConfig>;
  try {
    cfg = JSON.parse(ckpt.config) as Partial<CharLMConfig>;
  } catch (e) {
    throw new AdapterError(
      'CHECKPOINT_FORMAT',
      `${dir}/${MODEL_CONFIG_FILE} is not valid JSON (${(e as Error).message})`,
      { path: dir },
    );
  }
  if (cfg === null || typeof cfg !== 'object' || cfg.model !== 'char-lm') {
    throw new AdapterError(
      'INVALID_CONFIG',
      `${dir} holds a ${JSON.stringify(cfg?.model ?? 'unknown')} model; this command needs a 'char-lm' checkpoint`,
    );
  }
  if (!cfg.vocab)
    throw new AdapterError('CHECKPOINT_FORMAT', `${dir}/config.json has no vocabulary ('vocab')`);
  const vocab = CharVocab.fromJSON(cfg.vocab);
  const model = restoreModel((c: CharLMConfig) => new CharLM(c), ckpt);
  return { model, vocab, dir };
}

/** The splits a command can read: the standard ones, and the tuning split of the training text. */
export type CorpusSplit = 'train' | 'heldOut' | 'tuneTrain' | 'validation';

/** A corpus split encoded with `vocab`. */
export function encodeCorpus(vocab: CharVocab, name: TextCorpusName, split: CorpusSplit): Int32Array {
  if (split === 'tuneTrain') return vocab.encode(loadTuningSplit(name).train);
  if (split === 'validation') return vocab.encode(loadTuningSplit(name).validation);
  return vocab.encode(loadTextCorpus(name)[split]);
}
