/**
 * The fixture runner derives what to compute from the names of expected tensors, by the naming rules of
 * the golden README (groups A–F), not from the names of the shared cases: synthetic cases use every rule,
 * with values computed here independently (plain float64 arithmetic), and every expectation is checked to
 * be compared (perturbing any one fails the case).
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { parseExpectedName, runAdapterCase, type FixtureTensor } from '../../tools/golden/group-adapters.js';

const IN = 4;
const DIM = 3;
type Matrix = number[][];

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

interface AdapterParams {
  gamma: number[];
  beta: number[];
  down: Matrix; // [DIM, IN]
  up: Matrix; // [IN, DIM]
}

function params(seed: number): AdapterParams {
  const v = values(IN * 2 + DIM * IN * 2, seed);
  return {
    gamma: v.slice(0, IN).map((x) => 1 + 0.3 * x),
    beta: v.slice(IN, 2 * IN).map((x) => 0.2 * x),
    down: Array.from({ length: DIM }, (_, o) => v.slice(2 * IN + o * IN, 2 * IN + (o + 1) * IN)),
    up: Array.from({ length: IN }, (_, o) =>
      v.slice(2 * IN + DIM * IN + o * DIM, 2 * IN + DIM * IN + (o + 1) * DIM),
    ),
  };
}

const matVec = (w: Matrix, x: number[]) => w.map((row) => row.reduce((s, wi, i) => s + wi * x[i]!, 0));

/** Pre-norm LinearAdapter with the identity activation: `up(down(LayerNorm(x)))`. */
function adapterForward(p: AdapterParams, x: Matrix): Matrix {
  return x.map((row) => {
    const mean = row.reduce((a, b) => a + b, 0) / row.length;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length;
    const normed = row.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * p.gamma[i]! + p.beta[i]!);
    return matVec(p.up, matVec(p.down, normed));
  });
}

/** ResidualAdd with stochastic depth scale `s` (1: eval or p = 0; 1/(1−p): kept; 0: dropped) and its L2 loss. */
function residual(p: AdapterParams, x: Matrix, lambda: number, s: number): { y: Matrix; loss: number } {
  const out = adapterForward(p, x).map((row) => row.map((v) => v * s));
  const loss = (lambda * out.reduce((acc, row) => acc + row.reduce((a, v) => a + v * v, 0), 0)) / x.length;
  return { y: x.map((row, b) => row.map((v, i) => v + out[b]![i]!)), loss };
}

const f32 = (m: Matrix | number): FixtureTensor =>
  typeof m === 'number'
    ? { shape: [], data: new Float32Array([m]), dtype: 'F32' }
    : { shape: [m.length, m[0]!.length], data: new Float32Array(m.flat()), dtype: 'F32' };

interface Spec {
  name: string;
  adapter: string;
  enabled?: boolean;
  lambda: number;
  p: number;
  params: AdapterParams;
}

/** A case in the shared format: `case.json` (as an object) and its tensors by name. */
function buildCase(
  group: string,
  specs: Spec[],
  training: boolean,
  expected: Record<string, Matrix | number>,
) {
  const tensors = new Map<string, FixtureTensor>();
  const declared: Array<{ name: string; role: string }> = [];
  const add = (name: string, role: string, t: FixtureTensor) => {
    tensors.set(name, t);
    declared.push({ name, role });
  };
  const chained = specs.length > 1;
  const entry = (s: Spec) => ({
    adapterType: 'LinearAdapter',
    inFeatures: IN,
    dim: DIM,
    activation: 'identity',
    normPosition: 'pre',
    dropout: 0,
    strategy: { type: 'ResidualAdd', stochasticDepth: s.p, l2Lambda: s.lambda },
    ...(chained ? { name: s.adapter, enabled: s.enabled ?? true } : {}),
  });
  for (const s of specs) {
    const prefix = chained ? `${s.adapter}.` : '';
    add(`${prefix}norm.weight`, 'param', {
      shape: [IN],
      data: new Float32Array(s.params.gamma),
      dtype: 'F32',
    });
    add(`${prefix}norm.bias`, 'param', { shape: [IN], data: new Float32Array(s.params.beta), dtype: 'F32' });
    add(`${prefix}down.weight`, 'param', f32(s.params.down));
    add(`${prefix}up.weight`, 'param', f32(s.params.up));
  }
  add('input', 'input', f32(INPUT));
  for (const [what, value] of Object.entries(expected)) add(`expected.${what}`, 'expected', f32(value));
  const config = chained
    ? { adapters: specs.map(entry), order: specs.map((s) => s.adapter), training }
    : { ...entry(specs[0]!), training };
  const caseJson = {
    name: `synthetic-${group}`,
    group,
    config,
    tensors: declared,
    tolerance: { atol: 1e-5, rtol: 1e-4 },
  };
  return { caseJson, tensors };
}

const INPUT: Matrix = [values(IN, 7), values(IN, 8).map((v) => 2 * v)];

/** Chain a → b (disabled) → c, training, each with its own L2 weight: outputs, running outputs, per-adapter and total losses. */
function chainCase() {
  const specs: Spec[] = [
    { name: 'a', adapter: 'a', lambda: 0.1, p: 0, params: params(1) },
    { name: 'b', adapter: 'b', enabled: false, lambda: 0.2, p: 0, params: params(2) },
    { name: 'c', adapter: 'c', lambda: 0.3, p: 0, params: params(3) },
  ];
  const ra = residual(specs[0]!.params, INPUT, 0.1, 1);
  const rc = residual(specs[2]!.params, ra.y, 0.3, 1);
  return buildCase('C', specs, true, {
    output: rc.y,
    residual_output: rc.y,
    after_a: ra.y,
    after_b: ra.y, // b is disabled: the running output after b is the one after a
    after_c: rc.y,
    'l2_loss.a': ra.loss,
    'l2_loss.c': rc.loss,
    'l2_loss.total': ra.loss + rc.loss,
  });
}

/** One adapter with stochastic depth p = 0.25 and an L2 loss: kept/dropped/eval outputs and the kept/dropped losses. */
function stochasticDepthCase() {
  const p = params(4);
  const kept = residual(p, INPUT, 0.5, 1 / 0.75);
  const dropped = residual(p, INPUT, 0.5, 0);
  return buildCase('E', [{ name: 'x', adapter: 'x', lambda: 0.5, p: 0.25, params: p }], true, {
    adapter_output: adapterForward(p, INPUT),
    kept_output: kept.y,
    dropped_output: dropped.y,
    eval_output: residual(p, INPUT, 0, 1).y,
    l2_loss_kept: kept.loss,
    l2_loss_dropped: 0,
  });
}

/** One adapter, training, L2 loss: the single loss under all three of its names. */
function l2Case() {
  const p = params(5);
  const r = residual(p, INPUT, 0.2, 1);
  return buildCase('D', [{ name: 'adapter_0', adapter: 'adapter_0', lambda: 0.2, p: 0, params: p }], true, {
    output: r.y,
    l2_loss: r.loss,
    'l2_loss.adapter_0': r.loss,
    'l2_loss.total': r.loss,
  });
}

const CASES = { chain: chainCase, 'stochastic depth': stochasticDepthCase, l2: l2Case };

describe('golden runner: the naming rules of expected tensors (groups A–F)', () => {
  it.each(Object.entries(CASES))(
    'computes every expected tensor of a synthetic %s case',
    async (_label, make) => {
      const { caseJson, tensors } = make();
      const before = tf.memory().numTensors;
      const r = await runAdapterCase('synthetic', caseJson, tensors);
      expect(r.ok, r.detail).toBe(true);
      for (const d of caseJson.tensors.filter((t) => t.role === 'expected'))
        expect(r.detail).toContain(`${d.name}: max |Δ|`);
      expect(tf.memory().numTensors).toBe(before);
    },
  );

  it.each(Object.entries(CASES))(
    'a wrong value under any expected name of the %s case fails it',
    async (_label, make) => {
      const { caseJson, tensors } = make();
      for (const d of caseJson.tensors.filter((t) => t.role === 'expected')) {
        const want = tensors.get(d.name)!;
        const data = Float32Array.from(want.data);
        data[0] = data[0]! + 0.05;
        const r = await runAdapterCase(
          'synthetic',
          caseJson,
          new Map([...tensors, [d.name, { ...want, data }]]),
        );
        expect([d.name, r.ok]).toEqual([d.name, false]);
        expect(r.detail).toContain(`${d.name}: max |Δ|`);
      }
    },
  );

  it('every rule parses; names outside the rules, or naming an adapter the case lacks, fail the case by name', async () => {
    const names = ['a', 'total_x'];
    expect(parseExpectedName('residual_output', names)).toEqual({ kind: 'output' });
    expect(parseExpectedName('after_total_x', names)).toEqual({ kind: 'after', adapter: 'total_x' });
    expect(parseExpectedName('l2_loss.a', names)).toEqual({ kind: 'loss', draw: null, scope: 'a' });
    expect(parseExpectedName('l2_loss.total', names)).toEqual({ kind: 'loss', draw: null, scope: 'total' });
    expect(parseExpectedName('l2_loss_dropped', names)).toEqual({
      kind: 'loss',
      draw: 'dropped',
      scope: 'one',
    });
    for (const bad of [
      'strategy_output',
      'adapter_loss',
      'l2_loss_total',
      'l2_loss.',
      'l2_loss.nobody',
      'after_nobody',
      'mystery',
    ]) {
      expect(() => parseExpectedName(bad, names)).toThrow(bad);
    }
    const { caseJson, tensors } = l2Case();
    const renamed = {
      ...caseJson,
      tensors: caseJson.tensors.map((t) =>
        t.name === 'expected.l2_loss.adapter_0' ? { ...t, name: 'expected.l2_loss.other' } : t,
      ),
    };
    tensors.set('expected.l2_loss.other', tensors.get('expected.l2_loss.adapter_0')!);
    const r = await runAdapterCase('synthetic', renamed, tensors);
    expect(r.ok).toBe(false);
    expect(r.detail).toContain("'l2_loss.other' names adapter 'other'");
  });
});
