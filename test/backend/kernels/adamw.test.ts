/**
 * The native fused AdamW update against the tensor formula.
 * Runs only where the native addon is built; test/backend/native.test.ts prints the suite's one line
 * when it is not (and fails under CI=true).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import { AdamW } from '../../../src/train/adamw.js';
import { activateNative } from '../../../src/backend/native.js';
import { nativeAvailable, onAndOff, maxAbsDiff } from './native-harness.js';

describe.skipIf(!nativeAvailable)('native AdamW', () => {
  beforeAll(() => {
    activateNative({ enabled: true });
  });
  afterAll(() => {
    activateNative({ enabled: true });
  });

  it('AdamW updates agree (weight decay, maximize, several steps)', () => {
    const run = () => {
      const p = tf.variable(tf.randomNormal([7, 5], 0, 1, 'float32', 10), true, `p${Math.random()}`);
      const opt = new AdamW([['p', p]], { lr: 0.01, weightDecay: 0.1, maximize: true });
      for (let s = 0; s < 4; s++) {
        const g = tf.randomNormal([7, 5], 0, 1, 'float32', 20 + s);
        opt.step({ p: g });
        g.dispose();
      }
      const st = opt.getState().params.p!;
      const out = [Array.from(p.dataSync()), Array.from(st.expAvg), Array.from(st.expAvgSq)];
      opt.dispose();
      p.dispose();
      return out;
    };
    const { native, wasm } = onAndOff(run);
    native.forEach((x, i) => expect(maxAbsDiff(x, wasm[i]!)).toBeLessThan(1e-6));
  });
});
