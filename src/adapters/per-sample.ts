/**
 * Per-sample adapter selection (SPEC §4.5): row `i` of a batch runs `adapterNames[i]`.
 *
 * Semantics: rows are grouped by selection (groups in first-appearance order); each group runs as if
 * it were the whole batch with exactly its selection enabled, in the current mode.
 *
 * Two ways to compute it:
 * - **Grouped** ({@link runRowGroups}, nn/rows.ts): rows are regrouped with a permutation and
 *   contiguous slices, each group runs its chain, and the rows are put back. Always correct, one
 *   pass per group. The permutation and slices have gradients on every backend.
 * - **One pass** (row-selected weights): when every row runs at most one adapter and the selected
 *   adapters, their strategies and the host declare it (rowwise.ts), the adapters' weights are
 *   stacked `[K, …]`, each row picks its slot with a one-hot matrix product ({@link selectPerRow};
 *   a base row selects zero weights), and the per-row products run as one batched matMul. Used by
 *   LoRA wrappers (`lora/layer.ts`) and, on hosts, by the adapter kinds that declare it
 *   ({@link forwardPerSample}; bottleneck `linear` adapters do).
 */
import { tf, type Tensor } from '../backend/tf.js';
import { check, isPlainObject } from '../errors.js';
import type { Module } from '../nn/module.js';
import { groupRows, runRowGroups } from '../nn/rows.js';
import {
  rowwiseAdapterKindOf,
  rowwiseInputOf,
  rowwiseStrategyKindOf,
  type RowwiseAdapterKind,
  type RowwiseStrategyKind,
} from './rowwise.js';
import type { AdapterInput, AdapterStrategy } from './types.js';

// Kept for compatibility: the row helpers now live in nn/rows.ts.
export {
  groupRows,
  invertPerm,
  padCols,
  padRows,
  rowDropout,
  rowSelection,
  runRowGroups,
  selectPerRow,
  type RowGroup,
} from '../nn/rows.js';

/** Selects the base model (no adapter) for a row. */
export const BASE_SELECTION = '__base__';

/** One row's selection: an adapter name, a chain of names run in order, or `'__base__'`. */
export type AdapterSelection = string | string[];

interface SelectableHost extends Module {
  heldAdapterNames(): string[];
  getAdapterModule(name: string): Module | undefined;
  forwardAdapterChain<T extends AdapterInput>(input: T, names: readonly string[]): T;
}

/** Batch size of a tensor input, or of the first tensor in an object or array input. */
export function batchSizeOf(input: unknown): number {
  if (input instanceof tf.Tensor) {
    check(
      input.rank > 0,
      'BATCH_SELECTION',
      () => 'adapterNames needs an input with a batch dimension (dim 0); got a scalar',
    );
    return input.shape[0]!;
  }
  const values = isPlainObject(input) || Array.isArray(input) ? Object.values(input as object) : [];
  const first = values.find((v) => v instanceof tf.Tensor && v.rank > 0) as Tensor | undefined;
  check(
    first,
    'BATCH_SELECTION',
    () => 'adapterNames needs a tensor input (or an object or array holding one) to select rows from',
  );
  return first.shape[0]!;
}

/** Resolves each row's selection to a list of adapter names, validating them. */
export function normalizeSelection(
  selection: readonly AdapterSelection[],
  batch: number,
  valid: string[],
): string[][] {
  check(
    Array.isArray(selection),
    'BATCH_SELECTION',
    () => `adapterNames must be an array with one entry per batch row, got ${typeof selection}`,
  );
  check(
    selection.length === batch,
    'BATCH_SELECTION',
    () =>
      `adapterNames has ${selection.length} entries but the batch has ${batch} rows; give one entry per row`,
    () => ({ entries: selection.length, batch }),
  );
  return selection.map((sel) => {
    const names = Array.isArray(sel) ? sel : sel === BASE_SELECTION ? [] : [sel];
    for (const n of names) {
      check(
        valid.includes(n),
        'UNKNOWN_ADAPTER',
        () =>
          `adapterNames: unknown adapter '${String(n)}'; valid names: ${[...valid, BASE_SELECTION].join(', ')}`,
        () => ({ name: n, valid: [...valid, BASE_SELECTION] }),
      );
    }
    return names;
  });
}

/**
 * Runs a per-sample selection on a host. When every row runs at most one adapter and the selected
 * adapters, their strategies and the host declare a one-pass computation (rowwise.ts), the batch
 * runs in one pass ({@link onePass}); otherwise each row group runs its chain ({@link runRowGroups}).
 * Both give the §4.5 semantics.
 */
export function forwardPerSample(
  host: SelectableHost,
  input: AdapterInput,
  selection: readonly AdapterSelection[],
): AdapterInput {
  const batch = batchSizeOf(input);
  const perRow = normalizeSelection(selection, batch, host.heldAdapterNames());
  const groups = groupRows(perRow);
  if (groups.length === 1) return host.forwardAdapterChain(input, groups[0]!.names);
  const fast = onePass(host, input, perRow);
  if (fast) return fast;
  return runRowGroups(input, batch, groups, (part, names) =>
    host.forwardAdapterChain(part, names),
  ) as AdapterInput;
}

/**
 * One pass for a batch whose rows each run one adapter (or none). Returns null when it does not
 * apply:
 * - a row runs a chain of several adapters;
 * - the host's class, or a selected adapter's or strategy's exact class, declares no one-pass
 *   computation, or the selected adapters (or strategies) are of different kinds;
 * - an adapter's parts cannot join a pass, the adapters are not compatible with each other on this
 *   input, or a strategy must run per group in the current mode (e.g. `residualAdd` with
 *   `stochasticDepth` or `l2Lambda` while training: those draw and register per (adapter, group),
 *   which the grouped path does exactly).
 */
function onePass(host: SelectableHost, input: AdapterInput, perRow: string[][]): AdapterInput | null {
  if (perRow.some((names) => names.length > 1)) return null;
  const inputOf = rowwiseInputOf(host);
  if (!inputOf) return null;
  const names: string[] = [];
  for (const sel of perRow) if (sel.length && !names.includes(sel[0]!)) names.push(sel[0]!);
  const adapters = names.map((n) => host.getAdapterModule(n)!);
  const view = inputOf(input, adapters);
  if (!view) return null;
  let kind: RowwiseAdapterKind | undefined;
  let strategyKind: RowwiseStrategyKind | undefined;
  let combine: ((x: Tensor, out: Tensor) => Tensor) | null = null;
  const parts: unknown[] = [];
  for (const adapter of adapters) {
    const k = rowwiseAdapterKindOf(adapter);
    const strategy = (adapter as Module & { adapterStrategy?: AdapterStrategy }).adapterStrategy;
    const sk = strategy ? rowwiseStrategyKindOf(strategy) : undefined;
    if (!k || !sk || (kind && k !== kind) || (strategyKind && sk !== strategyKind)) return null;
    const p = k.parts(adapter);
    const c = sk.combine(strategy!, host);
    if (p === null || !c) return null;
    kind = k;
    strategyKind = sk;
    combine ??= c;
    parts.push(p);
  }
  if (!kind || !combine || !kind.compatible(parts, view.x)) return null;
  if (!view.runs) return input; // the adapters do not run on this input
  const rowIdx = perRow.map((sel) => (sel.length ? names.indexOf(sel[0]!) : names.length));
  const { x } = view;
  const run = combine;
  return view.rebuild(tf.tidy(() => run(x, kind.forwardRows(x, parts, rowIdx))));
}
