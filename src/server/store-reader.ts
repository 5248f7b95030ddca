/**
 * Reading adapters from an adapter store directory, as the server needs them:
 *
 * ```
 * <store>/adapters/<name>/manifest.json        name, jobId, kind, format, base, config, metrics, files {path: sha256}, contentHash, createdAt
 * <store>/adapters/<name>/peft/...              PEFT directory when format = "peft"
 * <store>/adapters/<name>/adapter.safetensors   the library's adapter file when format = "adapterkit"
 * ```
 *
 * An adapter directory appears atomically (written as a hidden sibling and renamed), so names starting
 * with '.' are ignored. Store contents are untrusted: the manifest is validated, every file listed is
 * read and its SHA-256 checked, and paths must stay inside the adapter directory.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, normalize, sep } from 'node:path';
import { z } from 'zod';
import { AdapterError } from '../errors.js';

/** The manifest fields the server reads (other fields are kept as they are). */
export const storeManifestSchema = z.looseObject({
  name: z.string().min(1),
  kind: z.string().min(1),
  format: z.string().min(1),
  base: z.looseObject({ name: z.string().optional(), config: z.unknown().optional() }).optional(),
  files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex SHA-256')),
  contentHash: z.string().optional(),
  createdAt: z.string().optional(),
});

/** A store manifest as validated. */
export type StoreManifest = z.infer<typeof storeManifestSchema>;

/** A verified adapter read from the store: its manifest and every listed file's bytes. */
export interface StoreAdapter {
  manifest: StoreManifest;
  /** File bytes by path relative to the adapter directory (e.g. `peft/adapter_config.json`). */
  files: Map<string, Uint8Array>;
  /** Total bytes of the files. */
  bytes: number;
}

/** Names the server can serve: letters, digits, '_' and '-', 1–64 characters. */
export const ADAPTER_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const adaptersDir = (store: string) => join(store, 'adapters');

/** Names of the adapters in the store (directories with a manifest), sorted; hidden entries skipped. */
export async function listStoreAdapters(store: string): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(adaptersDir(store), { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && ADAPTER_NAME_PATTERN.test(e.name))
    .map((e) => e.name)
    .sort();
}

/**
 * Reads adapter `name` from the store and verifies it. Errors: `UNKNOWN_ADAPTER` (no such adapter),
 * `CHECKPOINT_FORMAT` (bad manifest, a path leaving the directory, a missing file),
 * `CHECKPOINT_MISMATCH` (a file whose SHA-256 differs from the manifest's, or a manifest naming
 * another adapter).
 */
export async function readStoreAdapter(store: string, name: string): Promise<StoreAdapter> {
  if (!ADAPTER_NAME_PATTERN.test(name)) {
    throw new AdapterError('UNKNOWN_ADAPTER', `adapter name ${JSON.stringify(name)} is not a valid store name (letters, digits, '_' and '-', at most 64)`, { name });
  }
  const dir = join(adaptersDir(store), name);
  let raw: string;
  try {
    raw = await readFile(join(dir, 'manifest.json'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AdapterError('UNKNOWN_ADAPTER', `adapter '${name}' is not in the store ${store}`, { name });
    }
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new AdapterError('CHECKPOINT_FORMAT', `store adapter '${name}': manifest.json is not valid JSON (${(e as Error).message})`, { name });
  }
  const parsed = storeManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new AdapterError('CHECKPOINT_FORMAT', `store adapter '${name}': invalid manifest.json (${issues})`, { name });
  }
  const manifest = parsed.data;
  if (manifest.name !== name) {
    throw new AdapterError('CHECKPOINT_MISMATCH', `store adapter '${name}': its manifest names '${manifest.name}'`, { name });
  }
  const files = new Map<string, Uint8Array>();
  let bytes = 0;
  for (const [rel, sha] of Object.entries(manifest.files)) {
    const clean = normalize(rel);
    if (clean.startsWith('..') || clean.startsWith(sep) || clean.split(sep).includes('..') || clean === 'manifest.json') {
      throw new AdapterError('CHECKPOINT_FORMAT', `store adapter '${name}': file path ${JSON.stringify(rel)} leaves the adapter directory`, { name, path: rel });
    }
    let data: Uint8Array;
    try {
      data = new Uint8Array(await readFile(join(dir, clean)));
    } catch {
      throw new AdapterError('CHECKPOINT_FORMAT', `store adapter '${name}': file ${rel} listed in the manifest is missing`, { name, path: rel });
    }
    const got = createHash('sha256').update(data).digest('hex');
    if (got !== sha) {
      throw new AdapterError('CHECKPOINT_MISMATCH', `store adapter '${name}': ${rel} has SHA-256 ${got}, the manifest says ${sha}`, { name, path: rel });
    }
    files.set(clean.split(sep).join('/'), data);
    bytes += data.length;
  }
  return { manifest, files, bytes };
}
