/**
 * Per-sample adapter selection on hosts (SPEC §4.5): row `i` of a batch runs `adapterNames[i]`.
 * Rows are grouped by selection (groups in first-appearance order); each group runs as if it were the
 * whole batch with exactly its selection enabled. Rows are regrouped with a permutation and
 * contiguous slices, whose gradients work on every backend.
 */
import { permuteRows } from '../backend/kernels.js';
import { tf, type Tensor } from '../backend/tf.js';
import { check, isPlainObject } from '../errors.js';
import type { Module } from '../nn/module.js';
import type { AdapterInput } from './types.js';

/** Selects the base model (no adapter) for a row. */
export const BASE_SELECTION = '__base__';

/** One row's selection: an adapter name, a chain of names run in order, or `'__base__'`. */
export type AdapterSelection = string | string[];

interface SelectableHost extends Module {
  heldAdapterNames(): string[];
  forwardAdapterChain<T extends AdapterInput>(input: T, names: readonly string[]): T;
}

/** Batch size of a tensor input, or of the first tensor field of an object input. */
function batchSizeOf(input: AdapterInput): number {
  if (input instanceof tf.Tensor) return input.shape[0]!;
  const first = Object.values(input as Record<string, unknown>).find((v) => v instanceof tf.Tensor) as Tensor | undefined;
  check(first, 'BATCH_SELECTION', () => 'adapterNames needs a tensor input (or an object holding one) to select rows from');
  return first.shape[0]!;
}

/** Applies `f` to the input tensor, or to every field of an object input whose dim 0 is the batch. */
function mapRows(input: AdapterInput, batch: number, f: (t: Tensor) => Tensor): AdapterInput {
  if (input instanceof tf.Tensor) return f(input);
  if (!isPlainObject(input)) return input;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    out[k] = v instanceof tf.Tensor && v.rank > 0 && v.shape[0] === batch ? f(v) : v;
  }
  return out;
}

/** Resolves each row's selection to a list of adapter names, validating them. */
export function normalizeSelection(selection: readonly AdapterSelection[], batch: number, valid: string[]): string[][] {
  check(
    selection.length === batch,
    'BATCH_SELECTION',
    () => `adapterNames has ${selection.length} entries but the batch has ${batch} rows; give one entry per row`,
    () => ({ entries: selection.length, batch }),
  );
  return selection.map((sel) => {
    const names = Array.isArray(sel) ? sel : sel === BASE_SELECTION ? [] : [sel];
    for (const n of names) {
      check(
        valid.includes(n),
        'UNKNOWN_ADAPTER',
        () => `adapterNames: unknown adapter '${n}'; valid names: ${[...valid, BASE_SELECTION].join(', ')}`,
        () => ({ name: n, valid: [...valid, BASE_SELECTION] }),
      );
    }
    return names;
  });
}

/** Groups row indices by identical selection, in first-appearance order. */
export function groupRows(perRow: string[][]): Array<{ names: string[]; rows: number[] }> {
  const groups = new Map<string, { names: string[]; rows: number[] }>();
  perRow.forEach((names, row) => {
    const key = JSON.stringify(names);
    const g = groups.get(key) ?? { names, rows: [] };
    g.rows.push(row);
    groups.set(key, g);
  });
  return [...groups.values()];
}

/** Runs each row group's adapter chain and stitches the rows back in their original order. */
export function forwardPerSample(host: SelectableHost, input: AdapterInput, selection: readonly AdapterSelection[]): AdapterInput {
  const batch = batchSizeOf(input);
  const groups = groupRows(normalizeSelection(selection, batch, host.heldAdapterNames()));
  if (groups.length === 1) return host.forwardAdapterChain(input, groups[0]!.names);
  const perm = groups.flatMap((g) => g.rows);
  const grouped = mapRows(input, batch, (t) => permuteRows(t, perm));
  const outputs: AdapterInput[] = [];
  let offset = 0;
  for (const g of groups) {
    const start = offset;
    const part = mapRows(grouped, batch, (t) => tf.slice(t, start, g.rows.length));
    outputs.push(host.forwardAdapterChain(part, g.names));
    offset += g.rows.length;
  }
  const inverse = (parts: Tensor[]) => permuteRows(tf.concat(parts, 0), invertPerm(perm));
  if (outputs[0] instanceof tf.Tensor) return inverse(outputs as Tensor[]);
  // Object results: stitch every field that was split by rows.
  const result: Record<string, unknown> = { ...(outputs[0] as Record<string, unknown>) };
  for (const k of Object.keys(result)) {
    const parts = outputs.map((o) => (o as Record<string, unknown>)[k]);
    if (parts.every((p) => p instanceof tf.Tensor) && (input as Record<string, unknown>)[k] instanceof tf.Tensor &&
        ((input as Record<string, Tensor>)[k]!.shape[0] === batch)) {
      result[k] = inverse(parts as Tensor[]);
    }
  }
  return result;
}

/** `inv[perm[i]] = i`. */
function invertPerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((row, pos) => (inv[row] = pos));
  return inv;
}
