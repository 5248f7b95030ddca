/** The rows an output extension adds (SPEC §5.2). */
import { describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import { OutputExtension } from '../../../src/adapters/heads/output-extension.js';

describe('OutputExtension', () => {
  it('holds weight [k, in] and bias [k], starting at zero, and computes x·Wᵀ + b', () => {
    const ext = new OutputExtension(3, ['a', 'b']);
    expect([...ext.stateDict()].map(([k, t]) => [k, t.shape])).toEqual([
      ['weight', [2, 3]],
      ['bias', [2]],
    ]);
    const x = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(ext.forward(x).arraySync()).toEqual([
      [0, 0],
      [0, 0],
    ]);
    ext.weight.assign(
      tf.tensor2d([
        [1, 0, 0],
        [0, 0, 1],
      ]),
    );
    ext.bias.assign(tf.tensor1d([0.5, -1]));
    expect(ext.forward(x).arraySync()).toEqual([
      [1.5, 2],
      [4.5, 5],
    ]);
    expect(ext.newLabels).toEqual(['a', 'b']);
  });
});
