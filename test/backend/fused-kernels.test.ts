/**
 * Registering fused kernels from one provider: the previous provider's are replaced, removal by a
 * provider that did not register them changes nothing, and the JavaScript set takes only leading
 * Sum forms (its row sums lose to wasm's own).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { registerHeapKernels, unregisterHeapKernels } from '../../src/backend/fused-kernels.js';
import { activateNative } from '../../src/backend/native.js';
import { activateJsKernels } from '../../src/backend/js-kernels.js';
import { activeHeapKernels, HEAP_OPS, type HeapKernels } from '../../src/backend/kernels/heap-kernels.js';
import { jsHeapKernels } from '../../src/backend/kernels/js-heap-kernels.js';
import { nativeAvailable } from './kernels/native-harness.js';

describe('fused kernel registration', () => {
  beforeAll(() => {
    activateNative({ enabled: false });
  });
  afterAll(() => {
    if (nativeAvailable) activateNative({ enabled: true });
    else activateJsKernels();
  });

  it('returns the TensorFlow.js kernel names, replaces the previous set, and removes by provider', () => {
    const names = registerHeapKernels(jsHeapKernels, 'js', HEAP_OPS);
    expect(names).toEqual(
      expect.arrayContaining([
        'AdapterkitGelu',
        'AdapterkitGeluWithDerivative',
        'Sum',
        'GatherV2',
        'AdapterkitAdamW',
      ]),
    );
    expect(tf.getKernel('AdapterkitGelu', 'wasm')).toBeDefined();
    registerHeapKernels(jsHeapKernels, 'js', ['sum']);
    expect(activeHeapKernels().ops).toEqual(['sum']);
    expect(tf.getKernel('AdapterkitGelu', 'wasm')).toBeUndefined();
    unregisterHeapKernels('native');
    expect(activeHeapKernels().provider).toBe('js');
    unregisterHeapKernels('js');
    expect(activeHeapKernels()).toEqual({ provider: null, ops: [], trainingOnly: [] });
    expect(tf.getKernel('Sum', 'wasm')).toBeDefined(); // wasm's own is back
  });

  it('the JavaScript Sum takes leading axes and leaves trailing ones to wasm', () => {
    const calls: string[] = [];
    const spy: HeapKernels = {
      ...jsHeapKernels,
      sum: (...args) => {
        calls.push(args[5] ? 'leading' : 'trailing');
        jsHeapKernels.sum(...args);
      },
    };
    const x = tf.randomNormal([4, 6], 0, 1, 'float32', 1);
    registerHeapKernels(spy, 'js', ['sum']);
    tf.dispose([tf.sum(x, 0), tf.sum(x, 1)]);
    registerHeapKernels(spy, 'native', ['sum']);
    tf.dispose([tf.sum(x, 0), tf.sum(x, 1)]);
    unregisterHeapKernels();
    expect(calls).toEqual(['leading', 'leading', 'trailing']);
    x.dispose();
  });
});
