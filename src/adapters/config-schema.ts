/**
 * Config schemas are zod schemas. This file holds what every config shares:
 *
 * - field builders ({@link configField}) that tag a zod type with its kind and the wording of the
 *   values it accepts, so error messages and introspection read the same source as the validator;
 * - {@link parseConfig}, which validates and turns zod issues into one `INVALID_CONFIG` naming each
 *   field, its value and the allowed range or choices;
 * - {@link describeConfigSchema}, the `{fields: {name: {kind, required, default, choices, nullable}}}`
 *   view that `getAdapterTypeSchema` and the CLI show, derived by walking the schema itself.
 *
 * Defaults, optionality and nullability are plain zod (`.default(…)`, `.nullable()`), and the config
 * types are inferred (`z.input` for what callers write, `z.output` for the normalised form).
 */
import { z } from 'zod';
import { AdapterError } from '../errors.js';
import type { StrategyConfig } from './types.js';

export type FieldKind =
  | 'positiveInt'
  | 'int'
  | 'probability'
  | 'nonNegative'
  | 'number'
  | 'enum'
  | 'boolean'
  | 'strategy'
  | 'string'
  | 'any';

/** What `getAdapterTypeSchema(name).fields[field]` reports. */
export interface FieldDescription {
  kind: FieldKind;
  required: boolean;
  default?: unknown;
  choices?: readonly (string | number | boolean)[];
  nullable?: boolean;
}

/** The introspectable description of a config schema (no zod types). */
export interface TypeSchema {
  fields: Record<string, FieldDescription>;
}

/** A config schema: a zod object whose keys are the config's fields. */
export type ConfigObjectSchema = z.ZodObject<z.core.$ZodShape, z.core.$ZodObjectConfig>;

/** What a field builder records about its zod type. */
interface FieldInfo {
  kind: FieldKind;
  /** Human wording of the accepted values, used in error messages. */
  expects: string;
  choices?: readonly (string | number | boolean)[];
}

/** Field kinds and wordings, keyed by the (innermost) zod type of each field. */
const fieldInfo = z.registry<FieldInfo>();

function tag<T extends z.ZodType>(schema: T, info: FieldInfo): T {
  fieldInfo.add(schema, info);
  return schema;
}

/**
 * Field builders: each returns a zod type tagged with its kind. Chain `.nullable()` and
 * `.default(value)` as usual; a field with a default is optional and `undefined` means "use it".
 *
 * @example
 * ```ts
 * const mySchema = z.strictObject({
 *   type: configField.string(),
 *   enabled: configField.boolean().default(true),
 *   inFeatures: configField.positiveInt(),
 *   dropout: configField.probability().default(0),
 * });
 * ```
 */
export const configField = {
  positiveInt: () => tag(z.number().int().min(1), { kind: 'positiveInt', expects: 'an integer ≥ 1' }),
  int: () => tag(z.number().int(), { kind: 'int', expects: 'an integer' }),
  probability: () =>
    tag(z.number().min(0).max(1), { kind: 'probability', expects: 'a probability in [0, 1]' }),
  nonNegative: () => tag(z.number().min(0), { kind: 'nonNegative', expects: 'a number ≥ 0' }),
  number: () => tag(z.number(), { kind: 'number', expects: 'a finite number' }),
  enum: <const T extends readonly [string, ...string[]]>(choices: T) =>
    tag(z.enum(choices), { kind: 'enum', expects: `one of: ${choices.join(', ')}`, choices }),
  boolean: () => tag(z.boolean(), { kind: 'boolean', expects: 'true or false' }),
  string: () => tag(z.string(), { kind: 'string', expects: 'a string' }),
  /** A nested strategy config, checked afterwards by the strategy registry. */
  strategy: () => tag(z.custom<StrategyConfig>(), { kind: 'strategy', expects: 'a strategy config object' }),
  /** Any other zod type, described by the caller's words (and its choices, for a closed set). */
  custom: <T extends z.ZodType>(
    schema: T,
    expects: string,
    options: { kind?: FieldKind; choices?: FieldInfo['choices'] } = {},
  ) =>
    tag(schema, {
      kind: options.kind ?? 'any',
      expects,
      ...(options.choices ? { choices: options.choices } : {}),
    }),
};

/**
 * The schema of a NeMo-style adapter type: `type`, `enabled` (default true), the type's own `fields`,
 * then `adapterStrategy` (default null: the type's default strategy), in the order stored configs keep.
 *
 * @example
 * ```ts
 * export const infusedAdapterSchema = adapterConfigSchema({ inFeatures: configField.positiveInt() });
 * ```
 */
export function adapterConfigSchema<const F extends z.core.$ZodLooseShape>(fields: F) {
  return z.strictObject({
    type: configField.string(),
    /** Default true. */
    enabled: configField.boolean().default(true),
    ...fields,
    /** Default null: the adapter type's default strategy. */
    adapterStrategy: configField.strategy().nullable().default(null),
  });
}

/** The fields an adapter class's constructor takes besides the strategy and the random source. */
export type AdapterFields<S extends z.ZodType> = Omit<z.input<S>, 'type' | 'enabled' | 'adapterStrategy'>;

/**
 * Checks an adapter constructor's options with its type's `schema` (see {@link parseConfig}); the
 * strategy and the random source are not config fields and are left out.
 */
export function parseAdapterOptions<S extends ConfigObjectSchema, O extends object>(
  schema: S,
  type: string,
  options: O & { adapterStrategy?: unknown; rng?: unknown },
  where: string,
): z.output<S> {
  const { adapterStrategy: _strategy, rng: _rng, ...fields } = options;
  return parseConfig(schema, { type, ...fields }, where);
}

/** A field unwrapped down to its value type, with what the wrappers said. */
interface UnwrappedField {
  leaf: z.core.$ZodType;
  required: boolean;
  nullable: boolean;
  hasDefault: boolean;
  default: unknown;
}

function unwrap(schema: z.core.$ZodType): UnwrappedField {
  const out: UnwrappedField = {
    leaf: schema,
    required: true,
    nullable: false,
    hasDefault: false,
    default: undefined,
  };
  let cur: z.core.$ZodType = schema;
  for (;;) {
    if (cur instanceof z.ZodDefault) {
      if (!out.hasDefault) {
        out.hasDefault = true;
        out.default = cur.def.defaultValue;
      }
      out.required = false;
      cur = cur.unwrap();
    } else if (cur instanceof z.ZodOptional) {
      out.required = false;
      cur = cur.unwrap();
    } else if (cur instanceof z.ZodNullable) {
      out.nullable = true;
      cur = cur.unwrap();
    } else {
      out.leaf = cur;
      return out;
    }
  }
}

/** Kind, wording and choices of a value type: from its tag, else from the zod type itself. */
function leafInfo(leaf: z.core.$ZodType): FieldInfo {
  const tagged = fieldInfo.get(leaf);
  if (tagged) return tagged;
  if (leaf instanceof z.ZodEnum) {
    const choices: (string | number)[] = leaf.options;
    return { kind: 'enum', expects: `one of: ${choices.join(', ')}`, choices };
  }
  if (leaf instanceof z.ZodLiteral) {
    const choices = [...leaf.values].filter((v): v is string | number | boolean =>
      ['string', 'number', 'boolean'].includes(typeof v),
    );
    return {
      kind: 'enum',
      expects: choices.map((c) => (typeof c === 'string' ? `'${c}'` : String(c))).join(' or '),
      choices,
    };
  }
  if (leaf instanceof z.ZodBoolean) return { kind: 'boolean', expects: 'true or false' };
  if (leaf instanceof z.ZodString) return { kind: 'string', expects: 'a string' };
  if (leaf instanceof z.ZodNumber) return { kind: 'number', expects: 'a finite number' };
  return { kind: 'any', expects: 'a valid value' };
}

/** The description of one field. */
export function describeField(schema: z.core.$ZodType): FieldDescription & { expects: string } {
  const u = unwrap(schema);
  const info = leafInfo(u.leaf);
  return {
    kind: info.kind,
    required: u.required,
    ...(u.hasDefault ? { default: u.default } : {}),
    ...(info.choices ? { choices: info.choices } : {}),
    ...(u.nullable ? { nullable: true } : {}),
    expects: u.nullable ? `${info.expects} or null` : info.expects,
  };
}

/** The introspectable description of a config schema, field by field in declaration order. */
export function describeConfigSchema(schema: ConfigObjectSchema): TypeSchema {
  const fields: Record<string, FieldDescription> = {};
  for (const [k, f] of Object.entries(schema.shape)) {
    const { expects: _e, ...d } = describeField(f);
    fields[k] = d;
  }
  return { fields };
}

/**
 * Validates `cfg` with `schema` and returns a fresh object with every default written out. Every
 * problem is reported at once in one `INVALID_CONFIG` naming each field, its value and what is
 * allowed. Keys whose value is `undefined` mean "use the default".
 */
export function parseConfig<S extends ConfigObjectSchema>(
  schema: S,
  cfg: Record<string, unknown>,
  where: string,
): z.output<S> {
  const input: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) if (v !== undefined) input[k] = v;
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const fields = Object.keys(schema.shape);
  const problems = r.error.issues.map((iss) => describeIssue(schema, iss, input));
  throw new AdapterError('INVALID_CONFIG', `${where}: ${problems.join('; ')}`, {
    issues: r.error.issues.map((i) => ({ path: i.path.join('.'), code: i.code })),
    fields,
  });
}

function describeIssue(
  schema: ConfigObjectSchema,
  iss: z.core.$ZodIssue,
  input: Record<string, unknown>,
): string {
  const fields = Object.keys(schema.shape);
  if (iss.code === 'unrecognized_keys') {
    return `unknown field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => `'${k}'`).join(', ')}; valid fields: ${fields.join(', ')}`;
  }
  if (iss.path.length === 0) return iss.message;
  const key = String(iss.path[0]);
  const d = Object.hasOwn(schema.shape, key) ? describeField(schema.shape[key]!) : undefined;
  const value = input[key];
  if (value === undefined && d?.required) return `missing required field '${key}' (${d.expects})`;
  return `field '${key}' must be ${d?.expects ?? 'valid'}, got ${JSON.stringify(value)}`;
}
