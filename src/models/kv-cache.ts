/**
 * Key/value caches for decoder-only models: one {@link SequenceCache} per sequence, so sequences of
 * different lengths (and different adapters) can share a batch step and join or leave between steps.
 *
 * A batch step gathers the rows' caches into padded `[B, P, D]` tensors (P = the longest row), masks
 * each row's padding, runs the new positions through every block with {@link
 * TransformerBlock.forwardWithPast}, and appends the new keys and values to each row's own cache.
 * A decoding step therefore projects one token per row; only the attention product and the cache
 * append grow with the prefix, and both are small next to the projections up to the context size.
 */
import { tf, type Tensor } from '../backend/tf.js';
import { ATTENTION_MASK_VALUE } from '../nn/attention.js';
import { check } from '../errors.js';
import type { PastKeyValues } from '../nn/kv-attention.js';
import type { TransformerBlock } from '../nn/transformer.js';

/**
 * The cached keys and values of one sequence: per layer, `k` and `v` `[length, D]` (kept tensors,
 * owned by the cache). Free it with {@link dispose} when the sequence ends.
 */
export class SequenceCache {
  /** Positions held (the next token gets position `length`). */
  length = 0;
  private layers: Array<{ k: Tensor; v: Tensor } | null>;

  constructor(readonly numLayers: number) {
    this.layers = Array.from({ length: numLayers }, () => null);
  }

  /** Layer `i`'s keys and values `[length, D]`, or null while empty. */
  layer(i: number): { k: Tensor; v: Tensor } | null {
    return this.layers[i] ?? null;
  }

  /** Appends `k`, `v` `[T, D]` to layer `i` (takes ownership of nothing; keeps copies). */
  append(i: number, k: Tensor, v: Tensor): void {
    const old = this.layers[i];
    const next = old
      ? { k: tf.keep(tf.concat([old.k, k], 0)), v: tf.keep(tf.concat([old.v, v], 0)) }
      : { k: tf.keep(tf.clone(k)), v: tf.keep(tf.clone(v)) };
    old?.k.dispose();
    old?.v.dispose();
    this.layers[i] = next;
  }

  /** Frees every cached tensor; the cache becomes empty. */
  dispose(): void {
    for (const l of this.layers) {
      l?.k.dispose();
      l?.v.dispose();
    }
    this.layers = this.layers.map(() => null);
    this.length = 0;
  }
}

/**
 * The input of a cached forward: `ids [B, T]` are the new tokens of B sequences (the same count T for
 * every row), `caches[b]` row b's cache. Passing it as one object lets a PEFT wrapper route rows to
 * adapters (`peft.forward(input, { adapterNames })`) exactly as for plain ids.
 */
export interface CachedInput {
  ids: Tensor;
  caches: SequenceCache[];
}

/** True when `x` is a {@link CachedInput}. */
export function isCachedInput(x: unknown): x is CachedInput {
  return typeof x === 'object' && x !== null && !(x instanceof tf.Tensor) && 'caches' in x && 'ids' in x;
}

/** Position ids `[B, T]` of the new tokens: row b starts at its cache length. */
export function positionIds(caches: readonly SequenceCache[], t: number): Tensor {
  const data = new Int32Array(caches.length * t);
  caches.forEach((c, b) => {
    for (let j = 0; j < t; j++) data[b * t + j] = c.length + j;
  });
  return tf.tensor2d(data, [caches.length, t], 'int32');
}

/**
 * The additive `[B, 1, T, P + T]` mask of a step: row b sees its own `length` past positions (the
 * rest of the P padded slots are masked) and the new positions causally; null when nothing is masked
 * (every row holds P positions and T = 1).
 */
export function stepMask(caches: readonly SequenceCache[], p: number, t: number): Tensor | null {
  if (t === 1 && caches.every((c) => c.length === p)) return null;
  const width = p + t;
  const data = new Float32Array(caches.length * t * width);
  caches.forEach((c, b) => {
    for (let i = 0; i < t; i++) {
      const row = (b * t + i) * width;
      data.fill(ATTENTION_MASK_VALUE, row + c.length, row + p); // padding
      data.fill(ATTENTION_MASK_VALUE, row + p + i + 1, row + width); // future new positions
    }
  });
  return tf.tensor4d(data, [caches.length, 1, t, width]);
}

/** Layer `i`'s past of every row, padded to `p` positions: `[B, p, D]`, or null when `p` is 0. */
function gatherPast(caches: readonly SequenceCache[], i: number, p: number, d: number): PastKeyValues | null {
  if (p === 0) return null;
  const pad = (t: Tensor | undefined) => {
    if (!t) return tf.zeros([p, d]);
    return t.shape[0] === p
      ? t
      : tf.pad(t, [
          [0, p - t.shape[0]!],
          [0, 0],
        ]);
  };
  const ks = caches.map((c) => pad(c.layer(i)?.k));
  const vs = caches.map((c) => pad(c.layer(i)?.v));
  return { k: tf.stack(ks), v: tf.stack(vs) };
}

/**
 * Runs `h [B, T, D]` (embedded new tokens) through `blocks` with the rows' caches, appending the new
 * keys and values to each cache and advancing their lengths by T. Returns the last block's output.
 */
export function forwardBlocksCached(
  blocks: readonly TransformerBlock[],
  h: Tensor,
  caches: readonly SequenceCache[],
): Tensor {
  const [b, t, d] = h.shape as [number, number, number];
  check(
    caches.length === b,
    'BATCH_SELECTION',
    () => `cached forward: ${caches.length} caches for a batch of ${b} rows; give one cache per row`,
  );
  check(
    caches.every((c) => c.numLayers === blocks.length),
    'INVALID_INPUT',
    () => `cached forward: every cache must have ${blocks.length} layers (one per block)`,
  );
  const p = Math.max(0, ...caches.map((c) => c.length));
  return tf.tidy(() => {
    const mask = stepMask(caches, p, t);
    let x = h;
    const fresh: Array<{ ks: Tensor[]; vs: Tensor[] }> = [];
    blocks.forEach((block, i) => {
      const step = block.forwardWithPast(x, gatherPast(caches, i, p, d), mask);
      fresh.push({
        ks: b === 1 ? [tf.reshape(step.k, [t, d])] : tf.unstack(step.k),
        vs: b === 1 ? [tf.reshape(step.v, [t, d])] : tf.unstack(step.v),
      });
      x = step.y;
    });
    // Caches change only once every block has run, so a failed step leaves them as they were.
    fresh.forEach(({ ks, vs }, i) => caches.forEach((c, r) => c.append(i, ks[r]!, vs[r]!)));
    for (const c of caches) c.length += t;
    return x;
  });
}
