/**
 * Running a callback in a temporary state: the state is restored when the callback returns, throws,
 * or, for a promise (any thenable), settles, so sync and async callers share one path.
 */

/** Runs `fn`, then `restore()` once it has finished (also on a throw or a rejected promise). */
export function restoreAfter<T>(fn: () => T, restore: () => void): T {
  let result: T;
  try {
    result = fn();
  } catch (e) {
    restore();
    throw e;
  }
  if (isThenable(result)) {
    return result.then(
      (v) => {
        restore();
        return v;
      },
      (e: unknown) => {
        restore();
        throw e;
      },
    ) as T;
  }
  restore();
  return result;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}
