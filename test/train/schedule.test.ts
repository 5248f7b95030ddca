import { describe, expect, it } from 'vitest';
import { constantLr, createSchedule, linearWarmupCosine, warmupCosineLr } from '../../src/train/schedule.js';

describe('linear warmup + cosine', () => {
  const o = { baseLr: 1e-3, minLr: 1e-4, warmupSteps: 3, totalSteps: 12 };
  const lr = linearWarmupCosine(o);

  it('warms up linearly and reaches baseLr at step W − 1', () => {
    expect(lr(0)).toBeCloseTo(1e-3 / 3, 15);
    expect(lr(1)).toBeCloseTo(2e-3 / 3, 15);
    expect(lr(2)).toBe(1e-3);
  });

  it('starts the decay at baseLr, is halfway at the midpoint and ends at minLr', () => {
    expect(lr(3)).toBe(1e-3);
    expect(warmupCosineLr(7, { ...o, warmupSteps: 2 })).toBeCloseTo(5.5e-4, 15); // progress (7 − 2)/10 = 0.5
    expect(lr(12)).toBe(1e-4);
    expect(lr(100)).toBe(1e-4);
    expect(lr(11)).toBeGreaterThan(1e-4);
  });

  it('decays monotonically', () => {
    for (let s = 3; s < 14; s++) expect(lr(s + 1)).toBeLessThanOrEqual(lr(s));
  });

  it('works without warmup and with the default floor 0', () => {
    const f = linearWarmupCosine({ baseLr: 2, warmupSteps: 0, totalSteps: 4 });
    expect(f(0)).toBe(2);
    expect(f(2)).toBeCloseTo(1, 12);
    expect(f(4)).toBe(0);
    expect(warmupCosineLr(4, { baseLr: 2, warmupSteps: 4, totalSteps: 4 })).toBe(0);
  });

  it('constant and createSchedule', () => {
    expect(constantLr(0.1)(57)).toBe(0.1);
    expect(createSchedule({ type: 'constant', lr: 0.2 })(0)).toBe(0.2);
    expect(createSchedule({ type: 'linearWarmupCosine', ...o })(2)).toBe(1e-3);
    expect(() => createSchedule({ type: 'linear' } as never)).toThrow(
      /type "linear" is not one of: linearWarmupCosine, constant/,
    );
  });

  it('rejects bad options and steps', () => {
    expect(() => linearWarmupCosine({ baseLr: 1, warmupSteps: 5, totalSteps: 3 })).toThrow(
      /totalSteps \(3\) must be ≥ warmupSteps \(5\)/,
    );
    expect(() => linearWarmupCosine({ baseLr: -1, warmupSteps: 0, totalSteps: 3 })).toThrow(/baseLr/);
    expect(() => lr(-1)).toThrow(/step must be an integer ≥ 0/);
  });
});
