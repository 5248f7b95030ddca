/**
 * Config schemas: each field is declared once with its kind, default and choices; from that we
 * build both the zod validator and the introspectable description `getAdapterTypeSchema` returns,
 * so the two can never drift. Validation errors are translated into messages that name the field,
 * the value and the allowed range or choices.
 */
import { z } from 'zod';
import { AdapterError } from '../errors.js';

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

/** A declared field: its description plus the zod type that checks it. */
export interface FieldSpec extends FieldDescription {
  zod: z.ZodTypeAny;
  /** Human wording of the accepted values, used in error messages. */
  expects: string;
}

export interface TypeSchema {
  fields: Record<string, FieldDescription>;
}

type Opts = { default?: unknown; nullable?: boolean };

function make(kind: FieldKind, base: z.ZodTypeAny, expects: string, o: Opts, choices?: readonly any[]): FieldSpec {
  let t = base;
  if (o.nullable) t = t.nullable();
  const required = !('default' in o);
  if (!required) t = t.optional();
  return {
    kind,
    zod: t,
    expects: o.nullable ? `${expects} or null` : expects,
    required,
    ...(required ? {} : { default: o.default }),
    ...(choices ? { choices } : {}),
    ...(o.nullable ? { nullable: true } : {}),
  };
}

/** Field constructors. A field with a `default` is optional; `undefined` means "use the default". */
export const field = {
  positiveInt: (o: Opts = {}) => make('positiveInt', z.number().int().min(1), 'an integer ≥ 1', o),
  int: (o: Opts = {}) => make('int', z.number().int(), 'an integer', o),
  probability: (o: Opts = {}) => make('probability', z.number().min(0).max(1), 'a probability in [0, 1]', o),
  nonNegative: (o: Opts = {}) => make('nonNegative', z.number().min(0), 'a number ≥ 0', o),
  number: (o: Opts = {}) => make('number', z.number(), 'a finite number', o),
  enum: <T extends string>(choices: readonly T[], o: Opts = {}) =>
    make('enum', z.enum(choices as [T, ...T[]]), `one of: ${choices.join(', ')}`, o, choices),
  boolean: (o: Opts = {}) => make('boolean', z.boolean(), 'true or false', o),
  string: (o: Opts = {}) => make('string', z.string(), 'a string', o),
  /** A nested strategy config (validated later by the strategy registry). */
  strategy: (o: Opts = {}) => make('strategy', z.any(), 'a strategy config object', o),
  any: (o: Opts = {}) => make('any', z.any(), 'any value', o),
};

/** A compiled schema: field specs plus a strict zod object over them. */
export class ConfigSchema {
  readonly zod: z.ZodTypeAny;
  constructor(readonly fields: Readonly<Record<string, FieldSpec>>) {
    const shape: Record<string, z.ZodTypeAny> = {};
    for (const [k, f] of Object.entries(fields)) shape[k] = f.zod;
    this.zod = z.strictObject(shape);
  }

  /** The introspectable description (no zod types). */
  describe(): TypeSchema {
    const out: Record<string, FieldDescription> = {};
    for (const [k, f] of Object.entries(this.fields)) {
      const { zod: _z, expects: _e, ...d } = f;
      out[k] = d;
    }
    return { fields: out };
  }

  /**
   * Validates `cfg` and returns a fresh object with every default written out. Every problem is
   * reported at once in one `INVALID_CONFIG` naming each field, its value and what is allowed.
   */
  parse(cfg: Record<string, unknown>, where: string): Record<string, unknown> {
    // undefined means "use the default": drop such keys before validation.
    const input: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(cfg)) if (v !== undefined) input[k] = v;
    const r = this.zod.safeParse(input);
    if (!r.success) {
      const problems = r.error.issues.map((iss) => this.describeIssue(iss, input));
      throw new AdapterError('INVALID_CONFIG', `${where}: ${problems.join('; ')}`, {
        issues: r.error.issues.map((i) => ({ path: i.path.join('.'), code: i.code })),
        fields: Object.keys(this.fields),
      });
    }
    const out: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(this.fields)) {
      const v = (r.data as Record<string, unknown>)[k];
      out[k] = v === undefined ? structuredClone(f.default) : v;
    }
    return out;
  }

  private describeIssue(iss: z.core.$ZodIssue, input: Record<string, unknown>): string {
    if (iss.code === 'unrecognized_keys') {
      return `unknown field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => `'${k}'`).join(', ')}; valid fields: ${Object.keys(this.fields).join(', ')}`;
    }
    const key = String(iss.path[0]);
    const spec = this.fields[key];
    const value = input[key];
    if (value === undefined && spec?.required) return `missing required field '${key}' (${spec.expects})`;
    return `field '${key}' must be ${spec?.expects ?? 'valid'}, got ${JSON.stringify(value)}`;
  }
}
