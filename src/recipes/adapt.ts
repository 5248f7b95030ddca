/**
 * Adapting a pretrained character LM to a new text, one method at a time: a NeMo-style bottleneck
 * adapter in every block, LoRA on chosen projections, or full fine-tuning as the reference. Each
 * run trains only its method's parameters, with the same batches for every method.
 */
import { compilePattern, type AdapterConfig } from '../adapters/index.js';
import { PeftModel } from '../io/peft-model.js';
import { AdapterError, check, notOneOf } from '../errors.js';
import type { CharLM } from '../models/char-lm.js';
import { trainLm, type LanguageModel } from './lm.js';
import type { AuxiliaryLossSource, StepInfo } from '../train/trainer.js';

/** The adaptation methods. */
export const ADAPT_METHODS = ['full', 'linear', 'parallel', 'lora', 'vera', 'prefix', 'mam'] as const;
export type AdaptMethodKind = (typeof ADAPT_METHODS)[number];

/**
 * Peak learning rates per method when a run gives none, chosen by the sweep recorded in the README;
 * `adapterkit adapt` and training jobs both use them.
 */
export const DEFAULT_LR: Readonly<Record<AdaptMethodKind, number>> = {
  full: 3e-3,
  linear: 3e-2,
  parallel: 1e-2,
  lora: 1e-2,
  vera: 1e-1,
  prefix: 1e-1,
  mam: 1e-2,
};

/** One method and its options. */
export type AdaptMethod =
  | {
      kind: 'full';
      /**
       * Train only the parameters whose path (e.g. `decoder.layers.0.ffn.fc1.weight`) matches this
       * regular expression; the rest stay frozen. Default: every parameter.
       */
      trainable?: string;
    }
  | ({
      kind: 'linear';
      dim: number;
      activation?: string;
      normPosition?: 'pre' | 'post';
      dropout?: number;
    } & Heads)
  | ({ kind: 'parallel'; dim: number; scaling: number } & Heads)
  | ({ kind: 'lora'; r: number; alpha: number; targetModules: string[]; dropout?: number } & Heads)
  /** VeRA (SPEC §5.4): shared frozen projections of rank `r`, trainable scaling vectors per target. */
  | ({
      kind: 'vera';
      r: number;
      targetModules: string[];
      dropout?: number;
      projectionPrngKey?: number;
    } & Heads)
  | ({ kind: 'prefix' } & PrefixOptions & Heads)
  | ({ kind: 'mam'; dim: number; scaling: number } & PrefixOptions & Heads);

/** Modules the adapter owns a trainable copy of (SPEC §5.2; PEFT's `modules_to_save`). */
interface Heads {
  modulesToSave?: string[];
}

/** Prefix tuning's options (the `prefixTuning` config, and the prefix part of `mam`). */
export interface PrefixOptions {
  /** Learned key and value vectors per layer and head. */
  numVirtualTokens: number;
  /** Reparameterise the prefixes with PEFT's MLP. Default false. */
  prefixProjection?: boolean;
  /** Hidden width of that MLP (with `prefixProjection`); default the model width. */
  encoderHiddenSize?: number;
}

/** The `prefixTuning` config fields of `o`. */
function prefixConfig(o: PrefixOptions): Record<string, unknown> {
  return {
    numVirtualTokens: o.numVirtualTokens,
    ...(o.prefixProjection ? { prefixProjection: true } : {}),
    ...(o.encoderHiddenSize !== undefined ? { encoderHiddenSize: o.encoderHiddenSize } : {}),
  };
}

/** The adapter config of a method the model holds itself (NeMo-style). */
function hostAdapterConfig(model: CharLM, method: AdaptMethod): AdapterConfig {
  switch (method.kind) {
    case 'parallel':
      return { type: 'parallel', inFeatures: model.cfg.dModel, dim: method.dim, scaling: method.scaling };
    case 'prefix':
      return { type: 'prefixTuning', ...prefixConfig(method) };
    case 'mam':
      return {
        type: 'mam',
        prefix: prefixConfig(method),
        ffn: { dim: method.dim, scaling: method.scaling },
      };
    case 'linear':
      return {
        type: 'linear',
        inFeatures: model.cfg.dModel,
        dim: method.dim,
        ...(method.activation ? { activation: method.activation } : {}),
        ...(method.normPosition ? { normPosition: method.normPosition } : {}),
        ...(method.dropout !== undefined ? { dropout: method.dropout } : {}),
      };
    default:
      throw new AdapterError('INVALID_CONFIG', `method ${method.kind} is not an adapter the model holds`);
  }
}

/** The name an adapter is added under. */
export const ADAPTER_NAME = 'adapted';

/** A model prepared for one method. */
export interface AttachedMethod {
  /** What to train and evaluate (the model itself, or its PEFT wrapper). */
  model: LanguageModel;
  /** Runs `fn` with the method's adapter disabled (undefined for full fine-tuning). */
  withAdapterDisabled?: <T>(fn: () => T) => T;
  /** The PEFT wrapper, for LoRA and VeRA. */
  peft?: PeftModel;
  /** Where the adapters' auxiliary losses (SPEC §2.10) come from: the model, except for LoRA. */
  auxiliaryLosses?: AuxiliaryLossSource;
}

/** Prepares `model` for `method`: adds the adapter and freezes everything else (full: all trainable). */
export function attachMethod(model: CharLM, method: AdaptMethod): AttachedMethod {
  switch (method.kind) {
    case 'full':
      if (method.trainable === undefined) model.unfreeze();
      else trainOnlyMatching(model, method.trainable);
      return { model, auxiliaryLosses: model };
    case 'linear':
    case 'parallel':
    case 'prefix':
    case 'mam': {
      const cfg = hostAdapterConfig(model, method);
      if (method.modulesToSave) cfg.modulesToSave = method.modulesToSave;
      model.addAdapter(ADAPTER_NAME, cfg);
      model.freeze();
      model.unfreezeEnabledAdapters();
      // Training mode everywhere (as a training loop's model.train() does); trainable flags stay.
      model.train();
      return {
        model,
        auxiliaryLosses: model,
        withAdapterDisabled: (fn) => {
          model.setEnabledAdapters(ADAPTER_NAME, false);
          try {
            return fn();
          } finally {
            model.setEnabledAdapters(ADAPTER_NAME, true);
          }
        },
      };
    }
    case 'lora':
    case 'vera': {
      const heads = method.modulesToSave ? { modulesToSave: method.modulesToSave } : {};
      const peft = PeftModel.wrap(
        model,
        method.kind === 'lora'
          ? {
              type: 'lora',
              r: method.r,
              loraAlpha: method.alpha,
              targetModules: method.targetModules,
              loraDropout: method.dropout ?? 0,
              ...heads,
            }
          : {
              type: 'vera',
              r: method.r,
              targetModules: method.targetModules,
              veraDropout: method.dropout ?? 0,
              projectionPrngKey: method.projectionPrngKey ?? 0,
              ...heads,
            },
        { adapterName: 'default' }, // PEFT's name: its directory layout puts 'default' at the root
      );
      peft.train();
      return {
        model: peft as unknown as LanguageModel,
        peft,
        withAdapterDisabled: (fn) => peft.withAdaptersDisabled(fn),
      };
    }
    default:
      throw new AdapterError(
        'INVALID_CONFIG',
        notOneOf('adaptation method', (method as { kind: unknown }).kind, ADAPT_METHODS),
      );
  }
}

/**
 * Freezes `model` except the parameters whose path contains a match of `pattern` (a regular expression,
 * run on the linear-time engine: a user's pattern cannot hang the process).
 */
function trainOnlyMatching(model: CharLM, pattern: string): void {
  const re = compilePattern(pattern, 'trainable parameters', (p) => p);
  const named = model.namedParameters();
  const matched = named.filter(([path]) => re.test(path));
  check(
    matched.length > 0,
    'INVALID_CONFIG',
    () =>
      `trainable parameters: '${pattern}' matches no parameter path; paths look like ${named
        .filter((_, i) => i % 8 === 0)
        .slice(0, 5)
        .map(([path]) => path)
        .join(', ')}, …`,
  );
  model.freeze();
  for (const [, p] of matched) p.trainable = true;
  model.train();
}

/** Options of {@link adaptCharLm}. */
export interface AdaptOptions {
  model: CharLM;
  method: AdaptMethod;
  ids: Int32Array;
  steps: number;
  batch: number;
  seqLen: number;
  lr: number;
  seed: number;
  warmupSteps?: number;
  weightDecay?: number;
  onStep?: (info: StepInfo) => void | Promise<void>;
  /** Save a resumable checkpoint every this many steps into `checkpointDir` (only the newest is kept). */
  checkpointEvery?: number;
  checkpointDir?: string;
  /** Continue from the newest checkpoint in `checkpointDir` when there is one. */
  resume?: boolean;
}

/** What {@link adaptCharLm} reports. */
export interface AdaptResult extends AttachedMethod {
  trainableParams: number;
  totalParams: number;
  losses: number[];
  seconds: number;
  tokensPerSecond: number;
}

/** Attaches `method` to `model` and trains it on `ids`. */
export async function adaptCharLm(opts: AdaptOptions): Promise<AdaptResult> {
  check(opts.steps >= 1, 'INVALID_CONFIG', () => `adapt: steps must be ≥ 1, got ${opts.steps}`);
  const attached = attachMethod(opts.model, opts.method);
  const model = attached.model;
  const trainableParams = model.numParameters({ trainableOnly: true });
  const totalParams = model.numParameters();
  const t0 = performance.now();
  const losses = await trainLm({
    model,
    ids: opts.ids,
    steps: opts.steps,
    batch: opts.batch,
    seqLen: opts.seqLen,
    lr: opts.lr,
    warmupSteps: opts.warmupSteps,
    weightDecay: opts.weightDecay,
    seed: opts.seed,
    onStep: opts.onStep,
    checkpointEvery: opts.checkpointEvery,
    checkpointDir: opts.checkpointDir,
    keepLastCheckpoints: opts.checkpointEvery !== undefined ? 1 : undefined,
    resume: opts.resume,
    auxiliaryLosses: attached.auxiliaryLosses,
  });
  const seconds = (performance.now() - t0) / 1000;
  return {
    ...attached,
    trainableParams,
    totalParams,
    losses,
    seconds,
    tokensPerSecond: (opts.steps * opts.batch * opts.seqLen) / seconds,
  };
}
