import * as tfjs from '@tensorflow/tfjs';
import * as tfCore from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { setWasmPaths, tf } from '../../src/backend/tf.js';

describe('the TensorFlow.js import', () => {
  it('tf is the one tfjs-core module the umbrella package re-exports, with gradients and the wasm backend registered', () => {
    expect(tf).toBe(tfCore);
    expect(tfjs.Tensor).toBe(tf.Tensor);
    // tfjs-core alone registers no gradient; the umbrella import does.
    expect(tf.getGradient('Square')).toBeDefined();
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.tensor1d([1, -2]));
    expect(Array.from(g.dataSync())).toEqual([2, -4]);
    expect(tf.findBackendFactory('wasm')).not.toBeNull();
    expect(tf.getBackend()).toBe('wasm');
    expect(typeof setWasmPaths).toBe('function');
  });
});
