/**
 * Any Module class as an adapter model in one step: {@link makeAdapterModel} adds the model-level mixin
 * (with adapter files), a config when the class has none, the module names, and the two calls the
 * mixin needs after the model is built (`replaceAdapterCompatibleModules()`, `setupAdapters()`).
 */
import { check } from '../errors.js';
import type { Module } from '../nn/module.js';
import type { AdapterModelConfig } from '../adapters/model.js';
import { withAdapterModel, type AdapterModelModule } from './adapter-model.js';

/** Options of {@link makeAdapterModel}. */
export interface AdapterModelOptions {
  /**
   * Dotted paths of the submodules that hold adapters (`'encoder'`, `'blocks.0'`), what an adapter
   * name's `module:` part may be. Each must be an adapter host when the model is built: a
   * `withAdapters` class, or a class with a registered adapter class (`registerAdapter`), which the
   * model upgrades in place.
   */
  moduleNames: readonly string[];
  /** Where a name without `module:` goes (one of `moduleNames`). Default none: names need `module:`. */
  defaultModuleName?: string | null;
}

// Mixin constructors must take `any[]` (TS2545).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ModuleCtor = new (...args: any[]) => Module;

/**
 * The class {@link makeAdapterModel} returns: `Base`'s constructor and statics, its instances with
 * every adapter-model member (`addAdapter`, `setEnabledAdapters`, `saveAdapters`, `loadAdapters`, …).
 */
export type AdapterModelClass<TBase extends ModuleCtor> = Pick<TBase, keyof TBase> &
  (new (...args: ConstructorParameters<TBase>) => InstanceType<TBase> & AdapterModelModule);

/**
 * Makes any Module class an adapter model (SPEC §2.6) in one step, the way a PyTorch or NeMo user
 * writes a model first and adds adapter support after: the returned class builds `Base` as usual,
 * then upgrades submodules that have a registered adapter class, and restores the adapters recorded
 * in `cfg.adapters`. So `addAdapter`, `saveAdapters` and `loadAdapters` work on every instance, and an
 * adapter file saved from one instance loads into a fresh one.
 *
 * `Base` keeps its own `cfg` when it has one (adapters are recorded in `cfg.adapters`, so whole-model
 * checkpoints keep them); otherwise the model gets an empty `cfg`. Build every submodule in `Base`'s
 * constructor: a subclass of the returned class that adds submodules after `super()` is too late for
 * the set-up. Bad options are `INVALID_CONFIG` from this call; a listed module the model lacks is
 * `MISSING_SUBMODULE` from the constructor, naming the model's submodules.
 *
 * @example
 * ```ts
 * class Classifier extends Module {
 *   constructor() {
 *     super();
 *     this.registerModule('encoder', new EncoderBlock());   // a withAdapters(...) host, or a registered class
 *     this.registerModule('head', new Linear({ inFeatures: 16, outFeatures: 3 }));
 *   }
 *   override forward(x: Tensor): Tensor { return this.getChild('head')!.forward(this.getChild('encoder')!.forward(x)) as Tensor; }
 * }
 * const AdaptableClassifier = makeAdapterModel(Classifier, { moduleNames: ['encoder'], defaultModuleName: 'encoder' });
 * const model = new AdaptableClassifier();
 * model.addAdapter('task', { type: 'linear', inFeatures: 16, dim: 4 });
 * const bytes = model.saveAdapters('task');
 * new AdaptableClassifier().loadAdapters(bytes);
 * ```
 */
export function makeAdapterModel<TBase extends ModuleCtor>(
  Base: TBase,
  options: AdapterModelOptions,
): AdapterModelClass<TBase> {
  const where = `makeAdapterModel(${Base.name || 'class'})`;
  const names: unknown = options?.moduleNames;
  check(
    Array.isArray(names) &&
      names.length > 0 &&
      names.every((n) => typeof n === 'string' && /^[^:+]+$/.test(n)),
    'INVALID_CONFIG',
    () =>
      `${where}: moduleNames must be a non-empty list of submodule paths (no ':' or '+'), got ${JSON.stringify(names)}`,
    () => ({ field: 'moduleNames', value: names }),
  );
  const moduleNames = [...(names as string[])];
  const defaultModuleName = options.defaultModuleName ?? null;
  check(
    defaultModuleName === null || moduleNames.includes(defaultModuleName),
    'INVALID_CONFIG',
    () =>
      `${where}: defaultModuleName ${JSON.stringify(defaultModuleName)} is not one of moduleNames: ${moduleNames.join(', ')}`,
    () => ({ field: 'defaultModuleName', value: defaultModuleName, valid: moduleNames }),
  );

  // A config for classes without one, created before the mixin reads it.
  class Configured extends Base {
    declare cfg: AdapterModelConfig; // `declare`: no field, so a `cfg` set by `Base` is kept
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    constructor(...args: any[]) {
      super(...args);
      this.cfg ??= {};
    }
  }

  class AdapterModel extends withAdapterModel(Configured) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    constructor(...args: any[]) {
      super(...args);
      this.adapterModuleNames = ['', ...moduleNames];
      this.defaultAdapterModuleName = defaultModuleName;
      const paths = new Set(this.namedModules().map(([path]) => path));
      for (const name of moduleNames) {
        check(
          paths.has(name),
          'MISSING_SUBMODULE',
          () =>
            `${this.typeName}: adapter module '${name}' is listed in moduleNames but the model has no submodule '${name}'; its submodules: ${[...paths].filter((p) => p).join(', ') || '(none)'}`,
          () => ({ module: name }),
        );
      }
      this.replaceAdapterCompatibleModules();
      this.setupAdapters();
    }
  }
  return AdapterModel as unknown as AdapterModelClass<TBase>;
}
