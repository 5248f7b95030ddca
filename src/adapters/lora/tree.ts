/** Small tree helpers for swapping layers in and out of a model. */
import { check } from '../../errors.js';
import type { Module } from '../../nn/module.js';
import { getSubmodule } from '../model.js';

/** The parent of the module at dotted `path` below `root`, and the child's name. */
export function parentOf(root: Module, path: string): { parent: Module; name: string } {
  const i = path.lastIndexOf('.');
  const parent = i < 0 ? root : getSubmodule(root, path.slice(0, i));
  check(parent, 'MISSING_SUBMODULE', () => `no module at '${path.slice(0, i)}' (parent of '${path}')`);
  return { parent, name: path.slice(i + 1) };
}

/**
 * Replaces the module at `path` with `replacement`, in place (same position in iteration order). Own
 * fields of the parent that referenced the old module (e.g. `this.fc = registerModule('fc', …)`) are
 * rebound too, so forwards that use fields instead of `getChild` see the replacement.
 */
export function swapModule(root: Module, path: string, replacement: Module): Module {
  const { parent, name } = parentOf(root, path);
  const old = parent.getChild(name);
  check(old, 'MISSING_SUBMODULE', () => `no module at '${path}'`);
  parent.replaceModule(name, replacement);
  const fields = parent as unknown as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (key === '_modules' || key === '_parameters' || key === '_buffers') continue;
    const v = fields[key];
    if (v === old) fields[key] = replacement;
    else if (Array.isArray(v) && v.includes(old)) fields[key] = v.map((e) => (e === old ? replacement : e));
  }
  return old;
}
