/** Request bodies of the server's endpoints: zod schemas and their translation to 400 errors. */
import { z } from 'zod';
import { ApiError } from './api-error.js';

/** `POST /v1/completions` (the OpenAI fields the server implements). */
export const completionRequestSchema = z.strictObject({
  /** The adapter's name, or the base model's own name for no adapter. */
  model: z.string().min(1),
  /** Text to continue: a string, or an array holding exactly one string. */
  prompt: z.union([z.string(), z.array(z.string()).length(1)]),
  max_tokens: z.number().int().min(1).default(16),
  temperature: z.number().min(0).max(2).default(1),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .default(0),
  stream: z.boolean().default(false),
  /** Accepted for compatibility; only 1 is supported. */
  n: z.literal(1).optional(),
  user: z.string().optional(),
});

/** A validated completion request. */
export type CompletionRequest = z.output<typeof completionRequestSchema>;

/** `POST /v1/load_lora_adapter` and `/v1/unload_lora_adapter` (vLLM's names). */
export const adapterRequestSchema = z.strictObject({ lora_name: z.string().min(1) });

/** Parses `body` with `schema`; every bad field becomes one 400 naming the fields and what was wrong. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => {
    const where = i.path.join('.') || 'body';
    if (i.code === 'unrecognized_keys') {
      const allowed = schema instanceof z.ZodObject ? Object.keys(schema.shape).join(', ') : '';
      return `unsupported field(s) ${i.keys.map((k) => `'${k}'`).join(', ')}; supported: ${allowed}`;
    }
    return `${where}: ${i.message}`;
  });
  const first = parsed.error.issues[0];
  const param = first && first.code !== 'unrecognized_keys' ? first.path.join('.') || null : null;
  throw new ApiError(400, 'invalid_request', `${what}: ${issues.join('; ')}`, 'invalid_request_error', param);
}
