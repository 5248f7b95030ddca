/**
 * VeRA as a tuner method (what PEFT calls `VeraModel`): the hooks the tuner core calls to resolve a
 * `vera` config against a model, generate the adapter's shared projections from the largest
 * targeted sizes (PEFT's `_find_dim` and `_init_vera_A_vera_B`) and wrap each target. Registered in
 * `./index.ts`.
 */
import { Linear } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import { describeConfigSchema } from '../config-schema.js';
import type { TunerMethod } from '../tuners/registry.js';
import { fillDefaultTargets, type TargetPlan } from '../tuners/targets.js';
import { BaseTunerLayer } from '../tuners/tuner-layer.js';
import {
  checkVeraCrossFields,
  parseVeraConfig,
  veraConfigSchema,
  type NormalizedVeraConfig,
  type VeraConfig,
} from './config.js';
import { VeraLinear } from './layer.js';
import { VeraProjectionPair } from './projection.js';

declare module '../tuners/registry.js' {
  interface TunerConfigTypes {
    vera: { config: VeraConfig; normalized: NormalizedVeraConfig };
  }
}

/**
 * The largest input and output sizes over the planned targets (PEFT's `_find_dim`): the shared
 * projections are generated at this size and sliced per layer.
 */
export function veraProjectionSizes(
  plan: TargetPlan,
  fanInFanOut: boolean,
): { maxIn: number; maxOut: number } {
  let maxIn = 0;
  let maxOut = 0;
  for (const t of plan.planned) {
    const [d0, d1] = (t.candidate.base as Linear).weight.shape as [number, number];
    maxIn = Math.max(maxIn, fanInFanOut ? d0 : d1);
    maxOut = Math.max(maxOut, fanInFanOut ? d1 : d0);
  }
  return { maxIn, maxOut };
}

/** The `vera` tuner method: shared frozen random projections, per-layer trainable scaling vectors, on `Linear`. */
export const veraMethod: TunerMethod<NormalizedVeraConfig> = {
  name: 'vera',
  displayName: 'VeRA',
  layerClasses: [VeraLinear],
  // Each wrapper computes every row in one model pass (row groups inside the layer).
  perRowSelection: true,
  describe: () => describeConfigSchema(veraConfigSchema),
  parse: (cfg, where) => parseVeraConfig(cfg, where),
  resolveDefaults(model: Module, cfg: NormalizedVeraConfig, where: string): NormalizedVeraConfig {
    fillDefaultTargets(model, cfg, 'defaultLoraTargets', where);
    checkVeraCrossFields(cfg, where);
    return cfg;
  },
  canWrap: (base) => base instanceof Linear,
  supportedTargets: () => 'Linear',
  describeTarget: (cfg) => ({ r: cfg.r, alpha: null, scaling: null }),
  createSharedState({ config: cfg, plan }) {
    const { maxIn, maxOut } = veraProjectionSizes(plan, cfg.fanInFanOut);
    return VeraProjectionPair.generate({
      key: cfg.projectionPrngKey,
      r: cfg.r,
      maxIn,
      maxOut,
      saveProjection: cfg.saveProjection,
    });
  },
  createOrUpdateLayer({ current, name, config: cfg, target, shared }) {
    if (!(shared instanceof VeraProjectionPair))
      throw new Error(`unreachable: VeRA adapter '${name}' has no shared projections`);
    let layer: VeraLinear;
    if (current instanceof VeraLinear) layer = current;
    else if (current instanceof BaseTunerLayer)
      throw new Error(`unreachable: '${target.path}' holds a ${current.typeName}`);
    else layer = new VeraLinear({ base: current as Linear, fanInFanOut: cfg.fanInFanOut });
    layer.updateLayer(name, {
      r: cfg.r,
      projections: shared,
      veraDropout: cfg.veraDropout,
      initWeights: cfg.initWeights,
      dInitial: cfg.dInitial,
    });
    return layer;
  },
  // PEFT's 'vera_only' is the core's "biases of wrapped layers".
  biasMode: (cfg) => (cfg.bias === 'vera_only' ? 'lora_only' : cfg.bias),
};
