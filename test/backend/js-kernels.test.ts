/**
 * The JavaScript fused kernels as the library uses them without the native addon: which are kept,
 * how they are turned off, that native kernels win, what getBackendInfo says, a few training steps
 * of the bench model's architecture (small) with and without them, and tensor leaks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBackendInfo, initBackend } from '../../src/backend/backend.js';
import { activateNative, NATIVE_ENV_VAR } from '../../src/backend/native.js';
import {
  activateJsKernels,
  JS_KERNEL_OPS,
  JS_KERNELS_ENV_VAR,
  JS_TRAINING_ONLY_OPS,
} from '../../src/backend/js-kernels.js';
import { activeHeapKernels } from '../../src/backend/kernels/heap-kernels.js';
import { nativeAvailable } from './kernels/native-harness.js';
import { leakCase, trainingParityCase, type FusedAndReference } from './kernels/fused-op-cases.js';

/** Runs `f` with the kept JavaScript kernels on, then off (native kernels off throughout). */
function jsOnOff<T>(f: () => T): { js: T; tfjs: T } {
  activateJsKernels({ enabled: true });
  const js = f();
  activateJsKernels({ enabled: false });
  const tfjs = f();
  activateJsKernels({ enabled: true });
  return { js, tfjs };
}

/** {@link jsOnOff} as the shared cases take it. */
const jsRun: FusedAndReference = (f) => {
  const { js, tfjs } = jsOnOff(f);
  return { fused: js, reference: tfjs };
};

describe('JavaScript kernels without the native addon', () => {
  beforeAll(() => {
    activateNative({ enabled: false });
    activateJsKernels({ enabled: true });
  });
  afterAll(async () => {
    await initBackend();
  });

  it('registers the kept ops and getBackendInfo reports them', () => {
    expect(activeHeapKernels()).toEqual({
      provider: 'js',
      ops: [...JS_KERNEL_OPS],
      trainingOnly: [...JS_TRAINING_ONLY_OPS],
    });
    const info = getBackendInfo();
    expect(info.native).toBe(false);
    expect(info.kernels).toBe('js');
    expect(info.fusedOps).toEqual([...JS_KERNEL_OPS]);
  });

  it(`${JS_KERNELS_ENV_VAR}=0 and initBackend({ jsKernels: false }) keep TensorFlow.js's kernels`, async () => {
    process.env[JS_KERNELS_ENV_VAR] = '0';
    process.env[NATIVE_ENV_VAR] = '0';
    try {
      const info = await initBackend();
      expect(info.native).toBe(false);
      expect(info.kernels).toBe('tfjs');
      expect(info.fusedOps).toEqual([]);
    } finally {
      delete process.env[JS_KERNELS_ENV_VAR];
      delete process.env[NATIVE_ENV_VAR];
    }
    expect((await initBackend({ native: false, jsKernels: false })).kernels).toBe('tfjs');
    const on = await initBackend({ native: false });
    expect(on.kernels).toBe('js');
  });

  it.runIf(nativeAvailable)('native kernels win over the JavaScript ones', async () => {
    const info = await initBackend();
    expect(info.kernels).toBe('native');
    expect(activateJsKernels({ enabled: true })).toEqual([]);
    expect(activeHeapKernels().provider).toBe('native');
    activateNative({ enabled: false });
    expect(activeHeapKernels().provider).toBe(null);
    activateJsKernels({ enabled: true });
  });

  trainingParityCase(jsRun, 'JS kernels');

  leakCase(() => expect(activeHeapKernels().provider).toBe('js'));
});
