import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  configField,
  describeConfigSchema,
  getAdapterTypeSchema,
  getStrategyTypeSchema,
  getWrapperTypeSchema,
  ia3ConfigSchema,
  linearAdapterSchema,
  listAdapterTypes,
  listStrategyTypes,
  loraConfigSchema,
  parseAdapterConfig,
  parseConfig,
  parseLoraConfig,
  type LinearAdapterConfig,
  type LinearAdapterOptions,
  type LoraConfig,
  type NormalizedIa3Config,
  type NormalizedLoraConfig,
  type StrategyConfig,
} from '../../src/adapters/index.js';
import {
  adapterConfigSchema,
  parseAdapterOptions,
  type AdapterFields,
} from '../../src/adapters/config-schema.js';
import { thrown } from '../helpers.js';

const demoSchema = z.strictObject({
  type: configField.string(),
  size: configField.positiveInt(),
  rate: configField.probability().default(0.5),
  mode: configField.enum(['fast', 'exact']).default('fast'),
  scale: configField.number().nullable().default(null),
  strategy: configField.strategy().nullable().default(null),
  plain: z.enum(['a', 'b']).optional(),
  flag: z.literal(true).default(true),
  tags: z.array(z.string()).default([]),
});

describe('config schemas: introspection read from the zod schema', () => {
  it('kind, required, default, choices and nullable come from the field builders and zod wrappers', () => {
    expect(describeConfigSchema(demoSchema)).toEqual({
      fields: {
        type: { kind: 'string', required: true },
        size: { kind: 'positiveInt', required: true },
        rate: { kind: 'probability', required: false, default: 0.5 },
        mode: { kind: 'enum', required: false, default: 'fast', choices: ['fast', 'exact'] },
        scale: { kind: 'number', required: false, default: null, nullable: true },
        strategy: { kind: 'strategy', required: false, default: null, nullable: true },
        plain: { kind: 'enum', required: false, choices: ['a', 'b'] },
        flag: { kind: 'enum', required: false, default: true, choices: [true] },
        tags: { kind: 'any', required: false, default: [] },
      },
    });
    // Declaration order is kept: the CLI lists fields in it.
    expect(Object.keys(describeConfigSchema(demoSchema).fields)).toEqual(Object.keys(demoSchema.shape));
  });

  it('every registered type describes exactly its schema, and each default is what parsing writes out', () => {
    for (const t of listAdapterTypes()) {
      const d = getAdapterTypeSchema(t);
      const required: Record<string, unknown> = { type: t };
      for (const [k, f] of Object.entries(d.fields))
        if (f.required && k !== 'type') required[k] = f.kind === 'enum' ? f.choices![0] : 2;
      if (t.includes('ositional')) required.dModel = 4;
      if (t === 'mam') Object.assign(required, { prefix: { numVirtualTokens: 2 }, ffn: { dim: 2 } }); // nested parts
      const parsed = parseAdapterConfig(required, 'test') as Record<string, unknown>;
      expect(Object.keys(parsed), t).toEqual(Object.keys(d.fields));
      for (const [k, f] of Object.entries(d.fields)) {
        if (f.required || k === 'adapterStrategy') continue;
        expect(parsed[k], `${t}.${k}`).toEqual(f.default);
      }
    }
    for (const t of listStrategyTypes())
      expect(getStrategyTypeSchema(t).fields.type).toEqual({ kind: 'string', required: true });
    const lora = parseLoraConfig({ type: 'lora' });
    for (const [k, f] of Object.entries(getWrapperTypeSchema('lora').fields)) {
      if (!f.required) expect(lora[k as keyof NormalizedLoraConfig], `lora.${k}`).toEqual(f.default);
    }
    expect(getWrapperTypeSchema('lora').fields.initLoraWeights).toEqual({
      kind: 'enum',
      required: false,
      default: true,
      choices: [true, false, 'gaussian', 'xavierUniform', 'xavierNormal'],
    });
    expect(getWrapperTypeSchema('ia3').fields.type).toEqual({
      kind: 'enum',
      required: true,
      choices: ['ia3'],
    });
    expect(Object.keys(getWrapperTypeSchema('ia3').fields)).toEqual(Object.keys(ia3ConfigSchema.shape));
  });
});

describe('config schemas: parseConfig errors', () => {
  it('reports every bad field at once in one INVALID_CONFIG naming the field, the value and what is allowed', () => {
    const err = thrown(() =>
      parseConfig(
        demoSchema,
        { type: 'x', size: 0, rate: 1.5, mode: 'slow', scale: 'big', extra: 1 },
        'demo',
      ),
    );
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toMatch(/^demo: /);
    expect(err.message).toContain("field 'size' must be an integer ≥ 1, got 0");
    expect(err.message).toContain("field 'rate' must be a probability in [0, 1], got 1.5");
    expect(err.message).toContain('field \'mode\' must be one of: fast, exact, got "slow"');
    expect(err.message).toContain('field \'scale\' must be a finite number or null, got "big"');
    expect(err.message).toContain(
      "unknown field 'extra'; valid fields: type, size, rate, mode, scale, strategy, plain, flag, tags",
    );
    expect(err.details).toMatchObject({ fields: Object.keys(demoSchema.shape) });
  });

  it('names a missing required field with its accepted values, and accepts null only where the schema says nullable', () => {
    expect(thrown(() => parseConfig(demoSchema, { type: 'x' }, 'demo')).message).toContain(
      "missing required field 'size' (an integer ≥ 1)",
    );
    expect(
      thrown(() => parseConfig(demoSchema, { type: 'x', size: 1, rate: null }, 'demo')).message,
    ).toContain("field 'rate' must be a probability in [0, 1], got null");
    expect(parseConfig(demoSchema, { type: 'x', size: 1, scale: null }, 'demo').scale).toBeNull();
  });

  it('undefined means "use the default"; defaults are fresh copies and the caller\'s object is untouched', () => {
    const input = { type: 'x', size: 3, rate: undefined };
    const a = parseConfig(demoSchema, input, 'demo');
    const b = parseConfig(demoSchema, input, 'demo');
    expect(a).toEqual({
      type: 'x',
      size: 3,
      rate: 0.5,
      mode: 'fast',
      scale: null,
      strategy: null,
      flag: true,
      tags: [],
    });
    expect(a.tags).not.toBe(b.tags);
    expect(input).toEqual({ type: 'x', size: 3, rate: undefined });
    const l1 = parseLoraConfig({ type: 'lora' });
    const l2 = parseLoraConfig({ type: 'lora' });
    l1.rankPattern.x = 4;
    expect(l2.rankPattern).toEqual({});
  });
});

describe('config schemas: inferred types', () => {
  it('the input type leaves defaulted fields optional; the normalised type has every field filled', () => {
    expectTypeOf<LoraConfig['r']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<NormalizedLoraConfig['r']>().toEqualTypeOf<number>();
    expectTypeOf<NormalizedLoraConfig['targetModules']>().toEqualTypeOf<string | string[] | null>();
    expectTypeOf<NormalizedIa3Config['initIa3Weights']>().toEqualTypeOf<boolean>();
    expectTypeOf<LinearAdapterConfig['type']>().toEqualTypeOf<'linear'>();
    expectTypeOf<LinearAdapterConfig['adapterStrategy']>().toEqualTypeOf<StrategyConfig | null | undefined>();
    expectTypeOf<LinearAdapterOptions['inFeatures']>().toEqualTypeOf<number>();
    expectTypeOf<z.output<typeof linearAdapterSchema>['activation']>().toEqualTypeOf<
      'identity' | 'hardtanh' | 'relu' | 'selu' | 'swish' | 'silu' | 'gelu'
    >();
    // The runtime agrees with the types: a parsed config carries every key of the normalised form.
    const parsed: NormalizedLoraConfig = parseLoraConfig({ type: 'lora', r: 4 });
    expect(Object.keys(parsed)).toEqual(Object.keys(loraConfigSchema.shape));
    expect(parsed.r).toBe(4);
  });
});

describe('adapterConfigSchema', () => {
  const schema = adapterConfigSchema({
    inFeatures: configField.positiveInt(),
    rate: configField.probability().default(0),
  });

  it('puts type and enabled first and adapterStrategy last around the fields, with their defaults', () => {
    expect(Object.keys(schema.shape)).toEqual(['type', 'enabled', 'inFeatures', 'rate', 'adapterStrategy']);
    expect(parseConfig(schema, { type: 'demo', inFeatures: 4 }, 'demo')).toEqual({
      type: 'demo',
      enabled: true,
      inFeatures: 4,
      rate: 0,
      adapterStrategy: null,
    });
    expectTypeOf<AdapterFields<typeof schema>>().toEqualTypeOf<{
      inFeatures: number;
      rate?: number | undefined;
    }>();
  });

  it('parseAdapterOptions checks constructor options without the strategy and random source', () => {
    const options = { inFeatures: 4, adapterStrategy: { type: 'residualAdd' }, rng: Math };
    expect(parseAdapterOptions(schema, 'demo', options, 'Demo')).toMatchObject({
      type: 'demo',
      inFeatures: 4,
      adapterStrategy: null,
    });
    const bad = { inFeatures: 0 };
    const err = thrown(() => parseAdapterOptions(schema, 'demo', bad, 'Demo'));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain("Demo: field 'inFeatures' must be an integer ≥ 1, got 0");
  });
});
