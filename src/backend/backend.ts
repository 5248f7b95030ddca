import { tf } from './tf.js';
import { AdapterError, notOneOf } from '../errors.js';

/** Backends the library knows how to select. */
export const BACKEND_NAMES = ['wasm', 'cpu', 'webgl', 'webgpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** Environment variable that selects the Node backend when no option is given. */
export const BACKEND_ENV_VAR = 'ADAPTERKIT_BACKEND';

export interface BackendInfo {
  /** The active TensorFlow.js backend. */
  name: string;
  /** Whether the wasm backend runs with SIMD (always true in Node 20; detected in browsers). */
  simd: boolean | null;
  /** Threads the wasm backend uses (1 in Node; null when a browser decides). */
  threads: number | null;
  /** `node` or `browser`. */
  platform: 'node' | 'browser';
  /** TensorFlow.js version. */
  tfjsVersion: string;
}

export interface InitBackendOptions {
  /**
   * Backend name, or an ordered list of preferences (first one that initialises wins).
   * Default in Node: `ADAPTERKIT_BACKEND` if set, else `wasm`. Default in browsers:
   * `['webgpu', 'webgl', 'wasm', 'cpu']`.
   */
  backend?: BackendName | readonly BackendName[];
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

function parsePreference(value: unknown, source: string): BackendName[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) {
    throw new AdapterError('INVALID_CONFIG', `${source}: empty backend list; valid backends: ${BACKEND_NAMES.join(', ')}`);
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

/**
 * Selects and initialises the TensorFlow.js backend. Call once before building models.
 *
 * An explicitly requested backend that fails to initialise is an error naming it; the library never
 * falls back silently. Pass a list (e.g. `['wasm', 'cpu']`) to allow a fallback.
 *
 * @example
 * ```ts
 * await initBackend();                       // wasm in Node
 * await initBackend({ backend: 'cpu' });     // the pure-JS fallback
 * ```
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  let prefs: BackendName[];
  if (opts.backend !== undefined) {
    prefs = parsePreference(opts.backend, 'initBackend({backend})');
  } else if (isNode && process.env[BACKEND_ENV_VAR]) {
    prefs = parsePreference(process.env[BACKEND_ENV_VAR]!.split(',').map((s) => s.trim()), BACKEND_ENV_VAR);
  } else {
    prefs = isNode ? ['wasm'] : ['webgpu', 'webgl', 'wasm', 'cpu'];
  }
  const failures: string[] = [];
  for (const name of prefs) {
    if (tf.getBackend() === name) return getBackendInfo();
    if (!tf.findBackendFactory(name)) {
      failures.push(`${name}: not registered in this build`);
      continue;
    }
    const listenersBefore = processListeners();
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        quietCpuBanner(name);
        return getBackendInfo();
      }
      failures.push(`${name}: failed to initialise`);
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message}`);
    } finally {
      removeListenersAddedSince(listenersBefore);
    }
  }
  throw new AdapterError(
    'BACKEND_UNSUPPORTED',
    `no requested backend could be initialised (${failures.join('; ')}); valid backends: ${BACKEND_NAMES.join(', ')}`,
    { requested: prefs },
  );
}

/** Process-wide error events that Emscripten-generated code (the wasm backend) hooks in Node. */
const PROCESS_ERROR_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

type ListenerSnapshot = Map<string, Set<(...args: unknown[]) => void>>;

function processListeners(): ListenerSnapshot | null {
  if (!isNode || typeof process.listeners !== 'function') return null;
  return new Map(PROCESS_ERROR_EVENTS.map((ev) => [ev, new Set(process.listeners(ev as 'uncaughtException') as Array<(...args: unknown[]) => void>)]));
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

/** Reports the active backend. */
export function getBackendInfo(): BackendInfo {
  const name = tf.getBackend();
  let simd: boolean | null = null;
  let threads: number | null = null;
  if (name === 'wasm') {
    simd = isNode ? true : Boolean(tf.env().getBool('WASM_HAS_SIMD_SUPPORT'));
    // TensorFlow.js runs wasm single-threaded in Node; in browsers threads need cross-origin isolation.
    threads = isNode || !tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 1 : null;
  }
  return { name, simd, threads, platform: isNode ? 'node' : 'browser', tfjsVersion: tf.version_core };
}
