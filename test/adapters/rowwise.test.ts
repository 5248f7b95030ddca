/**
 * One-pass per-sample selection as a declared capability (rowwise.ts): the host runs a batch in one
 * pass for any adapter kind, strategy and host class that declare it, and per row group for every
 * class that does not, subclasses of declared classes included.
 */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor, type Variable } from '../../src/backend/tf.js';
import { AdapterModule } from '../../src/adapters/adapter-module.js';
import { withAdapters } from '../../src/adapters/host.js';
import { LinearAdapter } from '../../src/adapters/index.js';
import { declareRowwiseAdapter, declareRowwiseInput } from '../../src/adapters/rowwise.js';
import { ResidualAddStrategy } from '../../src/adapters/strategies/index.js';
import type { NormalizedAdapterConfig } from '../../src/adapters/types.js';
import { Module } from '../../src/nn/module.js';
import { rowSelection, selectPerRow } from '../../src/nn/rows.js';
import { maxAbsDiff } from '../helpers.js';

const WIDTH = 6;

/** A kind no library code knows: `out = x ⊙ s`, combined by its strategy (residualAdd by default). */
class ScaleAdapter extends AdapterModule {
  static override readonly typeName: string = 'ScaleAdapter';
  readonly s: Variable;
  constructor(init: number) {
    super();
    this.s = this.registerParameter('s', tf.variable(tf.fill([WIDTH], init)));
    this.setupAdapterStrategy(null);
  }
  override forward(x: Tensor): Tensor {
    return tf.mul(x, this.s);
  }
}
declareRowwiseAdapter(ScaleAdapter, {
  parts: (a) => a.s,
  compatible: (parts, x) => x.shape[x.rank - 1] === parts[0]!.shape[0],
  forwardRows: (x, parts, rowIdx) => tf.mul(x, selectPerRow(rowSelection(rowIdx, parts.length), parts)),
});

class PlainHost extends withAdapters(Module) {
  static override readonly typeName: string = 'PlainHost';
}

/** Holds `adapters` by name, each attached as enabled. */
function hostWith<H extends PlainHost>(host: H, adapters: Record<string, Module>): H {
  for (const [n, a] of Object.entries(adapters))
    host.attachAdapter(n, a, { type: 'test', enabled: true } as NormalizedAdapterConfig);
  host.eval();
  return host;
}

/** Per-sample output and the number of chain runs it took (0: one pass). */
function perSample(host: PlainHost, x: Tensor, names: string[]): { y: Tensor; chains: number } {
  let chains = 0;
  const orig = host.forwardAdapterChain.bind(host);
  host.forwardAdapterChain = ((input, ns) => {
    chains++;
    return orig(input, ns);
  }) as typeof host.forwardAdapterChain;
  try {
    return { y: host.forwardEnabledAdapters(x, { adapterNames: names }), chains };
  } finally {
    delete (host as Partial<PlainHost>).forwardAdapterChain;
  }
}

/** Each row of `y` equals that row's adapter run alone on the whole batch. */
function expectRowsMatch(host: PlainHost, x: Tensor, y: Tensor, names: string[]): void {
  names.forEach((n, i) => {
    const ref = n === '__base__' ? x : host.forwardAdapterChain(x, [n]);
    expect(maxAbsDiff(tf.slice(y, i, 1), tf.slice(ref, i, 1))).toBeLessThanOrEqual(1e-6);
  });
}

const x = tf.randomNormal([4, WIDTH], 0, 1, 'float32', 3);
const names = ['a', '__base__', 'b', 'a'];

describe('one pass as a declared capability', () => {
  it('a kind the library does not know runs in one pass once it declares the capability', () => {
    const host = hostWith(new PlainHost(), { a: new ScaleAdapter(2), b: new ScaleAdapter(-3) });
    const { y, chains } = perSample(host, x, names);
    expect(chains).toBe(0);
    expectRowsMatch(host, x, y, names);
    expect(maxAbsDiff(tf.slice(y, 0, 1), tf.slice(x, 0, 1))).toBeGreaterThan(0.1); // the adapters did something
  });

  it('a subclass of a declared kind runs per row group (it may compute something else)', () => {
    class OtherScale extends ScaleAdapter {}
    const host = hostWith(new PlainHost(), { a: new OtherScale(2), b: new OtherScale(-3) });
    const { y, chains } = perSample(host, x, names);
    expect(chains).toBe(3);
    expectRowsMatch(host, x, y, names);
  });

  it('a subclass of LinearAdapter runs per row group; LinearAdapter itself in one pass', () => {
    class MyLinear extends LinearAdapter {}
    for (const [Cls, expected] of [
      [MyLinear, 3],
      [LinearAdapter, 0],
    ] as const) {
      const [a, b] = [new Cls({ inFeatures: WIDTH, dim: 3 }), new Cls({ inFeatures: WIDTH, dim: 2 })];
      for (const p of [...a.parameters(), ...b.parameters()])
        p.assign(tf.randomNormal(p.shape, 0, 0.5, 'float32', p.size));
      const host = hostWith(new PlainHost(), { a, b });
      const { y, chains } = perSample(host, x, names);
      expect(chains).toBe(expected);
      expectRowsMatch(host, x, y, names);
    }
  });

  it('a strategy whose exact class declares nothing (a ResidualAddStrategy subclass) runs per row group', () => {
    class MyResidual extends ResidualAddStrategy {}
    const a = new ScaleAdapter(2);
    a.adapterStrategy = new MyResidual();
    const host = hostWith(new PlainHost(), { a, b: new ScaleAdapter(-3) });
    const { y, chains } = perSample(host, x, names);
    expect(chains).toBe(3);
    expectRowsMatch(host, x, y, names);
  });

  it('a host class that overrides forwardSingleEnabledAdapter runs per row group unless it declares its input', () => {
    class Traced extends PlainHost {
      override forwardSingleEnabledAdapter(...args: Parameters<PlainHost['forwardSingleEnabledAdapter']>) {
        return super.forwardSingleEnabledAdapter(...args);
      }
    }
    const grouped = hostWith(new Traced(), { a: new ScaleAdapter(2), b: new ScaleAdapter(-3) });
    expect(perSample(grouped, x, names).chains).toBe(3);

    declareRowwiseInput(Traced, (input) =>
      input instanceof tf.Tensor ? { x: input, runs: true, rebuild: (y) => y } : null,
    );
    const onePass = hostWith(new Traced(), { a: new ScaleAdapter(2), b: new ScaleAdapter(-3) });
    const { y, chains } = perSample(onePass, x, names);
    expect(chains).toBe(0);
    expectRowsMatch(onePass, x, y, names);
  });
});
