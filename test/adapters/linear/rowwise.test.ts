/** The `linear` kind's one-pass per-row computation (SPEC §4.5), checked against each adapter run alone. */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { LinearAdapter } from '../../../src/adapters/index.js';
import { linearRowwise } from '../../../src/adapters/linear/rowwise.js';
import { randomize } from '../../fixtures/lora-models.js';
import { makeX, seed } from '../../fixtures/spec-models.js';
import { maxAbsDiff } from '../../helpers.js';

/** An eval-mode adapter with every parameter set to seeded non-zero values. */
function adapter(dim: number, normPosition: 'pre' | 'post', s: number): LinearAdapter {
  const a = new LinearAdapter({ inFeatures: 8, dim, normPosition });
  a.namedParameters().forEach(([, p], i) => randomize(p, s + i));
  a.eval();
  return a;
}

const row = (x: Tensor, i: number) => tf.slice(x, [i, 0], [1, -1]);

describe('linearRowwise', () => {
  it.each(['pre', 'post'] as const)(
    '%s-norm: each row computes its own adapter (different widths); base rows give zero',
    (pos) => {
      seed();
      const a = adapter(2, pos, 10);
      const b = adapter(3, pos, 20);
      const parts = [a, b].map((m) => linearRowwise.parts(m)!);
      const x = makeX(3, 8);
      expect(linearRowwise.compatible(parts, x)).toBe(true);
      const before = tf.memory().numTensors;
      const out = tf.tidy(() => linearRowwise.forwardRows(x, parts, [1, 2, 0]));
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(out.shape).toEqual([3, 8]);
      tf.tidy(() => {
        expect(maxAbsDiff(row(out, 0), b.forward(row(x, 0)))).toBeLessThan(1e-5);
        expect(maxAbsDiff(row(out, 1), tf.zeros([1, 8]))).toBe(0);
        expect(maxAbsDiff(row(out, 2), a.forward(row(x, 2)))).toBeLessThan(1e-5);
        // The check can fail: row 0 differs from what adapter a would give.
        expect(maxAbsDiff(row(out, 0), a.forward(row(x, 0)))).toBeGreaterThan(1e-3);
      });
      out.dispose();
    },
  );

  it('adapters differing in norm position, or an input of another width, do not share a pass', () => {
    seed();
    const pre = linearRowwise.parts(adapter(2, 'pre', 1))!;
    const post = linearRowwise.parts(adapter(2, 'post', 2))!;
    expect(pre.pre).toBe(true);
    expect(post.pre).toBe(false);
    expect(linearRowwise.compatible([pre, post], makeX(2, 8))).toBe(false);
    expect(linearRowwise.compatible([pre], makeX(2, 6))).toBe(false);
  });

  it('parts reads the training-mode dropout probability, 0 in eval', () => {
    const a = new LinearAdapter({ inFeatures: 8, dim: 2, dropout: 0.25 });
    a.train();
    expect(linearRowwise.parts(a)!.dropout).toBe(0.25);
    a.eval();
    expect(linearRowwise.parts(a)!.dropout).toBe(0);
  });
});
