/**
 * The native LayerNorm kernel and its gradients against the tensor formula.
 * Runs only where the native addon is built; test/backend/native.test.ts prints the suite's one line
 * when it is not (and fails under CI=true).
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { activateNative } from '../../../src/backend/native.js';
import { nativeAndWasm, nativeAvailable } from './native-harness.js';
import { layerNormCases } from './fused-op-cases.js';

describe.skipIf(!nativeAvailable)('native LayerNorm', () => {
  beforeAll(() => {
    activateNative({ enabled: true });
  });
  afterAll(() => {
    activateNative({ enabled: true });
  });

  layerNormCases(nativeAndWasm);
});
