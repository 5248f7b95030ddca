import { tf, type Tensor, type Variable } from '../backend/tf.js';
import { AdapterError, check } from '../errors.js';
import { restoreAfter } from './restore-after.js';

/** A state dict: dotted path → tensor, in registration order. */
export type StateDict = Map<string, Tensor>;

/** Anything `loadStateDict` accepts: a Map or a plain object keyed by dotted path. */
export type StateDictLike = Map<string, Tensor> | Record<string, Tensor>;

/** A class whose instances are modules; `typeName` identifies it independently of minification. */
export interface ModuleClass<T extends Module = Module> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- module classes take their own options; this type is used for identity and `typeName`
  new (...args: any[]): T;
  readonly typeName: string;
}

/** @internal */
export interface BufferEntry {
  tensor: Tensor;
  persistent: boolean;
}

function checkChildName(owner: Module, kind: string, name: string, taken: boolean): void {
  check(
    typeof name === 'string' && name.length > 0 && !name.includes('.'),
    'INVALID_NAME',
    () =>
      `${kind} name ${JSON.stringify(name)} on ${owner.typeName}: names must be non-empty and contain no '.'`,
    () => ({ name }),
  );
  check(
    !taken,
    'INVALID_NAME',
    () => `${kind} name '${name}' is already used on ${owner.typeName}`,
    () => ({ name }),
  );
}

/** Formats a shape for messages: `[2, 50]`. */
export const fmtShape = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * Base class of every layer, adapter, host and model: a tree of named parameters (tf.Variables),
 * buffers (plain tensors) and child modules, as PyTorch's `nn.Module`.
 *
 * Names live only in the tree: `namedParameters()` and `stateDict()` build dotted paths from the
 * registered names, so keys such as `encoder.adapter_layer.a0.module.3.weight` come from structure.
 *
 * @example
 * ```ts
 * class Mlp extends Module {
 *   static override readonly typeName = 'Mlp';
 *   fc = this.registerModule('fc', new Linear({ inFeatures: 4, outFeatures: 2 }));
 *   forward(x: Tensor) { return this.fc.forward(x); }
 * }
 * ```
 */
export class Module {
  static readonly typeName: string = 'Module';

  /** Training mode (dropout, stochastic depth and auxiliary losses are active only in training). */
  training = true;

  // Public only so that mixin classes can be exported with declarations; treat as private.
  /** @internal */ readonly _parameters = new Map<string, Variable>();
  /** @internal */ readonly _buffers = new Map<string, BufferEntry>();
  /** @internal */ readonly _modules = new Map<string, Module>();
  /** @internal Parameters that `freeze()` switched from trainable to frozen (restored by `unfreeze({partial})`). */
  _frozenByFreeze: Set<Variable> | null = null;

  /** The stable type name of this instance's class. */
  get typeName(): string {
    return (this.constructor as ModuleClass).typeName;
  }

  /** Registers a child module under `name` and returns it. */
  registerModule<M extends Module>(name: string, module: M): M {
    checkChildName(this, 'module', name, this.hasChild(name));
    check(
      module instanceof Module,
      'NOT_A_MODULE',
      () => `registerModule('${name}'): expected a Module, got ${typeof module}`,
    );
    this._modules.set(name, module);
    return module;
  }

  /**
   * Registers a parameter. A plain tensor is wrapped in a trainable `tf.Variable` (the tensor is then
   * owned by the variable and disposed); a Variable is used as is.
   */
  registerParameter(name: string, value: Tensor | Variable): Variable {
    checkChildName(this, 'parameter', name, this.hasChild(name));
    const v = value instanceof tf.Variable ? value : toVariable(value);
    this._parameters.set(name, v);
    return v;
  }

  /** Registers a buffer: a tensor owned by the module, saved in state dicts when `persistent`. */
  registerBuffer(name: string, tensor: Tensor, opts: { persistent?: boolean } = {}): Tensor {
    checkChildName(this, 'buffer', name, this.hasChild(name));
    this._buffers.set(name, { tensor: tf.keep(tensor), persistent: opts.persistent ?? true });
    return tensor;
  }

  /** @internal */
  hasChild(name: string): boolean {
    return this._parameters.has(name) || this._buffers.has(name) || this._modules.has(name);
  }

  /** The buffer registered as `name`. */
  getBuffer(name: string): Tensor | undefined {
    return this._buffers.get(name)?.tensor;
  }

  /** Replaces a registered buffer's tensor (the old one is disposed). */
  setBuffer(name: string, tensor: Tensor): void {
    const entry = this._buffers.get(name);
    check(entry, 'INVALID_NAME', () => `no buffer '${name}' on ${this.typeName}`);
    if (entry.tensor !== tensor) {
      entry.tensor.dispose();
      entry.tensor = tf.keep(tensor);
    }
  }

  /** The parameter registered directly on this module as `name`. */
  getParameter(name: string): Variable | undefined {
    return this._parameters.get(name);
  }

  /** Direct child `name`. */
  getChild(name: string): Module | undefined {
    return this._modules.get(name);
  }

  /** Removes direct child `name` and returns it (not disposed). */
  removeModule(name: string): Module | undefined {
    const m = this._modules.get(name);
    this._modules.delete(name);
    return m;
  }

  /** Replaces direct child `name` in place (same position in iteration order). */
  replaceModule(name: string, module: Module): void {
    check(this._modules.has(name), 'INVALID_NAME', () => `no child module '${name}' on ${this.typeName}`);
    this._modules.set(name, module);
  }

  /**
   * The module at dotted `path` below this one (`''` is this module), or undefined (what PyTorch
   * calls `get_submodule`, which throws instead).
   *
   * @example
   * ```ts
   * model.getSubmodule('model.layers.0.self_attn.q_proj'); // the Linear there
   * ```
   */
  getSubmodule(path: string): Module | undefined {
    if (path === '') return this;
    return path.split('.').reduce<Module | undefined>((m, part) => m?.getChild(part), this);
  }

  /**
   * Puts `module` at dotted `path` in place of the module there (same position in iteration order)
   * and returns the replaced module (not disposed). No module at `path`, or at its parent →
   * `MISSING_SUBMODULE`. What PyTorch calls `set_submodule`.
   *
   * Own fields of the parent that held the old module (`fc = this.registerModule('fc', …)`, or an
   * array of children) are rebound too: in PyTorch the attribute is the registry, here a field and
   * the registry are two references, and forwards read the field.
   */
  setSubmodule(path: string, module: Module): Module {
    const i = path.lastIndexOf('.');
    const parentPath = i < 0 ? '' : path.slice(0, i);
    const name = path.slice(i + 1);
    const parent = this.getSubmodule(parentPath);
    check(parent, 'MISSING_SUBMODULE', () => `no module at '${parentPath}' (parent of '${path}')`);
    const old = parent.getChild(name);
    check(old, 'MISSING_SUBMODULE', () => `no module at '${path}'`);
    parent.replaceModule(name, module);
    const fields = parent as unknown as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      if (key === '_modules' || key === '_parameters' || key === '_buffers') continue;
      const v = fields[key];
      if (v === old) fields[key] = module;
      else if (Array.isArray(v) && v.includes(old)) fields[key] = v.map((e) => (e === old ? module : e));
    }
    return old;
  }

  /** Removes parameter `name` registered directly on this module and returns it (not disposed). */
  removeParameter(name: string): Variable | undefined {
    const v = this._parameters.get(name);
    this._parameters.delete(name);
    return v;
  }

  /** Direct children, in registration order. */
  namedChildren(): Array<[string, Module]> {
    return [...this._modules.entries()];
  }

  /** Every module in the subtree, depth-first pre-order; the root's path is `''`. */
  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    const seen = new Set<Module>();
    const visit = (m: Module, path: string) => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([path, m]);
      for (const [name, child] of m._modules) visit(child, path ? `${path}.${name}` : name);
    };
    visit(this, prefix);
    return out;
  }

  /** Every parameter in the subtree by dotted path; a shared parameter is listed once. */
  namedParameters(): Array<[string, Variable]> {
    const out: Array<[string, Variable]> = [];
    const seen = new Set<Variable>();
    for (const [path, m] of this.namedModules()) {
      for (const [name, p] of m._parameters) {
        if (seen.has(p)) continue;
        seen.add(p);
        out.push([path ? `${path}.${name}` : name, p]);
      }
    }
    return out;
  }

  /** Every parameter in the subtree (unique). */
  parameters(): Variable[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Trainable parameters in the subtree (unique). */
  trainableParameters(): Variable[] {
    return this.parameters().filter((p) => p.trainable);
  }

  /** Every buffer in the subtree by dotted path. */
  namedBuffers(opts: { persistentOnly?: boolean } = {}): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    for (const [path, m] of this.namedModules()) {
      for (const [name, b] of m._buffers) {
        if (opts.persistentOnly && !b.persistent) continue;
        out.push([path ? `${path}.${name}` : name, b.tensor]);
      }
    }
    return out;
  }

  /**
   * Parameters plus persistent buffers by dotted path. The tensors are the module's own (live)
   * tensors, not copies: do not dispose them.
   */
  stateDict(): StateDict {
    const sd: StateDict = new Map();
    for (const [path, m] of this.namedModules()) {
      const pre = path ? `${path}.` : '';
      for (const [name, p] of m._parameters) if (!sd.has(pre + name)) sd.set(pre + name, p);
      for (const [name, b] of m._buffers) if (b.persistent) sd.set(pre + name, b.tensor);
    }
    return sd;
  }

  /**
   * Copies values from `sd` into this module's parameters and persistent buffers, casting to each
   * target's dtype. Everything is checked before anything is copied: a shape mismatch is always an
   * error; missing or unexpected keys are an error when `strict` (the default).
   */
  loadStateDict(
    sd: StateDictLike,
    opts: { strict?: boolean } = {},
  ): { missingKeys: string[]; unexpectedKeys: string[] } {
    const strict = opts.strict ?? true;
    const source = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const targets = new Map<
      string,
      { module: Module; name: string; kind: 'param' | 'buffer'; tensor: Tensor }
    >();
    for (const [path, m] of this.namedModules()) {
      const pre = path ? `${path}.` : '';
      for (const [name, p] of m._parameters)
        targets.set(pre + name, { module: m, name, kind: 'param', tensor: p });
      for (const [name, b] of m._buffers) {
        if (b.persistent) targets.set(pre + name, { module: m, name, kind: 'buffer', tensor: b.tensor });
      }
    }
    const missingKeys = [...targets.keys()].filter((k) => !source.has(k));
    const unexpectedKeys = [...source.keys()].filter((k) => !targets.has(k));
    const mismatched: string[] = [];
    for (const [key, value] of source) {
      const t = targets.get(key);
      if (!t) continue;
      check(
        value instanceof tf.Tensor,
        'STATE_DICT_MISMATCH',
        () => `loadStateDict: value for '${key}' is not a tensor`,
      );
      if (!sameShape(t.tensor.shape, value.shape)) {
        mismatched.push(
          `size mismatch for '${key}': copying a tensor of shape ${fmtShape(value.shape)}, the shape in the current model is ${fmtShape(t.tensor.shape)}`,
        );
      }
    }
    const problems: string[] = [...mismatched];
    if (strict) {
      if (missingKeys.length) problems.push(`missing keys: ${missingKeys.join(', ')}`);
      if (unexpectedKeys.length) problems.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
    }
    if (problems.length) {
      throw new AdapterError(
        'STATE_DICT_MISMATCH',
        `loadStateDict on ${this.typeName} failed: ${problems.join('; ')}`,
        {
          missingKeys,
          unexpectedKeys,
          shapeMismatches: mismatched,
        },
      );
    }
    for (const [key, value] of source) {
      const t = targets.get(key);
      if (!t) continue;
      if (t.kind === 'param') {
        const p = t.tensor as Variable;
        tf.tidy(() => p.assign(value.dtype === p.dtype ? value : tf.cast(value, p.dtype)));
      } else {
        const copy = tf.tidy(() =>
          value.dtype === t.tensor.dtype ? tf.clone(value) : tf.cast(value, t.tensor.dtype),
        );
        t.module.setBuffer(t.name, copy);
      }
    }
    return { missingKeys, unexpectedKeys };
  }

  /** Sets training mode on the whole subtree. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Sets evaluation mode on the whole subtree. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Runs `fn` (sync or async) with the whole subtree in eval mode, then restores every module's own
   * mode (frozen base modules may be in eval while adapters train, so one flag cannot restore them).
   */
  inEvalMode<T>(fn: () => T): T {
    const modes = this.namedModules().map(([, m]) => [m, m.training] as const);
    this.eval();
    return restoreAfter(fn, () => {
      for (const [m, training] of modes) m.training = training;
    });
  }

  /**
   * Freezes every parameter in the subtree and switches it to eval mode. Remembers which parameters
   * were trainable, so `unfreeze({partial: true})` restores exactly those.
   */
  freeze(): void {
    const frozen = new Set<Variable>();
    for (const p of this.parameters()) {
      if (p.trainable) frozen.add(p);
      p.trainable = false;
    }
    this._frozenByFreeze = frozen;
    this.eval();
  }

  /**
   * Makes the subtree's parameters trainable and switches it to training mode. With `partial`, only
   * the parameters a previous `freeze()` froze are restored; those already frozen stay frozen.
   */
  unfreeze(opts: { partial?: boolean } = {}): void {
    if (opts.partial) {
      const restore = this._frozenByFreeze ?? new Set<Variable>();
      for (const p of this.parameters()) if (restore.has(p)) p.trainable = true;
    } else {
      for (const p of this.parameters()) p.trainable = true;
    }
    this._frozenByFreeze = null;
    this.train();
  }

  /** Number of scalar elements over unique parameters. */
  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const p of this.parameters()) if (!opts.trainableOnly || p.trainable) n += p.size;
    return n;
  }

  /** Frees every variable and buffer in the subtree. The module is unusable afterwards. */
  dispose(): void {
    for (const [, m] of this.namedModules()) {
      for (const p of m._parameters.values()) if (!p.isDisposed) p.dispose();
      for (const b of m._buffers.values()) if (!b.tensor.isDisposed) b.tensor.dispose();
    }
  }

  /** Subclasses implement the computation. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each module declares its own forward signature; `any` lets subclasses narrow it, as PyTorch's `forward(*args)` does
  forward(..._args: any[]): any {
    throw new AdapterError('INVALID_INPUT', `${this.typeName} does not implement forward()`);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Wraps a tensor in a trainable variable; the tensor is disposed (its data now lives in the variable). */
export function toVariable(t: Tensor, trainable = true): Variable {
  const v = tf.variable(t, trainable);
  if (!t.isDisposed) t.dispose();
  return v;
}
