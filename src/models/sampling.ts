/** Drawing the next token from a language model's logits. */
import { tf, type Tensor } from '../backend/tf.js';

/** The index whose cumulative probability first exceeds `u` (a uniform draw in [0, 1)). */
export function sampleIndex(probs: ArrayLike<number>, u: number): number {
  let acc = 0;
  for (let i = 0; i < probs.length; i++) {
    acc += probs[i]!;
    if (u < acc) return i;
  }
  return probs.length - 1;
}

/** The index of the largest value (the first one on ties). */
export function argMax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * Next-token distributions of B rows: `logits [B, V]` → per row the softmax at its temperature
 * (`temperatures[b]`; 0 = greedy, where the raw logits are returned for an argmax). One read from the
 * backend for the whole batch.
 */
export function nextTokenProbs(logits: Tensor, temperatures: readonly number[]): Float32Array[] {
  const [b, v] = logits.shape as [number, number];
  const data = tf.tidy(() => {
    const t = tf.tensor2d(
      temperatures.map((x) => (x > 0 ? x : 1)),
      [b, 1],
    );
    return tf.softmax(tf.div(logits, t)).dataSync() as Float32Array;
  });
  const raw = temperatures.some((x) => x === 0) ? (logits.dataSync() as Float32Array) : null;
  return temperatures.map((temp, r) => (temp > 0 ? data : raw!).subarray(r * v, (r + 1) * v));
}

/** Draws one token from row probabilities (or takes the argmax of raw logits at temperature 0). */
export function drawToken(probsOrLogits: Float32Array, temperature: number, u: () => number): number {
  return temperature > 0 ? sampleIndex(probsOrLogits, u()) : argMax(probsOrLogits);
}
