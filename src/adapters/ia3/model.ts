/**
 * IA³ as a tuner method (what PEFT calls `IA3Model`): the hooks the tuner core calls to resolve an
 * `ia3` config against a model and wrap a target. Registered in `./index.ts`.
 */
import { check } from '../../errors.js';
import { Linear } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import { compilePattern } from '../tuners/regex.js';
import { describeConfigSchema } from '../config-schema.js';
import type { TunerMethod } from '../tuners/registry.js';
import { fillDefaultTargets, type TargetPlan } from '../tuners/targets.js';
import { BaseTunerLayer } from '../tuners/tuner-layer.js';
import {
  checkIa3CrossFields,
  ia3ConfigSchema,
  parseIa3Config,
  type Ia3Config,
  type NormalizedIa3Config,
} from './config.js';
import { IA3_UNMERGE_EPS, Ia3Linear } from './layer.js';

type TargetSpec = string | string[];

declare module '../tuners/registry.js' {
  interface TunerConfigTypes {
    ia3: { config: Ia3Config; normalized: NormalizedIa3Config };
  }
}

declare module '../tuners/targets.js' {
  interface ModelTargetHints {
    /** IA³ targets used when a config gives none. */
    defaultIa3Targets?: TargetSpec;
    /** IA³ feed-forward modules used when a config gives none. */
    defaultIa3FeedforwardModules?: TargetSpec;
  }
}

/** Does `ff` (IA³'s `feedforwardModules`) select module `path`? A string is a full match, a list entry a plain suffix (as PEFT). */
function isFeedforward(ff: TargetSpec | null, path: string): boolean {
  return ff === null
    ? false
    : typeof ff === 'string'
      ? compilePattern(ff, 'feedforwardModules').test(path)
      : ff.some((e) => path.endsWith(e));
}

/** The `ia3` tuner method: learned rescaling of `Linear` outputs (or inputs, for feed-forward modules). */
export const ia3Method: TunerMethod<NormalizedIa3Config> = {
  name: 'ia3',
  displayName: 'IA³',
  layerClasses: [Ia3Linear],
  // Rows with different adapters run as row groups: one forward per group.
  perRowSelection: false,
  describe: () => describeConfigSchema(ia3ConfigSchema),
  parse: (cfg, where) => parseIa3Config(cfg, where),
  resolveDefaults(model: Module, cfg: NormalizedIa3Config, where: string): NormalizedIa3Config {
    const filled = fillDefaultTargets(model, cfg, 'defaultIa3Targets', where);
    const ffDefault = (model as Module & { defaultIa3FeedforwardModules?: TargetSpec })
      .defaultIa3FeedforwardModules;
    if (filled && cfg.feedforwardModules === null && ffDefault)
      cfg.feedforwardModules = structuredClone(ffDefault);
    checkIa3CrossFields(cfg, where);
    return cfg;
  },
  canWrap: (base) => base instanceof Linear,
  supportedTargets: () => 'Linear',
  describeTarget: (cfg, path) => ({
    r: null,
    alpha: null,
    scaling: null,
    feedforward: isFeedforward(cfg.feedforwardModules, path),
  }),
  checkPlan(plan: TargetPlan, cfg, where) {
    const ff = cfg.feedforwardModules;
    if (ff === null) return;
    const { keys, targetKeys } = plan;
    const bad =
      typeof ff === 'string'
        ? keys.filter((k) => compilePattern(ff, 'feedforwardModules').test(k) && !targetKeys.includes(k))
        : ff.filter((e) => !targetKeys.some((k) => k.endsWith(e)));
    check(
      bad.length === 0,
      'INVALID_CONFIG',
      () =>
        `${where}: feedforwardModules must be a subset of the target modules; not targets: ${bad.join(', ')}`,
      () => ({ field: 'feedforwardModules', value: bad }),
    );
  },
  createOrUpdateLayer({ current, name, config: cfg, target }) {
    let layer: Ia3Linear;
    if (current instanceof Ia3Linear) layer = current;
    else if (current instanceof BaseTunerLayer)
      throw new Error(`unreachable: '${target.path}' holds a ${current.typeName}`);
    else layer = new Ia3Linear({ base: current as Linear, fanInFanOut: cfg.fanInFanOut });
    layer.updateLayer(name, { feedforward: target.feedforward ?? false, initIa3Weights: cfg.initIa3Weights });
    return layer;
  },
  approximateUnmergeWarning: (where) =>
    `${where}: IA³ unmerge divides by (l + ${IA3_UNMERGE_EPS}); the restored weights are approximate`,
};
