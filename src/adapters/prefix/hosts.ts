/**
 * Where prefix tuning lives in the library's transformers. A prefix adapter (`prefixTuning`, the
 * prefix part of `mam`) is held by the transformer *stack*, as PEFT holds one prompt encoder per
 * model: its parameters cover every layer (`[P, L·2·D]`, or one MLP for all layers), and each block
 * asks its stack for its layer's keys and values through the block's `selfAttentionPrefix()` hook,
 * in the plain and the key/value-cached forward alike. Other parts of such an adapter (the parallel
 * adapter of `mam`) are held by every block under the same name, so the adapter is enabled,
 * disabled, saved and loaded as a unit.
 */
import { tf, type Tensor } from '../../backend/tf.js';
import { AdapterError, check, isPlainObject } from '../../errors.js';
import type { AttentionPrefix } from '../../nn/attention.js';
import type { Module, ModuleClass } from '../../nn/module.js';
import { compositionCfgOf } from '../composition/state.js';
import { describeSetup, setupAdapterNames, type SetupChild } from '../composition/setup.js';
import { adapterNamesInOrder, checkAdapterName, type AdapterHostModule } from '../host.js';
import type { AdapterSelection } from '../per-sample.js';
import { adapterClassOf, listAdapterTypes, parseAdapterConfig } from '../registry.js';
import type { AdapterConfig, AdapterInput, AdaptersConfig, NormalizedAdapterConfig } from '../types.js';

/** The sizes a transformer stack gives the prefix adapters it holds. */
export interface StackSizes {
  /** Model width (key and value size per layer). */
  dModel: number;
  /** Number of blocks (attention layers). */
  numLayers: number;
  /** Heads per attention layer. */
  nHead: number;
}

/** An adapter a stack holds that gives each of its attention layers a key/value prefix. */
export interface PrefixSource extends Module {
  /** Every layer's keys and values `[P, L·2·D]` (through the MLP with `prefixProjection`). */
  prefixes(): Tensor;
  /** Layer `layer`'s keys and values `[P, D]`, sliced from `all` (default: {@link prefixes}). */
  layerPrefix(layer: number, all?: Tensor): AttentionPrefix;
}

/** What a stack-level adapter class builds for one stack. */
export interface StackAdapterParts {
  /** The module the stack holds (a {@link PrefixSource}). */
  adapter: PrefixSource;
  /** The config to store: the normalised one with the stack's sizes filled in where it keeps them. */
  config: NormalizedAdapterConfig;
  /** One module per block, held by the block under the same name (e.g. `mam`'s parallel adapter). */
  blockAdapter?: (layer: number) => Module;
}

/** An adapter class held by transformer stacks: it has a static `forStack`. */
export interface StackAdapterClass {
  forStack(cfg: NormalizedAdapterConfig, sizes: StackSizes, where: string): StackAdapterParts;
}

/** True when adapter type `type` is held by transformer stacks (prefix tuning, MAM). */
export function isStackAdapterType(type: unknown): boolean {
  const cls = typeof type === 'string' ? adapterClassOf(type) : undefined;
  return typeof (cls as Partial<StackAdapterClass> | undefined)?.forStack === 'function';
}

/** The registered stack-level adapter types. */
export function stackAdapterTypes(): string[] {
  return listAdapterTypes().filter(isStackAdapterType);
}

/** Which stack, and which of its layers, a block takes its prefixes from. */
const prefixSources = new WeakMap<Module, { stack: AdapterHostModule; layer: number }>();

/**
 * While a stack's forward runs: every running prefix adapter's `[P, L·2·D]` prefixes, computed once
 * for all its blocks (with `prefixProjection`, one pass of the MLP per forward instead of one per layer).
 */
const forwardPrefixes = new WeakMap<AdapterHostModule, Map<string, Tensor>>();

function isEnabled(cfg: AdaptersConfig, name: string): boolean {
  return (cfg[name] as NormalizedAdapterConfig | undefined)?.enabled === true;
}

/** Names of `node`'s adapters reached through Stack blocks only, in setup order. */
function namesInStacks(node: SetupChild): string[] {
  if (typeof node === 'string') return [node];
  if (node.type !== 'stack') return [];
  return node.children.flatMap(namesInStacks);
}

/**
 * The stack-level adapters of `stack` that run: enabled ones in execution order, or, while a
 * composition setup is active, those it names (a Stack of them; inside any other block →
 * `UNSUPPORTED_FEATURE`).
 */
function runningStackAdapters(stack: AdapterHostModule): string[] {
  const held = stack.peekAdapterLayer()?.keys() ?? [];
  if (held.length === 0) return [];
  const cfg = stack.adapterCfg;
  const setup = compositionCfgOf(cfg)?.activeSetup;
  if (!setup) return adapterNamesInOrder(cfg).filter((n) => held.includes(n) && isEnabled(cfg, n));
  const stacked = namesInStacks(setup);
  for (const n of setupAdapterNames(setup)) {
    if (!held.includes(n)) continue;
    check(
      stacked.includes(n),
      'UNSUPPORTED_FEATURE',
      () =>
        `setup ${describeSetup(setup)}: adapter '${n}' (${String((cfg[n] as AdapterConfig).type)}) prepends keys and values inside every attention and can only be stacked; use it in Stack(…) or as a bare name`,
      () => ({ name: n }),
    );
    check(
      isEnabled(cfg, n),
      'INVALID_CONFIG',
      () =>
        `adapter '${n}' is disabled but the active setup ${describeSetup(setup)} names it; enable it with setEnabledAdapters('${n}') or change the setup with setActiveSetup()`,
      () => ({ name: n }),
    );
  }
  return stacked.filter((n) => held.includes(n));
}

/**
 * The keys and values block `block` prepends to its self-attention: its layer's prefixes from every
 * running stack-level adapter of its stack, concatenated in execution order; undefined when none runs.
 */
export function prefixForBlock(block: Module): AttentionPrefix | undefined {
  const src = prefixSources.get(block);
  if (!src) return undefined;
  const names = runningStackAdapters(src.stack);
  if (names.length === 0) return undefined;
  const layer = src.stack.peekAdapterLayer()!;
  const computed = forwardPrefixes.get(src.stack);
  const parts = names.map((n) => (layer.get(n) as PrefixSource).layerPrefix(src.layer, computed?.get(n)));
  if (parts.length === 1) return parts[0];
  return {
    k: tf.concat(
      parts.map((p) => p.k),
      0,
    ),
    v: tf.concat(
      parts.map((p) => p.v),
      0,
    ),
  };
}

/** `UNSUPPORTED_FEATURE` when per-sample selection names a stack-level adapter. */
function refuseStackAdapterSelection(host: AdapterHostModule, selection: readonly AdapterSelection[]): void {
  if (!Array.isArray(selection)) return;
  const cfg = host.adapterCfg;
  for (const n of selection.flat()) {
    const type = (cfg[n] as AdapterConfig | undefined)?.type;
    check(
      !isStackAdapterType(type),
      'UNSUPPORTED_FEATURE',
      () =>
        `per-sample selection (adapterNames) cannot route adapter '${n}' (${String(type)}): its prefix sits inside every attention of the stack for the whole batch; run rows with and without it in separate batches`,
      () => ({ name: n, type }),
    );
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's base constructor must take `any[]` (TS2545)
type BlockHostCtor = new (...args: any[]) => AdapterHostModule;

/**
 * Makes an attention-host block take its self-attention prefix from its stack, accept the
 * stack-level types (so a stack can check them on every block), and refuse per-sample selection of
 * them. Added to a block directly, a stack-level type is `UNSUPPORTED_TARGET`.
 */
export function withBlockPrefixes<TBase extends BlockHostCtor>(Base: TBase) {
  class BlockWithPrefixes extends Base {
    override defaultAcceptedAdapterTypes(): Array<string | ModuleClass> {
      const own = super.defaultAcceptedAdapterTypes();
      return own.length ? [...own, ...stackAdapterTypes()] : own;
    }

    override addAdapter(name: string, cfg: AdapterConfig, extra?: Record<string, unknown>): void {
      if (isPlainObject(cfg) && isStackAdapterType(cfg.type)) {
        throw new AdapterError(
          'UNSUPPORTED_TARGET',
          `addAdapter('${name}') on '${this.hostLabel()}': ${cfg.type} adapters are held by a transformer stack, which gives each block its layer's prefix; add it to the stack (e.g. model.addAdapter('decoder:${name}', …))`,
          { type: cfg.type },
        );
      }
      super.addAdapter(name, cfg, extra);
    }

    /** This block's layer of its stack's running prefix adapters. */
    selfAttentionPrefix(): AttentionPrefix | undefined {
      return prefixForBlock(this);
    }

    override forwardEnabledAdapters<T extends AdapterInput>(
      input: T,
      opts: { adapterNames?: AdapterSelection[] } = {},
    ): T {
      if (opts.adapterNames) refuseStackAdapterSelection(this, opts.adapterNames);
      return super.forwardEnabledAdapters(input, opts);
    }
  }
  return BlockWithPrefixes;
}

/** What a transformer stack host offers (the library's stacks made layered hosts). */
interface StackHost extends AdapterHostModule {
  readonly dModel: number;
  readonly numLayers: number;
  blocks(): Module[];
  adapterLayers(): AdapterHostModule[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's base constructor must take `any[]` (TS2545)
type StackHostCtor = new (...args: any[]) => StackHost;

/**
 * Makes a layered transformer-stack host hold stack-level adapters itself (in its own
 * `adapter_layer`), with their per-block parts in its blocks; every other type fans out as before.
 */
export function withStackPrefixes<TBase extends StackHostCtor>(Base: TBase): TBase {
  class StackWithPrefixes extends Base {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the stack's forward arguments pass through
    override forward(...args: any[]): any {
      const layer = this.peekAdapterLayer();
      if (!layer || layer.size === 0) return super.forward(...args);
      return tf.tidy(() => {
        // Computed in this scope, so the blocks' own tidy scopes leave them alone; freed on return.
        const computed = new Map<string, Tensor>();
        for (const n of runningStackAdapters(this))
          computed.set(n, (layer.get(n) as PrefixSource).prefixes());
        forwardPrefixes.set(this, computed);
        try {
          return super.forward(...args) as Tensor;
        } finally {
          forwardPrefixes.delete(this);
        }
      });
    }

    override addAdapter(name: string, cfg: AdapterConfig, extra?: Record<string, unknown>): void {
      if (!isPlainObject(cfg) || !isStackAdapterType(cfg.type)) return super.addAdapter(name, cfg, extra);
      const where = `addAdapter('${name}') on '${this.hostLabel()}'`;
      const [, adapterName] = this.resolveAdapterModuleName(name);
      checkAdapterName(adapterName, name);
      check(
        !this.heldAdapterNames().includes(adapterName),
        'DUPLICATE_ADAPTER',
        () =>
          `adapter '${name}' already exists on '${this.hostLabel()}'; held: ${this.heldAdapterNames().join(', ')}`,
        () => ({ name }),
      );
      this.checkSupportedAdapterType(cfg);
      // Prefixes enter self-attention: 'attention' is the one insertion point they have (and the default).
      const { location, ...rest } = cfg;
      check(
        location === undefined || location === 'attention',
        'UNSUPPORTED_TARGET',
        () =>
          `${where}: ${cfg.type} adapters run inside self-attention, location 'attention'; got location ${JSON.stringify(location)}`,
        () => ({ field: 'location', value: location, valid: ['attention'] }),
      );
      const normalized = parseAdapterConfig(rest as AdapterConfig, `addAdapter('${name}')`);
      const blocks = this.blocks() as Array<Module & { nHead?: number }>;
      const sizes: StackSizes = { dModel: this.dModel, numLayers: this.numLayers, nHead: blocks[0]!.nHead! };
      const cls = adapterClassOf(normalized.type) as unknown as StackAdapterClass;
      const parts = cls.forStack(normalized, sizes, where);
      const layers = this.adapterLayers();
      const perBlock = parts.blockAdapter ? layers.map((_, i) => parts.blockAdapter!(i)) : [];
      // Everything is built: attach (nothing below throws).
      this.attachAdapter(adapterName, parts.adapter, parts.config);
      layers.forEach((l, i) => {
        if (this.adapterHostPath) l.adapterHostPath = `${this.adapterHostPath}.layers.${i}`;
        l.adapterCfg = this.adapterCfg;
        if (perBlock[i]) l.attachAdapter(adapterName, perBlock[i]!, parts.config);
        prefixSources.set(l, { stack: this, layer: i });
      });
    }

    override detachAdapter(adapterName: string): void {
      super.detachAdapter(adapterName);
      this.peekAdapterLayer()?.delete(adapterName)?.dispose();
    }

    override heldAdapterNames(): string[] {
      return [...new Set([...(this.peekAdapterLayer()?.keys() ?? []), ...super.heldAdapterNames()])];
    }

    override isAdapterAvailable(): boolean {
      return (this.peekAdapterLayer()?.size ?? 0) > 0 || super.isAdapterAvailable();
    }

    override getEnabledAdapters(): string[] {
      const own = (this.peekAdapterLayer()?.keys() ?? []).filter((n) => isEnabled(this.adapterCfg, n));
      return [...new Set([...own, ...super.getEnabledAdapters()])].sort();
    }

    override getAdapterModule(name: string): Module | undefined {
      const [, n] = this.resolveAdapterModuleName(name);
      return this.peekAdapterLayer()?.get(n) ?? super.getAdapterModule(name);
    }

    /** Sets the flag in the shared config, and on every block that holds adapters. */
    override setEnabledAdapters(name?: string | null, enabled = true): void {
      this.setEnabledHere(name, enabled);
      for (const l of this.adapterLayers()) if (l.isAdapterAvailable()) l.setEnabledAdapters(name, enabled);
    }
  }
  // Only overrides: the class has its base's shape (an explicit type also spares the compiler an
  // anonymous mixin type it cannot serialise).
  return StackWithPrefixes;
}

/** What {@link mergeAndUnloadPrefix} needs from a model. */
interface PrefixModel extends Module {
  cfg: { adapters?: AdaptersConfig };
  adapterNames(): string[];
  getAdapterModule(name: string): Module | undefined;
}

/**
 * Replaces the prefix MLP (`prefixProjection: true`) of adapters `names` (default: every prefix
 * adapter of the model, `prefixTuning` and `mam`) by the prefixes it computes, stored directly as
 * `embedding.weight [P, L·2·D]`; outputs are unchanged up to rounding. The stored configs say
 * `prefixProjection: false` afterwards, so a saved file loads into the merged layout. Returns the
 * names it merged. What PEFT saves for a prefix encoder with projection.
 *
 * @example
 * ```ts
 * lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 8, prefixProjection: true });
 * // … train …
 * mergeAndUnloadPrefix(lm); // the MLP is gone; lm.saveAdapters('p') stores the prefixes
 * ```
 */
export function mergeAndUnloadPrefix(model: PrefixModel, names?: string | string[]): string[] {
  const all = model.adapterNames();
  const adapters = model.cfg.adapters ?? {};
  const prefixNames = all.filter((n) => isStackAdapterType((adapters[n] as AdapterConfig).type));
  const wanted = names === undefined ? prefixNames : Array.isArray(names) ? names : [names];
  for (const n of wanted) {
    check(
      prefixNames.includes(n),
      'UNKNOWN_ADAPTER',
      () =>
        `mergeAndUnloadPrefix: '${n}' is not a prefix adapter of ${model.typeName}; its prefix adapters: ${prefixNames.join(', ') || '(none)'}`,
      () => ({ name: n, valid: prefixNames }),
    );
  }
  const merged: string[] = [];
  for (const n of wanted) {
    const m = model.getAdapterModule(n) as (Module & { mergeProjection?: () => boolean }) | undefined;
    if (!m?.mergeProjection?.()) continue;
    const cfg = adapters[n] as Record<string, unknown>;
    const prefixCfg = 'prefixProjection' in cfg ? cfg : (cfg.prefix as Record<string, unknown>);
    prefixCfg.prefixProjection = false;
    prefixCfg.encoderHiddenSize = null;
    merged.push(n);
  }
  return merged;
}
