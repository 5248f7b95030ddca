/**
 * The model-level adapter mixin as the package exports it: the adapters layer's core mixin plus
 * `saveAdapters` / `loadAdapters` (SPEC §2.6, §2.11), which call this layer's adapter-file functions.
 * Composition instead of a codec installed at import time: a class built here can always save.
 */
import type { Module } from '../nn/module.js';
import { withAdapterModel as withCoreAdapterModel, type AdapterModelConfig } from '../adapters/model.js';
import {
  loadAdapters,
  saveAdapters,
  type LoadAdaptersOptions,
  type LoadAdaptersResult,
} from './adapter-file.js';

// Mixin constructors must take `any[]` (TS2545).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ModelCtor = new (...args: any[]) => Module & { cfg: AdapterModelConfig };

/**
 * Makes a model class (a Module with a persisted `cfg`) own adapters for its submodules, and save and
 * load them as adapter files. The constructor of the final class must call `setupAdapters()` last
 * (after `replaceAdapterCompatibleModules()` when its submodules are plain classes with a registered
 * adapter class). For a model without a config of its own, {@link makeAdapterModel} does all of this.
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
 * const bytes = model.saveAdapters('first');
 * ```
 */
export function withAdapterModel<TBase extends ModelCtor>(Base: TBase) {
  return class AdapterModel extends withCoreAdapterModel(Base) {
    /** The adapter file (safetensors) holding `names` (default: every adapter); see {@link saveAdapters}. */
    saveAdapters(names?: string | string[]): Uint8Array {
      return saveAdapters(this, names);
    }

    /** Adds the adapters stored in an adapter file (default: every entry); see {@link loadAdapters}. */
    loadAdapters(bytes: Uint8Array, opts: LoadAdaptersOptions = {}): LoadAdaptersResult {
      return loadAdapters(this, bytes, opts);
    }
  };
}

/** The members every adapter model has, adapter files included (see {@link withAdapterModel}). */
export type AdapterModelModule = InstanceType<ReturnType<typeof withAdapterModel>>;
