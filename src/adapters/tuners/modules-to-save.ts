/**
 * `modulesToSave` (SPEC §4.1; what PEFT calls `ModulesToSaveWrapper`): a module given one trainable
 * copy per adapter; the copy of the running adapter replaces the original in the forward.
 */
import { shareModelGuid } from '../model-guid.js';
import { tf, type Tensor, type Variable } from '../../backend/tf.js';
import { AdapterError } from '../../errors.js';
import { ModuleDict } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import type { TunerContext } from './tuner-layer.js';

/**
 * A deep copy of `m`: fresh variables (same values and trainable flags), fresh buffers, cloned
 * children, and every own field that pointed at one of `m`'s parameters, buffers or children (such
 * as `Linear.weight`) rebound to its copy. State held outside the instance (e.g. in WeakMaps) is not
 * copied.
 */
export function cloneModule<M extends Module>(m: M): M {
  return cloneInto(m, new Map()) as M;
}

function cloneInto(m: Module, map: Map<unknown, unknown>): Module {
  const known = map.get(m);
  if (known) return known as Module;
  const c = Object.create(Object.getPrototypeOf(m)) as Module;
  map.set(m, c);
  for (const key of Reflect.ownKeys(m)) {
    Object.defineProperty(c, key, Object.getOwnPropertyDescriptor(m, key)!);
  }
  const params = new Map<string, Variable>();
  for (const [name, p] of m._parameters) {
    let v = map.get(p) as Variable | undefined;
    if (!v) {
      const copy = tf.clone(p);
      v = tf.variable(copy, p.trainable);
      copy.dispose(); // the variable holds its own reference to the data
      map.set(p, v);
    }
    params.set(name, v);
  }
  const buffers = new Map<string, { tensor: Tensor; persistent: boolean }>();
  for (const [name, b] of m._buffers) {
    const t = tf.keep(tf.clone(b.tensor));
    map.set(b.tensor, t);
    buffers.set(name, { tensor: t, persistent: b.persistent });
  }
  const modules = new Map<string, Module>();
  for (const [name, child] of m._modules) modules.set(name, cloneInto(child, map));
  const w = c as unknown as Record<string | symbol, unknown>;
  w._parameters = params;
  w._buffers = buffers;
  w._modules = modules;
  w._frozenByFreeze = null;
  for (const key of Reflect.ownKeys(c)) {
    if (key === '_parameters' || key === '_buffers' || key === '_modules') continue;
    const v = w[key];
    if (map.has(v)) w[key] = map.get(v);
    else if (Array.isArray(v) && v.some((e) => map.has(e)))
      w[key] = v.map((e) => (map.has(e) ? map.get(e) : e));
  }
  return c;
}

/** What {@link selectModulesToSave} found. */
export interface ModulesToSaveSelection {
  /** Selected module paths (outermost match only), in the order given. */
  chosen: string[];
  /** Paths PEFT's plain suffix match would also select (`head` → `lm_head`), not selected here. */
  suffixOnly: string[];
  /** Entries of the list that match no path. */
  unmatched: string[];
}

/**
 * The module paths a `modulesToSave` list selects among `paths`: `path === m` or `path` ends with
 * `.m` (the `.`-boundary suffix rule, SPEC §4.2); a path below one already chosen is not chosen again.
 *
 * PEFT note: PEFT matches a plain string suffix (`head` also selects `lm_head`); `suffixOnly` lists
 * what it would have selected in addition, for a warning.
 */
export function selectModulesToSave(
  paths: readonly string[],
  list: readonly string[],
): ModulesToSaveSelection {
  const chosen: string[] = [];
  const suffixOnly: string[] = [];
  for (const path of paths) {
    if (list.some((m) => path === m || path.endsWith(`.${m}`))) {
      if (!chosen.some((c) => path.startsWith(`${c}.`))) chosen.push(path);
    } else if (list.some((m) => path.endsWith(m))) {
      suffixOnly.push(path);
    }
  }
  const unmatched = list.filter((m) => !paths.some((p) => p === m || p.endsWith(`.${m}`)));
  return { chosen, suffixOnly, unmatched };
}

/**
 * Holds a module's per-adapter trainable copies. The original's parameters, buffers and children
 * are registered on the wrapper under their own names, so the original state keys do not change;
 * copies live under `modules_to_save.<adapter>.*`. The forward runs the copy of the one running
 * adapter that has one, else the original.
 *
 * PEFT note: PEFT moves the original under `original_module` (keys change); PEFT files store the
 * copy under the original keys, which `peftTensorsFor` reproduces.
 */
export class ModulesToSaveWrapper extends Module {
  static override readonly typeName: string = 'ModulesToSaveWrapper';
  /** The wrapped module (put back by unload). */
  readonly originalModule: Module;
  readonly modules_to_save: ModuleDict;
  /** Which adapters run; null: every held copy. */
  ctx: TunerContext | null = null;
  /** Path in the model, for messages. */
  layerPath = '';

  constructor(original: Module) {
    super();
    this.originalModule = original;
    shareModelGuid(original, this);
    this.training = original.training;
    for (const [name, p] of original._parameters) this.registerParameter(name, p);
    for (const [name, b] of original._buffers) this._buffers.set(name, b); // shared entry: setBuffer on either updates both
    for (const [name, child] of original._modules) this.registerModule(name, child);
    this.modules_to_save = this.registerModule('modules_to_save', new ModuleDict());
  }

  /** Adds a trainable copy of the original for `adapter`. */
  addCopy(adapter: string): Module {
    const copy = cloneModule(this.originalModule);
    for (const p of copy.parameters()) p.trainable = true;
    copy.train(this.training);
    this.modules_to_save.set(adapter, copy);
    return copy;
  }

  /** Removes and frees `adapter`'s copy. */
  removeCopy(adapter: string): void {
    this.modules_to_save.delete(adapter)?.dispose();
  }

  /** Adapters holding a copy, in insertion order. */
  heldAdapters(): string[] {
    return this.modules_to_save.keys();
  }

  /** The module the forward uses: the running adapter's copy, else the original. */
  activeModule(): Module {
    const held = this.heldAdapters();
    const active = (this.ctx ? this.ctx.activeAdapters() : held).filter((n) => held.includes(n));
    if (active.length > 1) {
      // SPEC §5.2 (B-322): one module, two active owners of a copy is a configuration error.
      throw new AdapterError(
        'INVALID_CONFIG',
        `modulesToSave '${this.layerPath || this.originalModule.typeName}' has copies for several running adapters (${active.join(', ')}); enable only one of them`,
        { path: this.layerPath, adapters: active },
      );
    }
    return active.length ? this.modules_to_save.get(active[0]!)! : this.originalModule;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- forwards whatever the wrapped module takes and returns
  override forward(...args: any[]): any {
    const m = this.activeModule();
    if (m === this.originalModule) this.originalModule.training = this.training;
    return m.forward(...args);
  }
}
