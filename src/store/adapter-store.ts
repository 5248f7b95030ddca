/**
 * The adapter store interface. Training jobs write adapters into a store; servers read them. The
 * filesystem implementation ({@link FsAdapterStore}) works on a local or shared directory (NFS, a
 * mounted volume); an object store (S3, GCS, …) can implement the same interface: `put` uploads the
 * files under a temporary prefix and then writes `manifest.json` last with a create-only condition
 * (e.g. `If-None-Match: *`), so the manifest's presence is what makes an adapter visible.
 */
import type { AdapterManifest, StoreFormat } from './manifest.js';

/** What a writer hands to {@link AdapterStore.put}; the store computes the digests and the content hash. */
export interface AdapterInput {
  /** Adapter name (see {@link ADAPTER_NAME_PATTERN}). */
  name: string;
  /** Id of the job that trained it, or null when written by hand. */
  jobId: string | null;
  /** The method: `lora`, `linear`, `parallel`, `full`, … */
  kind: string;
  format: StoreFormat;
  /** The base model the adapter belongs to: a name (e.g. its directory's base name) and its config. */
  base: { name: string; config: unknown };
  /** The adapter's and the training run's configuration. */
  config: unknown;
  /** Training and evaluation figures (final loss, bits per character, tokens/s, …). */
  metrics: Record<string, unknown>;
  /** File contents by path relative to the adapter directory, e.g. `peft/adapter_config.json`. */
  files: Record<string, Uint8Array>;
}

/** Options of {@link AdapterStore.put}. */
export interface PutOptions {
  /**
   * Replace an existing adapter of the same name whose content differs. Without it such a put
   * throws `DUPLICATE_ADAPTER`. A put whose content equals what is stored is always a no-op.
   */
  replace?: boolean;
}

/** What {@link AdapterStore.put} did. */
export interface PutResult {
  /** The manifest now stored under the name (the existing one when nothing was written). */
  manifest: AdapterManifest;
  /** `written` (new), `replaced`, or `unchanged` (the same content was already stored: a no-op). */
  outcome: 'written' | 'replaced' | 'unchanged';
}

/** A stored adapter, every file verified against its manifest. */
export interface StoredAdapter {
  manifest: AdapterManifest;
  files: Record<string, Uint8Array>;
}

/**
 * A place adapters are kept, keyed by name. Every method is safe to call from many processes on
 * many machines at once: an adapter becomes visible all at once (never half-written), and readers
 * verify every file's sha256 against the manifest.
 */
export interface AdapterStore {
  /**
   * Stores an adapter atomically. Writing the same content, or the output of the same job id, under
   * the same name again is a no-op (outcome `unchanged`; the first write stays), which is what makes
   * a training job delivered twice yield one adapter.
   * Different content under an existing name throws `DUPLICATE_ADAPTER` unless `replace` is set.
   */
  put(input: AdapterInput, opts?: PutOptions): Promise<PutResult>;
  /** Reads and verifies an adapter; `UNKNOWN_ADAPTER` when absent, `CHECKPOINT_MISMATCH` when a file does not match its digest. */
  get(name: string): Promise<StoredAdapter>;
  /** Reads only the manifest (not verified against the files); `UNKNOWN_ADAPTER` when absent. */
  manifest(name: string): Promise<AdapterManifest>;
  /** Manifests of every stored adapter, sorted by name. Entries being written (names starting with '.') are ignored. */
  list(): Promise<AdapterManifest[]>;
  /** Whether an adapter of this name is stored. */
  has(name: string): Promise<boolean>;
  /** Deletes an adapter; resolves to whether it existed. */
  delete(name: string): Promise<boolean>;
}
