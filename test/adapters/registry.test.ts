import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  AdapterModule,
  buildAdapter,
  configField,
  getAdapterTypeSchema,
  getStrategyTypeSchema,
  listAdapterTypes,
  listStrategyTypes,
  registerAdapterType,
  LinearAdapter,
  linearAdapterSchema,
  registerStrategyType,
  ReturnResultStrategy,
} from '../../src/adapters/index.js';
import { thrown } from '../helpers.js';

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
