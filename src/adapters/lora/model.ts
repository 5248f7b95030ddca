/**
 * LoRA as a tuner method (what PEFT calls `LoraModel`): the hooks the tuner core calls to resolve a
 * `lora` config against a model, wrap a target, and combine adapters. Registered in `./index.ts`.
 */
import { Embedding, Linear } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import { describeConfigSchema } from '../config-schema.js';
import type { TunerMethod } from '../tuners/registry.js';
import { fillDefaultTargets, patternOverride } from '../tuners/targets.js';
import { BaseTunerLayer } from '../tuners/tuner-layer.js';
import {
  checkLoraCrossFields,
  loraConfigSchema,
  loraScaling,
  parseLoraConfig,
  type LoraConfig,
  type NormalizedLoraConfig,
  type TargetSpec,
} from './config.js';
import { LoraEmbedding, LoraLinear } from './layer.js';
import { addWeightedAdapterTo } from './weighted.js';

declare module '../tuners/registry.js' {
  interface TunerConfigTypes {
    lora: { config: LoraConfig; normalized: NormalizedLoraConfig };
  }
}

declare module '../tuners/targets.js' {
  interface ModelTargetHints {
    /** LoRA targets used when a config gives none. */
    defaultLoraTargets?: TargetSpec;
  }
}

/** The `lora` tuner method: LoRA and DoRA on `Linear`, LoRA on `Embedding`. */
export const loraMethod: TunerMethod<NormalizedLoraConfig> = {
  name: 'lora',
  displayName: 'LoRA',
  layerClasses: [LoraLinear, LoraEmbedding],
  perRowSelection: true,
  describe: () => describeConfigSchema(loraConfigSchema),
  parse: (cfg, where) => parseLoraConfig(cfg, where),
  resolveDefaults(model: Module, cfg: NormalizedLoraConfig, where: string): NormalizedLoraConfig {
    fillDefaultTargets(model, cfg, 'defaultLoraTargets', where);
    checkLoraCrossFields(cfg, where);
    return cfg;
  },
  canWrap: (base, cfg) =>
    base instanceof Linear || (base instanceof Embedding && !cfg.useDora && !cfg.loraBias),
  supportedTargets: (cfg) =>
    cfg.useDora || cfg.loraBias ? 'Linear (useDora/loraBias)' : 'Linear, Embedding',
  describeTarget(cfg, path) {
    const r = patternOverride(cfg.rankPattern, path, 'rankPattern') ?? cfg.r; // rule 5
    const alpha = patternOverride(cfg.alphaPattern, path, 'alphaPattern') ?? cfg.loraAlpha;
    return { r, alpha, scaling: loraScaling(r, alpha, cfg.useRslora) };
  },
  createOrUpdateLayer({ current, name, config: cfg, target }) {
    let layer: LoraLinear | LoraEmbedding;
    if (current instanceof LoraLinear || current instanceof LoraEmbedding) layer = current;
    else if (current instanceof BaseTunerLayer)
      throw new Error(`unreachable: '${target.path}' holds a ${current.typeName}`);
    else if (current instanceof Embedding) layer = new LoraEmbedding({ base: current });
    else layer = new LoraLinear({ base: current as Linear, fanInFanOut: cfg.fanInFanOut });
    layer.updateLayer(name, {
      r: target.r!,
      loraAlpha: target.alpha!,
      useRslora: cfg.useRslora,
      loraDropout: cfg.loraDropout,
      initLoraWeights: cfg.initLoraWeights,
      loraBias: cfg.loraBias,
      useDora: cfg.useDora,
    });
    return layer;
  },
  biasMode: (cfg) => cfg.bias,
  addWeightedAdapter: (host, adapters, weights, newName, opts) =>
    addWeightedAdapterTo(host, adapters, weights, newName, opts),
};
