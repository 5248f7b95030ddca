/**
 * adapterkit for Node (`adapterkit/node`): everything in the core entry `adapterkit`, plus what needs
 * Node: adapter files, model checkpoints and trainer checkpoints by path (written atomically), and the
 * Moby-Dick, SOTU and SpamAssassin loaders. Importing it installs Node's file system, so the core's
 * functions that take a directory path (`savePretrained`, `loadPretrained`, `loadAdapter`, `Trainer`'s
 * `checkpointDir`, `saveCheckpoint`, `loadCheckpoint`) work.
 *
 * @example
 * ```ts
 * import { initBackend, models, Trainer, saveAdaptersToFile, loadTextCorpus } from 'adapterkit/node';
 * ```
 */
export * from './index.js';
// `io` and `data` here are the core namespaces plus their Node parts.
export * as io from './io/node-index.js';
export * as data from './data/node-index.js';
export { readFileBytes, writeFileAtomic } from './io/atomic-file.js';
export {
  loadAdaptersFromFile,
  readModelDir,
  saveAdaptersToFile,
  saveModelToDir,
} from './io/files-by-path.js';
export { nodePathFiles } from './io/node-path-files.js';
export {
  latestTrainerCheckpoint,
  listTrainerCheckpoints,
  loadTrainerCheckpoint,
  saveTrainerCheckpoint,
} from './train/checkpoint-files.js';
// The dataset registry at the top level, and the three loaders.
export * from './data/datasets.js';
export { loadMobyDick, loadSotu, loadSpamAssassin, loadSpamSplits } from './data/node-index.js';
