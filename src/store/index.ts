/**
 * The adapter store: where training jobs put adapters and servers find them (Node only).
 * `<store>/adapters/<name>/manifest.json` plus `peft/` (format `peft`) or `adapter.safetensors`
 * (format `adapterkit`). {@link AdapterStore} is the interface; {@link FsAdapterStore} implements it
 * on a local or shared directory.
 */
export type { AdapterInput, AdapterStore, PutOptions, PutResult, StoredAdapter } from './adapter-store.js';
export { FsAdapterStore, type SweepOptions } from './fs-store.js';
export {
  ADAPTER_NAME_PATTERN,
  MANIFEST_FILE,
  STORE_ADAPTER_FILE,
  STORE_FORMATS,
  STORE_PEFT_DIR,
  adapterManifestSchema,
  checkAdapterName,
  contentHashOf,
  parseManifest,
  sha256,
  type AdapterManifest,
  type StoreFormat,
} from './manifest.js';
