/**
 * The model-level adapter mixin (what NeMo calls `AdapterModelPTMixin`): owns the persistent
 * adapters config (`cfg.adapters`), resolves `module:name` strings and routes adapters to submodules.
 * Saving and loading adapter files sits one layer up: the io layer's `withAdapterModel` adds
 * `saveAdapters` / `loadAdapters` to this mixin (what the package exports under that name).
 */
import { tf, type Tensor } from '../backend/tf.js';
import { AdapterError, check } from '../errors.js';
import { logger } from '../logger.js';
import type { Module } from '../nn/module.js';
import { getAccessContext, getModuleRegistry, withAccess } from './access.js';
import { updateModuleClassWithAdapterClass } from './class-registry.js';
import {
  adapterNamesInOrder,
  checkAdapterName,
  ensureMeta,
  withAdapters,
  type AdapterHostModule,
} from './host.js';
import { isAdapterHost } from './host-brand.js';
import { modelGuidOf, setModelGuid } from './model-guid.js';
import { checkConfigShape, parseAdapterConfig } from './registry.js';
import * as composition from './composition/model-composition.js';
import type { AdapterFusion, FusionConfigInput } from './composition/fusion.js';
import type { SetupBlock, SetupInput } from './composition/setup.js';
import { isEmptyHeads, splitHeadsConfig } from './heads/config.js';
import { attachHeads, detachHeads, planHeads } from './heads/model-heads.js';
import { RESERVED_ADAPTER_NAMES, type AdapterConfig, type AdaptersConfig } from './types.js';

/** A model config: any object; `adapters` holds the adapters config. */
export interface AdapterModelConfig {
  adapters?: AdaptersConfig;
  [key: string]: unknown;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's base constructor must take `any[]` (TS2545)
type ModelCtor = new (...args: any[]) => Module & { cfg: AdapterModelConfig };

let guidCounter = 0;
function newModelGuid(): string {
  const rand =
    typeof crypto !== 'undefined' && 'randomUUID' in crypto ? crypto.randomUUID() : String(Math.random());
  return `model-${++guidCounter}-${rand}`;
}

/**
 * The module at dotted `path` below `root`, or undefined (also for `''`).
 *
 * Prefer `root.getSubmodule(path)`, the `Module` method (which returns `root` for `''`).
 */
export function getSubmodule(root: Module, path: string): Module | undefined {
  return path === '' ? undefined : root.getSubmodule(path);
}

const warnedModules = new WeakMap<Module, Set<string>>();

/** The result of {@link withAdapterModel}'s `collectAuxiliaryLosses`. */
export interface AuxiliaryLosses {
  total: Tensor | 0;
  byPath: Record<string, Tensor>;
}

/**
 * Makes a model class (a Module with a persisted `cfg`) own adapters for its submodules. The
 * constructor of the final class must call `setupAdapters()` last. This is the adapters layer's
 * core, without adapter files; build models with the package's `withAdapterModel` (io layer), which
 * adds `saveAdapters` / `loadAdapters`, or with `makeAdapterModel`, which also does the constructor's
 * last steps.
 *
 * @example
 * ```ts
 * class MyModel extends withAdapterModel(MyBase) {
 *   static override readonly typeName = 'MyModel';
 *   override adapterModuleNames = ['', 'encoder', 'decoder'];
 *   override defaultAdapterModuleName = 'encoder';
 *   constructor(cfg: MyConfig) { super(cfg); this.setupAdapters(); }
 * }
 * model.addAdapter('decoder:first', { type: 'linear', inFeatures: 256, dim: 32 });
 * ```
 */
export function withAdapterModel<TBase extends ModelCtor>(Base: TBase) {
  class AdapterModel extends withAccess(withAdapters(Base)) {
    /** Valid module names; `''` is the default route. */
    adapterModuleNames: readonly string[] = [''];
    /** Module that `''` routes to, or null. */
    defaultAdapterModuleName: string | null = null;
    /** Set while `setupAdapters` rebuilds recorded adapters. */
    /** @internal */
    restoring = false;

    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's base constructor must take `any[]` (TS2545)
    constructor(...args: any[]) {
      super(...args);
      setModelGuid(this, newModelGuid());
    }

    /** Hook: the module names `''` routes to. Default `[defaultAdapterModuleName]`. */
    resolveDefaultAdapterTargets(): string[] {
      check(
        this.defaultAdapterModuleName !== null,
        'NO_DEFAULT_MODULE',
        () =>
          `${this.typeName} has no default adapter module, so a name without 'module:' cannot be placed; use one of: ${this.adapterModuleNames
            .filter((n) => n)
            .map((n) => `'${n}:<name>'`)
            .join(', ')}`,
        () => ({ valid: [...this.adapterModuleNames] }),
      );
      return [this.defaultAdapterModuleName];
    }

    /** As the module-level resolution, then checks every `+`-separated module part. */
    override resolveAdapterModuleName(name: string): [string, string] {
      const [moduleName, adapterName] = super.resolveAdapterModuleName(name);
      for (const part of moduleName.split('+')) {
        check(
          this.adapterModuleNames.includes(part),
          'INVALID_MODULE_NAME',
          () =>
            `'${name}': module '${part}' is not one of this model's adapter modules: ${this.adapterModuleNames.map((n) => `'${n}'`).join(', ')}`,
          () => ({ module: part, valid: [...this.adapterModuleNames] }),
        );
      }
      return [moduleName, adapterName];
    }

    /** The config's adapters section, created on first use and shared with every host. */
    /** @internal */
    adaptersConfig(): AdaptersConfig {
      this.cfg.adapters ??= {};
      return this.cfg.adapters;
    }

    /** Names recorded in `cfg.adapters`, in execution order. */
    adapterNames(): string[] {
      return this.cfg.adapters ? adapterNamesInOrder(this.cfg.adapters) : [];
    }

    /** The module names a module spec routes to (`''` → default targets; `a+b` → both). */
    /** @internal */
    targetNames(moduleSpec: string): string[] {
      const out: string[] = [];
      for (const part of moduleSpec.split('+')) {
        for (const t of part === '' ? this.resolveDefaultAdapterTargets() : [part])
          if (!out.includes(t)) out.push(t);
      }
      return out;
    }

    /** The host modules a module spec routes to; errors for missing or non-host modules. */
    /** @internal */
    resolveTargets(moduleSpec: string): Array<[string, AdapterHostModule]> {
      return this.targetNames(moduleSpec).map((t) => {
        const m = t === '' ? this : getSubmodule(this, t);
        check(
          m,
          'MISSING_SUBMODULE',
          () =>
            `adapter module '${t}' is listed in adapterModuleNames but ${this.typeName} has no submodule '${t}'`,
          () => ({ module: t }),
        );
        check(
          isAdapterHost(m),
          'MODULE_NOT_ADAPTER_CAPABLE',
          () =>
            `module '${t}' (${m.typeName}) cannot hold adapters; register an adapter class for it and call replaceAdapterCompatibleModules()`,
          () => ({ module: t }),
        );
        return [t, m as AdapterHostModule];
      });
    }

    /** Every host the model routes adapters to (existing named modules and default targets). */
    adapterHosts(): AdapterHostModule[] {
      const names = new Set(this.adapterModuleNames.filter((n) => n !== ''));
      try {
        for (const t of this.resolveDefaultAdapterTargets()) names.add(t);
      } catch (e) {
        if (!(e instanceof AdapterError && e.code === 'NO_DEFAULT_MODULE')) throw e;
      }
      const hosts: AdapterHostModule[] = [];
      for (const n of names) {
        const m = getSubmodule(this, n);
        if (m && isAdapterHost(m) && !hosts.includes(m as AdapterHostModule))
          hosts.push(m as AdapterHostModule);
      }
      return hosts;
    }

    /** Which hosts hold adapter `adapterName`, by module name. */
    /** @internal */
    holdersOf(adapterName: string): string[] {
      const names = this.adapterModuleNames.filter((n) => n !== '');
      return names.filter((n) => {
        const m = getSubmodule(this, n);
        return (
          m &&
          isAdapterHost(m) &&
          (m as AdapterHostModule).getEnabledAdapters !== undefined &&
          holdsAdapter(m as AdapterHostModule, adapterName)
        );
      });
    }

    /**
     * Adds adapter `name` (`module:adapter`, or a bare name for the default route). Everything is
     * validated before anything changes. Besides its kind's fields, any config may say what of the
     * model the adapter owns (SPEC §5.2): `modulesToSave: ['head']` (trainable copies, used while it
     * is active) and `extendOutput: {module, newLabels}` (new rows of a linear output layer).
     *
     * NeMo note: NeMo writes the config and meta entry before its duplicate check and allows the same
     * name on two modules; here names are unique model-wide and a failed add leaves no trace.
     */
    override addAdapter(name: string, cfg: AdapterConfig): void {
      const [moduleSpec, adapterName] = this.resolveAdapterModuleName(name);
      checkAdapterName(adapterName, name);
      if (!this.restoring) {
        const holders = this.holdersOf(adapterName);
        check(
          !this.adapterNames().includes(adapterName) && holders.length === 0,
          'DUPLICATE_ADAPTER',
          () =>
            `adapter '${adapterName}' already exists in ${this.typeName}${holders.length ? ` (held by ${holders.map((h) => `'${h}'`).join(', ')})` : ''}; adapter names are unique per model`,
          () => ({ name: adapterName, holders }),
        );
      }
      const where = `addAdapter('${name}')`;
      checkConfigShape(cfg, where);
      // Heads (SPEC §5.2) are the model's business: the kind's schema and the hosts see the rest.
      const { kindConfig, heads } = splitHeadsConfig(cfg, where);
      this.checkValidModelWithAdapterSupport();
      const targets = this.resolveTargets(moduleSpec);
      for (const [, host] of targets) host.checkSupportedAdapterType(kindConfig);
      const normalized = parseAdapterConfig(kindConfig, where);
      const headsPlan = isEmptyHeads(heads) ? null : planHeads(this, heads, where);

      const adapters = this.adaptersConfig();
      const snapshot = structuredClone(adapters);
      const done: AdapterHostModule[] = [];
      try {
        const meta = ensureMeta(adapters);
        meta.modules[adapterName] = moduleSpec;
        if (!meta.order.includes(adapterName)) meta.order.push(adapterName);
        adapters[adapterName] = normalized;
        this.updateAdapterCfg(adapters);
        setModelGuid(this, modelGuidOf(this), { subtree: true });
        for (const [path, host] of targets) {
          if (path) host.adapterHostPath = path;
          host.addAdapter(adapterName, normalized);
          done.push(host);
        }
        if (headsPlan) {
          adapters[adapterName] = { ...normalized, ...heads }; // hosts stored the kind's fields only
          attachHeads(this, adapterName, headsPlan);
        }
      } catch (e) {
        for (const host of done) host.detachAdapter(adapterName);
        detachHeads(this, adapterName);
        for (const k of Object.keys(adapters)) delete adapters[k];
        Object.assign(adapters, snapshot);
        throw e;
      }
      if (targets.length === 0) {
        logger().warn(
          `adapter '${adapterName}' was recorded but routes to no module of ${this.typeName}, so nothing was built`,
        );
      }
    }

    /**
     * Rebuilds every adapter recorded in `cfg.adapters`, in `order`, keeping each stored `enabled`
     * flag and module spec. Call at the end of the model's constructor.
     */
    setupAdapters(): void {
      const adapters = this.cfg.adapters;
      if (!adapters) return;
      this.updateAdapterCfg(adapters);
      const modules = adapters.globalCfg?.adapterMetaCfg?.modules ?? {};
      this.restoring = true;
      try {
        for (const name of adapterNamesInOrder(adapters)) {
          const spec = modules[name] ?? '';
          this.addAdapter(spec ? `${spec}:${name}` : name, adapters[name] as AdapterConfig);
        }
      } finally {
        this.restoring = false;
      }
      composition.rebuildFusionLayers(this);
    }

    override isAdapterAvailable(): boolean {
      this.checkValidModelWithAdapterSupport();
      return this.adapterHosts().some((h) => h.isAdapterAvailable());
    }

    /** Sets `enabled` in `cfg.adapters` (one adapter, or all when `name` is omitted), then on every host. */
    override setEnabledAdapters(name?: string | null, enabled = true): void {
      this.checkValidModelWithAdapterSupport();
      check(
        this.adapterNames().length > 0,
        'NO_ADAPTERS',
        () =>
          `setEnabledAdapters on ${this.typeName}: no adapter was ever added; add one with addAdapter() first`,
      );
      this.updateAdapterCfg(this.adaptersConfig());
      this.setEnabledInConfig(name, enabled);
      for (const host of this.adapterHosts())
        if (host.isAdapterAvailable()) host.setEnabledAdapters(name, enabled);
    }

    /** Sorted, de-duplicated union of every host's enabled adapters (a display order). */
    override getEnabledAdapters(): string[] {
      this.checkValidModelWithAdapterSupport();
      const all = new Set<string>();
      for (const h of this.adapterHosts()) for (const n of h.getEnabledAdapters()) all.add(n);
      return [...all].sort();
    }

    override getAdapterModule(name: string): Module | undefined {
      const [, n] = this.resolveAdapterModuleName(name);
      for (const h of this.adapterHosts()) {
        const m = h.getAdapterModule(n);
        if (m) return m;
      }
      return undefined;
    }

    /** Warns once per module when a listed module exists but cannot hold adapters. */
    checkValidModelWithAdapterSupport(): void {
      let warned = warnedModules.get(this);
      if (!warned) warnedModules.set(this, (warned = new Set()));
      for (const n of this.adapterModuleNames) {
        if (!n || warned.has(n)) continue;
        const m = getSubmodule(this, n);
        if (m && !isAdapterHost(m)) {
          warned.add(n);
          logger().warn(
            `${this.typeName}: module '${n}' (${m.typeName}) does not support adapters; register its adapter class and call replaceAdapterCompatibleModules()`,
          );
        }
      }
    }

    /** Points every host's `adapterCfg` at `adaptersCfg` (identity). */
    updateAdapterCfg(adaptersCfg: AdaptersConfig): void {
      this.cfg.adapters = adaptersCfg;
      for (const [, m] of this.namedModules())
        if (isAdapterHost(m)) (m as AdapterHostModule).adapterCfg = adaptersCfg;
    }

    /** Upgrades every registered descendant class to its adapter class, in place. */
    replaceAdapterCompatibleModules(opts: { updateConfig?: boolean } = {}): void {
      for (const [path, m] of this.namedModules()) {
        if (path !== '') updateModuleClassWithAdapterClass(m, this.cfg, opts);
      }
      if (this.cfg.adapters) this.updateAdapterCfg(this.cfg.adapters);
    }

    /** Removes adapter `name` from every host and from `cfg.adapters`, `meta.modules` and `order`. */
    deleteAdapter(name: string): void {
      const [, adapterName] = this.resolveAdapterModuleName(name);
      const names = this.adapterNames();
      check(
        names.includes(adapterName),
        'UNKNOWN_ADAPTER',
        () => `deleteAdapter: unknown adapter '${name}'; existing adapters: ${names.join(', ') || '(none)'}`,
        () => ({ name, valid: names }),
      );
      composition.forgetAdapterInComposition(this, adapterName);
      detachHeads(this, adapterName);
      for (const [, m] of this.namedModules()) {
        if (isAdapterHost(m)) (m as AdapterHostModule).detachAdapter(adapterName);
      }
      const adapters = this.adaptersConfig();
      delete adapters[adapterName];
      const meta = ensureMeta(adapters);
      delete meta.modules[adapterName];
      meta.order.splice(meta.order.indexOf(adapterName), 1);
    }

    // ---- Composition blocks and AdapterFusion (SPEC §5.1); the logic lives in ./composition/ ----

    /**
     * Makes `setup` the active setup at every host holding its adapters (`Stack`, `Parallel`,
     * `BatchSplit`, `Average`, `Fuse`, a bare name, or AdapterHub's list shorthand); `null` restores
     * the default chain. A failing call leaves the model unchanged.
     *
     * @example
     * ```ts
     * model.setActiveSetup(Stack('lang', 'task'));
     * model.setActiveSetup(['a', ['b', 'c']]); // Stack('a', Fuse('b', 'c'))
     * ```
     */
    setActiveSetup(setup: SetupInput | null): void {
      composition.setActiveSetup(this, setup);
    }

    /** The active setup in its JSON form, or null when the default chain runs. */
    getActiveSetup(): SetupBlock | null {
      return composition.getActiveSetup(this);
    }

    /** Adds an AdapterFusion layer over `children` (`'dynamic'` by default); returns its name (`a,b`). */
    addFusion(children: string[], cfg?: FusionConfigInput): string {
      return composition.addFusion(this, children, cfg);
    }

    /** Removes the fusion layer over `children` (or its name). */
    deleteFusion(children: string[] | string): void {
      composition.deleteFusion(this, children);
    }

    /** The names of the model's fusion layers. */
    listFusions(): string[] {
      return composition.listFusions(this);
    }

    /** The fusion layers over `children` (one per host holding them). */
    getFusionLayers(children: string[] | string): AdapterFusion[] {
      return composition.getFusionLayers(this, children);
    }

    /** Makes the fusion layers over `children` trainable (or frozen with `false`). */
    unfreezeFusion(children: string[] | string, trainable = true): void {
      composition.unfreezeFusion(this, children, trainable);
    }

    // ---- end of composition ----

    /**
     * Sums the `adapter_loss` tensors registered during the forward (what NeMo's ASR models do in
     * `add_auxiliary_losses`). Call inside the function you differentiate so the loss reaches the
     * adapters. With `reset`, empties the registries afterwards.
     */
    collectAuxiliaryLosses(opts: { reset?: boolean } = {}): AuxiliaryLosses {
      const out: AuxiliaryLosses = { total: 0, byPath: {} };
      if (getAccessContext().isEnabled(modelGuidOf(this))) {
        for (const [path, reg] of Object.entries(getModuleRegistry(this))) {
          const losses = reg['adapter_loss'];
          if (losses?.length) out.byPath[path] = losses.length === 1 ? tf.clone(losses[0]!) : tf.addN(losses);
        }
        const parts = Object.values(out.byPath);
        if (parts.length) out.total = parts.length === 1 ? tf.clone(parts[0]!) : tf.addN(parts);
      }
      if (opts.reset) this.resetRegistry();
      return out;
    }
  }
  return AdapterModel;
}

function holdsAdapter(host: AdapterHostModule, name: string): boolean {
  if (host.heldAdapterNames().includes(name)) return true;
  // Layered hosts hold adapters in their layers.
  return host
    .namedModules()
    .some(
      ([, m]) => m !== host && isAdapterHost(m) && (m as AdapterHostModule).heldAdapterNames().includes(name),
    );
}

/** The members every adapter model has (see {@link withAdapterModel}). */
export type AdapterModelModule = InstanceType<ReturnType<typeof withAdapterModel>>;

export { RESERVED_ADAPTER_NAMES };
