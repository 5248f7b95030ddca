/**
 * The manifest of a stored adapter (`<store>/adapters/<name>/manifest.json`): what was trained, from
 * what, how well, and the sha256 of every file, so a reader can verify what it loads.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AdapterError } from '../errors.js';

/** File name of the manifest inside an adapter directory. */
export const MANIFEST_FILE = 'manifest.json';

/** Valid adapter names: a letter or digit first (never '.', which marks temporary entries), then letters, digits, '.', '_' or '-'. */
export const ADAPTER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** How the adapter's weights are stored: a PEFT directory (`peft/`) or the library's adapter file (`adapter.safetensors`). */
export const STORE_FORMATS = ['peft', 'adapterkit'] as const;
export type StoreFormat = (typeof STORE_FORMATS)[number];

/** Directory of the PEFT files (format `peft`): `peft/adapter_config.json` and `peft/adapter_model.safetensors`. */
export const STORE_PEFT_DIR = 'peft';
/** The library's adapter file (format `adapterkit`). */
export const STORE_ADAPTER_FILE = 'adapter.safetensors';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase sha256 hex digest');

/** Schema of `manifest.json`. Unknown keys are kept (`z.looseObject`) so newer writers stay readable. */
export const adapterManifestSchema = z.looseObject({
  name: z.string().regex(ADAPTER_NAME_PATTERN),
  jobId: z.string().nullable(),
  kind: z.string().min(1),
  format: z.enum(STORE_FORMATS),
  base: z.looseObject({ name: z.string(), config: z.unknown() }),
  config: z.unknown(),
  metrics: z.record(z.string(), z.unknown()),
  files: z.record(z.string(), sha256Hex),
  contentHash: sha256Hex,
  createdAt: z.string(),
});

/** A parsed `manifest.json`. */
export type AdapterManifest = z.infer<typeof adapterManifestSchema>;

/** sha256 of `bytes` as lowercase hex. */
export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The content hash of an adapter: sha256 over its files' paths and digests in sorted path order.
 * Two adapters with byte-identical files have the same hash whoever wrote them and when.
 */
export function contentHashOf(files: Record<string, string>): string {
  const lines = Object.keys(files)
    .sort()
    .map((path) => `${path}\0${files[path]}\n`);
  return sha256(lines.join(''));
}

/** Throws `INVALID_ADAPTER_NAME` unless `name` can name a stored adapter. */
export function checkAdapterName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !ADAPTER_NAME_PATTERN.test(name)) {
    throw new AdapterError(
      'INVALID_ADAPTER_NAME',
      `adapter name ${JSON.stringify(name)} is not valid in a store: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      { name },
    );
  }
}

/** Throws `INVALID_INPUT` unless `path` is a relative path inside the adapter directory (no '..', no leading '/' or '.', not the manifest). */
export function checkRelativePath(path: string): void {
  const parts = path.split('/');
  const ok =
    path !== MANIFEST_FILE && !path.includes('\\') && parts.every((p) => p.length > 0 && !p.startsWith('.'));
  if (!ok) {
    throw new AdapterError(
      'INVALID_INPUT',
      `adapter file path ${JSON.stringify(path)} must be relative, use '/' separators, have no '.'-prefixed or empty parts, and not be ${MANIFEST_FILE}`,
      { path },
    );
  }
}

/** Parses manifest text, with an error naming `source` and every bad field. */
export function parseManifest(text: string, source: string): AdapterManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new AdapterError('CHECKPOINT_FORMAT', `${source} is not valid JSON (${(e as Error).message})`, {
      source,
    });
  }
  const parsed = adapterManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new AdapterError('CHECKPOINT_FORMAT', `${source} is not a valid adapter manifest: ${issues}`, {
      source,
    });
  }
  for (const path of Object.keys(parsed.data.files)) checkRelativePath(path);
  return parsed.data;
}
