/**
 * The adapter class registry (what NeMo calls `register_adapter` / `get_registered_adapter`): maps a
 * host base class to its adapter-capable subclass, by the classes' static `typeName`.
 */
import { check } from '../errors.js';
import { isPlainObject } from '../errors.js';
import type { Module, ModuleClass } from '../nn/module.js';
import { isAdapterHost } from './host-brand.js';

/** A registered pair. */
export interface AdapterClassRecord {
  baseClass: ModuleClass;
  adapterClass: ModuleClass;
  baseTypeName: string;
  adapterTypeName: string;
}

const byBase = new Map<string, AdapterClassRecord>();
const byAdapter = new Map<string, AdapterClassRecord>();

/** Registers `adapterClass` as the adapter-capable version of `baseClass`. */
export function registerAdapter(baseClass: ModuleClass, adapterClass: ModuleClass): void {
  check(
    !byBase.has(baseClass.typeName),
    'REGISTRY_CONFLICT',
    () =>
      `an adapter class is already registered for '${baseClass.typeName}' (${byBase.get(baseClass.typeName)!.adapterTypeName})`,
  );
  check(
    adapterClass.prototype instanceof baseClass,
    'REGISTRY_CONFLICT',
    () =>
      `'${adapterClass.typeName}' does not extend '${baseClass.typeName}', so it cannot be its adapter class`,
  );
  const rec: AdapterClassRecord = {
    baseClass,
    adapterClass,
    baseTypeName: baseClass.typeName,
    adapterTypeName: adapterClass.typeName,
  };
  byBase.set(rec.baseTypeName, rec);
  byAdapter.set(rec.adapterTypeName, rec);
}

/**
 * The record for a base type name, a base class, or an adapter class (mapped back to its base);
 * `undefined` when not registered.
 */
export function getRegisteredAdapter(x: string | ModuleClass): AdapterClassRecord | undefined {
  if (typeof x === 'string') return byBase.get(x);
  const rec = byBase.get(x.typeName) ?? byAdapter.get(x.typeName);
  return rec && (rec.baseClass === x || rec.adapterClass === x) ? rec : undefined;
}

/** Rewrites, in place and recursively, every `type` equal to `from` into `to`. */
function rewriteTypes(cfg: unknown, from: string, to: string): void {
  if (Array.isArray(cfg)) {
    for (const v of cfg) rewriteTypes(v, from, to);
  } else if (isPlainObject(cfg)) {
    for (const [k, v] of Object.entries(cfg)) {
      if (k === 'type' && v === from) cfg[k] = to;
      else rewriteTypes(v, from, to);
    }
  }
}

/**
 * Turns `module` into an instance of its registered adapter class, in place: parameters, buffers,
 * mode and outputs are unchanged; adapter state is created lazily on first use. With
 * `updateConfig`, every `type` in `cfg` equal to the base type name becomes the adapter type name.
 * A module that already is a host, or whose class is not registered, is left untouched.
 */
export function updateModuleClassWithAdapterClass(
  module: Module,
  cfg?: unknown,
  opts: { updateConfig?: boolean } = {},
): void {
  if (isAdapterHost(module)) return;
  const rec = byBase.get(module.typeName);
  if (!rec || module.constructor !== rec.baseClass) return;
  Object.setPrototypeOf(module, rec.adapterClass.prototype);
  if ((opts.updateConfig ?? true) && cfg !== undefined)
    rewriteTypes(cfg, rec.baseTypeName, rec.adapterTypeName);
}
