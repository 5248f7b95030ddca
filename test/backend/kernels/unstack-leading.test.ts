import { describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import { canUnstackFromHeap, unstackFromHeap } from '../../../src/backend/kernels/unstack-leading.js';

describe('unstackFromHeap', () => {
  it('is available on wasm and splits x [N, ...] into the same N tensors as tf.unstack, float32 and int32', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(canUnstackFromHeap()).toBe(true);
    for (const x of [
      tf.randomNormal([4, 3, 5], 0, 1, 'float32', 1),
      tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'),
    ]) {
      const before = tf.memory().numTensors;
      const parts = unstackFromHeap(x);
      const want = tf.unstack(x);
      expect(parts.length).toBe(x.shape[0]);
      parts.forEach((p, i) => {
        expect(p.shape).toEqual(want[i]!.shape);
        expect(p.dtype).toBe(x.dtype);
        expect(Array.from(p.dataSync())).toEqual(Array.from(want[i]!.dataSync()));
      });
      tf.dispose([...parts, ...want]);
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    }
  });
});
