import { setWasmPaths, tf } from './tf.js';
import { AdapterError, describeValue, notOneOf } from '../errors.js';
import { activateNative, nativeStatus } from './native.js';
import { registerSharedIdentity } from './kernels/identity.js';
import { activateJsKernels } from './js-kernels.js';
import { activeHeapKernels, type HeapOp } from './kernels/heap-kernels.js';

export { JS_KERNELS_ENV_VAR, JS_KERNEL_OPS, JS_TRAINING_ONLY_OPS } from './js-kernels.js';
export { HEAP_OPS as FUSED_OPS, type HeapOp as FusedOp } from './kernels/heap-kernels.js';

/**
 * Which kernels run the wasm backend's fused ops ({@link FUSED_OPS}: GELU, LayerNorm, bias-gradient
 * Sum, AdamW, the embedding gather, cross-entropy, the softmax gradient): `native` (the Node addon),
 * `js` (plain JavaScript on the wasm heap: browsers, and Node without the addon), or `tfjs`
 * (TensorFlow.js's own decompositions into many kernels; always so on the other backends).
 */
export type KernelSet = 'native' | 'js' | 'tfjs';

/** Backends the library knows how to select. */
export const BACKEND_NAMES = ['wasm', 'cpu', 'webgl', 'webgpu'] as const;
/** One of {@link BACKEND_NAMES}. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** Environment variable that selects the Node backend when no option is given. */
export const BACKEND_ENV_VAR = 'ADAPTERKIT_BACKEND';

/**
 * The default preference order in browsers. Measured in headless Chromium with this library's own
 * training step (README, "Browser"): wasm was 5–10× faster than webgl and cpu on small models, and webgpu
 * is only used when asked for by name (it needs `@tensorflow/tfjs-backend-webgpu`).
 */
export const BROWSER_DEFAULT_BACKENDS: readonly BackendName[] = Object.freeze(['wasm', 'webgl', 'cpu']);

/** The npm package that provides the webgpu backend (an optional peer dependency). */
export const WEBGPU_PACKAGE = '@tensorflow/tfjs-backend-webgpu';

/** The `.wasm` files of `@tensorflow/tfjs-backend-wasm`; TensorFlow.js picks one by browser support. */
export const WASM_FILE_NAMES = [
  'tfjs-backend-wasm.wasm',
  'tfjs-backend-wasm-simd.wasm',
  'tfjs-backend-wasm-threaded-simd.wasm',
] as const;
/** One of {@link WASM_FILE_NAMES}. */
export type WasmFileName = (typeof WASM_FILE_NAMES)[number];

/** What {@link getBackendInfo} and {@link initBackend} report. */
export interface BackendInfo {
  /** The active TensorFlow.js backend. */
  name: string;
  /** Whether the wasm backend runs with SIMD (always true in Node 20; detected in browsers). */
  simd: boolean | null;
  /**
   * Threads doing the heavy work: the BLAS's threads when native kernels are active, else the wasm
   * backend's (1 in Node; null when a browser decides).
   */
  threads: number | null;
  /** Native kernels (system BLAS through the Node addon) run the wasm backend's matMuls. */
  native: boolean;
  /** The BLAS library the native kernels use, or null. */
  blas: string | null;
  /** Why native kernels are not active (null when they are, or outside Node). */
  nativeReason: string | null;
  /**
   * Which kernels run the fused ops: `native`, `js` (when the addon is not active, the ops of
   * {@link JS_KERNEL_OPS}), or `tfjs` (`ADAPTERKIT_JS_KERNELS=0`, `initBackend({ jsKernels: false })`,
   * or a backend other than wasm).
   */
  kernels: KernelSet;
  /** The fused ops registered on wasm by that kernel set (empty for `tfjs`). */
  fusedOps: HeapOp[];
  /** `node` or `browser`. */
  platform: 'node' | 'browser';
  /** TensorFlow.js version. */
  tfjsVersion: string;
  /** The known backends registered in this build (webgpu only once its package is imported). */
  registered: BackendName[];
  /** Where the `.wasm` files are fetched from, when {@link InitBackendOptions.wasmPaths} set it. */
  wasmPaths: string | Readonly<Record<WasmFileName, string>> | null;
}

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /**
   * Backend name, or an ordered list of preferences (first one that initialises wins).
   * Default in Node: `ADAPTERKIT_BACKEND` if set, else `wasm`. Default in browsers:
   * {@link BROWSER_DEFAULT_BACKENDS} (`['wasm', 'webgl', 'cpu']`).
   */
  backend?: BackendName | readonly BackendName[];
  /**
   * Where the wasm backend fetches its `.wasm` files: a URL prefix ending in `/` (e.g. `'/wasm/'` or a
   * CDN directory), or a map from each file name in {@link WASM_FILE_NAMES} to its URL. Passed to
   * TensorFlow.js's `setWasmPaths` before the wasm backend starts. Without it, browsers fetch the files
   * relative to the page's URL. Must be set before the first wasm initialisation (it cannot change after).
   */
  wasmPaths?: string | Readonly<Record<WasmFileName, string>>;
  /**
   * Node only: run matMuls on the system BLAS through the native addon when it is built. Default:
   * true unless `ADAPTERKIT_NATIVE=0`.
   */
  native?: boolean;
  /** Node only: BLAS threads for the native kernels. Default: `ADAPTERKIT_THREADS` if set, else 1. */
  threads?: number;
  /**
   * On wasm without native kernels (browsers; Node without the addon): run the fused ops of
   * {@link JS_KERNEL_OPS} as JavaScript kernels on the wasm heap. Default: true, unless
   * `ADAPTERKIT_JS_KERNELS=0` in Node. `false` keeps TensorFlow.js's own kernels (for measurements).
   */
  jsKernels?: boolean;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** The wasm paths given to `setWasmPaths`, as a comparable key and as given. */
let wasmPathsSet: { key: string; value: string | Readonly<Record<WasmFileName, string>> } | null = null;

function parsePreference(value: unknown, source: string): BackendName[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) {
    throw new AdapterError(
      'INVALID_CONFIG',
      `${source}: empty backend list; valid backends: ${BACKEND_NAMES.join(', ')}`,
    );
  }
  for (const name of list) {
    if (!(BACKEND_NAMES as readonly string[]).includes(name as string)) {
      throw new AdapterError('INVALID_CONFIG', `${source}: ${notOneOf('backend', name, BACKEND_NAMES)}`, {
        name,
        valid: [...BACKEND_NAMES],
      });
    }
  }
  return list as BackendName[];
}

function wasmInitialised(): boolean {
  return (tf.engine() as unknown as { registry: Record<string, unknown> }).registry['wasm'] !== undefined;
}

/** Checks `wasmPaths` and hands it to TensorFlow.js, once; a different value after wasm started is an error. */
function applyWasmPaths(paths: unknown): void {
  const where = 'initBackend({wasmPaths})';
  if (typeof paths === 'string') {
    if (paths.length === 0 || !paths.endsWith('/')) {
      throw new AdapterError(
        'INVALID_CONFIG',
        `${where}: a URL prefix must be non-empty and end with '/', got ${JSON.stringify(paths)} (e.g. '/wasm/' or 'https://example.org/tfjs-wasm/')`,
        { field: 'wasmPaths', value: paths },
      );
    }
  } else if (paths !== null && typeof paths === 'object' && !Array.isArray(paths)) {
    const map = paths as Record<string, unknown>;
    const missing = WASM_FILE_NAMES.filter(
      (f) => typeof map[f] !== 'string' || (map[f] as string).length === 0,
    );
    const unknown = Object.keys(map).filter((k) => !(WASM_FILE_NAMES as readonly string[]).includes(k));
    if (missing.length || unknown.length) {
      throw new AdapterError(
        'INVALID_CONFIG',
        `${where}: a file map needs a URL for each of ${WASM_FILE_NAMES.join(', ')}` +
          (missing.length ? `; missing: ${missing.join(', ')}` : '') +
          (unknown.length ? `; unknown: ${unknown.join(', ')}` : ''),
        { field: 'wasmPaths', missing, unknown },
      );
    }
  } else {
    throw new AdapterError(
      'INVALID_CONFIG',
      `${where}: expected a URL prefix ending in '/' or a map of ${WASM_FILE_NAMES.join(', ')} to URLs, got ${describeValue(paths)}`,
      { field: 'wasmPaths' },
    );
  }
  const value = paths as string | Readonly<Record<WasmFileName, string>>;
  const key = JSON.stringify(value);
  if (wasmPathsSet?.key === key) return;
  if (wasmInitialised()) {
    throw new AdapterError(
      'INVALID_CONFIG',
      `${where}: the wasm backend has already started${wasmPathsSet ? ` with wasmPaths ${wasmPathsSet.key}` : ''}; pass wasmPaths to the first initBackend call`,
      { field: 'wasmPaths' },
    );
  }
  setWasmPaths(value);
  wasmPathsSet = { key, value };
}

/** Why a backend has no factory here, in the user's terms. */
function notRegisteredReason(name: BackendName): string {
  if (name !== 'webgpu') return `${name}: not registered in this build`;
  const hasGpu = typeof navigator !== 'undefined' && 'gpu' in (navigator as object);
  if (!isNode && !hasGpu) {
    return (
      'webgpu: this browser exposes no WebGPU (navigator.gpu is missing; Chromium needs a GPU or ' +
      `--enable-unsafe-webgpu), and the backend also needs ${WEBGPU_PACKAGE}`
    );
  }
  return (
    `webgpu: not registered; install the optional peer dependency ${WEBGPU_PACKAGE} (the same version as ` +
    `@tensorflow/tfjs, ${tf.version_core}) and \`import '${WEBGPU_PACKAGE}'\` before initBackend` +
    (isNode ? ' (Node has no WebGPU: use it in a browser)' : '')
  );
}

/** Why a registered webgpu backend did not start, in the user's terms. */
async function webgpuFailureReason(): Promise<string> {
  const gpu =
    typeof navigator !== 'undefined'
      ? (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu
      : undefined;
  let adapter: unknown = null;
  try {
    adapter = gpu ? await gpu.requestAdapter() : null;
  } catch {
    adapter = null;
  }
  if (adapter === null) {
    return (
      'webgpu: unavailable, the browser offers no WebGPU adapter (no usable GPU, or WebGPU is disabled; ' +
      'headless Chromium without a GPU needs --enable-unsafe-webgpu --enable-features=Vulkan)'
    );
  }
  return "webgpu: failed to initialise although the browser offers an adapter (see the console for TensorFlow.js's warning)";
}

/**
 * Selects and initialises the TensorFlow.js backend. Call once before building models.
 *
 * An explicitly requested backend that fails to initialise is an error naming it; the library never
 * falls back silently. Pass a list (e.g. `['wasm', 'cpu']`) to allow a fallback. webgpu is available
 * once the application imports `@tensorflow/tfjs-backend-webgpu` (the library never imports it).
 *
 * @example
 * ```ts
 * await initBackend();                                  // wasm in Node; wasm, webgl, cpu in browsers
 * await initBackend({ backend: 'cpu' });                // the pure-JS fallback
 * await initBackend({ wasmPaths: '/static/tfjs-wasm/' }); // where the page serves the .wasm files
 * ```
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  let prefs: BackendName[];
  if (opts.backend !== undefined) {
    prefs = parsePreference(opts.backend, 'initBackend({backend})');
  } else if (isNode && process.env[BACKEND_ENV_VAR]) {
    prefs = parsePreference(
      process.env[BACKEND_ENV_VAR]!.split(',').map((s) => s.trim()),
      BACKEND_ENV_VAR,
    );
  } else {
    prefs = isNode ? ['wasm'] : [...BROWSER_DEFAULT_BACKENDS];
  }
  if (opts.wasmPaths !== undefined) applyWasmPaths(opts.wasmPaths);
  const failures: string[] = [];
  const engine = tf.engine() as unknown as { backendInstance: unknown };
  const previous = engine.backendInstance ? tf.getBackend() : null;
  const ready = (): BackendInfo => {
    if (tf.getBackend() === 'wasm') {
      registerSharedIdentity();
      if (isNode) activateNative({ enabled: opts.native, threads: opts.threads });
      if (!nativeStatus().active) activateJsKernels({ enabled: opts.jsKernels });
    }
    return getBackendInfo();
  };
  for (const name of prefs) {
    if (tf.getBackend() === name && engine.backendInstance) return ready();
    if (!tf.findBackendFactory(name)) {
      failures.push(notRegisteredReason(name));
      continue;
    }
    const listenersBefore = processListeners();
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        quietCpuBanner(name);
        return ready();
      }
      failures.push(name === 'webgpu' ? await webgpuFailureReason() : `${name}: failed to initialise`);
    } catch (e) {
      failures.push(`${name}: ${(e as Error)?.message ?? String(e)}`);
    } finally {
      removeListenersAddedSince(listenersBefore);
    }
    if (name === 'wasm' && !isNode && !wasmPathsSet) {
      failures.push(
        '(the .wasm files are fetched relative to the page; serve them and pass initBackend({ wasmPaths }))',
      );
    }
  }
  // TensorFlow.js leaves a failed backend selected with no instance: a failed switch keeps the old backend.
  if (previous !== null && tf.getBackend() !== previous) await tf.setBackend(previous);
  throw new AdapterError(
    'BACKEND_UNSUPPORTED',
    `no requested backend could be initialised (${failures.join('; ')}); valid backends: ${BACKEND_NAMES.join(', ')}`,
    { requested: prefs, failures },
  );
}

/** Process-wide error events that Emscripten-generated code (the wasm backend) hooks in Node. */
const PROCESS_ERROR_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

type ListenerSnapshot = Map<string, Set<(...args: unknown[]) => void>>;

function processListeners(): ListenerSnapshot | null {
  if (!isNode || typeof process.listeners !== 'function') return null;
  return new Map(
    PROCESS_ERROR_EVENTS.map((ev) => [
      ev,
      new Set(process.listeners(ev as 'uncaughtException') as Array<(...args: unknown[]) => void>),
    ]),
  );
}

/**
 * The wasm backend's Emscripten glue adds `uncaughtException` and `unhandledRejection` listeners that
 * rethrow, so any later uncaught error (the application's too) is reported with the glue's one-line,
 * ~40 KB minified source as its location, and the process's own handlers never decide. They are only
 * meant for Emscripten's `exit()`, which the backend never calls, so they are removed once the backend
 * is ready; errors then reach Node's default handling or the application's handlers unchanged.
 */
function removeListenersAddedSince(before: ListenerSnapshot | null): void {
  if (!before) return;
  for (const ev of PROCESS_ERROR_EVENTS) {
    for (const l of process.listeners(ev as 'uncaughtException') as Array<(...args: unknown[]) => void>) {
      if (!before.get(ev)!.has(l)) process.removeListener(ev, l);
    }
  }
}

/**
 * The cpu backend prints a multi-line "install our node backend" banner on its first tensor in Node.
 * That advice (a native addon) does not apply to this library, which chooses its backends itself, so
 * the banner is marked as already shown. `firstUse` is the backend's own flag for it.
 */
function quietCpuBanner(name: string): void {
  if (name !== 'cpu' || !isNode) return;
  const backend = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (backend && 'firstUse' in backend) backend.firstUse = false;
}

/** Reports the active backend and what else is registered. */
export function getBackendInfo(): BackendInfo {
  const name = tf.getBackend();
  let simd: boolean | null = null;
  let threads: number | null = null;
  const native = nativeStatus();
  const nativeOn = native.active && name === 'wasm';
  const fused = activeHeapKernels();
  const fusedOn = name === 'wasm' && fused.provider !== null;
  if (name === 'wasm') {
    simd = isNode ? true : Boolean(tf.env().getBool('WASM_HAS_SIMD_SUPPORT'));
    // TensorFlow.js runs wasm single-threaded in Node; in browsers threads need cross-origin isolation.
    threads = isNode || !tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 1 : null;
    if (nativeOn) threads = native.threads;
  }
  return {
    name,
    simd,
    threads,
    native: nativeOn,
    blas: nativeOn ? native.blas : null,
    nativeReason:
      isNode && !nativeOn ? (name === 'wasm' ? native.reason : `the ${name} backend is active`) : null,
    kernels: fusedOn ? fused.provider! : 'tfjs',
    fusedOps: fusedOn ? fused.ops : [],
    platform: isNode ? 'node' : 'browser',
    tfjsVersion: tf.version_core,
    registered: BACKEND_NAMES.filter((n) => tf.findBackendFactory(n) !== null),
    wasmPaths: wasmPathsSet?.value ?? null,
  };
}
