/** Composition blocks and AdapterFusion (SPEC §5.1). */
export {
  ALLOWED_NESTINGS,
  Average,
  BatchSplit,
  BLOCK_TYPES,
  describeSetup,
  Fuse,
  Parallel,
  parseSetup,
  setupAdapterNames,
  setupToJson,
  Stack,
  type AverageBlock,
  type AverageOptions,
  type BatchSplitBlock,
  type BatchSplitOptions,
  type BlockType,
  type FuseBlock,
  type ParallelBlock,
  type SetupBlock,
  type SetupChild,
  type SetupInput,
  type StackBlock,
} from './setup.js';
export {
  AdapterFusion,
  FUSION_PRESETS,
  parseFusionConfig,
  type AdapterFusionOptions,
  type FusionConfig,
  type FusionConfigInput,
} from './fusion.js';
export { averageWeights } from './execute.js';
export { COMPOSITION_KEY, FUSION_LAYER, type CompositionCfg, type FusionRecord } from './state.js';
