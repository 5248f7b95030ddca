/**
 * Runs a composition setup at one host (SPEC §5.1; AdapterHub's `compose_*` methods).
 *
 * The state flowing through the blocks is the host's adapter input: a tensor, or an insertion-point
 * object `{x, loc, …}` of an attention host (blocks read and replace `x`; other batch-shaped fields
 * travel with the rows). Children the host does not hold, or that do not run at this insertion point,
 * act as the identity; a host holding none of the setup's adapters passes its input through.
 */
import { tf, type Tensor } from '../../backend/tf.js';
import { AdapterError, check, isPlainObject } from '../../errors.js';
import type { Module } from '../../nn/module.js';
import { runRowGroups, type RowGroup } from '../per-sample.js';
import type { AdapterInput, AdaptersConfig, NormalizedAdapterConfig } from '../types.js';
import type { AdapterFusion } from './fusion.js';
import { compositionCfgOf, FUSION_LAYER } from './state.js';
import {
  describeSetup,
  fusionNameOf,
  lastAdapter,
  setupAdapterNames,
  type AverageBlock,
  type BatchSplitBlock,
  type FuseBlock,
  type ParallelBlock,
  type SetupBlock,
  type SetupChild,
} from './setup.js';

/** What a host offers the composition (every `withAdapters` host has these). */
export interface ComposableHost extends Module {
  adapterCfg: AdaptersConfig;
  peekAdapterLayer(): { has(name: string): boolean; get(name: string): Module | undefined } | undefined;
  forwardAdapterChain<T extends AdapterInput>(input: T, names: readonly string[]): T;
  hostLabel(): string;
  /** Attention hosts: the insertion points where an adapter runs. */
  adapterLocations?(name: string): string[];
}

interface RunContext {
  host: ComposableHost;
  setup: SetupBlock;
  /** Adapters that run here (held by the host, and at this insertion point). */
  runnable: Set<string>;
  loc: string;
}

/** The tensor the blocks act on: the input itself, or `x` of an insertion-point object. */
function mainTensor(state: AdapterInput, where: string): Tensor {
  if (state instanceof tf.Tensor) return state;
  if (isPlainObject(state) && state.x instanceof tf.Tensor) return state.x;
  throw new AdapterError(
    'INVALID_INPUT',
    `${where}: composition blocks need a tensor input or an insertion-point object {x, …}; got ${Array.isArray(state) ? 'an array' : typeof state}`,
  );
}

function withMain(state: AdapterInput, t: Tensor): AdapterInput {
  return state instanceof tf.Tensor ? t : { ...(state as Record<string, unknown>), x: t };
}

/** `n` copies of every row-shaped tensor of the state, stacked along dim 0 (copy `i` in rows `i·B … (i+1)·B − 1`). */
function replicateRows(state: AdapterInput, n: number, batch: number): AdapterInput {
  const rep = (t: Tensor) =>
    tf.concat(
      Array.from({ length: n }, () => t),
      0,
    );
  if (state instanceof tf.Tensor) return rep(state);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(state as Record<string, unknown>)) {
    out[k] = v instanceof tf.Tensor && v.rank > 0 && v.shape[0] === batch ? rep(v) : v;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Parallel: which host replicates the batch.
//
// The first Parallel block a forward reaches replicates the batch (B → n·B rows); later ones (the
// following hosts, which receive the replicated batch) give child i its i-th chunk of rows, as
// AdapterHub's `adapters_parallelized` flag does. A forward is recognised per model (its shared
// adapters config): reaching a (host, point, block) already visited starts a new forward.

interface ParallelForward {
  batch: number;
  channels: number;
  visited: WeakMap<Module, Set<string>>;
}
const parallelForwards = new WeakMap<object, ParallelForward>();
const blockIds = new WeakMap<object, number>();
let nextBlockId = 0;

function parallelMode(ctx: RunContext, block: ParallelBlock, batch: number): 'replicate' | 'split' {
  const cfg = ctx.host.adapterCfg;
  if (!blockIds.has(block)) blockIds.set(block, nextBlockId++);
  const key = `${ctx.loc}#${blockIds.get(block)}`;
  const n = block.children.length;
  const f = parallelForwards.get(cfg);
  const seen = f?.visited.get(ctx.host);
  if (f && !seen?.has(key) && f.channels === n && batch === f.batch * n) {
    if (seen) seen.add(key);
    else f.visited.set(ctx.host, new Set([key]));
    return 'split';
  }
  const fresh: ParallelForward = { batch, channels: n, visited: new WeakMap() };
  fresh.visited.set(ctx.host, new Set([key]));
  parallelForwards.set(cfg, fresh);
  return 'replicate';
}

// ------------------------------------------------------------------------------------------------

function runChild(ctx: RunContext, node: SetupChild, state: AdapterInput): AdapterInput {
  if (typeof node === 'string')
    return ctx.runnable.has(node) ? ctx.host.forwardAdapterChain(state, [node]) : state;
  if (!setupAdapterNames(node).some((n) => ctx.runnable.has(n))) return state;
  switch (node.type) {
    case 'stack':
      return node.children.reduce<AdapterInput>((s, c) => runChild(ctx, c, s), state);
    case 'parallel':
      return runParallel(ctx, node, state);
    case 'batchSplit':
      return runBatchSplit(ctx, node, state);
    case 'average':
      return runAverage(ctx, node, state);
    case 'fuse':
      return runFuse(ctx, node, state);
  }
}

/**
 * Child `i` runs on rows `[Σ_{j<i} sizes_j, Σ_{j≤i} sizes_j)`; the results are concatenated in order.
 * The same row routing as per-sample selection ({@link runRowGroups}), with contiguous groups.
 */
function runRowChunks(
  ctx: RunContext,
  children: readonly SetupChild[],
  sizes: readonly number[],
  state: AdapterInput,
): AdapterInput {
  const batch = sizes.reduce((a, b) => a + b, 0);
  const groups: Array<RowGroup & { child: SetupChild }> = [];
  let offset = 0;
  children.forEach((child, i) => {
    const rows = Array.from({ length: sizes[i]! }, (_, r) => offset + r);
    offset += sizes[i]!;
    if (rows.length) groups.push({ names: [String(i)], rows, child });
  });
  const childOf = new Map(groups.map((g) => [g.names, g.child]));
  return runRowGroups(state, batch, groups, (part: AdapterInput, names) =>
    runChild(ctx, childOf.get(names)!, part),
  ) as AdapterInput;
}

function runParallel(ctx: RunContext, block: ParallelBlock, state: AdapterInput): AdapterInput {
  const n = block.children.length;
  const batch = mainTensor(state, ctx.host.hostLabel()).shape[0]!;
  let rows: number;
  if (parallelMode(ctx, block, batch) === 'replicate') {
    state = replicateRows(state, n, batch);
    rows = batch;
  } else {
    rows = batch / n;
  }
  return runRowChunks(
    ctx,
    block.children,
    Array.from({ length: n }, () => rows),
    state,
  );
}

function runBatchSplit(ctx: RunContext, block: BatchSplitBlock, state: AdapterInput): AdapterInput {
  const batch = mainTensor(state, ctx.host.hostLabel()).shape[0]!;
  const total = block.batchSizes.reduce((a, b) => a + b, 0);
  check(
    total === batch,
    'INVALID_INPUT',
    () =>
      `${describeSetup(block)} on '${ctx.host.hostLabel()}': batchSizes [${block.batchSizes.join(', ')}] sum to ${total} but the batch has ${batch} rows`,
    () => ({ batchSizes: [...block.batchSizes], sum: total, batch }),
  );
  return runRowChunks(ctx, block.children, block.batchSizes, state);
}

/** The weights an Average applies: `1/n` each, or the given ones (divided by their sum unless `normalizeWeights` is false). */
export function averageWeights(block: AverageBlock): number[] {
  const n = block.children.length;
  if (!block.weights) return Array.from({ length: n }, () => 1 / n);
  if (block.normalizeWeights === false) return [...block.weights];
  const sum = block.weights.reduce((a, b) => a + b, 0);
  return block.weights.map((w) => w / sum);
}

function runAverage(ctx: RunContext, block: AverageBlock, state: AdapterInput): AdapterInput {
  const weights = averageWeights(block);
  const where = ctx.host.hostLabel();
  const parts = block.children.map((c, i) => tf.mul(mainTensor(runChild(ctx, c, state), where), weights[i]!));
  return withMain(state, parts.length === 1 ? parts[0]! : tf.addN(parts));
}

/** The fusion layer `name` at the host; `NOT_FOUND` listing the host's fusions when absent. */
function fusionAt(host: ComposableHost, block: FuseBlock): AdapterFusion {
  const name = fusionNameOf(block);
  const layer = host.getChild(FUSION_LAYER) as
    { get(n: string): Module | undefined; keys(): string[] } | undefined;
  const fusion = layer?.get(name);
  if (!fusion) {
    const existing = layer?.keys() ?? [];
    throw new AdapterError(
      'NOT_FOUND',
      `${describeSetup(block)} on '${host.hostLabel()}' needs the fusion layer '${name}'; add it with model.addFusion([${name
        .split(',')
        .map((n) => `'${n}'`)
        .join(', ')}]); existing fusions: ${existing.join(' | ') || '(none)'}`,
      { name, valid: existing },
    );
  }
  return fusion as AdapterFusion;
}

/**
 * AdapterFusion: `u_i` = each child's output before its strategy (a Stack child runs its adapters
 * through their strategies, then its last adapter without), fused with `x` as query and residual.
 */
function runFuse(ctx: RunContext, block: FuseBlock, state: AdapterInput): AdapterInput {
  const where = ctx.host.hostLabel();
  const x = mainTensor(state, where);
  const ups: Tensor[] = [];
  for (const child of block.children) {
    const last = lastAdapter(child);
    if (!ctx.runnable.has(last)) continue;
    let input = x;
    if (typeof child !== 'string' && child.children.length > 1) {
      const prefix = { ...child, children: child.children.slice(0, -1) } as SetupBlock;
      input = mainTensor(runChild(ctx, prefix, state), where);
    }
    const adapter = ctx.host.peekAdapterLayer()!.get(last)!;
    ups.push(adapter.forward(input) as Tensor);
  }
  if (ups.length === 0) return state;
  return withMain(state, fusionAt(ctx.host, block).fuse(x, ups));
}

/**
 * The hook of `forwardEnabledAdapters`: runs the model's active setup at `host`, or returns
 * `undefined` when no setup is active (the default chain then runs). A disabled adapter named in the
 * setup → `INVALID_CONFIG`.
 */
export function forwardActiveSetup(host: ComposableHost, input: AdapterInput): AdapterInput | undefined {
  const setup = compositionCfgOf(host.adapterCfg)?.activeSetup;
  if (!setup) return undefined;
  const names = setupAdapterNames(setup);
  for (const n of names) {
    const entry = host.adapterCfg[n] as NormalizedAdapterConfig | undefined;
    check(
      entry === undefined || entry.enabled,
      'INVALID_CONFIG',
      () =>
        `adapter '${n}' is disabled but the active setup ${describeSetup(setup)} names it; enable it with setEnabledAdapters('${n}') or change the setup with setActiveSetup()`,
      () => ({ name: n }),
    );
  }
  const layer = host.peekAdapterLayer();
  const loc = isPlainObject(input) && typeof input.loc === 'string' ? input.loc : '';
  const runsHere = (n: string) =>
    !loc || typeof host.adapterLocations !== 'function' || host.adapterLocations(n).includes(loc);
  const runnable = new Set(names.filter((n) => layer?.has(n) && runsHere(n)));
  if (runnable.size === 0) return input;
  return runChild({ host, setup, runnable, loc }, setup, input);
}
