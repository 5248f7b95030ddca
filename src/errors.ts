/**
 * Errors thrown by adapterkit. Every error is an {@link AdapterError} with a stable `code` (SPEC §2.12)
 * and a message naming the offending value, where it occurred and the valid choices.
 *
 * This is a leaf module: every layer throws, so it imports nothing from the library.
 */

/** Stable error codes. Tests and callers branch on these, never on message text. */
export type AdapterErrorCode =
  | 'INVALID_CONFIG'
  | 'UNKNOWN_TYPE'
  | 'TYPE_NOT_ACCEPTED'
  | 'NOT_A_MODULE'
  | 'INVALID_NAME'
  | 'INVALID_ADAPTER_NAME'
  | 'RESERVED_NAME'
  | 'DUPLICATE_ADAPTER'
  | 'UNKNOWN_ADAPTER'
  | 'NO_ADAPTERS'
  | 'INVALID_MODULE_NAME'
  | 'NO_DEFAULT_MODULE'
  | 'MISSING_SUBMODULE'
  | 'MODULE_NOT_ADAPTER_CAPABLE'
  | 'MISSING_STRATEGY'
  | 'INVALID_STRATEGY'
  | 'INVALID_INPUT'
  | 'REGISTRY_UNSUPPORTED'
  | 'REGISTRY_CONFLICT'
  | 'STATE_DICT_MISMATCH'
  | 'CHECKPOINT_KEY_MISSING'
  | 'CHECKPOINT_MISMATCH'
  | 'CHECKPOINT_FORMAT'
  | 'UNSUPPORTED_FEATURE'
  | 'TARGET_NOT_FOUND'
  | 'UNSUPPORTED_TARGET'
  | 'MERGE_UNSUPPORTED'
  | 'NON_FINITE_MERGE'
  | 'BATCH_SELECTION'
  | 'BACKEND_UNSUPPORTED'
  /** A composition setup names something the model does not have (adapter, fusion layer). */
  | 'NOT_FOUND';

/** The only error type the library throws on purpose. */
export class AdapterError extends Error {
  override readonly name = 'AdapterError';
  constructor(
    readonly code: AdapterErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Throws `AdapterError(code, msg())` unless `ok`. The message is built only on failure. */
export function check(
  ok: unknown,
  code: AdapterErrorCode,
  msg: () => string,
  details?: () => Record<string, unknown>,
): asserts ok {
  if (!ok) throw new AdapterError(code, msg(), details?.());
}

/** `activation "tanh" is not one of: identity, relu, …` */
export function notOneOf(what: string, got: unknown, valid: readonly string[]): string {
  return `${what} ${JSON.stringify(got)} is not one of: ${valid.length ? valid.join(', ') : '(none)'}`;
}

/** A short description of a value for error messages: `a Module (Linear)`, `the number 42`, `an array`. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'function') return `a class or function (${(v as { name?: string }).name || 'anonymous'})`;
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') {
    const ctor = (v as object).constructor;
    if (ctor && ctor !== Object)
      return `an instance of ${(ctor as { typeName?: string }).typeName ?? ctor.name}`;
    return 'a plain object';
  }
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `the ${typeof v} ${String(v)}`;
}

/** True for `{}`-style objects (not arrays, class instances or null). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
