/**
 * What a training job carries: the adapter's name in the store, the base model, the data, the method
 * and its config, the training options and the seed. Validated with zod when submitted and again by
 * the worker (a payload can come from any producer); a payload that fails is a permanent failure.
 */
import { z } from 'zod';
import { AdapterError } from '../errors.js';
import { ADAPTER_NAME_PATTERN } from '../store/manifest.js';

/**
 * Methods a training job can run: every adapter method of `adapterkit adapt` (full fine-tuning
 * produces a whole model, not an adapter).
 */
export const JOB_METHODS = ['lora', 'linear', 'parallel', 'vera', 'prefix', 'mam'] as const;

/** Job methods whose adapter is stored as a PEFT directory, so a flow can export it to PEFT. */
export const PEFT_JOB_METHODS = ['lora', 'vera'] as const;

const positiveInt = z.number().int().min(1);

/** Fields every method takes: modules the adapter owns a trainable copy of (PEFT's `modules_to_save`). */
const heads = {
  modulesToSave: z.array(z.string().min(1)).min(1).optional(),
};

/** Prefix tuning's fields (also the prefix part of `mam`), with `adapt`'s default of 16 virtual tokens. */
const prefix = {
  numVirtualTokens: positiveInt.default(16),
  /** Reparameterise the prefixes with PEFT's MLP. Default false. */
  prefixProjection: z.boolean().optional(),
  /** Hidden width of that MLP (only with `prefixProjection`); default the model width. */
  encoderHiddenSize: positiveInt.optional(),
};

/** `encoderHiddenSize` is the prefix MLP's width: refused without `prefixProjection`, never ignored. */
const hiddenNeedsProjection = (m: { prefixProjection?: boolean; encoderHiddenSize?: number }) =>
  m.encoderHiddenSize === undefined || m.prefixProjection === true;
const hiddenNeedsProjectionError = {
  message: 'encoderHiddenSize is the width of the prefix MLP; set prefixProjection: true or drop it',
  path: ['encoderHiddenSize'],
};

/** The method and its adapter config (the options and defaults of `adapterkit adapt`). */
export const jobMethodSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('lora'),
    r: positiveInt,
    /** Default 2 × r. */
    alpha: z.number().positive().optional(),
    targetModules: z.array(z.string().min(1)).min(1).default(['q_proj', 'v_proj']),
    dropout: z.number().min(0).max(0.99).optional(),
    ...heads,
  }),
  z.strictObject({
    kind: z.literal('linear'),
    dim: positiveInt,
    activation: z.string().optional(),
    normPosition: z.enum(['pre', 'post']).optional(),
    dropout: z.number().min(0).max(0.99).optional(),
    ...heads,
  }),
  z.strictObject({
    kind: z.literal('parallel'),
    dim: positiveInt,
    scaling: z.number().positive().default(4),
    ...heads,
  }),
  z.strictObject({
    kind: z.literal('vera'),
    r: positiveInt,
    targetModules: z.array(z.string().min(1)).min(1).default(['q_proj', 'v_proj']),
    dropout: z.number().min(0).max(0.99).optional(),
    /** Seed of VeRA's shared frozen projections. Default 0. */
    projectionPrngKey: z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).optional(),
    ...heads,
  }),
  z
    .strictObject({
      kind: z.literal('prefix'),
      ...prefix,
      ...heads,
    })
    .refine(hiddenNeedsProjection, hiddenNeedsProjectionError),
  z
    .strictObject({
      kind: z.literal('mam'),
      ...prefix,
      /** Bottleneck width of MAM's parallel part. */
      dim: positiveInt,
      /** Output scale of MAM's parallel part. */
      scaling: z.number().positive().default(4),
      ...heads,
    })
    .refine(hiddenNeedsProjection, hiddenNeedsProjectionError),
]);

/** A job's method as a producer writes it. */
export type JobMethodInput = z.input<typeof jobMethodSchema>;
/** A validated job method with defaults filled in. */
export type JobMethod = z.output<typeof jobMethodSchema>;

/** Schema of a training job's payload. */
export const trainJobSchema = z.strictObject({
  /** Name of the adapter in the store. */
  name: z
    .string()
    .regex(ADAPTER_NAME_PATTERN, "1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"),
  /** Base model: a character-LM checkpoint directory (`config.json` + `model.safetensors`), as seen by the workers. */
  base: z.string().min(1),
  /** Data: a built-in corpus name (`mobydick`, `sotu`) or a path to a `.txt` or `.jsonl` file, as seen by the workers. */
  data: z.string().min(1),
  /** Field holding the text in each JSONL line. */
  textField: z.string().min(1).default('text'),
  method: jobMethodSchema,
  training: z.strictObject({
    steps: positiveInt,
    batch: positiveInt.default(16),
    /** Default: the base model's context. */
    seqLen: positiveInt.optional(),
    /** Default: per method, as `adapterkit adapt` (lora, parallel, mam 1e-2; linear 3e-2; vera, prefix 1e-1). */
    lr: z.number().positive().optional(),
    warmupSteps: z.number().int().min(0).optional(),
    weightDecay: z.number().min(0).optional(),
    /** Checkpoint every this many steps so a retried job resumes. Default: a tenth of the steps. */
    checkpointEvery: positiveInt.optional(),
    /** Held-out windows evaluated for the manifest's bits per character. */
    evalWindows: positiveInt.default(32),
  }),
  seed: z.number().int().min(0).default(0),
  /** Replace an adapter of the same name written by another job. */
  replace: z.boolean().default(false),
});

/** A training job's payload as a producer writes it (defaults may be left out). */
export type TrainJobInput = z.input<typeof trainJobSchema>;
/** A validated payload with defaults filled in. */
export type TrainJobPayload = z.output<typeof trainJobSchema>;

/** Payload of the evaluation step of a flow: held-out bits per character of a stored adapter. */
export const evaluateJobSchema = z.strictObject({
  name: z.string().regex(ADAPTER_NAME_PATTERN),
  base: z.string().min(1),
  data: z.string().min(1),
  textField: z.string().min(1).default('text'),
  evalWindows: positiveInt.default(64),
  batch: positiveInt.default(16),
});
export type EvaluateJobPayload = z.output<typeof evaluateJobSchema>;

/** Payload of the export step of a flow: copy a stored LoRA or VeRA adapter's verified PEFT directory to `out`. */
export const exportJobSchema = z.strictObject({
  name: z.string().regex(ADAPTER_NAME_PATTERN),
  out: z.string().min(1),
});
export type ExportJobPayload = z.output<typeof exportJobSchema>;

/**
 * Throws `UNSUPPORTED_FEATURE` unless a job's adapter can be exported to PEFT, naming the methods that
 * can: a flow's export step writes a PEFT directory, and the NeMo-style kinds have no PEFT form.
 */
export function checkPeftExportable(job: { name: string; method: { kind: string } }): void {
  if ((PEFT_JOB_METHODS as readonly string[]).includes(job.method.kind)) return;
  throw new AdapterError(
    'UNSUPPORTED_FEATURE',
    `adapter '${job.name}': a ${job.method.kind} adapter has no PEFT form, so it cannot be exported; methods that export to PEFT: ${PEFT_JOB_METHODS.join(', ')} (submit without an export step to train it)`,
    { name: job.name, kind: job.method.kind, valid: [...PEFT_JOB_METHODS] },
  );
}

/** Parses a payload with `schema`; `INVALID_CONFIG` naming every bad field by its dotted path. */
export function parsePayload<S extends z.ZodType>(schema: S, data: unknown, what: string): z.output<S> {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`);
  throw new AdapterError('INVALID_CONFIG', `invalid ${what}: ${issues.join('; ')}`, { issues });
}
