/**
 * The module-level adapter mixin (what NeMo calls `AdapterModuleMixin`): lets one module hold named
 * adapters under its child `adapter_layer`, enable and disable them, restrict accepted types,
 * unfreeze them, and run the enabled ones in insertion order through their strategies.
 *
 * State is created lazily (a module may become a host by a prototype swap, after construction).
 */
import { tf } from '../backend/tf.js';
import { AdapterError, check, describeValue, notOneOf } from '../errors.js';
import { logger } from '../logger.js';
import { BatchNorm, ModuleDict } from '../nn/layers.js';
import { Module, type ModuleClass } from '../nn/module.js';
import { AdapterModule } from './adapter-module.js';
import { forwardActiveSetup } from './composition/execute.js';
import { AdapterHeadsWrapper } from './heads/heads-wrapper.js';
import { ADAPTER_HOST, isAdapterHost } from './host-brand.js';
import { modelGuidOf, setModelGuid } from './model-guid.js';
import { forwardPerSample, type AdapterSelection } from './per-sample.js';
import {
  adapterClassOf,
  adapterTypeOfClass,
  checkConfigShape,
  constructAdapter,
  parseAdapterConfig,
} from './registry.js';
import { declareRowwiseInput } from './rowwise.js';
import {
  RESERVED_ADAPTER_NAMES,
  type AdapterConfig,
  type AdapterInput,
  type AdapterStrategy,
  type AdaptersConfig,
  type NormalizedAdapterConfig,
} from './types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's base constructor must take `any[]` (TS2545)
type ModuleCtor = new (...args: any[]) => Module;
/** Any class (accepted-type entries are checked to extend Module at run time). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any constructor, checked at run time
type AnyClass = abstract new (...args: any[]) => unknown;

/** One accepted type: its name (registered type name, else the class's typeName) and class. */
export interface AcceptedType {
  name: string;
  cls: AnyClass;
}

interface HostState {
  adapterCfg: AdaptersConfig;
  accepted: AcceptedType[];
}

const hostState = new WeakMap<Module, HostState>();

function stateOf(m: Module): HostState {
  let s = hostState.get(m);
  if (!s) hostState.set(m, (s = { adapterCfg: {}, accepted: [] }));
  return s;
}

/** The adapter names recorded in an adapters config, in execution order. */
export function adapterNamesInOrder(cfg: AdaptersConfig): string[] {
  const entries = Object.keys(cfg).filter((k) => !(RESERVED_ADAPTER_NAMES as readonly string[]).includes(k));
  const order = cfg.globalCfg?.adapterMetaCfg?.order;
  if (!order) return entries;
  // `order` is authoritative; anything recorded but missing from it runs after, in key order.
  return [...order.filter((n) => entries.includes(n)), ...entries.filter((n) => !order.includes(n))];
}

/** The meta config of an adapters config, created on first use. */
export function ensureMeta(cfg: AdaptersConfig): { modules: Record<string, string>; order: string[] } {
  cfg.globalCfg ??= {};
  cfg.globalCfg.adapterMetaCfg ??= { modules: {}, order: [] };
  cfg.globalCfg.adapterMetaCfg.modules ??= {};
  cfg.globalCfg.adapterMetaCfg.order ??= [];
  return cfg.globalCfg.adapterMetaCfg;
}

/** Checks an adapter name: non-empty, no `.`, not reserved. `written` is the name as the caller wrote it. */
export function checkAdapterName(adapterName: string, written: string): void {
  check(
    typeof adapterName === 'string' && adapterName.length > 0 && !adapterName.includes('.'),
    'INVALID_ADAPTER_NAME',
    () =>
      `adapter name ${JSON.stringify(written)} is invalid: the name after any 'module:' prefix must be non-empty and contain no '.'`,
    () => ({ name: written }),
  );
  check(
    !(RESERVED_ADAPTER_NAMES as readonly string[]).includes(adapterName),
    'RESERVED_NAME',
    () => `'${adapterName}' is reserved for the adapters config and cannot name an adapter`,
    () => ({ name: adapterName }),
  );
}

/** Maps accepted-type entries (type names or module classes) to {name, cls}. */
function toAcceptedTypes(types: Iterable<string | ModuleClass | AnyClass>, where: string): AcceptedType[] {
  const out: AcceptedType[] = [];
  for (const t of types) {
    if (typeof t === 'string') {
      const cls = adapterClassOf(t);
      if (!cls) {
        throw new AdapterError('UNKNOWN_TYPE', `${where}: adapter type '${t}' is not registered`, {
          type: t,
        });
      }
      out.push({ name: t, cls });
    } else if (typeof t === 'function' && (t === Module || t.prototype instanceof Module)) {
      out.push({ name: adapterTypeOfClass(t) ?? (t as ModuleClass).typeName ?? t.name, cls: t });
    } else {
      throw new AdapterError(
        'NOT_A_MODULE',
        `${where}: accepted types must be registered type names or Module classes; ${describeValue(t)} does not extend Module`,
      );
    }
  }
  return out;
}

/**
 * Unfreezes the enabled adapters of every host in `root`'s subtree (each judged by its own config),
 * after freezing every batch norm outside them when `freezeBatchNorm` (default true). Nothing else
 * changes: base parameters are frozen only by a prior `freeze()`.
 */
export function unfreezeEnabledAdapters(root: Module, opts: { freezeBatchNorm?: boolean } = {}): void {
  if (opts.freezeBatchNorm ?? true) {
    for (const [, m] of root.namedModules()) {
      if (!(m instanceof BatchNorm)) continue;
      m.weight.trainable = false;
      m.bias.trainable = false;
      m.trackRunningStats = false;
      m.eval();
      libraryFrozen.add(m);
    }
  }
  for (const [, m] of root.namedModules()) {
    if (!isAdapterHost(m)) continue;
    const host = m as AdapterHostModule;
    const layer = host.peekAdapterLayer();
    if (!layer) continue;
    for (const [name, adapter] of layer.entries()) {
      const entry = host.adapterCfg[name] as NormalizedAdapterConfig | undefined;
      if (!entry?.enabled) continue;
      adapter.train();
      if (adapter instanceof AdapterModule) adapter.adapterUnfreeze();
      else for (const p of adapter.parameters()) p.trainable = true;
      for (const [, sub] of adapter.namedModules()) {
        if (sub instanceof BatchNorm) sub.trackRunningStats = true;
      }
    }
  }
  // Module copies and output extensions that enabled adapters own (SPEC §5.2).
  for (const [, m] of root.namedModules()) if (m instanceof AdapterHeadsWrapper) m.unfreezeEnabled();
}

/** Batch norms the library froze (their running stats are saved with adapters). */
export const libraryFrozen = new WeakSet<Module>();

/** The members every host has (see {@link withAdapters}). */
export type AdapterHostModule = InstanceType<ReturnType<typeof withAdapters>>;

/**
 * Makes a module class able to hold adapters.
 *
 * @example
 * ```ts
 * class MyBlock extends Module { static override readonly typeName = 'MyBlock'; ... }
 * class MyBlockWithAdapters extends withAdapters(MyBlock) {
 *   static override readonly typeName = 'MyBlockWithAdapters';
 *   override forward(x: Tensor) { return this.forwardEnabledAdapters(super.forward(x)); }
 * }
 * registerAdapter(MyBlock, MyBlockWithAdapters);
 * ```
 */
export function withAdapters<TBase extends ModuleCtor>(Base: TBase) {
  class AdapterHost extends Base {
    /** Where this host sits in its model, for messages (set by the model). */
    get adapterHostPath(): string {
      return hostPaths.get(this) ?? '';
    }
    set adapterHostPath(p: string) {
      hostPaths.set(this, p);
    }

    /** The adapters config (shared by reference with the model when inside one). */
    get adapterCfg(): AdaptersConfig {
      return stateOf(this).adapterCfg;
    }
    set adapterCfg(cfg: AdaptersConfig) {
      stateOf(this).adapterCfg = cfg;
    }

    /** `adapter_layer`, if any adapter was ever added. */
    peekAdapterLayer(): ModuleDict | undefined {
      return this.getChild('adapter_layer') as ModuleDict | undefined;
    }

    /** `adapter_layer`, created on first use. */
    get adapterLayer(): ModuleDict {
      return this.peekAdapterLayer() ?? this.registerModule('adapter_layer', new ModuleDict());
    }

    /** A label for messages: the model path, else the type name. */
    /** @internal */
    hostLabel(): string {
      return this.adapterHostPath || this.typeName;
    }

    /**
     * Adds adapter `name` built from `cfg`. Everything is validated before anything changes: a
     * failing add leaves no module, no config entry and no meta change.
     */
    addAdapter(name: string, cfg: AdapterConfig, extra?: Record<string, unknown>): void {
      const where = `addAdapter('${name}')`;
      checkConfigShape(cfg, where); // (1)
      this.checkSupportedAdapterType(cfg); // (2)
      const [, adapterName] = this.resolveAdapterModuleName(name); // (3)
      checkAdapterName(adapterName, name); // (4)
      check(
        !this.peekAdapterLayer()?.has(adapterName), // (5)
        'DUPLICATE_ADAPTER',
        () =>
          `adapter '${name}' already exists on '${this.hostLabel()}'; held: ${this.heldAdapterNames().join(', ')}`,
        () => ({ name }),
      );
      const normalized = parseAdapterConfig(cfg, where); // (6)
      this.checkAdapterLocation(name, normalized); // (6b)
      const adapter = constructAdapter(normalized, extra); // (7)
      this.attachAdapter(adapterName, adapter, normalized); // (8)–(9)
    }

    /**
     * Hook: the names of the insertion points an adapter config's `location` may name here. `[]`
     * (a plain host): adapters run on the module's output and `location` is not accepted.
     */
    adapterPoints(): string[] {
      return [];
    }

    /**
     * Hook: checks `cfg.location` against this host's points. A plain host offers none, so any
     * `location` is `INVALID_CONFIG`; attention hosts override it.
     */
    checkAdapterLocation(name: string, cfg: NormalizedAdapterConfig): void {
      check(
        cfg.location === undefined,
        'INVALID_CONFIG',
        () =>
          `addAdapter('${name}'): location ${JSON.stringify(cfg.location)} cannot be chosen on '${this.hostLabel()}' (${this.typeName}), which runs its adapters on its output and offers no insertion points; remove 'location'`,
        () => ({ field: 'location', value: cfg.location, valid: [] }),
      );
    }

    /** Attaches a built adapter and records its config: the only mutation of an add. */
    attachAdapter(adapterName: string, adapter: Module, normalized: NormalizedAdapterConfig): void {
      setModelGuid(adapter, modelGuidOf(this), { subtree: true });
      this.adapterLayer.set(adapterName, adapter);
      this.adapterCfg[adapterName] = normalized;
      const order = ensureMeta(this.adapterCfg).order;
      if (!order.includes(adapterName)) order.push(adapterName);
    }

    /** Removes a held adapter and frees its tensors (no config change). */
    detachAdapter(adapterName: string): void {
      const m = this.peekAdapterLayer()?.delete(adapterName);
      m?.dispose();
    }

    /** Names of adapters held here, in registration order. */
    heldAdapterNames(): string[] {
      return this.peekAdapterLayer()?.keys() ?? [];
    }

    /** True iff at least one adapter is held, enabled or not. */
    isAdapterAvailable(): boolean {
      return (this.peekAdapterLayer()?.size ?? 0) > 0;
    }

    /**
     * Sets the `enabled` flag of one adapter, or of every adapter when `name` is omitted or null.
     * Never reorders.
     */
    setEnabledAdapters(name?: string | null, enabled = true): void {
      this.setEnabledHere(name, enabled);
    }

    /** {@link setEnabledAdapters} on this host only: `NO_ADAPTERS` when it holds none. @internal */
    setEnabledHere(name: string | null | undefined, enabled: boolean): void {
      check(
        this.isAdapterAvailable(),
        'NO_ADAPTERS',
        () =>
          `setEnabledAdapters on '${this.hostLabel()}': it holds no adapters; add one with addAdapter() first`,
      );
      this.setEnabledInConfig(name, enabled);
    }

    /** Sets `enabled` on entries of `adapterCfg` (shared with the model). */
    /** @internal */
    setEnabledInConfig(name: string | null | undefined, enabled: boolean): void {
      const cfg = this.adapterCfg;
      const names = adapterNamesInOrder(cfg);
      if (name === undefined || name === null) {
        for (const n of names) (cfg[n] as NormalizedAdapterConfig).enabled = enabled;
        return;
      }
      const [, adapterName] = this.resolveAdapterModuleName(name);
      check(
        !(RESERVED_ADAPTER_NAMES as readonly string[]).includes(adapterName),
        'RESERVED_NAME',
        () => `'${adapterName}' is reserved for the adapters config and is not an adapter`,
      );
      check(
        names.includes(adapterName),
        'UNKNOWN_ADAPTER',
        () => `setEnabledAdapters: ${notOneOf('adapter', name, names)}`,
        () => ({ name, valid: names }),
      );
      (cfg[adapterName] as NormalizedAdapterConfig).enabled = enabled;
    }

    /**
     * Names that run, in execution order: config insertion order, keeping adapters held here,
     * enabled, and (when a type restriction is set) of an accepted type.
     */
    getEnabledAdapters(): string[] {
      const layer = this.peekAdapterLayer();
      if (!layer) return [];
      const accepted = this.acceptedTypes();
      return adapterNamesInOrder(this.adapterCfg).filter((n) => {
        const adapter = layer.get(n);
        if (!adapter || !(this.adapterCfg[n] as NormalizedAdapterConfig | undefined)?.enabled) return false;
        return accepted.length === 0 || accepted.some((a) => adapter instanceof (a.cls as ModuleClass));
      });
    }

    /** The held adapter `name` (a `module:` prefix is ignored), or undefined. */
    getAdapterModule(name: string): Module | undefined {
      const [, n] = this.resolveAdapterModuleName(name);
      return this.peekAdapterLayer()?.get(n);
    }

    /** A read-only copy of adapter `name`'s stored config, or undefined. */
    getAdapterCfg(name: string): Readonly<NormalizedAdapterConfig> | undefined {
      const [, n] = this.resolveAdapterModuleName(name);
      if ((RESERVED_ADAPTER_NAMES as readonly string[]).includes(n)) return undefined;
      const entry = this.adapterCfg[n] as NormalizedAdapterConfig | undefined;
      return entry ? deepFreeze(structuredClone(entry)) : undefined;
    }

    /** Hook: the types this host accepts when no explicit set is given (`[]` = no restriction). */
    defaultAcceptedAdapterTypes(): Array<string | ModuleClass> {
      return [];
    }

    /**
     * Replaces the accepted-type set; `[]` resets to the host's defaults. Held adapters that become
     * unaccepted stay held but are skipped at forward (a warning names them).
     */
    setAcceptedAdapterTypes(types: Array<string | ModuleClass>): void {
      stateOf(this).accepted = toAcceptedTypes(types, `setAcceptedAdapterTypes on '${this.hostLabel()}'`);
      const accepted = this.acceptedTypes();
      if (accepted.length === 0) return;
      const skipped = this.heldAdapterNames().filter((n) => {
        const a = this.getAdapterModule(n)!; // layered hosts hold adapters in their layers
        return !accepted.some((t) => a instanceof (t.cls as ModuleClass));
      });
      if (skipped.length) {
        logger().warn(
          `'${this.hostLabel()}' no longer accepts held adapter(s) ${skipped.join(', ')} (accepted: ${accepted.map((a) => a.name).join(', ')}); they will be skipped at forward`,
        );
      }
    }

    /** The accepted type names: the explicit set if non-empty, else the host's defaults. */
    getAcceptedAdapterTypes(): ReadonlySet<string> {
      return new Set(this.acceptedTypes().map((a) => a.name));
    }

    /** @internal */
    acceptedTypes(): AcceptedType[] {
      const explicit = stateOf(this).accepted;
      if (explicit.length) return explicit;
      return toAcceptedTypes(
        this.defaultAcceptedAdapterTypes(),
        `defaultAcceptedAdapterTypes of '${this.typeName}'`,
      );
    }

    /**
     * Passes when the class registered for `cfg.type` is, or extends, an accepted class; an empty
     * set accepts everything. Else `TYPE_NOT_ACCEPTED` listing the accepted types.
     */
    checkSupportedAdapterType(cfg: AdapterConfig, types?: Iterable<string | ModuleClass>): void {
      checkConfigShape(cfg, `checkSupportedAdapterType on '${this.hostLabel()}'`);
      const accepted = types ? toAcceptedTypes(types, 'checkSupportedAdapterType') : this.acceptedTypes();
      if (accepted.length === 0) return;
      const cls = adapterClassOf(cfg.type)!;
      const ok = accepted.some((a) => cls === a.cls || cls.prototype instanceof a.cls);
      check(
        ok,
        'TYPE_NOT_ACCEPTED',
        () =>
          `adapter type '${cfg.type}' is not accepted by '${this.hostLabel()}'; accepted types: ${accepted.map((a) => a.name).join(', ')}`,
        () => ({ type: cfg.type, valid: accepted.map((a) => a.name) }),
      );
    }

    /** Unfreezes the enabled adapters of this host and every host below it (see the free function). */
    unfreezeEnabledAdapters(opts: { freezeBatchNorm?: boolean } = {}): void {
      unfreezeEnabledAdapters(this, opts);
    }

    /**
     * Runs the enabled adapters in order, each on the previous result: `yᵢ = Sᵢ(yᵢ₋₁, Aᵢ)`.
     * With `adapterNames`, row `i` of the batch runs `adapterNames[i]` (a name, a list of names run
     * in that order, or `'__base__'` for none), whatever the enabled flags. Otherwise the model's
     * active composition setup (`setActiveSetup`), when there is one, replaces the default chain.
     */
    forwardEnabledAdapters<T extends AdapterInput>(
      input: T,
      opts: { adapterNames?: AdapterSelection[] } = {},
    ): T {
      check(
        input !== undefined && input !== null,
        'INVALID_INPUT',
        () => `forwardEnabledAdapters on '${this.hostLabel()}' needs the input to pass through the adapters`,
      );
      if (opts.adapterNames) return forwardPerSample(this, input, opts.adapterNames) as T;
      // An active composition setup (model.setActiveSetup) replaces the default chain.
      const composed = forwardActiveSetup(this, input);
      if (composed !== undefined) return composed as T;
      return this.forwardAdapterChain(input, this.getEnabledAdapters());
    }

    /** Runs `names` in order on `input` (no enabled-flag filtering). */
    forwardAdapterChain<T extends AdapterInput>(input: T, names: readonly string[]): T {
      let y: AdapterInput = input;
      const layer = this.peekAdapterLayer();
      for (const adapterName of names) {
        const adapter = layer?.get(adapterName);
        check(adapter, 'UNKNOWN_ADAPTER', () => `'${this.hostLabel()}' holds no adapter '${adapterName}'`);
        const adapterStrategy = (adapter as AdapterModule).adapterStrategy;
        check(
          adapterStrategy,
          'MISSING_STRATEGY',
          () =>
            `adapter '${adapterName}' on '${this.hostLabel()}' has no adapterStrategy; call setupAdapterStrategy() on it`,
          () => ({ name: adapterName, host: this.hostLabel() }),
        );
        y = this.forwardSingleEnabledAdapter(y, adapter as AdapterModule, { adapterName, adapterStrategy });
      }
      return y as T;
    }

    /** Hook: runs one adapter through its strategy. Attention hosts override it. */
    forwardSingleEnabledAdapter(
      input: AdapterInput,
      adapter: AdapterModule,
      ctx: { adapterName: string; adapterStrategy: AdapterStrategy },
    ): AdapterInput {
      return ctx.adapterStrategy.forward(input, adapter, { module: this });
    }

    /**
     * `[moduleName, adapterName]`: splits at the first `:`; a bare name takes its module from the
     * meta config (so it finds its module after a restore), else `''`.
     */
    resolveAdapterModuleName(name: string): [string, string] {
      check(
        typeof name === 'string',
        'INVALID_ADAPTER_NAME',
        () => `adapter name must be a string, got ${describeValue(name)}`,
      );
      const i = name.indexOf(':');
      if (i >= 0) return [name.slice(0, i), name.slice(i + 1)];
      return [this.adapterCfg.globalCfg?.adapterMetaCfg?.modules?.[name] ?? '', name];
    }
  }
  Object.defineProperty(AdapterHost.prototype, ADAPTER_HOST, { value: true });
  // The default dispatch hands a tensor input to every adapter as it is: per-sample selection may run
  // the selected adapters in one pass when they declare it.
  declareRowwiseInput(AdapterHost, (input) =>
    input instanceof tf.Tensor ? { x: input, runs: true, rebuild: (y) => y } : null,
  );
  return AdapterHost;
}

const hostPaths = new WeakMap<Module, string>();

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
