/**
 * The auxiliary-tensor registry (what NeMo calls `AccessMixin`): per-module append-only lists of
 * named tensors (e.g. `adapter_loss`), plus a per-model-GUID access config and access flag held in
 * an {@link AccessContext}. Strategies register L2 losses here during a training forward;
 * `collectAuxiliaryLosses` sums them into the training loss.
 */
import { customGrad1 } from '../backend/kernels/custom-grad.js';
import { tf, type Tensor } from '../backend/tf.js';
import { AdapterError, describeValue, isPlainObject } from '../errors.js';
import type { Module } from '../nn/module.js';
import { modelGuidOf } from './model-guid.js';

/** Access settings for one model GUID. Unspecified keys fall back to {@link DEFAULT_ACCESS_CFG}. */
export interface AccessConfig {
  /** Register tensors cut off from the gradient (their gradient is zero). */
  detach?: boolean;
  /** Register a host-side copy of each tensor. */
  convertToCpu?: boolean;
  /** Whether strategies compute L2 adapter losses at all. */
  computeAdapterLoss?: boolean;
  [key: string]: unknown;
}

export const DEFAULT_ACCESS_CFG: Readonly<
  Required<Pick<AccessConfig, 'detach' | 'convertToCpu' | 'computeAdapterLoss'>>
> = Object.freeze({ detach: false, convertToCpu: false, computeAdapterLoss: true });

/** Per-GUID access configs and access-enabled flags. One process-wide default; inject others for isolation. */
export class AccessContext {
  private readonly configs = new Map<string, AccessConfig>();
  private readonly enabled = new Map<string, boolean>();

  /** The config for `guid` (created empty on first read). */
  getConfig(guid: string): AccessConfig {
    let c = this.configs.get(guid);
    if (!c) {
      c = guid === 'default' ? { ...DEFAULT_ACCESS_CFG } : {};
      this.configs.set(guid, c);
    }
    return c;
  }

  /** Shallow-merges `partial` into the config for `guid`. */
  updateConfig(partial: unknown, guid: string): void {
    checkAccessCfg(partial, 'updateAccessCfg');
    Object.assign(this.getConfig(guid), partial);
  }

  /** Replaces the config for `guid`. */
  setConfig(cfg: unknown, guid: string): void {
    checkAccessCfg(cfg, 'setAccessCfg');
    this.configs.set(guid, { ...cfg });
  }

  isEnabled(guid: string): boolean {
    return this.enabled.get(guid) ?? false;
  }

  setEnabled(flag: boolean, guid: string): void {
    this.enabled.set(guid, flag);
  }

  /** A config value with the library defaults applied. */
  option<K extends keyof typeof DEFAULT_ACCESS_CFG>(guid: string, key: K): boolean {
    const v = this.getConfig(guid)[key];
    return v === undefined ? DEFAULT_ACCESS_CFG[key] : Boolean(v);
  }
}

function checkAccessCfg(cfg: unknown, where: string): asserts cfg is AccessConfig {
  if (!isPlainObject(cfg)) {
    throw new AdapterError(
      'INVALID_CONFIG',
      `${where}: expected a plain config object, got ${describeValue(cfg)}`,
    );
  }
}

let defaultContext = new AccessContext();

/** The process-wide access context. */
export function getAccessContext(): AccessContext {
  return defaultContext;
}

/** Replaces the process-wide access context (e.g. a fresh one per test). */
export function setAccessContext(ctx: AccessContext): void {
  defaultContext = ctx;
}

/** Per-module registries: module → name → tensors. A WeakMap, so any module can hold one. */
const registries = new WeakMap<Module, Map<string, Tensor[]>>();

/** A view of one module's registry. */
export type ModuleRegistry = Record<string, Tensor[]>;

const zeroGrad = customGrad1((x: Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: Tensor) => [tf.zerosLike(dy)],
}));

/**
 * Appends `t` to `module`'s list `name`, applying the access config of its GUID (`convertToCpu`,
 * `detach`). The tensor is kept (`tf.keep`) until `resetRegistry` disposes it.
 */
export function registerAccessibleTensor(module: Module, name: string, t: Tensor): void {
  const ctx = getAccessContext();
  let value = t;
  if (ctx.option(modelGuidOf(module), 'convertToCpu'))
    value = tf.tensor(value.dataSync(), value.shape, value.dtype);
  if (ctx.option(modelGuidOf(module), 'detach')) value = zeroGrad(value);
  let reg = registries.get(module);
  if (!reg) registries.set(module, (reg = new Map()));
  const list = reg.get(name) ?? [];
  list.push(tf.keep(value));
  reg.set(name, list);
}

/** `module`'s own registry (empty object when it has none). */
export function moduleRegistry(module: Module): ModuleRegistry {
  return Object.fromEntries(registries.get(module) ?? []);
}

/** `{[dottedPath]: registry}` for every module in `root`'s subtree with a non-empty registry. */
export function getModuleRegistry(root: Module): Record<string, ModuleRegistry> {
  const out: Record<string, ModuleRegistry> = {};
  for (const [path, m] of root.namedModules()) {
    const reg = registries.get(m);
    if (reg && [...reg.values()].some((l) => l.length > 0)) out[path] = Object.fromEntries(reg);
  }
  return out;
}

/**
 * No key: empties every registry in `root`'s subtree (disposing the tensors) and disables access for
 * its GUID. With a key: removes that key wherever present; other keys and the flag are unchanged.
 *
 * NeMo note: NeMo raises after a partial clear when the key is absent somewhere; here that is no error.
 */
export function resetRegistry(root: Module, key?: string): void {
  for (const [, m] of root.namedModules()) {
    const reg = registries.get(m);
    if (!reg) continue;
    for (const [k, list] of [...reg]) {
      if (key !== undefined && k !== key) continue;
      for (const t of list) t.dispose();
      reg.delete(k);
    }
  }
  if (key === undefined) getAccessContext().setEnabled(false, modelGuidOf(root));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's base constructor must take `any[]` (TS2545)
type ModuleCtor = new (...args: any[]) => Module;

/**
 * Adds the registry and access-config methods to a module class (AdapterModule and adapter models
 * use it; any module may opt in).
 */
export function withAccess<TBase extends ModuleCtor>(Base: TBase) {
  class AccessibleModule extends Base {
    /** Appends `t` to this module's registry list `name`. */
    registerAccessibleTensor(name: string, t: Tensor): void {
      registerAccessibleTensor(this, name, t);
    }
    /** This module's own registry. */
    get registry(): ModuleRegistry {
      return moduleRegistry(this);
    }
    /** Registries of every module in `root`'s subtree, by dotted path. */
    static getModuleRegistry(root: Module): Record<string, ModuleRegistry> {
      return getModuleRegistry(root);
    }
    /** Empties registries in the subtree: every key (and disables access for the GUID), or one key. */
    resetRegistry(key?: string): void {
      resetRegistry(this, key);
    }
    /** The access config of this module's model GUID (created empty on first read). */
    get accessCfg(): AccessConfig {
      return getAccessContext().getConfig(modelGuidOf(this));
    }
    /** Shallow-merges into the access config of `guid` (default: this module's). */
    updateAccessCfg(partial: AccessConfig, guid: string = modelGuidOf(this)): void {
      getAccessContext().updateConfig(partial, guid);
    }
    /** Replaces the access config of `guid`. */
    setAccessCfg(cfg: AccessConfig, guid: string = modelGuidOf(this)): void {
      getAccessContext().setConfig(cfg, guid);
    }
    isAccessEnabled(guid: string = modelGuidOf(this)): boolean {
      return getAccessContext().isEnabled(guid);
    }
    setAccessEnabled(flag: boolean, guid: string = modelGuidOf(this)): void {
      getAccessContext().setEnabled(flag, guid);
    }
  }
  return AccessibleModule;
}
