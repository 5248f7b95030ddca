/**
 * Pretraining of the character-level base model on Moby-Dick: the recipe behind the weights the
 * main job starts from. The seed and settings are written beside the weights, so
 * `adapterkit pretrain` reproduces them.
 */
import { CharVocab } from '../data/vocab.js';
import { loadTextCorpus } from '../data/datasets.js';
import { CharLM, type CharLMConfig } from '../models/char-lm.js';
import { manualSeed } from '../rng.js';
import { evaluateBpc, trainLm } from './lm.js';
import type { StepInfo } from '../train/trainer.js';

/** Settings of {@link pretrainCharLm}; the defaults are the shipped base model's. */
export interface PretrainOptions {
  seed: number;
  steps: number;
  batch: number;
  seqLen: number;
  lr: number;
  /** Linear warmup steps; default 5 % of `steps` (100 for the shipped 2000). */
  warmupSteps?: number;
  weightDecay: number;
  dModel: number;
  numLayers: number;
  nHead: number;
  dFF: number;
  dropout: number;
  positional: 'learned' | 'sinusoidal';
  /** Held-out windows evaluated at the end (evenly spaced; see `evaluateBpc`). */
  evalWindows: number;
}

export const DEFAULT_PRETRAIN: Readonly<PretrainOptions> = Object.freeze({
  seed: 0,
  steps: 2000,
  batch: 16,
  seqLen: 128,
  lr: 3e-3,
  weightDecay: 0.01,
  dModel: 128,
  numLayers: 4,
  nHead: 4,
  dFF: 512,
  dropout: 0,
  positional: 'learned',
  evalWindows: 512,
});

/** What {@link pretrainCharLm} returns. */
export interface PretrainResult {
  model: CharLM;
  vocab: CharVocab;
  losses: number[];
  heldOutBpc: number;
  options: PretrainOptions;
}

/** Trains a {@link CharLM} from scratch on Moby-Dick's training split. */
export async function pretrainCharLm(
  options: Partial<PretrainOptions> = {},
  hooks: { onStep?: (info: StepInfo) => void | Promise<void>; checkpointDir?: string; resume?: boolean } = {},
): Promise<PretrainResult> {
  const o: PretrainOptions = { ...DEFAULT_PRETRAIN, ...options };
  manualSeed(o.seed); // initial weights
  const corpus = loadTextCorpus('mobydick');
  const vocab = CharVocab.fromText(corpus.train);
  const cfg: CharLMConfig = {
    vocabSize: vocab.size,
    dModel: o.dModel,
    numLayers: o.numLayers,
    nHead: o.nHead,
    dFF: o.dFF,
    maxLen: o.seqLen,
    dropout: o.dropout,
    positional: o.positional,
    vocab: vocab.toJSON(),
  };
  const model = new CharLM(cfg);
  const losses = await trainLm({
    model,
    ids: vocab.encode(corpus.train),
    steps: o.steps,
    batch: o.batch,
    seqLen: o.seqLen,
    lr: o.lr,
    warmupSteps: o.warmupSteps ?? Math.round(o.steps * 0.05),
    weightDecay: o.weightDecay,
    seed: o.seed,
    onStep: hooks.onStep,
    checkpointEvery: hooks.checkpointDir ? 100 : undefined,
    checkpointDir: hooks.checkpointDir,
    resume: hooks.resume,
    auxiliaryLosses: model,
  });
  const heldOutBpc = evaluateBpc(model, vocab.encode(corpus.heldOut), {
    seqLen: o.seqLen,
    batch: o.batch,
    windows: o.evalWindows,
  });
  return { model, vocab, losses, heldOutBpc, options: o };
}
