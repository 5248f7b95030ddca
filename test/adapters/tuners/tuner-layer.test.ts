import { describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import { ParameterDict, assignCast, f32 } from '../../../src/adapters/tuners/tuner-layer.js';

describe('tuner layer helpers', () => {
  it('ParameterDict sets, gets, lists and deletes (freeing) named parameters', () => {
    const d = new ParameterDict();
    const a = d.set('a', tf.ones([2]));
    d.set('b', tf.zeros([3]));
    expect(d.keys()).toEqual(['a', 'b']);
    expect(d.get('a')).toBe(a);
    expect(d.has('b')).toBe(true);
    d.delete('a');
    expect(d.has('a')).toBe(false);
    expect(d.get('a')).toBeUndefined();
    expect(a.isDisposed).toBe(true);
    expect(d.keys()).toEqual(['b']);
  });

  it("assignCast writes a float32 value into the variable's own dtype and disposes the value", () => {
    const v = tf.variable(tf.zeros([2], 'int32'));
    const value = tf.tensor1d([1.0, 2.0]);
    assignCast(v, value);
    expect(v.dtype).toBe('int32');
    expect([...v.dataSync()]).toEqual([1, 2]);
    expect(value.isDisposed).toBe(true);
    v.dispose();
  });

  it('f32 returns a float32 tensor as is and casts others', () => {
    const x = tf.ones([2]);
    expect(f32(x)).toBe(x);
    const i = tf.ones([2], 'int32');
    const c = f32(i);
    expect(c.dtype).toBe('float32');
    expect([...c.dataSync()]).toEqual([1, 1]);
    tf.dispose([x, i, c]);
  });
});
