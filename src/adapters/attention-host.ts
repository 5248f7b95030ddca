/**
 * Hosts with named insertion points per block (transformer and conformer blocks). The block calls
 * `runAdapterPoint(loc, x, ctx)` at each of its hooks; every adapter runs at the insertion point its
 * config's `location` names and passes through at the others. Without a `location`, linear adapters
 * run at `'post'`, attention adapters at `'mha'` and parallel adapters beside the FFN (reading the
 * `'mha'` value, adding their branch at `'post'`); other kinds pass through everywhere.
 */
import { tf, type Tensor } from '../backend/tf.js';
import { AdapterError, check, isPlainObject, notOneOf } from '../errors.js';
import type { Module, ModuleClass } from '../nn/module.js';
import type { AdapterLocation } from '../nn/transformer.js';
import type { AdapterModule } from './adapter-module.js';
import { withAdapters } from './host.js';
import type { AdapterSelection } from './per-sample.js';
import { adapterClassOf } from './registry.js';
import { declareRowwiseInput } from './rowwise.js';
import type { AdapterConfig, AdapterInput, AdapterStrategy, NormalizedAdapterConfig } from './types.js';

export type { AdapterLocation } from '../nn/transformer.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's base constructor must take `any[]` (TS2545)
type ModuleCtor = new (...args: any[]) => Module;

/** What a block passes to its adapters at each hook. */
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

/** How an attention host runs an adapter (from its class): what it hands it and where it may go. */
export type AttentionHostAdapterKind =
  'linear' | 'parallel' | 'conformerAttention' | 'transformerAttention' | 'other';

/** An insertion point an attention host offers: what an adapter config's `location` names. */
export interface InsertionPoint {
  /** The name a config's `location` uses. */
  readonly name: string;
  /** Where it sits in the block, in words. */
  readonly where: string;
  /**
   * The block hooks at which an adapter placed here runs. `[]`: the block runs it itself (the
   * `'attention'` point, where prefix tuning's keys and values enter self-attention).
   */
  readonly hooks: readonly AdapterLocation[];
  /** The adapter kinds that can run here. */
  readonly kinds: readonly AttentionHostAdapterKind[];
}

const TENSOR_KINDS_TRANSFORMER = ['linear', 'transformerAttention'] as const;
const TENSOR_KINDS_CONFORMER = ['linear', 'conformerAttention'] as const;

/**
 * The insertion points of the library's transformer blocks, in forward order. `'mha'` and `'post'`
 * are NeMo's names (after the residual add); `'attentionOutput'` and `'ffnOutput'` are the sublayer
 * outputs before their residual add (where Houlsby et al. and He et al. place sequential adapters).
 */
export const TRANSFORMER_INSERTION_POINTS: readonly InsertionPoint[] = Object.freeze([
  { name: 'input', where: 'block input, before norm1', hooks: ['input'], kinds: TENSOR_KINDS_TRANSFORMER },
  {
    name: 'attention',
    where: 'inside self-attention: learned keys and values prepended (prefix tuning)',
    hooks: [],
    kinds: [],
  },
  {
    name: 'attentionOutput',
    where: 'self-attention output after dropout, before its residual add',
    hooks: ['attentionOutput'],
    kinds: TENSOR_KINDS_TRANSFORMER,
  },
  {
    name: 'mha',
    where: 'after the self-attention residual add',
    hooks: ['mha'],
    kinds: TENSOR_KINDS_TRANSFORMER,
  },
  {
    name: 'parallelFfn',
    where: "beside the FFN: reads the 'mha' value, adds its branch at 'post'",
    hooks: ['mha', 'post'],
    kinds: ['parallel'],
  },
  {
    name: 'ffnOutput',
    where: 'FFN output after dropout, before its residual add',
    hooks: ['ffnOutput'],
    kinds: TENSOR_KINDS_TRANSFORMER,
  },
  {
    name: 'post',
    where: 'block output, after the FFN residual add',
    hooks: ['post'],
    kinds: TENSOR_KINDS_TRANSFORMER,
  },
]);

/** The insertion points of a conformer-style host (NeMo's two). */
export const CONFORMER_INSERTION_POINTS: readonly InsertionPoint[] = Object.freeze([
  {
    name: 'mha',
    where: 'after the self-attention residual add',
    hooks: ['mha'],
    kinds: TENSOR_KINDS_CONFORMER,
  },
  { name: 'post', where: 'layer output', hooks: ['post'], kinds: TENSOR_KINDS_CONFORMER },
]);

/** Where each kind runs when its config names no `location` (today's placement). */
const DEFAULT_POINT: Record<AttentionHostAdapterKind, string | null> = {
  linear: 'post',
  parallel: 'parallelFfn',
  conformerAttention: 'mha',
  transformerAttention: 'mha',
  other: null,
};

/**
 * The insertion point an adapter of registered type `type` runs at on a host with `points` when its
 * config names no `location`, or null when it runs nowhere there.
 */
export function defaultInsertionPoint(type: string, points: readonly InsertionPoint[]): string | null {
  const name = DEFAULT_POINT[attentionHostKindOfType(type)];
  return points.some((p) => p.name === name) ? name : null;
}

function isA(adapter: Module, type: string): boolean {
  const cls = adapterClassOf(type);
  return cls !== undefined && adapter instanceof cls;
}

/** How an attention host treats an adapter, from its class. */
function kindOf(adapter: Module): AttentionHostAdapterKind {
  if (isA(adapter, 'linear')) return 'linear';
  if (isA(adapter, 'parallel')) return 'parallel';
  if (isA(adapter, 'transformerMultiHeadAttention')) return 'transformerAttention';
  if (CONFORMER_ATTENTION.some((t) => isA(adapter, t))) return 'conformerAttention';
  return 'other';
}

/** How an attention host treats adapters of registered type `type`. */
export function attentionHostKindOfType(type: string): AttentionHostAdapterKind {
  const cls = adapterClassOf(type);
  if (!cls) return 'other';
  return kindOf(Object.create(cls.prototype) as Module);
}

/** The point each attached adapter runs at (set when it is attached). */
const placements = new WeakMap<Module, InsertionPoint | null>();

/** The hooks where `adapter` runs: its recorded point's, else its kind's default point's. */
function hooksOf(adapter: Module, points: readonly InsertionPoint[]): readonly AdapterLocation[] {
  const placed = placements.has(adapter)
    ? placements.get(adapter)
    : points.find((p) => p.name === DEFAULT_POINT[kindOf(adapter)]);
  return placed?.hooks ?? [];
}

/** Options of {@link withAttentionAdapters}. */
export interface AttentionHostOptions {
  /** `'transformer'` accepts linear and transformer attention adapters; `'conformer'` linear and conformer attention adapters. */
  kind: 'transformer' | 'conformer';
}

/**
 * Makes a block class an attention host. The block calls `runAdapterPoint(loc, x, ctx)` at each of
 * its hooks (the library's transformer blocks do so from their `adapterPoint` hook); a conformer
 * host's block calls `'mha'` and `'post'`.
 */
export function withAttentionAdapters<TBase extends ModuleCtor>(Base: TBase, opts: AttentionHostOptions) {
  const points = opts.kind === 'transformer' ? TRANSFORMER_INSERTION_POINTS : CONFORMER_INSERTION_POINTS;
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

    /** The insertion points this host offers, in forward order. */
    insertionPoints(): readonly InsertionPoint[] {
      return points;
    }

    override adapterPoints(): string[] {
      return points.map((p) => p.name);
    }

    /**
     * The insertion point adapter `name` runs at: its config's `location`, else its kind's default
     * here; null when it never runs here (or is not held).
     */
    adapterLocation(name: string): string | null {
      const adapter = this.getAdapterModule(name);
      if (!adapter) return null;
      if (placements.has(adapter)) return placements.get(adapter)?.name ?? null;
      return points.find((p) => p.name === DEFAULT_POINT[kindOf(adapter)])?.name ?? null;
    }

    /**
     * True when a held adapter (enabled or not) runs at hook `loc`: a block may skip the other
     * hooks, where every adapter passes through.
     */
    adapterHookInUse(loc: AdapterLocation): boolean {
      const layer = this.peekAdapterLayer();
      if (!layer) return false;
      return layer.keys().some((n) => hooksOf(layer.get(n)!, points).includes(loc));
    }

    /** The block hooks where adapter `name` runs (`[]` if it never runs here). */
    adapterLocations(name: string): AdapterLocation[] {
      const adapter = this.getAdapterModule(name);
      return adapter ? [...hooksOf(adapter, points)] : [];
    }

    /**
     * A `location` must name one of this host's points (else `INVALID_CONFIG` listing them), where
     * the adapter's kind can run (else `UNSUPPORTED_TARGET` listing the points where it can).
     */
    override checkAdapterLocation(name: string, cfg: NormalizedAdapterConfig): void {
      const loc = cfg.location;
      if (loc === undefined) return;
      const names = points.map((p) => p.name);
      const point = points.find((p) => p.name === loc);
      check(
        point !== undefined,
        'INVALID_CONFIG',
        () =>
          `addAdapter('${name}'): ${notOneOf('location', loc, names)} (the insertion points of '${this.hostLabel()}')`,
        () => ({ field: 'location', value: loc, valid: names }),
      );
      const kind = attentionHostKindOfType(cfg.type);
      const fits = points.filter((p) => p.kinds.includes(kind)).map((p) => p.name);
      check(
        point.kinds.includes(kind),
        'UNSUPPORTED_TARGET',
        () =>
          `addAdapter('${name}'): adapter type '${cfg.type}' cannot run at location '${loc}' of '${this.hostLabel()}' (${point.where}); it can run at: ${fits.join(', ') || '(none of this host’s points)'}; the host's points: ${names.join(', ')}`,
        () => ({ location: loc, type: cfg.type, valid: fits, points: names }),
      );
    }

    /** As the base method, recording the point the adapter runs at. */
    override attachAdapter(adapterName: string, adapter: Module, normalized: NormalizedAdapterConfig): void {
      const name = normalized.location ?? DEFAULT_POINT[kindOf(adapter)];
      placements.set(adapter, points.find((p) => p.name === name) ?? null);
      super.attachAdapter(adapterName, adapter, normalized);
    }

    override addAdapter(name: string, cfg: AdapterConfig, extra?: Record<string, unknown>): void {
      if (
        isPlainObject(cfg) &&
        typeof cfg.type === 'string' &&
        attentionHostKindOfType(cfg.type) === 'conformerAttention'
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
     * Runs the adapter if it is placed at this hook, handing it what its kind takes; elsewhere the
     * point passes through. Skipping is silent.
     * NeMo note: NeMo warns once per module there, which users read as "adapter unused"; use
     * `adapterLocation(name)` or {@link inspectInsertionPoints} to check placement.
     */
    override forwardSingleEnabledAdapter(
      input: AdapterInput,
      adapter: AdapterModule,
      ctx: { adapterName: string; adapterStrategy: AdapterStrategy },
    ): AdapterInput {
      if (!isPlainObject(input) || !('loc' in input))
        return super.forwardSingleEnabledAdapter(input, adapter, ctx);
      const point = input as AdapterPointInput;
      if (!hooksOf(adapter, points).includes(point.loc)) return point;
      const kind = kindOf(adapter);
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
  // Linear adapters act on `x` at their point and pass it through elsewhere: per-sample selection
  // may run them in one pass when they declare it and all run, or all skip, at this hook. Other
  // kinds take other inputs.
  declareRowwiseInput(AttentionAdapterHost, (input, adapters) => {
    if (!isPlainObject(input) || !('loc' in input) || !(input.x instanceof tf.Tensor)) return null;
    if (!adapters.every((a) => kindOf(a) === 'linear')) return null;
    const point = input as AdapterPointInput;
    const runs = adapters.map((a) => hooksOf(a, points).includes(point.loc));
    if (runs.some((r) => r !== runs[0])) return null;
    return { x: point.x, runs: runs[0] ?? false, rebuild: (x) => ({ ...point, x }) };
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
