/**
 * `addWeightedAdapter` (what PEFT calls `add_weighted_adapter`): a new LoRA adapter built from a
 * weighted combination of existing ones.
 */
import { tf, type Tensor, type Variable } from '../../backend/tf.js';
import { check, notOneOf } from '../../errors.js';
import { checkAdapterName } from '../host.js';
import {
  COMBINATION_TYPES,
  type CombinationType,
  type WeightedAdapterOptions,
  type WeightedHost,
} from '../tuners/combination.js';
import { assignCast } from '../tuners/tuner-layer.js';
import type { LoraConfig, NormalizedLoraConfig } from './config.js';
import { LoraEmbedding, LoraLinear } from './layer.js';
import { lowRankSvd } from './svd.js';

type LoraLayer = LoraLinear | LoraEmbedding;

/** The (A [r, in], B [out, r]) variables of adapter `n` on a LoRA layer. */
function factors(layer: LoraLayer, n: string): [Variable, Variable] {
  if (layer instanceof LoraLinear) return [layer.lora_A.get(n)!.weight, layer.lora_B.get(n)!.weight];
  return [layer.lora_embedding_A.get(n)!, layer.lora_embedding_B.get(n)!];
}

/**
 * Facts from PEFT: the new config is the first adapter's with `r = loraAlpha = new rank`, empty rank
 * and alpha patterns, `useRslora: false` (so the scaling is 1), and targets combined (lists: sorted
 * union; regex strings: `(a)|(b)`); the rank is the common rank (`linear`, all equal), the sum
 * (`cat`) or `svdRank` / the largest (`svd`), where a source's rank is the largest of `r` and its
 * rank-pattern values; the new adapter is frozen and not enabled.
 *
 * PEFT notes: PEFT silently returns when `newName` exists (here `DUPLICATE_ADAPTER`); its `'svd'`
 * path multiplies the already-scaled deltas by the scaling again, while here every combination type
 * applies each source's scaling once, so `'cat'` and `'svd'` (at full rank) both reproduce
 * Σ wᵢ·sᵢ·BᵢAᵢ. DoRA and `loraBias` sources → `UNSUPPORTED_FEATURE` (PEFT would drop the magnitude
 * and bias terms silently).
 */
export function addWeightedAdapterTo(
  host: WeightedHost,
  adapters: string[],
  weights: number[],
  newName: string,
  opts: WeightedAdapterOptions,
): void {
  const where = 'addWeightedAdapter';
  checkAdapterName(newName, newName);
  check(
    !host.records.has(newName),
    'DUPLICATE_ADAPTER',
    () => `${where}: adapter '${newName}' already exists`,
    () => ({ name: newName }),
  );
  check(
    Array.isArray(adapters) && adapters.length > 0,
    'INVALID_CONFIG',
    () => `${where}: give at least one adapter to combine`,
  );
  const records = adapters.map((a) => host.record(a, where));
  check(
    Array.isArray(weights) && weights.length === adapters.length && weights.every((w) => Number.isFinite(w)),
    'INVALID_CONFIG',
    () =>
      `${where}: weights must be ${adapters.length} finite number(s), one per adapter; got ${JSON.stringify(weights)}`,
    () => ({ field: 'weights' }),
  );
  const configs = records.map((r) => r.config);
  const notLora = records.filter((r) => r.config.type !== 'lora').map((r) => r.name);
  check(
    notLora.length === 0,
    'UNSUPPORTED_FEATURE',
    () => `${where}: only LoRA adapters can be combined; ${notLora.join(', ')} are not`,
  );
  const lora = configs as NormalizedLoraConfig[];
  const special = records.filter((r, i) => lora[i]!.useDora || lora[i]!.loraBias).map((r) => r.name);
  check(
    special.length === 0,
    'UNSUPPORTED_FEATURE',
    () =>
      `${where}: ${special.join(', ')} use DoRA or loraBias, whose magnitude/bias terms cannot be combined`,
    () => ({ adapters: special }),
  );
  const shared = new Map<unknown, string[]>();
  for (const r of records)
    for (const { wrapper } of r.copies) shared.set(wrapper, [...(shared.get(wrapper) ?? []), r.name]);
  const clash = [...shared.values()].filter((names) => names.length > 1);
  check(
    clash.length === 0,
    'UNSUPPORTED_FEATURE',
    () =>
      `${where}: adapters ${clash[0]?.join(', ')} each hold a modulesToSave copy of the same module; such copies cannot be combined`,
  );
  let combination: CombinationType = opts.combinationType ?? 'svd';
  check(
    (COMBINATION_TYPES as readonly string[]).includes(combination),
    'INVALID_CONFIG',
    () => `${where}: ${notOneOf('combinationType', combination, COMBINATION_TYPES)}`,
    () => ({ field: 'combinationType', valid: COMBINATION_TYPES }),
  );
  if (adapters.length === 1) combination = 'linear';
  const ranks = lora.map((c) => Math.max(c.r, ...Object.values(c.rankPattern)));
  let newRank: number;
  if (combination === 'linear') {
    check(
      new Set(ranks).size === 1,
      'INVALID_CONFIG',
      () =>
        `${where}: combinationType 'linear' needs equal ranks; got ${adapters.map((a, i) => `${a}: ${ranks[i]}`).join(', ')}`,
    );
    newRank = ranks[0]!;
  } else if (combination === 'cat') {
    newRank = ranks.reduce((a, b) => a + b, 0);
  } else {
    check(
      opts.svdRank === undefined || (Number.isInteger(opts.svdRank) && opts.svdRank >= 1),
      'INVALID_CONFIG',
      () => `${where}: svdRank must be an integer ≥ 1, got ${JSON.stringify(opts.svdRank)}`,
    );
    newRank = opts.svdRank ?? Math.max(...ranks);
  }
  const targetKinds = new Set(lora.map((c) => (typeof c.targetModules === 'string' ? 'string' : 'list')));
  check(
    targetKinds.size === 1,
    'INVALID_CONFIG',
    () =>
      `${where}: the adapters' targetModules mix lists and regex strings; combining them is not supported`,
  );
  const targetModules =
    typeof lora[0]!.targetModules === 'string'
      ? lora.map((c) => `(${c.targetModules as string})`).join('|')
      : [...new Set(lora.flatMap((c) => c.targetModules as string[]))].sort();
  const newCfg: LoraConfig = {
    ...structuredClone(lora[0]!),
    r: newRank,
    loraAlpha: newRank,
    targetModules,
    rankPattern: {},
    alphaPattern: {},
    useRslora: false,
  };
  host.addAdapter(newName, newCfg);
  try {
    for (const { layer } of host.record(newName, where).layers) {
      combineOnLayer(layer as LoraLayer, adapters, weights, newName, newRank, combination);
    }
  } catch (e) {
    host.deleteAdapter(newName);
    throw e;
  }
  host.setAdapterTrainable(newName, false);
  host.disable(newName);
}

/** Writes the combined A and B of `newName` on one layer. Sources absent from the layer are skipped. */
function combineOnLayer(
  layer: LoraLayer,
  adapters: string[],
  weights: number[],
  newName: string,
  newRank: number,
  combination: CombinationType,
): void {
  const present = adapters.map((a, i) => ({ a, w: weights[i]! })).filter(({ a }) => layer.info.has(a));
  const [targetA, targetB] = factors(layer, newName);
  if (present.length === 0) return; // nothing to combine here: the new adapter stays zero on this layer
  const [inF, outF] = [targetA.shape[1]!, targetB.shape[0]!];
  let newA: Tensor;
  let newB: Tensor;
  if (combination === 'linear') {
    for (const { a } of present) {
      check(
        layer.info.get(a)!.r === newRank,
        'INVALID_CONFIG',
        () =>
          `addWeightedAdapter: '${a}' has rank ${layer.info.get(a)!.r} on '${layer.layerPath}', not ${newRank}; 'linear' needs equal ranks`,
      );
    }
    [newA, newB] = tf.tidy(() => {
      let A: Tensor = tf.zeros([newRank, inF]);
      let B: Tensor = tf.zeros([outF, newRank]);
      for (const { a, w } of present) {
        const ws = w * layer.info.get(a)!.scaling;
        const root = Math.sqrt(Math.abs(ws));
        const [Ai, Bi] = factors(layer, a);
        A = tf.add(A, tf.mul(Ai, ws >= 0 ? root : -root)); // the sign goes on one side only
        B = tf.add(B, tf.mul(Bi, root));
      }
      return [A, B];
    });
  } else if (combination === 'cat') {
    [newA, newB] = tf.tidy(() => {
      const As = present.map(({ a, w }) => tf.mul(factors(layer, a)[0], w * layer.info.get(a)!.scaling));
      const Bs = present.map(({ a }) => factors(layer, a)[1] as Tensor);
      const used = As.reduce((n, t) => n + t.shape[0]!, 0);
      if (used < newRank) {
        As.push(tf.zeros([newRank - used, inF]));
        Bs.push(tf.zeros([outF, newRank - used]));
      }
      return [tf.concat(As, 0), tf.concat(Bs, 1)];
    });
  } else {
    // Σ wᵢsᵢ·BᵢAᵢ = [w₁s₁B₁ | … ] · [A₁; …]: decompose through the thin factors.
    const [P, Q] = tf.tidy(() => [
      tf.concat(
        present.map(({ a, w }) => tf.mul(factors(layer, a)[1], w * layer.info.get(a)!.scaling)),
        1,
      ),
      tf.concat(
        present.map(({ a }) => factors(layer, a)[0] as Tensor),
        0,
      ),
    ]);
    const R = Q.shape[0]!;
    const { us, vt } = lowRankSvd(
      Float64Array.from(P.dataSync()),
      outF,
      R,
      Float64Array.from(Q.dataSync()),
      inF,
      newRank,
    );
    P.dispose();
    Q.dispose();
    newA = tf.tensor2d(vt, [newRank, inF]);
    newB = tf.tensor2d(us, [outF, newRank]);
  }
  assignCast(targetA, newA);
  assignCast(targetB, newB);
}
