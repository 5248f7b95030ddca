/**
 * Hosts that fan out (what NeMo's Conformer, ConvASR and Transformer encoders do): a container whose
 * `adapterLayers()` are hosts; an adapter added to the container is added to every layer, with its
 * input size corrected to the container's width.
 */
import { AdapterError } from '../errors.js';
import { logger } from '../logger.js';
import type { Module, ModuleClass } from '../nn/module.js';
import { isAdapterHost } from './host-brand.js';
import { withAdapters, type AdapterHostModule } from './host.js';
import type { AdapterConfig, AdaptersConfig } from './types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's base constructor must take `any[]` (TS2545)
type ModuleCtor = new (...args: any[]) => Module;

/** Config fields that carry an adapter's input width, in the order they are looked for. */
export const INPUT_SIZE_FIELDS = ['inFeatures', 'nFeat', 'hiddenSize'] as const;

/**
 * Makes a container of host layers a host that fans out. Subclasses implement `adapterLayers()` and
 * `adapterInputDim`.
 */
export function withLayeredAdapters<TBase extends ModuleCtor>(Base: TBase) {
  class LayeredAdapterHost extends withAdapters(Base) {
    /** The host layers adapters are added to. Subclasses override. */
    adapterLayers(): AdapterHostModule[] {
      return [];
    }

    /** The model width every adapter's input size is corrected to. Subclasses override. */
    get adapterInputDim(): number {
      throw new AdapterError('INVALID_CONFIG', `${this.typeName} does not define adapterInputDim`);
    }

    override get adapterCfg(): AdaptersConfig {
      return super.adapterCfg;
    }
    override set adapterCfg(cfg: AdaptersConfig) {
      super.adapterCfg = cfg;
      for (const l of this.adapterLayers()) l.adapterCfg = cfg;
    }

    /** Corrects the input size, then adds to every layer; all or nothing. */
    override addAdapter(name: string, cfg: AdapterConfig, extra?: Record<string, unknown>): void {
      const corrected = this.correctInputSize(name, cfg);
      const done: AdapterHostModule[] = [];
      try {
        for (const [i, layer] of this.adapterLayers().entries()) {
          if (!isAdapterHost(layer)) {
            throw new AdapterError(
              'MODULE_NOT_ADAPTER_CAPABLE',
              `layer ${i} of ${this.hostLabel()} (${(layer as Module).typeName}) cannot hold adapters; register its adapter class and call replaceAdapterCompatibleModules()`,
            );
          }
          if (this.adapterHostPath) layer.adapterHostPath = `${this.adapterHostPath}.layers.${i}`;
          layer.adapterCfg = this.adapterCfg;
          layer.addAdapter(name, corrected, extra);
          done.push(layer);
        }
      } catch (e) {
        const [, adapterName] = this.resolveAdapterModuleName(name);
        for (const l of done) l.detachAdapter(adapterName);
        throw e;
      }
    }

    /** @internal */
    correctInputSize(name: string, cfg: AdapterConfig): AdapterConfig {
      const fieldName = INPUT_SIZE_FIELDS.find((f) => f in cfg && cfg[f] !== undefined);
      if (!fieldName) {
        throw new AdapterError(
          'INVALID_CONFIG',
          `addAdapter('${name}') on ${this.hostLabel()}: the config has none of ${INPUT_SIZE_FIELDS.join(', ')}, so its input size cannot be set to the model width ${this.adapterInputDim}`,
          { fields: [...INPUT_SIZE_FIELDS] },
        );
      }
      const width = this.adapterInputDim;
      if (cfg[fieldName] !== width) {
        logger().info(
          `adapter '${name}': ${fieldName} ${String(cfg[fieldName])} replaced by the model width ${width}`,
        );
      }
      return { ...cfg, [fieldName]: width };
    }

    /** The insertion points every layer offers (an added adapter's `location` must be one of them). */
    override adapterPoints(): string[] {
      const [first, ...rest] = this.adapterLayers();
      if (!first) return [];
      return first.adapterPoints().filter((p) => rest.every((l) => l.adapterPoints().includes(p)));
    }

    override detachAdapter(adapterName: string): void {
      for (const l of this.adapterLayers()) l.detachAdapter(adapterName);
    }

    override heldAdapterNames(): string[] {
      return [...new Set(this.adapterLayers().flatMap((l) => l.heldAdapterNames()))];
    }

    override isAdapterAvailable(): boolean {
      return this.adapterLayers().some((l) => l.isAdapterAvailable());
    }

    override getEnabledAdapters(): string[] {
      return [...new Set(this.adapterLayers().flatMap((l) => l.getEnabledAdapters()))].sort();
    }

    override getAdapterModule(name: string): Module | undefined {
      for (const l of this.adapterLayers()) {
        const m = l.getAdapterModule(name);
        if (m) return m;
      }
      return undefined;
    }

    override setEnabledAdapters(name?: string | null, enabled = true): void {
      for (const l of this.adapterLayers()) l.setEnabledAdapters(name, enabled);
    }

    /** NeMo note: NeMo's Conformer encoder does not push the set to its layers; here it does. */
    override setAcceptedAdapterTypes(types: Array<string | ModuleClass>): void {
      super.setAcceptedAdapterTypes(types);
      for (const l of this.adapterLayers()) l.setAcceptedAdapterTypes(types);
    }

    override checkSupportedAdapterType(cfg: AdapterConfig, types?: Iterable<string | ModuleClass>): void {
      super.checkSupportedAdapterType(cfg, types);
      for (const l of this.adapterLayers()) l.checkSupportedAdapterType(cfg, types);
    }
  }
  return LayeredAdapterHost;
}
