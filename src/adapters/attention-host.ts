/**
 * Hosts with two insertion points per block (transformer and conformer blocks): adapters run at
 * `'mha'` (after the self-attention residual) and `'post'` (end of block). Linear adapters run only
 * at `'post'`, attention adapters only at `'mha'`; parallel adapters read the `'mha'` value and add
 * their branch at `'post'`; anything else passes through unchanged.
 */
import { tf, type Tensor } from '../backend/tf.js';
import { AdapterError, isPlainObject, notOneOf } from '../errors.js';
import type { Module, ModuleClass } from '../nn/module.js';
import type { AdapterModule } from './adapter-module.js';
import { withAdapters } from './host.js';
import type { AdapterSelection } from './per-sample.js';
import { adapterClassOf } from './registry.js';
import { declareRowwiseInput } from './rowwise.js';
import type { AdapterConfig, AdapterInput, AdapterStrategy } from './types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's base constructor must take `any[]` (TS2545)
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

type AdapterKind = 'linear' | 'parallel' | 'conformerAttention' | 'transformerAttention' | 'other';

function isA(adapter: Module, type: string): boolean {
  const cls = adapterClassOf(type);
  return cls !== undefined && adapter instanceof cls;
}

/** How an attention host treats an adapter, from its class. */
function kindOf(adapter: Module): AdapterKind {
  if (isA(adapter, 'linear')) return 'linear';
  if (isA(adapter, 'parallel')) return 'parallel';
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
  parallel: ['mha', 'post'],
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
      // `parallel` (He et al. 2021) sits beside a transformer block's FFN, whose input is the 'mha'
      // value; conformer blocks run other modules between 'mha' and their FFN, so they do not take it.
      return opts.kind === 'transformer'
        ? ['linear', 'transformerMultiHeadAttention', ...(adapterClassOf('parallel') ? ['parallel'] : [])]
        : ['linear', ...CONFORMER_ATTENTION];
    }

    /** Runs the enabled adapters at insertion point `loc` and returns the new `x`. */
    runAdapterPoint(
      loc: AdapterLocation,
      x: Tensor,
      ctx: { attMask?: Tensor; posEmb?: Tensor } = {},
    ): Tensor {
      if (!this.isAdapterAvailable()) return x;
      return this.forwardEnabledAdapters({ x, loc, ...ctx } as AdapterPointInput).x;
    }

    /**
     * As the base method. A `'mha'` point starts a new forward of the block, so parallel-adapter
     * inputs left by an earlier forward that never reached `'post'` are dropped first.
     */
    override forwardEnabledAdapters<T extends AdapterInput>(
      input: T,
      opts: { adapterNames?: AdapterSelection[] } = {},
    ): T {
      if (isPlainObject(input) && input.loc === 'mha') parallelInputs.delete(this);
      return super.forwardEnabledAdapters(input, opts);
    }

    /** The insertion points where adapter `name` runs (`[]` if it never runs here). */
    adapterLocations(name: string): AdapterLocation[] {
      const adapter = this.getAdapterModule(name);
      return adapter ? [...LOCATIONS[kindOf(adapter)]] : [];
    }

    override addAdapter(name: string, cfg: AdapterConfig, extra?: Record<string, unknown>): void {
      if (
        isPlainObject(cfg) &&
        typeof cfg.type === 'string' &&
        kindOfType(cfg.type) === 'conformerAttention'
      ) {
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
      if (!isPlainObject(input) || !('loc' in input))
        return super.forwardSingleEnabledAdapter(input, adapter, ctx);
      const point = input as AdapterPointInput;
      const kind = kindOf(adapter);
      if (!LOCATIONS[kind].includes(point.loc)) return point;
      const run = (arg: AdapterInput) =>
        ctx.adapterStrategy.forward(arg, adapter, { module: this }) as Tensor;
      let x: Tensor;
      if (kind === 'parallel') {
        // Parallel adapter: at 'mha' keep the FFN input h (the value is unchanged); at 'post' the
        // strategy adds the branch computed from it: h_post = h + FFN(LN(h)) + s·A(h).
        if (point.loc === 'mha') {
          pushParallelInput(this, ctx.adapterName, point.x);
          return point;
        }
        x = run({ value: point.x, x: takeParallelInput(this, ctx.adapterName) });
      } else if (kind === 'linear') {
        x = run(point.x);
      } else if (kind === 'transformerAttention') {
        x = run({ queries: point.x, keys: point.x, values: point.x, attentionMask: point.attMask });
      } else {
        const relPos = this.checkSelfAttentionModel() === 'rel_pos';
        x = run({
          query: point.x,
          key: point.x,
          value: point.x,
          mask: point.attMask,
          ...(relPos ? { posEmb: point.posEmb } : {}),
        });
      }
      return { ...point, x };
    }
  }
  // Linear adapters act on `x` at 'post' only and pass the point through elsewhere: per-sample
  // selection may run them in one pass when they declare it. Other kinds take other inputs.
  declareRowwiseInput(AttentionAdapterHost, (input, adapters) => {
    if (!isPlainObject(input) || !('loc' in input) || !(input.x instanceof tf.Tensor)) return null;
    if (!adapters.every((a) => kindOf(a) === 'linear')) return null;
    const point = input as AdapterPointInput;
    return { x: point.x, runs: LOCATIONS.linear.includes(point.loc), rebuild: (x) => ({ ...point, x }) };
  });
  return AttentionAdapterHost;
}

/**
 * Per-forward store of parallel-adapter inputs, by host and adapter name: `'mha'` appends the FFN
 * input, `'post'` takes the oldest one. A queue, not a single slot, because per-sample selection may
 * run the same adapter for several row groups, each group visiting 'mha' then 'post' in the same
 * order. Every `'mha'` point clears the host's store first (a new forward), so nothing from a forward
 * that failed between the two points is ever used. The tensors belong to the caller's forward scope
 * (not kept); disposed entries are skipped as a second safeguard.
 */
const parallelInputs = new WeakMap<Module, Map<string, Tensor[]>>();

function pushParallelInput(host: Module, name: string, h: Tensor): void {
  let byName = parallelInputs.get(host);
  if (!byName) parallelInputs.set(host, (byName = new Map()));
  const queue = (byName.get(name) ?? []).filter((t) => !t.isDisposed);
  queue.push(h);
  byName.set(name, queue);
}

function takeParallelInput(host: Module & { hostLabel(): string }, name: string): Tensor {
  const queue = parallelInputs.get(host)?.get(name) ?? [];
  let h = queue.shift();
  while (h && h.isDisposed) h = queue.shift();
  if (!h) {
    throw new AdapterError(
      'INVALID_INPUT',
      `parallel adapter '${name}' on '${host.hostLabel()}' reached 'post' without an input from 'mha' in the same forward; the block must run its 'mha' point first`,
      { name, host: host.hostLabel() },
    );
  }
  return h;
}
