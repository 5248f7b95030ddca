/**
 * Native kernels (system BLAS through the Node addon) as a whole: the backend reports them, the
 * switches that turn them off, a few training steps of the bench model's architecture with and
 * without them, and tensor leaks. Each kernel against the wasm backend's own is tested beside it in
 * test/backend/kernels/<kernel>.test.ts. When the addon is not built these tests cannot run: outside
 * CI this file prints the suite's one loud line saying so (for the kernel files too) and how to enable
 * them; under CI (CI=true) that is a failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBackendInfo, initBackend } from '../../src/backend/backend.js';
import { activateNative, NATIVE_ENV_VAR } from '../../src/backend/native.js';
import {
  HOW_TO_ENABLE_NATIVE as HOW_TO_ENABLE,
  nativeAvailable as available,
  nativeProbe as probe,
  nativeAndWasm,
} from './kernels/native-harness.js';
import { leakCase, trainingParityCase } from './kernels/fused-op-cases.js';

if (!available && process.env.CI !== 'true') {
  console.warn(
    `\n!!! NATIVE KERNEL TESTS DID NOT RUN (test/backend/native.test.ts and test/backend/kernels/*) (${probe.reason}); to enable them: ${HOW_TO_ENABLE} !!!\n`,
  );
}

describe('native kernels are available under CI', () => {
  it.runIf(process.env.CI === 'true')('the native module is built and finds a BLAS (CI=true)', () => {
    expect(probe.reason, `native kernels are required under CI; ${HOW_TO_ENABLE}`).toBe('');
    expect(available).toBe(true);
  });
});

describe.skipIf(!available)('native kernels', () => {
  beforeAll(() => {
    activateNative({ enabled: true });
  });
  afterAll(() => {
    activateNative({ enabled: true });
  });

  it('getBackendInfo reports the native path, the BLAS and its threads', () => {
    const info = getBackendInfo();
    expect(info.name).toBe('wasm');
    expect(info.native).toBe(true);
    expect(info.blas).toMatch(/blas/i);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(info.nativeReason).toBeNull();
  });

  it(`${NATIVE_ENV_VAR}=0 and initBackend({ native: false }) keep wasm and say why`, async () => {
    process.env[NATIVE_ENV_VAR] = '0';
    try {
      const info = await initBackend();
      expect(info.native).toBe(false);
      expect(info.nativeReason).toContain(`${NATIVE_ENV_VAR}=0`);
    } finally {
      delete process.env[NATIVE_ENV_VAR];
    }
    expect((await initBackend({ native: false })).native).toBe(false);
    const on = await initBackend({ threads: 1 });
    expect(on.native).toBe(true);
    expect(on.threads).toBe(1);
  });

  trainingParityCase(nativeAndWasm, 'native kernels');

  leakCase();
});
