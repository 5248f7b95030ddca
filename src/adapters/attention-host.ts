/**
 * Hosts with two insertion points per block (transformer and conformer blocks): adapters run at
 * `'mha'` (after the self-attention residual) and `'post'` (end of block). Linear adapters run only
 * at `'post'`, attention adapters only at `'mha'`; anything else passes through unchanged.
 */
import type { Tensor } from '../backend/tf.js';
import { AdapterError, isPlainObject, notOneOf } from '../errors.js';
import type { Module, ModuleClass } from '../nn/module.js';
import type { AdapterModule } from './adapter-module.js';
import { withAdapters } from './host.js';
import { adapterClassOf } from './registry.js';
import type { AdapterConfig, AdapterInput, AdapterStrategy } from './types.js';

type ModuleCtor = new (...args: any[]) => Module;

/** An insertion point inside a block. */
export type AdapterLocation = 'mha' | 'post';

/** What a block passes to its adapters at each insertion point. */
export interface AdapterPointInput {
  x: Tensor;
  loc: AdapterLocation;
  attMask?: Tensor;
  posEmb?: Tensor;
  [key: string]: unknown;
}

/** Values of a conformer host's `selfAttentionModel`. */
export const SELF_ATTENTION_MODELS = ['rel_pos', 'abs_pos'] as const;

const CONFORMER_ATTENTION = ['multiHeadAttention', 'relPositionMultiHeadAttention'] as const;

type AdapterKind = 'linear' | 'conformerAttention' | 'transformerAttention' | 'other';

function isA(adapter: Module, type: string): boolean {
  const cls = adapterClassOf(type);
  return cls !== undefined && adapter instanceof cls;
}

/** How an attention host treats an adapter, from its class. */
function kindOf(adapter: Module): AdapterKind {
  if (isA(adapter, 'linear')) return 'linear';
  if (isA(adapter, 'transformerMultiHeadAttention')) return 'transformerAttention';
  if (CONFORMER_ATTENTION.some((t) => isA(adapter, t))) return 'conformerAttention';
  return 'other';
}

function kindOfType(type: string): AdapterKind {
  const cls = adapterClassOf(type);
  if (!cls) return 'other';
  return kindOf(Object.create(cls.prototype) as Module);
}

const LOCATIONS: Record<AdapterKind, AdapterLocation[]> = {
  linear: ['post'],
  conformerAttention: ['mha'],
  transformerAttention: ['mha'],
  other: [],
};

/** Options of {@link withAttentionAdapters}. */
export interface AttentionHostOptions {
  /** `'transformer'` accepts linear and transformer attention adapters; `'conformer'` linear and conformer attention adapters. */
  kind: 'transformer' | 'conformer';
}

/**
 * Makes a block class an attention host. The block calls `runAdapterPoint(loc, x, ctx)` at each
 * insertion point (the library's transformer blocks do so from their `adapterPoint` hook).
 */
export function withAttentionAdapters<TBase extends ModuleCtor>(Base: TBase, opts: AttentionHostOptions) {
  class AttentionAdapterHost extends withAdapters(Base) {
    override defaultAcceptedAdapterTypes(): Array<string | ModuleClass> {
      return opts.kind === 'transformer'
        ? ['linear', 'transformerMultiHeadAttention']
        : ['linear', ...CONFORMER_ATTENTION];
    }

    /** Runs the enabled adapters at insertion point `loc` and returns the new `x`. */
    runAdapterPoint(loc: AdapterLocation, x: Tensor, ctx: { attMask?: Tensor; posEmb?: Tensor } = {}): Tensor {
      if (!this.isAdapterAvailable()) return x;
      return this.forwardEnabledAdapters({ x, loc, ...ctx } as AdapterPointInput).x;
    }

    /** The insertion points where adapter `name` runs (`[]` if it never runs here). */
    adapterLocations(name: string): AdapterLocation[] {
      const adapter = this.getAdapterModule(name);
      return adapter ? [...LOCATIONS[kindOf(adapter)]] : [];
    }

    override addAdapter(name: string, cfg: AdapterConfig, extra?: Record<string, unknown>): void {
      if (isPlainObject(cfg) && typeof cfg.type === 'string' && kindOfType(cfg.type) === 'conformerAttention') {
        this.checkSupportedAdapterType(cfg); // an unaccepted type is TYPE_NOT_ACCEPTED, whatever the host
        this.checkSelfAttentionModel();
      }
      super.addAdapter(name, cfg, extra);
    }

    /** @internal */
    checkSelfAttentionModel(): 'rel_pos' | 'abs_pos' {
      const sam = (this as unknown as { selfAttentionModel?: unknown }).selfAttentionModel;
      if (sam === undefined) {
        throw new AdapterError(
          'INVALID_CONFIG',
          `'${this.hostLabel()}' has no selfAttentionModel, so a conformer attention adapter cannot run there; it needs one of: ${SELF_ATTENTION_MODELS.join(', ')}`,
        );
      }
      if (!(SELF_ATTENTION_MODELS as readonly unknown[]).includes(sam)) {
        throw new AdapterError(
          'INVALID_CONFIG',
          `'${this.hostLabel()}': ${notOneOf('selfAttentionModel', sam, SELF_ATTENTION_MODELS)}`,
          { valid: [...SELF_ATTENTION_MODELS] },
        );
      }
      return sam as 'rel_pos' | 'abs_pos';
    }

    /**
     * Dispatches by adapter kind and location. Skipping an adapter at the other location is silent.
     * NeMo note: NeMo warns once per module there, which users read as "adapter unused"; use
     * `adapterLocations(name)` to check placement.
     */
    override forwardSingleEnabledAdapter(
      input: AdapterInput,
      adapter: AdapterModule,
      ctx: { adapterName: string; adapterStrategy: AdapterStrategy },
    ): AdapterInput {
      if (!isPlainObject(input) || !('loc' in input)) return super.forwardSingleEnabledAdapter(input, adapter, ctx);
      const point = input as AdapterPointInput;
      const kind = kindOf(adapter);
      if (!LOCATIONS[kind].includes(point.loc)) return point;
      const run = (arg: AdapterInput) => ctx.adapterStrategy.forward(arg, adapter, { module: this }) as Tensor;
      let x: Tensor;
      if (kind === 'linear') {
        x = run(point.x);
      } else if (kind === 'transformerAttention') {
        x = run({ queries: point.x, keys: point.x, values: point.x, attentionMask: point.attMask });
      } else {
        const relPos = this.checkSelfAttentionModel() === 'rel_pos';
        x = run({ query: point.x, key: point.x, value: point.x, mask: point.attMask, ...(relPos ? { posEmb: point.posEmb } : {}) });
      }
      return { ...point, x };
    }
  }
  return AttentionAdapterHost;
}
