/**
 * Shared by the native kernel tests: whether the addon is built, and running a computation with native
 * kernels on and then off. The suite's one line about a missing addon (and the CI=true failure) is in
 * test/backend/native.test.ts, so that it is printed once, not once per kernel file.
 */
import type { FusedAndReference } from './fused-op-cases.js';
import { expect } from 'vitest';
import type { Tensor } from '../../../src/backend/tf.js';
import { activateNative } from '../../../src/backend/native.js';
import '../../../src/index.js';

/** Whether native kernels can be switched on here, and why not when they cannot. */
export const nativeProbe = activateNative({ enabled: true });
/** True when the native addon is built and finds a BLAS. */
export const nativeAvailable = nativeProbe.active;
/** What a user runs to build the native kernels. */
export const HOW_TO_ENABLE_NATIVE =
  'install a C compiler and OpenBLAS (apt-get install build-essential python3 libopenblas0-pthread), then `npm rebuild adapterkit` (or `npm run build:native`)';

/** Runs `f` with native kernels on and then off; returns both results as plain arrays. */
export function onAndOff<T>(f: () => T): { native: T; wasm: T } {
  activateNative({ enabled: true });
  const native = f();
  activateNative({ enabled: false });
  const wasm = f();
  activateNative({ enabled: true });
  return { native, wasm };
}

/** {@link onAndOff} as the shared cases of fused-op-cases.ts take it. */
export const nativeAndWasm: FusedAndReference = (f) => {
  const { native, wasm } = onAndOff(f);
  return { fused: native, reference: wasm };
};

/** Largest element-wise difference; the lengths must agree. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** The tensor's values as a plain array; disposes the tensor. */
export const values = (t: Tensor): number[] => {
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
};
