import { describe, expect, it } from 'vitest';
import { recipeOptimization } from '../../src/recipes/optimization.js';

describe('recipeOptimization', () => {
  it('defaults: weight decay 0.01, warm-up over 10% of the steps (rounded), decay to 0 at the last step', () => {
    expect(recipeOptimization({ steps: 205, lr: 3e-3 })).toEqual({
      optimizer: { lr: 3e-3, weightDecay: 0.01 },
      schedule: { warmupSteps: 21, totalSteps: 205, minLr: 0 },
      maxSteps: 205,
    });
  });

  it('keeps the weight decay and warm-up it is given, zero included', () => {
    const o = recipeOptimization({ steps: 50, lr: 1e-3, weightDecay: 0, warmupSteps: 0 });
    expect(o.optimizer).toEqual({ lr: 1e-3, weightDecay: 0 });
    expect(o.schedule).toEqual({ warmupSteps: 0, totalSteps: 50, minLr: 0 });
  });
});
