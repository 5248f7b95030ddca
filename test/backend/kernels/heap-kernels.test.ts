/**
 * The record of which fused kernels are registered and by whom, and when ops take the fused path:
 * only on wasm, and for ops registered for training only, only while a gradient is recorded.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import {
  activeHeapKernels,
  heapKernelActive,
  setActiveHeapKernels,
} from '../../../src/backend/kernels/heap-kernels.js';

describe('heap kernel record', () => {
  const saved = activeHeapKernels();
  afterAll(() => setActiveHeapKernels(saved.provider, saved.ops, saved.trainingOnly));

  it('reports the provider and ops in a fixed order; no ops means no provider', () => {
    setActiveHeapKernels('js', ['sum', 'gelu']);
    expect(activeHeapKernels()).toEqual({ provider: 'js', ops: ['gelu', 'sum'], trainingOnly: [] });
    expect(heapKernelActive('gelu')).toBe(true);
    expect(heapKernelActive('adamw')).toBe(false);
    setActiveHeapKernels('native', []);
    expect(activeHeapKernels()).toEqual({ provider: null, ops: [], trainingOnly: [] });
    expect(heapKernelActive('gelu')).toBe(false);
  });

  it('an op registered for training only is active only while a gradient is recorded', () => {
    setActiveHeapKernels('js', ['gelu', 'layerNorm'], ['layerNorm', 'adamw']);
    expect(activeHeapKernels().trainingOnly).toEqual(['layerNorm']);
    expect(heapKernelActive('layerNorm')).toBe(false);
    expect(heapKernelActive('gelu')).toBe(true);
    let inside: boolean[] = [];
    tf.grad((x: Tensor) => {
      inside = [heapKernelActive('layerNorm'), heapKernelActive('gelu')];
      return tf.sum(x);
    })(tf.ones([2])).dispose();
    expect(inside).toEqual([true, true]);
  });

  it('nothing is active on another backend', async () => {
    setActiveHeapKernels('js', ['gelu']);
    await tf.setBackend('cpu');
    try {
      expect(heapKernelActive('gelu')).toBe(false);
    } finally {
      await tf.setBackend('wasm');
    }
    expect(heapKernelActive('gelu')).toBe(true);
  });
});
