import { beforeEach, describe, expect, it } from 'vitest';
import {
  LinearAdapter,
  registerAdapterType,
  linearAdapterSchema,
  withAdapters,
  withAttentionAdapters,
} from '../../src/adapters/index.js';
import { Module } from '../../src/nn/module.js';
import { AdapterHost, Host, cfgPre, makeX, seed } from '../fixtures/spec-models.js';
import { captureLogs, thrown } from '../helpers.js';

/** A host accepting only linear adapters by default (what NeMo's ConvASR blocks do). */
class ConvHost extends withAdapters(Host) {
  static override readonly typeName: string = 'ConvHost';
  override defaultAcceptedAdapterTypes() {
    return ['linear'];
  }
  override forward(x: import('../../src/backend/tf.js').Tensor) {
    return this.forwardEnabledAdapters(super.forward(x));
  }
}
class TransformerHost extends withAttentionAdapters(Host, { kind: 'transformer' }) {
  static override readonly typeName: string = 'TransformerHost';
}

class MockLinear1 extends LinearAdapter {
  static override readonly typeName: string = 'MockLinear1';
}
class MockLinear2 extends LinearAdapter {
  static override readonly typeName: string = 'MockLinear2';
}
class MockLinear1Sub extends MockLinear1 {
  static override readonly typeName: string = 'MockLinear1Sub';
}
registerAdapterType('mockLinear1', {
  ctor: MockLinear1,
  schema: linearAdapterSchema,
  defaultStrategy: { type: 'residualAdd' },
});
registerAdapterType('mockLinear2', {
  ctor: MockLinear2,
  schema: linearAdapterSchema,
  defaultStrategy: { type: 'residualAdd' },
});
registerAdapterType('mockLinear1Sub', {
  ctor: MockLinear1Sub,
  schema: linearAdapterSchema,
  defaultStrategy: { type: 'residualAdd' },
});

const mha = { type: 'multiHeadAttention', nHead: 2, nFeat: 50, dropoutRate: 0 };

beforeEach(() => seed());

describe('accepted adapter types (SPEC §2.5, §3.3)', () => {
  it('B-043 a host defaulting to [linear] reports exactly {linear} and accepts linear adapters', () => {
    const h = new ConvHost();
    expect([...h.getAcceptedAdapterTypes()]).toEqual(['linear']);
    const before = h.numParameters();
    h.addAdapter('a', cfgPre);
    expect(h.numParameters()).toBeGreaterThan(before);
  });

  it('B-044 setAcceptedAdapterTypes([]) resets to the defaults', () => {
    const h = new ConvHost();
    h.setAcceptedAdapterTypes(['mockLinear1']);
    expect([...h.getAcceptedAdapterTypes()]).toEqual(['mockLinear1']);
    h.setAcceptedAdapterTypes([]);
    expect([...h.getAcceptedAdapterTypes()]).toEqual(['linear']);
    h.addAdapter('a', cfgPre);
    expect(h.isAdapterAvailable()).toBe(true);
  });

  it('B-045 with [mockLinear1, MockLinear2] accepted, plain linear is TYPE_NOT_ACCEPTED listing both', () => {
    const h = new ConvHost();
    h.setAcceptedAdapterTypes(['mockLinear1', MockLinear2]);
    const err = thrown(() => h.addAdapter('a', cfgPre));
    expect(err.code).toBe('TYPE_NOT_ACCEPTED');
    expect(err.message).toContain("'linear'");
    expect(err.message).toContain('mockLinear1');
    expect(err.message).toContain('mockLinear2');
    expect(h.isAdapterAvailable()).toBe(false);
    h.addAdapter('b', { ...cfgPre, type: 'mockLinear2' });
    expect(h.getEnabledAdapters()).toEqual(['b']);
  });

  it('B-046 a subclass of an accepted type is accepted', () => {
    const h = new ConvHost();
    h.setAcceptedAdapterTypes(['mockLinear1']);
    h.addAdapter('a', { ...cfgPre, type: 'mockLinear1Sub' });
    expect(h.getEnabledAdapters()).toEqual(['a']);
    // and every linear subclass is accepted by the default [linear]
    const h2 = new ConvHost();
    h2.addAdapter('b', { ...cfgPre, type: 'mockLinear2' });
    expect(h2.getEnabledAdapters()).toEqual(['b']);
  });

  it('B-047 a non-module class is NOT_A_MODULE; an unknown type name is UNKNOWN_TYPE', () => {
    const h = new ConvHost();
    class NotAModule {}
    const e1 = thrown(() => h.setAcceptedAdapterTypes([NotAModule as never]));
    expect(e1.code).toBe('NOT_A_MODULE');
    expect(e1.message).toContain('NotAModule');
    expect(thrown(() => h.setAcceptedAdapterTypes(['noSuchType'])).code).toBe('UNKNOWN_TYPE');
    expect(() => h.setAcceptedAdapterTypes([Module as never])).not.toThrow();
  });

  it('B-048 narrowing the set after adding an attention adapter warns and skips it at forward', () => {
    const h = new AdapterHost();
    h.addAdapter('att', mha);
    h.addAdapter('lin', cfgPre);
    const { warnings } = captureLogs(() => h.setAcceptedAdapterTypes(['linear']));
    expect(warnings.some((w) => w.includes('att'))).toBe(true);
    expect(h.getEnabledAdapters()).toEqual(['lin']);
    expect(h.isAdapterAvailable()).toBe(true);
    expect(() => h.forward(makeX())).not.toThrow();
  });

  it('B-049 a convolutional host rejects a multiHeadAttention config', () => {
    const h = new ConvHost();
    expect(thrown(() => h.addAdapter('att', mha)).code).toBe('TYPE_NOT_ACCEPTED');
  });

  it('B-050 a transformer host rejects conformer attention and accepts linear and transformer attention', () => {
    const h = new TransformerHost();
    expect(thrown(() => h.addAdapter('att', mha)).code).toBe('TYPE_NOT_ACCEPTED');
    expect(() => h.checkSupportedAdapterType(cfgPre)).not.toThrow();
    expect(() =>
      h.checkSupportedAdapterType({
        type: 'transformerMultiHeadAttention',
        hiddenSize: 50,
        numAttentionHeads: 2,
      }),
    ).not.toThrow();
  });
});
