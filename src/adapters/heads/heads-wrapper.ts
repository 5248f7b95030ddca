/**
 * The module that stands where an adapter-owned head lives (SPEC §5.2): the original module (frozen,
 * its state keys unchanged), one trainable copy per adapter with `modulesToSave`, and one
 * {@link OutputExtension} per adapter with `extendOutput`. Which copy and which extension run is
 * asked of the model at every forward, so enabling, disabling and composition setups switch them.
 */
import { tf, type Tensor, type Variable } from '../../backend/tf.js';
import { AdapterError } from '../../errors.js';
import { ModuleDict } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import { ModulesToSaveWrapper } from '../tuners/modules-to-save.js';
import { OutputExtension } from './output-extension.js';

/** What a heads wrapper asks its model. */
export interface HeadsContext {
  /** Adapters that run now (enabled, and named by the active setup if there is one), in order. */
  activeAdapters(): readonly string[];
  /** Adapters whose `enabled` flag is set. */
  enabledAdapters(): readonly string[];
}

/**
 * A {@link ModulesToSaveWrapper} for NeMo-style adapters that also holds output extensions. State
 * keys: the original's own (unchanged), `modules_to_save.<adapter>.*` and
 * `output_extensions.<adapter>.{weight,bias}`.
 *
 * Forward: the copy of the one active adapter that has one, else the original; then, when an active
 * adapter extends this layer, its new logits are appended on the last axis (`[base, new]`).
 */
export class AdapterHeadsWrapper extends ModulesToSaveWrapper {
  static override readonly typeName: string = 'AdapterHeadsWrapper';
  readonly output_extensions: ModuleDict<OutputExtension>;
  /** Set by the model that owns this wrapper. */
  headsCtx: HeadsContext | null = null;
  /** The original's trainable flags before wrapping, put back when the wrapper is removed. */
  private readonly originalFlags: Array<[Variable, boolean]>;

  constructor(original: Module) {
    super(original);
    this.output_extensions = this.registerModule('output_extensions', new ModuleDict<OutputExtension>());
    this.originalFlags = original.parameters().map((p) => [p, p.trainable]);
    for (const p of original.parameters()) p.trainable = false; // the original stays untouched
  }

  /** Adds `adapter`'s extension of `newLabels.length` rows; the original must be a `Linear`. */
  addExtension(adapter: string, inFeatures: number, newLabels: readonly string[]): OutputExtension {
    const ext = new OutputExtension(inFeatures, newLabels);
    ext.train(this.training);
    this.output_extensions.set(adapter, ext);
    return ext;
  }

  /** Removes and frees `adapter`'s extension. */
  removeExtension(adapter: string): void {
    this.output_extensions.delete(adapter)?.dispose();
  }

  /** Adapters holding an extension here, in insertion order. */
  extensionOwners(): string[] {
    return this.output_extensions.keys();
  }

  /** True when no adapter owns anything here any more. */
  isEmpty(): boolean {
    return this.heldAdapters().length === 0 && this.extensionOwners().length === 0;
  }

  /** Puts back the original's trainable flags (call when the wrapper leaves the model). */
  restoreOriginalFlags(): void {
    for (const [p, t] of this.originalFlags) p.trainable = t;
  }

  /** `adapter`'s copy and extension (whichever it has). */
  ownedModules(adapter: string): Module[] {
    return [this.modules_to_save.get(adapter), this.output_extensions.get(adapter)].filter(
      (m): m is NonNullable<typeof m> => m !== undefined,
    );
  }

  /** Makes the copies and extensions of enabled adapters trainable (`unfreezeEnabledAdapters`). */
  unfreezeEnabled(): void {
    const enabled = this.headsCtx?.enabledAdapters() ?? [];
    for (const n of enabled) {
      for (const m of this.ownedModules(n)) {
        m.train();
        for (const p of m.parameters()) p.trainable = true;
      }
    }
  }

  /** The one active owner among `owners`, or undefined; two → `INVALID_CONFIG` naming both. */
  private activeOwner(owners: string[], what: string): string | undefined {
    const running = this.headsCtx ? this.headsCtx.activeAdapters() : owners;
    const active = running.filter((n) => owners.includes(n));
    if (active.length > 1) {
      throw new AdapterError(
        'INVALID_CONFIG',
        `module '${this.layerPath}': adapters ${active.map((a) => `'${a}'`).join(' and ')} are active at once and each owns ${what} of it; disable all but one of them (or leave them out of the active setup)`,
        { module: this.layerPath, adapters: active },
      );
    }
    return active[0];
  }

  /** The module the forward uses for the base part: the active adapter's copy, else the original. */
  override activeModule(): Module {
    const owner = this.activeOwner(this.heldAdapters(), 'a copy');
    return owner === undefined ? this.originalModule : this.modules_to_save.get(owner)!;
  }

  /** The active adapter's extension, if any. */
  activeExtension(): OutputExtension | undefined {
    const owner = this.activeOwner(this.extensionOwners(), 'an output extension');
    return owner === undefined ? undefined : this.output_extensions.get(owner);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a copy forwards whatever the wrapped module takes
  override forward(...args: any[]): any {
    const ext = this.activeExtension();
    const m = this.activeModule();
    if (m === this.originalModule) this.originalModule.training = this.training;
    if (!ext) return m.forward(...args);
    const x = args[0] as Tensor; // extensions wrap a Linear: one input tensor
    return tf.tidy(() => {
      const base = m.forward(x) as Tensor;
      return tf.concat([base, ext.forward(x)], base.rank - 1);
    });
  }
}
