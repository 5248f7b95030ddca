import { beforeEach, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import '../../../src/adapters/builtins.js';
import {
  PositionalEncodingAdapter,
  RelPositionalEncodingAdapter,
  sinusoidTable,
} from '../../../src/adapters/positional/index.js';
import { withAdapters } from '../../../src/adapters/host.js';
import { buildAdapter, defaultStrategyOf, parseAdapterConfig } from '../../../src/adapters/registry.js';
import { ReturnResultStrategy } from '../../../src/adapters/strategies/index.js';
import { normal } from '../../../src/nn/init.js';
import { Module } from '../../../src/nn/module.js';
import { createRng, setRng } from '../../../src/rng.js';
import { expectClose, maxAbsDiff, thrown } from '../../helpers.js';

const sum = (t: Tensor) => tf.tidy(() => tf.sum(t).dataSync()[0]!);

/** The exact (float64) sinusoid row for position `pos`. */
function exactRow(pos: number, dModel: number): number[] {
  const row: number[] = [];
  for (let j = 0; j < dModel / 2; j++) {
    const f = Math.exp(2 * j * (-Math.log(10000) / dModel));
    row.push(Math.sin(pos * f), Math.cos(pos * f));
  }
  return row;
}

function rowOf(t: Tensor, r: number): number[] {
  const d = t.shape[2]!;
  return Array.from(t.dataSync().slice(r * d, (r + 1) * d));
}

function expectRow(got: number[], pos: number, atol = 1e-6): void {
  const want = exactRow(pos, got.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]!)).toBeLessThanOrEqual(atol));
}

class PeHost extends withAdapters(Module) {
  static override readonly typeName: string = 'PeTestHost';
  override forward(x: Tensor): unknown {
    return this.forwardEnabledAdapters(x);
  }
}

beforeEach(() => setRng(createRng(7)));

describe('positional-encoding adapters', () => {
  it('B-144 positionalEncoding({dModel: 50}): |Σ(out − posEmb − x)| ≤ 1e-5 and out has the shape of x', () => {
    const x = normal([2, 32, 50], 1, createRng(0));
    const [out, posEmb] = new PositionalEncodingAdapter({ dModel: 50 }).forward(x);
    expect(out.shape).toEqual(x.shape);
    expect(posEmb.shape).toEqual([1, 32, 50]);
    expect(Math.abs(sum(tf.sub(tf.sub(out, posEmb), x)))).toBeLessThanOrEqual(1e-5);
  });

  it('B-145 relPositionalEncoding({dModel: 50}): |Σ(out − x)| ≤ 1e-8', () => {
    const x = normal([2, 32, 50], 1, createRng(0));
    const [out, posEmb] = new RelPositionalEncodingAdapter({ dModel: 50 }).forward(x);
    expect(Math.abs(sum(tf.sub(out, x)))).toBeLessThanOrEqual(1e-8);
    expect(posEmb.shape).toEqual([1, 63, 50]);
  });

  it('B-151 positionalEncoding({dModel: 8}): row 1 begins sin 1, cos 1, sin 0.1, cos 0.1', () => {
    const a = new PositionalEncodingAdapter({ dModel: 8 });
    expect(a.pe.dtype).toBe('float32');
    expect(a.pe.shape).toEqual([1, 5000, 8]);
    const row = rowOf(a.pe, 1);
    const want = [0.8414709848078965, 0.5403023058681398, 0.09983341664682813, 0.9950041652780258];
    want.forEach((w, i) => expect(Math.abs(row[i]! - w)).toBeLessThanOrEqual(1e-6));
    // Row 0 is sin 0 = 0, cos 0 = 1, and distant rows stay exact to float32 resolution.
    expect(rowOf(a.pe, 0)).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
    expectRow(rowOf(a.pe, 4999), 4999);
  });

  it('B-152 relPositionalEncoding on T = 4: [1, 7, dModel] window, first row position 3, middle 0, last −3', () => {
    const a = new RelPositionalEncodingAdapter({ dModel: 10 });
    expect(a.pe.shape).toEqual([1, 9999, 10]);
    const x = normal([2, 4, 10], 1, createRng(1));
    const [xs, window] = a.forward(x);
    expect(window.shape).toEqual([1, 7, 10]);
    for (let r = 0; r < 7; r++) expectRow(rowOf(window, r), 3 - r);
    expectClose(xs, x, 0);
    // The whole table runs from L − 1 down to −(L − 1).
    expectRow(rowOf(a.pe, 0), 4999);
    expectRow(rowOf(a.pe, 9998), -4999);
  });

  it('B-153 the positionalEncoding and relPositionalEncoding configs default to returnResult, like the classes', () => {
    for (const type of ['positionalEncoding', 'relPositionalEncoding']) {
      const cfg = parseAdapterConfig({ type, dModel: 8 }, 'test');
      expect(cfg).toEqual({
        type,
        enabled: true,
        dModel: 8,
        maxLen: 5000,
        xscale: 1,
        adapterStrategy: { type: 'returnResult' },
      });
      expect(defaultStrategyOf(type)).toEqual({ type: 'returnResult' });
      expect(buildAdapter({ type, dModel: 8 }).constructor).toBe(
        type === 'positionalEncoding' ? PositionalEncodingAdapter : RelPositionalEncodingAdapter,
      );
      expect((buildAdapter({ type, dModel: 8 }) as PositionalEncodingAdapter).adapterStrategy).toBeInstanceOf(
        ReturnResultStrategy,
      );
    }
    expect(new PositionalEncodingAdapter({ dModel: 8 }).adapterStrategy).toBeInstanceOf(ReturnResultStrategy);
    expect(new RelPositionalEncodingAdapter({ dModel: 8 }).adapterStrategy).toBeInstanceOf(
      ReturnResultStrategy,
    );
    // Through a host the pair comes back as is (no residual).
    const host = new PeHost();
    host.addAdapter('pe', { type: 'positionalEncoding', dModel: 8, maxLen: 16 });
    const x = normal([1, 3, 8], 1, createRng(2));
    const out = host.forward(x) as Tensor[];
    expect(Array.isArray(out)).toBe(true);
    expect(out.map((t) => t.shape)).toEqual([
      [1, 3, 8],
      [1, 3, 8],
    ]);
  });

  it('B-154 dModel: 7 → INVALID_CONFIG naming dModel and saying it must be even', () => {
    for (const make of [
      () => new PositionalEncodingAdapter({ dModel: 7 }),
      () => buildAdapter({ type: 'relPositionalEncoding', dModel: 7 }),
    ]) {
      const e = thrown(make);
      expect(e.code).toBe('INVALID_CONFIG');
      expect(e.message).toContain('dModel');
      expect(e.message).toContain('must be even');
      expect(e.message).toContain('7');
    }
  });

  it('B-155 maxLen 16 given T = 40 grows the table, returns correct rows, and the state dict is empty', () => {
    const x = normal([1, 40, 6], 1, createRng(3));
    const abs = new PositionalEncodingAdapter({ dModel: 6, maxLen: 16 });
    expect(abs.length).toBe(16);
    const [y, pos] = abs.forward(x);
    expect(abs.length).toBe(40);
    expect(abs.pe.shape).toEqual([1, 40, 6]);
    expect(pos.shape).toEqual([1, 40, 6]);
    for (const r of [0, 15, 16, 39]) expectRow(rowOf(pos, r), r);
    expectClose(y, tf.add(x, pos), 1e-6);
    expect(abs.stateDict().size).toBe(0);
    expect(abs.namedBuffers().map(([k]) => k)).toEqual(['pe']);
    expect(abs.namedBuffers({ persistentOnly: true })).toEqual([]);

    const rel = new RelPositionalEncodingAdapter({ dModel: 6, maxLen: 16 });
    const [, window] = rel.forward(x);
    expect(rel.length).toBe(40);
    expect(window.shape).toEqual([1, 79, 6]);
    for (const r of [0, 39, 78]) expectRow(rowOf(window, r), 39 - r);
    expect(rel.stateDict().size).toBe(0);
    // Same rows as a table built large from the start.
    const big = new RelPositionalEncodingAdapter({ dModel: 6, maxLen: 64 });
    expect(maxAbsDiff(big.forward(x)[1], window)).toBeLessThanOrEqual(1e-6);
  });
});

describe('positional-encoding adapters: options', () => {
  it('extendPe pre-sizes the table and never shrinks it', () => {
    const a = new RelPositionalEncodingAdapter({ dModel: 4, maxLen: 8 });
    a.extendPe(20);
    expect(a.pe.shape).toEqual([1, 39, 4]);
    a.extendPe(5);
    expect(a.pe.shape).toEqual([1, 39, 4]);
    expect(thrown(() => a.extendPe(0)).code).toBe('INVALID_INPUT');
    const b = new PositionalEncodingAdapter({ dModel: 4, maxLen: 8 });
    b.extendPe(9);
    expect(b.pe.shape).toEqual([1, 9, 4]);
  });

  it('xscale scales the input; null and 0 mean no scaling', () => {
    const x = normal([1, 3, 4], 1, createRng(4));
    const [y2, p2] = new PositionalEncodingAdapter({ dModel: 4, maxLen: 8, xscale: 2 }).forward(x);
    expectClose(y2, tf.add(tf.mul(x, 2), p2), 1e-6);
    for (const xscale of [null, 0]) {
      const a = new PositionalEncodingAdapter({ dModel: 4, maxLen: 8, xscale });
      expect(a.xscale).toBeNull();
      const [y, p] = a.forward(x);
      expectClose(y, tf.add(x, p), 0);
      const [xs] = new RelPositionalEncodingAdapter({ dModel: 4, maxLen: 8, xscale }).forward(x);
      expectClose(xs, x, 0);
    }
    expect(
      new RelPositionalEncodingAdapter({ dModel: 4, maxLen: 8, xscale: 3 }).forward(x)[0].dataSync()[0],
    ).toBeCloseTo(3 * x.dataSync()[0]!, 5);
  });

  it('rejects a wrong input and leaks no tensors', () => {
    const a = new PositionalEncodingAdapter({ dModel: 4, maxLen: 8 });
    const e = thrown(() => a.forward(tf.zeros([2, 3, 5])));
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.message).toContain('[B, T, 4]');
    const x = tf.zeros([2, 3, 4]);
    for (const m of [a, new RelPositionalEncodingAdapter({ dModel: 4, maxLen: 8 })]) {
      const before = tf.memory().numTensors;
      m.forward(x).forEach((t) => t.dispose());
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('sinusoidTable matches the float64 formula rounded to float32', () => {
    const t = sinusoidTable(100, 70, -1, 12);
    for (let r = 0; r < 70; r++) {
      const want = exactRow(100 - r, 12);
      for (let i = 0; i < 12; i++)
        expect(Math.abs(t[r * 12 + i]! - Math.fround(want[i]!))).toBeLessThanOrEqual(1e-7);
    }
  });
});
