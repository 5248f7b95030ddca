/**
 * The module system (SPEC §2.2): registration and its name checks, the dotted-path walks, state
 * dicts and `loadStateDict`'s all-or-nothing checks, train/eval, freeze/unfreeze and parameter counts.
 */
import { describe, expect, it } from 'vitest';
import { AdapterError, Module, nn, tf } from '../../src/index.js';
import { thrown } from '../helpers.js';

/** `fc` (Linear 3→2), `inner` (a module holding `bn` BatchNorm1d(2) and a scale parameter), and two buffers. */
class Net extends Module {
  static override readonly typeName: string = 'Net';
  readonly fc: nn.Linear;
  readonly inner: Module;
  constructor() {
    super();
    this.fc = this.registerModule('fc', new nn.Linear({ inFeatures: 3, outFeatures: 2 }));
    this.inner = this.registerModule('inner', new Module());
    this.inner.registerModule('bn', new nn.BatchNorm1d({ features: 2 }));
    this.inner.registerParameter('scale', tf.ones([2]));
    this.registerBuffer('steps', tf.scalar(0, 'int32'));
    this.registerBuffer('cache', tf.zeros([4]), { persistent: false });
  }
}

const keysOf = (pairs: Array<[string, unknown]>) => pairs.map(([k]) => k);
const valuesOf = (t: tf.Tensor) => Array.from(t.dataSync());

describe('Module registration', () => {
  it('names must be non-empty, without a dot and unused among parameters, buffers and children → INVALID_NAME', () => {
    const m = new Net();
    const before = m.stateDict().size;
    for (const [name, register] of [
      ['', () => m.registerParameter('', tf.zeros([1]))],
      ['a.b', () => m.registerModule('a.b', new Module())],
      ['fc', () => m.registerParameter('fc', tf.zeros([1]))],
      ['steps', () => m.registerModule('steps', new Module())],
      ['inner', () => m.registerBuffer('inner', tf.zeros([1]))],
    ] as const) {
      const err = thrown(register);
      expect(err.code).toBe('INVALID_NAME');
      expect(err.message).toContain(JSON.stringify(name).slice(1, -1));
      expect(err.message).toContain('Net');
    }
    // A failed registration leaves the module unchanged.
    expect(m.stateDict().size).toBe(before);
    m.dispose();
  });

  it('registerModule rejects what is not a Module with NOT_A_MODULE', () => {
    const m = new Module();
    expect(thrown(() => m.registerModule('x', {} as Module)).code).toBe('NOT_A_MODULE');
    expect(m.namedChildren()).toEqual([]);
  });

  it('a plain tensor becomes a trainable Variable; a Variable is used as is', () => {
    const m = new Module();
    const v = tf.variable(tf.zeros([2]), false);
    expect(m.registerParameter('given', v)).toBe(v);
    const made = m.registerParameter('made', tf.ones([2]));
    expect(made).toBeInstanceOf(tf.Variable);
    expect(made.trainable).toBe(true);
    expect(m.getParameter('given')).toBe(v);
    m.dispose();
  });

  it('typeName comes from the class; forward must be implemented (INVALID_INPUT naming the class)', () => {
    const m = new Net();
    expect(m.typeName).toBe('Net');
    expect(new Module().typeName).toBe('Module');
    const err = thrown(() => m.forward());
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toContain('Net');
    m.dispose();
  });
});

describe('Module walks', () => {
  it('namedModules, namedParameters and namedBuffers are depth-first pre-order with dotted paths; the root is ""', () => {
    const m = new Net();
    expect(keysOf(m.namedModules())).toEqual(['', 'fc', 'inner', 'inner.bn']);
    expect(keysOf(m.namedChildren())).toEqual(['fc', 'inner']);
    expect(keysOf(m.namedParameters())).toEqual([
      'fc.weight',
      'fc.bias',
      'inner.scale',
      'inner.bn.weight',
      'inner.bn.bias',
    ]);
    expect(keysOf(m.namedBuffers())).toEqual([
      'steps',
      'cache',
      'inner.bn.running_mean',
      'inner.bn.running_var',
      'inner.bn.num_batches_tracked',
    ]);
    expect(keysOf(m.namedBuffers({ persistentOnly: true }))).not.toContain('cache');
    m.dispose();
  });

  it('a shared parameter or module is listed once and counted once', () => {
    const shared = new nn.Linear({ inFeatures: 2, outFeatures: 2 });
    const m = new Module();
    m.registerModule('a', shared);
    m.registerModule('b', shared);
    const tied = new Module();
    tied.registerParameter('w', shared.weight);
    m.registerModule('tied', tied);
    expect(keysOf(m.namedModules())).toEqual(['', 'a', 'tied']);
    expect(keysOf(m.namedParameters())).toEqual(['a.weight', 'a.bias']);
    expect(m.numParameters()).toBe(6);
    m.dispose();
  });

  it('stateDict holds parameters and persistent buffers (live tensors), not non-persistent ones', () => {
    const m = new Net();
    const sd = m.stateDict();
    expect([...sd.keys()]).toEqual([
      'steps',
      'fc.weight',
      'fc.bias',
      'inner.scale',
      'inner.bn.weight',
      'inner.bn.bias',
      'inner.bn.running_mean',
      'inner.bn.running_var',
      'inner.bn.num_batches_tracked',
    ]);
    expect(sd.get('fc.weight')).toBe(m.fc.weight);
    m.dispose();
  });
});

describe('Module.loadStateDict', () => {
  /** A state dict for Net whose every value is `v` (with the dtypes of the target). */
  function filled(m: Module, v: number): Map<string, tf.Tensor> {
    return new Map([...m.stateDict()].map(([k, t]) => [k, tf.fill(t.shape, v, t.dtype)]));
  }

  it('copies every value, casting to the target dtype; a plain object works too', () => {
    const m = new Net();
    const sd = filled(m, 2);
    sd.set('steps', tf.scalar(7, 'float32'));
    expect(m.loadStateDict(sd)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(valuesOf(m.fc.weight)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(m.getBuffer('steps')!.dtype).toBe('int32');
    expect(valuesOf(m.getBuffer('steps')!)).toEqual([7]);
    m.loadStateDict(Object.fromEntries(filled(m, 3)));
    expect(valuesOf(m.inner.getParameter('scale')!)).toEqual([3, 3]);
    m.dispose();
  });

  it('strict: missing and unexpected keys → STATE_DICT_MISMATCH listing both, and nothing is copied', () => {
    const m = new Net();
    const sd = filled(m, 5);
    sd.delete('fc.bias');
    sd.set('fc.extra', tf.zeros([1]));
    const err = thrown(() => m.loadStateDict(sd));
    expect(err).toBeInstanceOf(AdapterError);
    expect(err.code).toBe('STATE_DICT_MISMATCH');
    expect(err.message).toContain('missing keys: fc.bias');
    expect(err.message).toContain('unexpected keys: fc.extra');
    expect(err.details).toMatchObject({ missingKeys: ['fc.bias'], unexpectedKeys: ['fc.extra'] });
    expect(valuesOf(m.fc.weight)).not.toContain(5);
    // Non-strict: the rest is copied and the differences are returned.
    expect(m.loadStateDict(sd, { strict: false })).toEqual({
      missingKeys: ['fc.bias'],
      unexpectedKeys: ['fc.extra'],
    });
    expect(valuesOf(m.fc.weight)).toEqual([5, 5, 5, 5, 5, 5]);
    m.dispose();
  });

  it('a shape mismatch is an error naming the key and both shapes, strict or not, and nothing is copied', () => {
    const m = new Net();
    const sd = filled(m, 4);
    sd.set('fc.weight', tf.zeros([3, 2]));
    for (const strict of [true, false]) {
      const err = thrown(() => m.loadStateDict(sd, { strict }));
      expect(err.code).toBe('STATE_DICT_MISMATCH');
      expect(err.message).toContain("'fc.weight'");
      expect(err.message).toContain('[3, 2]');
      expect(err.message).toContain('[2, 3]');
      expect(valuesOf(m.inner.getParameter('scale')!)).toEqual([1, 1]);
    }
    m.dispose();
  });

  it('a value that is not a tensor → STATE_DICT_MISMATCH naming the key', () => {
    const m = new Net();
    const sd: Record<string, tf.Tensor> = Object.fromEntries(filled(m, 1));
    sd['inner.scale'] = [1, 2] as unknown as tf.Tensor;
    const err = thrown(() => m.loadStateDict(sd));
    expect(err.code).toBe('STATE_DICT_MISMATCH');
    expect(err.message).toContain('inner.scale');
    m.dispose();
  });
});

describe('Module modes and freezing', () => {
  it('a new module trains; train(false) and eval() are recursive', () => {
    const m = new Net();
    expect(m.namedModules().every(([, x]) => x.training)).toBe(true);
    m.eval();
    expect(m.namedModules().some(([, x]) => x.training)).toBe(false);
    m.train();
    expect(m.inner.getChild('bn')!.training).toBe(true);
    m.dispose();
  });

  it("inEvalMode runs in eval and restores each module's own mode, also when the function throws", () => {
    const m = new Net();
    m.fc.eval();
    expect(m.inEvalMode(() => m.namedModules().map(([, x]) => x.training))).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(m.namedModules().map(([, x]) => x.training)).toEqual([true, false, true, true]);
    expect(() =>
      m.inEvalMode(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(m.namedModules().map(([, x]) => x.training)).toEqual([true, false, true, true]);
    m.dispose();
  });

  it('freeze makes every parameter untrainable and switches to eval; unfreeze undoes both', () => {
    const m = new Net();
    m.freeze();
    expect(m.trainableParameters()).toEqual([]);
    expect(m.numParameters({ trainableOnly: true })).toBe(0);
    expect(m.training).toBe(false);
    m.unfreeze();
    expect(m.trainableParameters()).toHaveLength(5);
    expect(m.namedModules().every(([, x]) => x.training)).toBe(true);
    m.dispose();
  });

  it('unfreeze({partial: true}) restores only what freeze froze', () => {
    const m = new Net();
    m.inner.getParameter('scale')!.trainable = false;
    m.freeze();
    m.unfreeze({ partial: true });
    expect(m.inner.getParameter('scale')!.trainable).toBe(false);
    expect(m.fc.weight.trainable).toBe(true);
    expect(m.numParameters()).toBe(6 + 2 + 2 + 2 + 2);
    expect(m.numParameters({ trainableOnly: true })).toBe(6 + 2 + 2 + 2);
    m.dispose();
  });

  it('dispose frees every variable and buffer of the subtree', () => {
    const start = tf.memory().numTensors;
    const m = new Net();
    expect(tf.memory().numTensors).toBeGreaterThan(start);
    m.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
