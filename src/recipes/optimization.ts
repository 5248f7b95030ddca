/**
 * The optimisation settings the training recipes share: AdamW with weight decay 0.01 by default, a
 * linear warm-up over 10% of the steps (unless given) and a decay to 0 at the last step.
 */
import type { TrainerOptions } from '../train/trainer-options.js';

/** What a recipe's options say about optimisation. */
export interface RecipeOptimization {
  steps: number;
  lr: number;
  weightDecay?: number;
  warmupSteps?: number;
}

/** The `optimizer`, `schedule` and `maxSteps` trainer options of a recipe run of `opts.steps` steps. */
export function recipeOptimization(
  opts: RecipeOptimization,
): Pick<TrainerOptions<unknown>, 'optimizer' | 'schedule' | 'maxSteps'> {
  return {
    optimizer: { lr: opts.lr, weightDecay: opts.weightDecay ?? 0.01 },
    schedule: {
      warmupSteps: opts.warmupSteps ?? Math.round(opts.steps * 0.1),
      totalSteps: opts.steps,
      minLr: 0,
    },
    maxSteps: opts.steps,
  };
}
