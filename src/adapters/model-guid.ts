/**
 * The model GUID: which model a module's auxiliary tensors belong to. It keys the access
 * registry's per-model config (access.ts), which decides whether a strategy computes its auxiliary
 * loss (`computeAdapterLoss`) and how registered tensors are stored. Adapter models draw a fresh
 * GUID; a module outside any model has `'default'`. Only the adapters layer reads it, so it is set
 * and read here rather than by `nn` code.
 */
import type { Module } from '../nn/module.js';

/** The GUID of a module that belongs to no adapter model. */
export const DEFAULT_MODEL_GUID = 'default';

const guids = new WeakMap<Module, string>();

/** The model GUID of `m`. */
export function modelGuidOf(m: Module): string {
  return guids.get(m) ?? DEFAULT_MODEL_GUID;
}

/** Sets the model GUID of `m`, and of every module below it when `subtree`. */
export function setModelGuid(m: Module, guid: string, opts: { subtree?: boolean } = {}): void {
  if (!opts.subtree) {
    guids.set(m, guid);
    return;
  }
  for (const [, sub] of m.namedModules()) guids.set(sub, guid);
}

/**
 * Puts `to` in `from`'s model (same GUID), e.g. a wrapper that replaces `from` in the tree, or a
 * module built inside `from`.
 */
export function shareModelGuid(from: Module, to: Module): void {
  setModelGuid(to, modelGuidOf(from));
}
