/**
 * Learning-rate schedules. A schedule maps `step`, the number of optimizer updates already completed
 * (0 for the first update), to the learning rate used by update `step + 1`: PyTorch's `LambdaLR` with
 * `scheduler.step()` called after every `optimizer.step()`.
 */
import { AdapterError, check, notOneOf } from '../errors.js';

/** `step` (completed updates, ≥ 0) → learning rate of the next update. */
export type LrSchedule = (step: number) => number;

/** Options of {@link linearWarmupCosine}. */
export interface WarmupCosineOptions {
  /** Peak learning rate, reached at step `warmupSteps − 1` and held at the start of the decay. */
  baseLr: number;
  /** Linear warmup length W (0 = no warmup). */
  warmupSteps: number;
  /** Step N at which the cosine reaches `minLr`; `N ≥ W`. */
  totalSteps: number;
  /** Floor of the decay and the rate after `totalSteps`. Default 0. */
  minLr?: number;
}

/** A schedule described as plain JSON (what configs and checkpoints store). */
export type ScheduleConfig =
  ({ type: 'linearWarmupCosine' } & WarmupCosineOptions) | { type: 'constant'; lr: number };

/** The schedule type names {@link createSchedule} accepts. */
export const SCHEDULE_TYPES = ['linearWarmupCosine', 'constant'] as const;

function checkRate(v: unknown, field: string, where: string): asserts v is number {
  check(
    typeof v === 'number' && Number.isFinite(v) && v >= 0,
    'INVALID_CONFIG',
    () => `${where}: ${field} must be a finite number ≥ 0, got ${JSON.stringify(v)}`,
    () => ({ field, value: v }),
  );
}

function checkCount(v: unknown, field: string, where: string): asserts v is number {
  check(
    Number.isInteger(v) && (v as number) >= 0,
    'INVALID_CONFIG',
    () => `${where}: ${field} must be an integer ≥ 0, got ${JSON.stringify(v)}`,
    () => ({ field, value: v }),
  );
}

function checkStep(step: number, where: string): void {
  check(
    Number.isInteger(step) && step >= 0,
    'INVALID_INPUT',
    () => `${where}: step must be an integer ≥ 0 (completed updates), got ${step}`,
  );
}

function validateWarmupCosine(o: WarmupCosineOptions, where: string): Required<WarmupCosineOptions> {
  checkRate(o.baseLr, 'baseLr', where);
  const minLr = o.minLr ?? 0;
  checkRate(minLr, 'minLr', where);
  checkCount(o.warmupSteps, 'warmupSteps', where);
  checkCount(o.totalSteps, 'totalSteps', where);
  check(
    o.totalSteps >= o.warmupSteps,
    'INVALID_CONFIG',
    () => `${where}: totalSteps (${o.totalSteps}) must be ≥ warmupSteps (${o.warmupSteps})`,
    () => ({ field: 'totalSteps', value: o.totalSteps }),
  );
  return { baseLr: o.baseLr, minLr, warmupSteps: o.warmupSteps, totalSteps: o.totalSteps };
}

/**
 * The learning rate at `step` for linear warmup followed by cosine decay, computed in float64. With
 * W = warmupSteps and N = totalSteps:
 * - `step < W`: `baseLr · (step + 1) / W` (step W − 1 already reaches baseLr);
 * - `W ≤ step < N`: `minLr + ½ (baseLr − minLr)(1 + cos(π (step − W)/(N − W)))` (baseLr at step W);
 * - `step ≥ N`: `minLr`.
 *
 * @example
 * ```ts
 * warmupCosineLr(0, { baseLr: 1e-3, warmupSteps: 3, totalSteps: 12 }); // 3.333e-4
 * ```
 */
export function warmupCosineLr(step: number, options: WarmupCosineOptions): number {
  const o = validateWarmupCosine(options, 'warmupCosineLr');
  return warmupCosineUnchecked(step, o);
}

function warmupCosineUnchecked(step: number, o: Required<WarmupCosineOptions>): number {
  checkStep(step, 'linearWarmupCosine');
  const { baseLr, minLr, warmupSteps: w, totalSteps: n } = o;
  if (step < w) return (baseLr * (step + 1)) / w;
  if (step >= n) return minLr;
  const progress = (step - w) / (n - w);
  return minLr + 0.5 * (baseLr - minLr) * (1 + Math.cos(Math.PI * progress));
}

/**
 * Linear warmup + cosine decay to `minLr` (default 0), then constant; see {@link warmupCosineLr}.
 * Options are validated once, here.
 *
 * @example
 * ```ts
 * const lr = linearWarmupCosine({ baseLr: 1e-3, warmupSteps: 100, totalSteps: 1000, minLr: 1e-5 });
 * lr(99); // 1e-3
 * ```
 */
export function linearWarmupCosine(options: WarmupCosineOptions): LrSchedule {
  const o = validateWarmupCosine(options, 'linearWarmupCosine');
  return (step) => warmupCosineUnchecked(step, o);
}

/**
 * The same learning rate at every step.
 *
 * @example
 * ```ts
 * constantLr(0.01)(123); // 0.01
 * ```
 */
export function constantLr(lr: number): LrSchedule {
  checkRate(lr, 'lr', 'constantLr');
  return (step) => {
    checkStep(step, 'constantLr');
    return lr;
  };
}

/**
 * Builds a schedule from its JSON description; an unknown `type` is `INVALID_CONFIG` listing
 * {@link SCHEDULE_TYPES}.
 *
 * @example
 * ```ts
 * const lr = createSchedule({ type: 'linearWarmupCosine', baseLr: 1e-3, warmupSteps: 3, totalSteps: 12, minLr: 1e-4 });
 * ```
 */
export function createSchedule(config: ScheduleConfig): LrSchedule {
  switch (config?.type) {
    case 'linearWarmupCosine':
      return linearWarmupCosine(config);
    case 'constant':
      return constantLr(config.lr);
    default:
      throw new AdapterError(
        'INVALID_CONFIG',
        `createSchedule: ${notOneOf('type', (config as { type?: unknown })?.type, SCHEDULE_TYPES)}`,
        {
          field: 'type',
          value: (config as { type?: unknown })?.type,
          valid: [...SCHEDULE_TYPES],
        },
      );
  }
}
