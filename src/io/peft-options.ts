/**
 * The options of `savePretrained`, `loadPretrained` and `loadAdapter` as zod schemas; their TypeScript
 * types are inferred from the schemas, so the documented type and the runtime check cannot drift. A bad
 * option is one `INVALID_CONFIG` naming every bad option, its value and the valid choices.
 */
import { z } from 'zod';
import { AdapterError, check, describeValue, isPlainObject, notOneOf } from '../errors.js';
import { PEFT_TASK_TYPES } from './peft-config.js';
import type { SafetensorsWriteDtype } from './safetensors-tf.js';

/** Storage dtypes `savePretrained` writes. */
export const PEFT_WRITE_DTYPES = [
  'float32',
  'float16',
  'bfloat16',
] as const satisfies readonly SafetensorsWriteDtype[];

const oneOf =
  <T>(choices: readonly T[]) =>
  (v: unknown) =>
    (choices as readonly unknown[]).includes(v);

/** Options of `savePretrained` / `peftFiles`. */
export const savePretrainedOptionsSchema = z.strictObject({
  /** Adapters to write, in this order; default every adapter. Unknown names → `UNKNOWN_ADAPTER`. */
  selectedAdapters: z.array(z.string()).optional(),
  /** Storage dtype of the tensors: `float32` (default, `F32`), `float16` (`F16`) or `bfloat16` (`BF16`). */
  dtype: z.enum(PEFT_WRITE_DTYPES).default('float32'),
  /**
   * `base_model_name_or_path`. Default: the value read from the file the adapter was loaded from, else null.
   */
  baseModelNameOrPath: z.string().nullable().optional(),
  /**
   * `task_type`, one of PEFT's task types (`CAUSAL_LM`, `SEQ_CLS`, …) or null. Default: the value read from
   * the file the adapter was loaded from, else null.
   */
  taskType: z.string().refine(oneOf(PEFT_TASK_TYPES)).nullable().optional(),
  /**
   * `auto_mapping` (`{baseModelClass, parentLibrary}`), written only when the task type is null;
   * PEFT derives it from the Python class of the base model, which a TypeScript model does not have.
   * Default null.
   */
  autoMapping: z
    .strictObject({ baseModelClass: z.string(), parentLibrary: z.string() })
    .nullable()
    .optional(),
  /** `peft_version`, written only when given (PEFT always writes its own version). */
  peftVersion: z.string().optional(),
});

/** Options of `savePretrained`, as callers write them. */
export type SavePretrainedOptions = z.input<typeof savePretrainedOptionsSchema>;
/** {@link SavePretrainedOptions} after parsing (defaults filled in). */
export type ParsedSavePretrainedOptions = z.output<typeof savePretrainedOptionsSchema>;

/** Options of `loadPretrained`. */
export const loadPretrainedOptionsSchema = z.strictObject({
  /** Name the adapter is registered under (the files never store it). Default `'default'`. */
  adapterName: z.string().optional(),
  /** Read from this sub-directory of the source (e.g. `'task2'`). */
  subfolder: z.string().optional(),
  /** Leave the adapter trainable; default false: its tensors are frozen and the model is put in eval mode (as PEFT). */
  isTrainable: z.boolean().default(false),
  /** Missing or unexpected tensors are errors (default true); shape mismatches always are. */
  strict: z.boolean().default(true),
  /**
   * `target_modules` entries that match no module warn instead of failing (default true, as PEFT, which
   * fails only when nothing matches). Tensor keys are still checked strictly.
   */
  allowPartialMatch: z.boolean().default(true),
});

/** Options of `loadPretrained`, as callers write them. */
export type LoadPretrainedOptions = z.input<typeof loadPretrainedOptionsSchema>;
/** {@link LoadPretrainedOptions} after parsing (defaults filled in). */
export type ParsedLoadPretrainedOptions = z.output<typeof loadPretrainedOptionsSchema>;

/** Options of `loadAdapter` (the adapter name is an argument of its own). */
export const loadAdapterOptionsSchema = loadPretrainedOptionsSchema.omit({ adapterName: true });

/** Options of `loadAdapter`, as callers write them. */
export type LoadAdapterOptions = z.input<typeof loadAdapterOptionsSchema>;

/** What each option must be, in the user's terms (the message for a bad value). */
const EXPECTED: Record<string, (v: unknown) => string> = {
  selectedAdapters: (v) => `selectedAdapters must be a list of adapter names, got ${describeValue(v)}`,
  dtype: (v) => notOneOf('dtype', v, PEFT_WRITE_DTYPES),
  baseModelNameOrPath: (v) => `baseModelNameOrPath must be a string or null, got ${describeValue(v)}`,
  taskType: (v) => notOneOf('taskType', v, [...PEFT_TASK_TYPES, 'null']),
  autoMapping: (v) =>
    `autoMapping must be {baseModelClass: string, parentLibrary: string} or null, got ${JSON.stringify(v)}`,
  peftVersion: (v) => `peftVersion must be a string, got ${describeValue(v)}`,
  adapterName: (v) => `option 'adapterName' must be a string, got ${describeValue(v)}`,
  subfolder: (v) => `option 'subfolder' must be a string, got ${describeValue(v)}`,
  isTrainable: (v) => `option 'isTrainable' must be true or false, got ${describeValue(v)}`,
  strict: (v) => `option 'strict' must be true or false, got ${describeValue(v)}`,
  allowPartialMatch: (v) => `option 'allowPartialMatch' must be true or false, got ${describeValue(v)}`,
};

/**
 * Parses `opts` (undefined = no options) with `schema`; `where` names the caller. Every bad or unknown
 * option is reported in one `INVALID_CONFIG`; `details.field` / `details.value` are the first one's.
 */
export function parsePeftOptions<S extends z.ZodObject>(
  schema: S,
  opts: unknown,
  where: string,
): z.output<S> {
  const input = opts === undefined ? {} : opts;
  check(
    isPlainObject(input),
    'INVALID_CONFIG',
    () => `${where}: options must be an object, got ${describeValue(opts)}`,
  );
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const valid = Object.keys(schema.shape);
  const fields: string[] = [];
  const problems: string[] = [];
  for (const issue of parsed.error.issues) {
    const names = issue.code === 'unrecognized_keys' ? issue.keys : [String(issue.path[0])];
    for (const name of names) {
      if (fields.includes(name)) continue;
      fields.push(name);
      problems.push(valid.includes(name) ? EXPECTED[name]!(input[name]) : notOneOf('option', name, valid));
    }
  }
  throw new AdapterError('INVALID_CONFIG', `${where}: ${problems.join('; ')}`, {
    field: fields[0],
    value: input[fields[0]!],
    fields,
    valid,
  });
}
