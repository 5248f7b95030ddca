import { tf } from './tf.js';
import { AdapterError, notOneOf } from '../errors.js';
import { activateNative, nativeStatus } from './native.js';
import { registerSharedIdentity } from './kernels/identity.js';

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
  /**
   * Node only: run matMuls on the system BLAS through the native addon when it is built. Default:
   * true unless `ADAPTERKIT_NATIVE=0`.
   */
  native?: boolean;
  /** Node only: BLAS threads for the native kernels. Default: `ADAPTERKIT_THREADS` if set, else 1. */
  threads?: number;
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
  const ready = (): BackendInfo => {
    if (tf.getBackend() === 'wasm') {
      registerSharedIdentity();
      if (isNode) activateNative({ enabled: opts.native, threads: opts.threads });
    }
    return getBackendInfo();
  };
  for (const name of prefs) {
    if (tf.getBackend() === name) return ready();
    if (!tf.findBackendFactory(name)) {
      failures.push(`${name}: not registered in this build`);
      continue;
    }
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return ready();
      }
      failures.push(`${name}: failed to initialise`);
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new AdapterError(
    'BACKEND_UNSUPPORTED',
    `no requested backend could be initialised (${failures.join('; ')}); valid backends: ${BACKEND_NAMES.join(', ')}`,
    { requested: prefs },
  );
}

/** Reports the active backend. */
export function getBackendInfo(): BackendInfo {
  const name = tf.getBackend();
  let simd: boolean | null = null;
  let threads: number | null = null;
  const native = nativeStatus();
  const nativeOn = native.active && name === 'wasm';
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
    nativeReason: isNode && !nativeOn ? (name === 'wasm' ? native.reason : `the ${name} backend is active`) : null,
    platform: isNode ? 'node' : 'browser',
    tfjsVersion: tf.version_core,
  };
}
