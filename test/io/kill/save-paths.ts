/**
 * The four save paths the kill-during-save tests exercise, each with two different states: `save(which,
 * target)` writes state 0 or 1 through the library's own save function, `load(target)` reads it back
 * through the library's own loader (throws if it does not load). States are deterministic (seeded), so
 * every process builds the same bytes. Kept light: a child process imports only this module.
 */
import { tf } from '../../../src/backend/tf.js';
import { PeftModel } from '../../../src/adapters/index.js';
import {
  loadAdaptersFromFile,
  readModelDir,
  saveAdaptersToFile,
  saveModelToDir,
} from '../../../src/io/files-by-path.js';
import { restoreModel } from '../../../src/io/model-checkpoint.js';
import { savePretrained } from '../../../src/io/peft.js';
import { loadPretrained } from '../../../src/io/peft-model.js';
import { CharLM, type CharLMConfig } from '../../../src/models/char-lm.js';
import { createRng, setRng } from '../../../src/rng.js';
import type { TrainerCheckpoint } from '../../../src/train/checkpoint.js';
import { loadTrainerCheckpoint, saveTrainerCheckpoint } from '../../../src/train/checkpoint-files.js';
import { TinyLM } from '../../fixtures/lora-models.js';
import { TestModel, cfgPre } from '../../fixtures/spec-models.js';

export const SAVE_KINDS = ['adapter-file', 'peft-dir', 'model-dir', 'trainer-checkpoint'] as const;
export type SaveKind = (typeof SAVE_KINDS)[number];

export interface SavePath {
  /** Whether the target is a directory (else one file). */
  directory: boolean;
  save(which: 0 | 1, target: string): Promise<void>;
  load(target: string): Promise<void>;
}

/** Seeded values in [-1, 1) (no TensorFlow.js randomness, so any backend gives the same bytes). */
function values(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => 2 * rng.next() - 1);
}

function randomizeMatching(
  model: { namedParameters(): Array<[string, tf.Variable]> },
  part: string,
  seed: number,
): void {
  let s = seed;
  for (const [path, p] of model.namedParameters()) {
    if (path.includes(part)) p.assign(tf.tensor(values(p.size, s++), p.shape));
  }
}

function adapterFile(): SavePath {
  const states = [1, 2].map((seed) => {
    setRng(createRng(seed));
    const m = new TestModel();
    m.addAdapter('adapter_0', { ...cfgPre, dim: 1500 + seed * 100 }); // ~0.6 MB of tensors; sizes differ
    randomizeMatching(m, 'adapter_layer', seed * 1000);
    return m;
  });
  return {
    directory: false,
    save: (which, target) => saveAdaptersToFile(states[which]!, target),
    load: async (target) => {
      const m = new TestModel();
      await loadAdaptersFromFile(m, target);
      m.dispose();
    },
  };
}

const TINY = { d: 96, h: 64, layers: 2 };

function peftDir(): SavePath {
  // Different alpha (so a config from one state with the weights of the other scales wrongly), rank and weights.
  const states = [
    { seed: 1, r: 16, loraAlpha: 16 },
    { seed: 2, r: 24, loraAlpha: 48 },
  ].map(({ seed, r, loraAlpha }) => {
    setRng(createRng(seed));
    const peft = PeftModel.wrap(new TinyLM(TINY), {
      type: 'lora',
      targetModules: ['q_proj', 'v_proj', 'fc1'],
      r,
      loraAlpha,
    });
    randomizeMatching(peft.model, 'lora_', seed * 1000);
    return peft;
  });
  return {
    directory: true,
    save: (which, target) => savePretrained(states[which]!, target),
    load: async (target) => {
      setRng(createRng(9));
      const peft = await loadPretrained(new TinyLM(TINY), target);
      peft.model.dispose();
    },
  };
}

function modelDir(): SavePath {
  const cfgs: CharLMConfig[] = [
    { vocabSize: 40, dModel: 64, numLayers: 2, nHead: 4, dFF: 128, maxLen: 32 },
    { vocabSize: 40, dModel: 64, numLayers: 2, nHead: 4, dFF: 128, maxLen: 32, dropout: 0.1 },
  ];
  const states = cfgs.map((cfg, i) => {
    setRng(createRng(i + 1));
    const m = new CharLM(cfg);
    randomizeMatching(m, '', (i + 1) * 1000);
    return m;
  });
  return {
    directory: true,
    save: (which, target) => saveModelToDir(states[which]!, target),
    load: async (target) => restoreModel((cfg) => new CharLM(cfg), await readModelDir(target)).dispose(),
  };
}

function trainerCheckpoint(): SavePath {
  const states = [1, 2].map((seed): TrainerCheckpoint => {
    const n = 60_000 + seed * 10_000;
    return {
      step: seed * 10,
      tokens: seed * 1000,
      params: new Map([['w', { dtype: 'float32', shape: [n], data: values(n, seed) }]]),
      buffers: new Map(),
      optimizer: {
        params: {
          w: {
            step: seed * 10,
            shape: [n],
            expAvg: values(n, seed + 10),
            expAvgSq: values(n, seed + 20).map(Math.abs),
          },
        },
      },
      rngState: seed,
      losses: Array.from({ length: seed * 10 }, (_, i) => 1 / (i + 1)),
      evals: [],
      earlyStopping: { best: null, bestStep: null, badEvals: 0 },
    };
  });
  return {
    directory: false,
    save: (which, target) => saveTrainerCheckpoint(target, states[which]!),
    load: async (target) => void (await loadTrainerCheckpoint(target)),
  };
}

/** Builds the two states of a save path. */
export function savePath(kind: SaveKind): SavePath {
  switch (kind) {
    case 'adapter-file':
      return adapterFile();
    case 'peft-dir':
      return peftDir();
    case 'model-dir':
      return modelDir();
    case 'trainer-checkpoint':
      return trainerCheckpoint();
  }
}
