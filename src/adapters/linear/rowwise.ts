/**
 * The bottleneck adapter's one-pass per-row computation (per-sample selection, SPEC §4.5): row `b`
 * computes exactly the formula of its own adapter, with that adapter's LayerNorm γ/β, down and up
 * weights (selected per row by `selectPerRow`) and its own output dropout; base rows select zero
 * weights and so output zero. Bottleneck widths may differ: weights are zero-padded to the widest.
 */
import { tf, type Tensor } from '../../backend/tf.js';
import { batchedMatMul } from '../../backend/kernels/batched-mat-mul.js';
import { ActivationLayer, activationFn } from '../../nn/activations.js';
import { LayerNorm, Linear, layerNorm } from '../../nn/layers.js';
import { padCols, padRows, rowDropout, rowSelection, selectPerRow } from '../../nn/rows.js';
import type { RowwiseAdapterKind } from '../rowwise.js';
import type { LinearAdapter } from './layer.js';

/** What the one pass reads from one `linear` adapter. */
export interface LinearAdapterParts {
  pre: boolean;
  norm: LayerNorm;
  down: Linear;
  up: Linear;
  activation: string;
  /** Output dropout probability when the adapter is in training mode, else 0. */
  dropout: number;
}

/** The parts of `a` when it has the structure the constructor builds (no biases), else null. */
function linearParts(a: LinearAdapter): LinearAdapterParts | null {
  const seq = a.module;
  if (seq.namedChildren().length !== 4) return null;
  const c = (i: number) => seq.getChild(String(i));
  const pre = c(0) instanceof LayerNorm;
  const [norm, down, act, up] = pre ? [c(0), c(1), c(2), c(3)] : [c(3), c(0), c(1), c(2)];
  if (
    !(norm instanceof LayerNorm) ||
    !(down instanceof Linear) ||
    !(up instanceof Linear) ||
    !(act instanceof ActivationLayer)
  )
    return null;
  if (down.bias || up.bias) return null;
  const name = String(act.options.activation);
  const drop = a.dropout;
  return {
    pre,
    norm,
    down,
    up,
    activation: name === 'silu' ? 'swish' : name,
    dropout: drop && drop.training ? drop.p : 0,
  };
}

/**
 * Adapters share a pass when they agree on input width (which `x` must have), norm position,
 * activation and LayerNorm eps.
 */
function compatible(parts: readonly LinearAdapterParts[], x: Tensor): boolean {
  const ref = parts[0]!;
  const inF = ref.norm.features;
  const agree = parts.every(
    (p) =>
      p.pre === ref.pre &&
      p.activation === ref.activation &&
      p.norm.features === inF &&
      p.norm.eps === ref.norm.eps &&
      p.down.inFeatures === inF &&
      p.up.outFeatures === inF,
  );
  return agree && x.rank >= 2 && x.shape[x.rank - 1] === inF;
}

/** `out[b]` = adapter `rowIdx[b]`'s bottleneck output (0 for base rows), shaped as `x`. */
function forwardRows(x: Tensor, parts: readonly LinearAdapterParts[], rowIdx: readonly number[]): Tensor {
  const k = parts.length;
  const b = x.shape[0]!;
  const inF = x.shape[x.rank - 1]!;
  const ref = parts[0]!;
  const dMax = Math.max(...parts.map((p) => p.down.outFeatures));
  const sel = rowSelection(rowIdx, k);
  const x3 = tf.reshape(x, [b, -1, inF]);
  const gamma = tf.reshape(
    selectPerRow(
      sel,
      parts.map((p) => p.norm.weight),
    ),
    [b, 1, inF],
  );
  const beta = tf.reshape(
    selectPerRow(
      sel,
      parts.map((p) => p.norm.bias),
    ),
    [b, 1, inF],
  );
  // Down `[in, dMax]` and up `[dMax, in]` per row; padded columns/rows are zero, so they add nothing.
  const down = selectPerRow(
    sel,
    parts.map((p) => padCols(tf.transpose(p.down.weight), dMax)),
  );
  const up = selectPerRow(
    sel,
    parts.map((p) => padRows(tf.transpose(p.up.weight), dMax)),
  );
  const act = activationFn(ref.activation);
  let out: Tensor;
  if (ref.pre) {
    const n = layerNorm(x3, gamma, beta, ref.norm.eps);
    out = batchedMatMul(act(batchedMatMul(n, down)), up);
  } else {
    out = layerNorm(batchedMatMul(act(batchedMatMul(x3, down)), up), gamma, beta, ref.norm.eps);
  }
  const pRow = rowIdx.map((i) => (i < k ? parts[i]!.dropout : 0));
  return tf.reshape(rowDropout(out, pRow), x.shape);
}

/** The `linear` kind's one-pass declaration (see rowwise.ts). */
export const linearRowwise: RowwiseAdapterKind<LinearAdapter, LinearAdapterParts> = {
  parts: linearParts,
  compatible,
  forwardRows,
};
