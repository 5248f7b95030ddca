/**
 * The adapter-file codec, installed by the `io` layer. The model mixin's `saveAdapters` /
 * `loadAdapters` delegate here, so this layer does not import the checkpoint layer below it.
 */
import { AdapterError } from '../errors.js';
import type { Module } from '../nn/module.js';

export interface LoadAdaptersResult {
  loaded: string[];
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** Options of `loadAdapters`. */
export interface LoadAdaptersOptions {
  /** Adapters to load (bare or `module:` names); default: every entry in the file. */
  names?: string | string[];
  /** Missing or unexpected tensors are errors (default true). Shape mismatches always are. */
  strict?: boolean;
  /** Load adapters under new names: `{ nameInFile: newName }`. */
  rename?: Record<string, string>;
}

export interface AdapterCheckpointCodec {
  save(model: Module, names?: string | string[]): Uint8Array;
  load(model: Module, bytes: Uint8Array, opts?: LoadAdaptersOptions): LoadAdaptersResult;
}

let codec: AdapterCheckpointCodec | null = null;

/** Installs the codec (done once by `src/io`). */
export function setAdapterCheckpointCodec(c: AdapterCheckpointCodec): void {
  codec = c;
}

/** The installed codec. */
export function adapterCheckpointCodec(): AdapterCheckpointCodec {
  if (!codec) {
    throw new AdapterError(
      'UNSUPPORTED_FEATURE',
      "adapter checkpoints need the io layer: import from 'adapterkit' (not a deep path) so it is loaded",
    );
  }
  return codec;
}
