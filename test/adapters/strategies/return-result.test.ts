import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { AdapterModule, ReturnResultStrategy } from '../../../src/adapters/index.js';

describe('returnResult strategy (SPEC §2.8, §3.4)', () => {
  it('B-056 returnResult passes a tensor, spreads an array, passes an object whole, with no residual', () => {
    const calls: unknown[][] = [];
    class Recorder extends AdapterModule {
      override forward(...args: unknown[]): Tensor {
        calls.push(args);
        return tf.scalar(7);
      }
    }
    const r = new Recorder();
    const s = new ReturnResultStrategy();
    const a = tf.scalar(1);
    const b = tf.scalar(2);
    expect((s.forward(a, r, { module: r }) as Tensor).dataSync()[0]).toBe(7);
    s.forward([a, b], r, { module: r });
    const obj = { query: a, key: b };
    s.forward(obj, r, { module: r });
    expect(calls[0]).toEqual([a]);
    expect(calls[1]).toEqual([a, b]);
    expect(calls[2]).toEqual([obj]);
  });
});
