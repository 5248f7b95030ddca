/** Parsers for command-line values: each rejects a bad value with a message naming the flag and the valid values. */
import { InvalidArgumentError } from 'commander';

/** An integer ≥ 1. */
export function positiveInt(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${flag} must be a whole number ≥ 1, got '${v}'`);
    return n;
  };
}

/** An integer ≥ 0. */
export function nonNegativeInt(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`${flag} must be a whole number ≥ 0, got '${v}'`);
    return n;
  };
}

/** A finite number > 0. */
export function positiveNumber(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(`${flag} must be a number > 0, got '${v}'`);
    return n;
  };
}

/** A number in [0, 1]. */
export function probability(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > 1)
      throw new InvalidArgumentError(`${flag} must be a number in [0, 1], got '${v}'`);
    return n;
  };
}

/** A comma-separated list of non-empty names. */
export function nameList(flag: string): (v: string) => string[] {
  return (v) => {
    const names = v.split(',').map((s) => s.trim());
    if (names.some((n) => n === ''))
      throw new InvalidArgumentError(`${flag} must be a comma-separated list of names, got '${v}'`);
    return names;
  };
}

/** A number of evaluation windows (an integer ≥ 1), or `all` for every window of the split (undefined). */
export function windowCount(flag: string): (v: string) => number | 'all' {
  const int = positiveInt(flag);
  return (v) => {
    if (v === 'all') return 'all';
    try {
      return int(v);
    } catch {
      throw new InvalidArgumentError(`${flag} must be a whole number ≥ 1 or 'all', got '${v}'`);
    }
  };
}

/** Non-empty text. */
export function nonEmptyText(flag: string, why: string): (v: string) => string {
  return (v) => {
    if (v === '') throw new InvalidArgumentError(`${flag} must not be empty (${why})`);
    return v;
  };
}
