import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  AdapterModule,
  buildAdapter,
  configField,
  getAdapterTypeSchema,
  getRegisteredAdapter,
  getStrategyTypeSchema,
  listAdapterTypes,
  listStrategyTypes,
  registerAdapter,
  registerAdapterType,
  updateModuleClassWithAdapterClass,
  LinearAdapter,
  linearAdapterSchema,
  registerStrategyType,
  ReturnResultStrategy,
} from '../../src/adapters/index.js';
import { Module } from '../../src/nn/module.js';
import { AdapterHost, Host, makeX, seed } from '../fixtures/spec-models.js';
import { meanAbsDiff, thrown } from '../helpers.js';

describe('adapter class registry (SPEC §2.4)', () => {
  it('B-001 getRegisteredAdapter by base type name returns the registered pair', () => {
    const rec = getRegisteredAdapter('Host')!;
    expect(rec.baseClass).toBe(Host);
    expect(rec.adapterClass).toBe(AdapterHost);
    expect(rec.baseTypeName).toBe('Host');
    expect(rec.adapterTypeName).toBe('AdapterHost');
  });

  it('B-002 getRegisteredAdapter by base class returns the same record', () => {
    expect(getRegisteredAdapter(Host)).toBe(getRegisteredAdapter('Host'));
  });

  it('B-003 getRegisteredAdapter by adapter class maps back to the base', () => {
    const rec = getRegisteredAdapter(AdapterHost)!;
    expect(rec).toBe(getRegisteredAdapter('Host'));
    expect(rec.baseClass).toBe(Host);
  });

  it('B-004 an unregistered class or name returns undefined', () => {
    class Other extends Module {
      static override readonly typeName: string = 'Other';
    }
    expect(getRegisteredAdapter(Other)).toBeUndefined();
    expect(getRegisteredAdapter('Other')).toBeUndefined();
  });

  it('B-005 a second adapter class for Host throws REGISTRY_CONFLICT naming Host', () => {
    class AdapterHost2 extends AdapterHost {
      static override readonly typeName: string = 'AdapterHost2';
    }
    const err = thrown(() => registerAdapter(Host, AdapterHost2));
    expect(err.code).toBe('REGISTRY_CONFLICT');
    expect(err.message).toContain('Host');
    expect(getRegisteredAdapter(Host)!.adapterClass).toBe(AdapterHost);
  });

  it('B-006 an adapter class that does not extend the base throws REGISTRY_CONFLICT naming both', () => {
    class Base2 extends Module {
      static override readonly typeName: string = 'Base2';
    }
    class NotASubclass extends Module {
      static override readonly typeName: string = 'NotASubclass';
    }
    const err = thrown(() => registerAdapter(Base2, NotASubclass));
    expect(err.code).toBe('REGISTRY_CONFLICT');
    expect(err.message).toContain('Base2');
    expect(err.message).toContain('NotASubclass');
    expect(getRegisteredAdapter(Base2)).toBeUndefined();
  });

  it('B-007 updateModuleClassWithAdapterClass swaps the class in place and rewrites config types', () => {
    seed();
    const h = new Host();
    h.eval();
    const x = makeX();
    const before = h.forward(x);
    const sdBefore = [...h.stateDict().keys()];
    const cfg = { type: 'Host', nested: { inner: [{ type: 'Host' }, { type: 'Other' }] } };
    updateModuleClassWithAdapterClass(h, cfg);
    expect(h).toBeInstanceOf(AdapterHost);
    expect([...h.stateDict().keys()]).toEqual(sdBefore);
    expect(meanAbsDiff(h.forward(x), before)).toBe(0);
    expect(cfg).toEqual({
      type: 'AdapterHost',
      nested: { inner: [{ type: 'AdapterHost' }, { type: 'Other' }] },
    });
    expect(h.training).toBe(false);

    const h2 = new Host();
    const cfg2 = { type: 'Host' };
    updateModuleClassWithAdapterClass(h2, cfg2, { updateConfig: false });
    expect(h2).toBeInstanceOf(AdapterHost);
    expect(cfg2).toEqual({ type: 'Host' });

    const host = new AdapterHost();
    const proto = Object.getPrototypeOf(host);
    const cfg3 = { type: 'Host' };
    updateModuleClassWithAdapterClass(host, cfg3);
    expect(Object.getPrototypeOf(host)).toBe(proto);
    expect(cfg3).toEqual({ type: 'Host' });
  });
});

describe('type registry (SPEC §2.3)', () => {
  it('B-008 every built-in type is listed and has a schema', () => {
    const adapters = listAdapterTypes();
    for (const t of [
      'linear',
      'multiHeadAttention',
      'relPositionMultiHeadAttention',
      'transformerMultiHeadAttention',
      'positionalEncoding',
      'relPositionalEncoding',
      'infused',
    ]) {
      expect(adapters).toContain(t);
      expect(Object.keys(getAdapterTypeSchema(t).fields)).toContain('type');
    }
    for (const t of ['residualAdd', 'mhaResidualAdd', 'returnResult']) {
      expect(listStrategyTypes()).toContain(t);
      expect(getStrategyTypeSchema(t).fields.type).toBeDefined();
    }
    const err = thrown(() => getAdapterTypeSchema('nope'));
    expect(err.code).toBe('UNKNOWN_TYPE');
    expect(err.message).toContain('linear');
  });

  it('B-009 registering linear a second time throws REGISTRY_CONFLICT naming linear', () => {
    const err = thrown(() =>
      registerAdapterType('linear', {
        ctor: LinearAdapter,
        schema: linearAdapterSchema,
        defaultStrategy: { type: 'residualAdd' },
      }),
    );
    expect(err.code).toBe('REGISTRY_CONFLICT');
    expect(err.message).toContain("'linear'");
  });
});

describe('registering a type with a zod schema', () => {
  class ScaleAdapter extends AdapterModule {
    static override readonly typeName: string = 'ScaleAdapter';
    readonly factor: number;
    constructor(opts: { factor?: number }) {
      super({});
      this.factor = opts.factor ?? 1;
      this.setupAdapterStrategy({ type: 'returnResult' });
    }
  }

  it('a registered schema is checked on build and read by getAdapterTypeSchema; a non-strict object still rejects unknown fields', () => {
    registerAdapterType('scaleDemo', {
      ctor: ScaleAdapter,
      // z.object (not strictObject): the registry makes it strict, so no field is dropped silently.
      schema: z.object({
        type: configField.string(),
        enabled: configField.boolean().default(true),
        factor: configField.nonNegative().default(2),
      }),
      defaultStrategy: { type: 'returnResult' },
    });
    expect(getAdapterTypeSchema('scaleDemo').fields.factor).toEqual({
      kind: 'nonNegative',
      required: false,
      default: 2,
    });
    expect((buildAdapter({ type: 'scaleDemo' }) as ScaleAdapter).factor).toBe(2);
    const bad = thrown(() => buildAdapter({ type: 'scaleDemo', factor: -1, fctor: 3 }));
    expect(bad.code).toBe('INVALID_CONFIG');
    expect(bad.message).toContain("field 'factor' must be a number ≥ 0, got -1");
    expect(bad.message).toContain("unknown field 'fctor'; valid fields: type, enabled, factor");
  });

  it('a schema that is not a zod object, or lacks type/enabled, is REGISTRY_CONFLICT and registers nothing', () => {
    const notZod = thrown(() =>
      registerAdapterType('notZodDemo', {
        ctor: ScaleAdapter,
        schema: { fields: {} } as never,
        defaultStrategy: { type: 'returnResult' },
      }),
    );
    expect(notZod.code).toBe('REGISTRY_CONFLICT');
    expect(notZod.message).toContain('zod object schema');
    const noEnabled = thrown(() =>
      registerAdapterType('noEnabledDemo', {
        ctor: ScaleAdapter,
        schema: z.strictObject({ type: configField.string() }),
        defaultStrategy: { type: 'returnResult' },
      }),
    );
    expect(noEnabled.code).toBe('REGISTRY_CONFLICT');
    expect(noEnabled.message).toContain("no 'enabled' field");
    const noType = thrown(() =>
      registerStrategyType('noTypeDemo', { ctor: ReturnResultStrategy, schema: z.strictObject({}) }),
    );
    expect(noType.code).toBe('REGISTRY_CONFLICT');
    expect(noType.message).toContain("no 'type' field");
    expect(listAdapterTypes()).not.toContain('notZodDemo');
    expect(listAdapterTypes()).not.toContain('noEnabledDemo');
    expect(listStrategyTypes()).not.toContain('noTypeDemo');
  });
});
