/**
 * The io layer for Node (`io` of `adapterkit/node`): everything in `index.ts`, plus atomic file writes,
 * adapter files and model checkpoints by path, and Node's file system installed for the functions that
 * accept a directory path (`savePretrained`, `loadPretrained`, `loadAdapter`).
 */
export * from './index.js';
export { MAX_FILE_BYTES, readFileBytes, writeFileAtomic } from './atomic-file.js';
export { loadAdaptersFromFile, readModelDir, saveAdaptersToFile, saveModelToDir } from './files-by-path.js';
export { nodePathFiles } from './node-path-files.js';
