/** What the PEFT-managed model knows about one adapter: its config and where its tensors live. */
import type { Variable } from '../../backend/tf.js';
import type { ModulesToSaveWrapper } from './modules-to-save.js';
import type { SharedAdapterState } from './registry.js';
import type { MatchedTarget } from './targets.js';
import type { BaseTunerConfig } from './tuner-config.js';
import type { BaseTunerLayer } from './tuner-layer.js';

/** @internal One adapter of a `PeftModel`. */
export interface AdapterRecord {
  name: string;
  /** Normalised config with `targetModules` as a saved config records it (model defaults filled in, `'all-linear'` expanded). */
  config: BaseTunerConfig;
  /** Wrapped module paths with their resolved values (LoRA: r / alpha / scaling). */
  targets: MatchedTarget[];
  /** The wrapper layers holding this adapter, by path. */
  layers: Array<{ path: string; layer: BaseTunerLayer }>;
  /** Modules-to-save wrappers holding a copy for this adapter, by path. */
  copies: Array<{ path: string; wrapper: ModulesToSaveWrapper }>;
  /** Base biases this adapter made trainable (see `TunerMethod.biasMode`). */
  unfrozenBiases: Variable[];
  /** Tensors shared by all its layers (see `TunerMethod.createSharedState`), or null. */
  shared?: SharedAdapterState | null;
}
