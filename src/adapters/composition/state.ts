/**
 * Where a model keeps its composition state: in its adapters config, next to the adapter meta config,
 * so hosts (which share that config by reference) see it and it is persisted with the model config:
 *
 * ```
 * adapters:
 *   globalCfg:
 *     adapterMetaCfg: {...}
 *     adapterCompositionCfg:
 *       activeSetup: {type: 'stack', children: ['a', {type: 'fuse', children: ['b', 'c']}]}
 *       fusions: { "b,c": { children: ['b', 'c'], config: {key: true, ...} } }
 * ```
 *
 * Fusion layers live on each host holding their adapters, under the child `adapter_fusion_layer`
 * (state keys `adapter_fusion_layer.<b,c>.query.weight`, …).
 */
import type { AdaptersConfig } from '../types.js';
import type { FusionConfig } from './fusion.js';
import type { SetupBlock } from './setup.js';

/** `globalCfg` key of the composition state. */
export const COMPOSITION_KEY = 'adapterCompositionCfg';
/** Host child holding the fusion layers, by fusion name. */
export const FUSION_LAYER = 'adapter_fusion_layer';

/** A recorded fusion layer: its children (in order) and its normalised config. */
export interface FusionRecord {
  children: string[];
  config: FusionConfig;
}

/** The composition state of a model's adapters config. */
export interface CompositionCfg {
  activeSetup?: SetupBlock;
  fusions?: Record<string, FusionRecord>;
}

/** The composition state of an adapters config, if any. */
export function compositionCfgOf(adapters: AdaptersConfig | undefined): CompositionCfg | undefined {
  return adapters?.globalCfg?.[COMPOSITION_KEY] as CompositionCfg | undefined;
}

/** The composition state, created on first use. */
export function ensureCompositionCfg(adapters: AdaptersConfig): CompositionCfg {
  adapters.globalCfg ??= {};
  return ((adapters.globalCfg[COMPOSITION_KEY] as CompositionCfg | undefined) ??= {});
}
