import { expect } from 'vitest';
import { tf, type Tensor } from '../src/backend/tf.js';
import { AdapterError } from '../src/errors.js';
import { setLogger } from '../src/logger.js';

/** Runs `f`, expects an AdapterError, and returns it. */
export function thrown(f: () => unknown): AdapterError {
  try {
    f();
  } catch (e) {
    if (e instanceof AdapterError) return e;
    throw new Error(`expected an AdapterError, got ${(e as Error)?.stack ?? String(e)}`);
  }
  throw new Error('expected an AdapterError, but nothing was thrown');
}

/** Like {@link thrown} for async functions. */
export async function thrownAsync(f: () => Promise<unknown>): Promise<AdapterError> {
  try {
    await f();
  } catch (e) {
    if (e instanceof AdapterError) return e;
    throw new Error(`expected an AdapterError, got ${(e as Error)?.stack ?? String(e)}`);
  }
  throw new Error('expected an AdapterError, but nothing was thrown');
}

/** Captures library warnings (and info) while `f` runs. */
export function captureLogs<T>(f: () => T): { result: T; warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  const prev = setLogger({ warn: (m) => warnings.push(m), info: (m) => infos.push(m) });
  try {
    return { result: f(), warnings, infos };
  } finally {
    setLogger(prev);
  }
}

/** Mean absolute difference of two tensors. */
export function meanAbsDiff(a: Tensor, b: Tensor): number {
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** Max absolute difference of two tensors. */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** Asserts two tensors are elementwise equal within `atol`. */
export function expectClose(a: Tensor, b: Tensor, atol = 1e-5): void {
  expect(a.shape).toEqual(b.shape);
  expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(atol);
}

/** The values of a tensor as a plain array. */
export function values(t: Tensor): number[] {
  return Array.from(t.dataSync());
}
