/**
 * Optional native acceleration in Node: a small Node-API addon (native/, compiled from source by
 * `npm install`) that runs matrix products on the system BLAS (OpenBLAS) directly on the wasm
 * backend's heap. When the addon or the BLAS is missing the library runs on wasm and says so once;
 * `ADAPTERKIT_NATIVE=0` turns it off.
 *
 * Browsers never load anything from here: the addon is reached only through `process` at run time
 * (no static or literal `node:` import), and only when {@link activateNative} runs under Node.
 */
import { tf } from './tf.js';
import { logger } from '../logger.js';
import { registerBlasBatchMatMul, unregisterBlasBatchMatMul } from './kernels/batch-mat-mul.js';
import { registerHeapKernels, unregisterHeapKernels } from './fused-kernels.js';
import { HEAP_OPS, type HeapKernels } from './kernels/heap-kernels.js';
import { registerLoraLinear, unregisterLoraLinear, type LoraLinearKernels } from './kernels/lora-linear.js';

/** Environment variable: `0` keeps the library on wasm even when the native kernels are built. */
export const NATIVE_ENV_VAR = 'ADAPTERKIT_NATIVE';
/** Environment variable: the BLAS's thread count (default {@link DEFAULT_BLAS_THREADS}). */
export const THREADS_ENV_VAR = 'ADAPTERKIT_THREADS';
/**
 * BLAS threads when nothing is asked for. Measured on the project's shared 2-core machine
 * (`npm run bench`, two runs at load averages 10–19): one thread 3.1 and 8.1 s per full step, two
 * threads 14.3 and 17.4 s — OpenBLAS's threads spin-wait and collapse when other jobs hold the cores.
 * On an otherwise idle machine `ADAPTERKIT_THREADS=2` (or more) speeds the matMuls up.
 */
export const DEFAULT_BLAS_THREADS = 1;

/** The functions the addon exports (native/adapterkit_native.c). */
export interface NativeAddon extends HeapKernels, Partial<LoraLinearKernels> {
  /** Row-major `C[i] = op(A[i])·op(B[i])` on `heap`; offsets and strides in floats (stride 0 broadcasts). */
  sgemm(
    heap: ArrayBufferLike,
    batch: number,
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    aOff: number,
    aStride: number,
    bOff: number,
    bStride: number,
    cOff: number,
    cStride: number,
  ): void;
  setThreads(n: number): void;
  info(): { available: boolean; error: string; library: string; config: string; threads: number };
}

/** What the native path is doing. */
export interface NativeStatus {
  /** Native kernels are registered on the wasm backend. */
  active: boolean;
  /** Why they are not (empty when active). */
  reason: string;
  /** The BLAS shared library in use, e.g. `/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so`. */
  blas: string | null;
  /** BLAS threads. */
  threads: number | null;
  /** Kernels replaced on the wasm backend. */
  kernels: string[];
}

const ENABLE_HINT =
  'to enable: install a C compiler and OpenBLAS (Debian: apt-get install build-essential python3 libopenblas0-pthread) and run `npm rebuild adapterkit`';

/** The compiled addon, relative to this module (a variable, so bundlers leave it alone). */
const ADDON_PATH: string = ['..', '..', 'native', 'build', 'Release', 'adapterkit_native.node'].join('/');

let addon: NativeAddon | null | undefined;
let loadError = '';
let status: NativeStatus = {
  active: false,
  reason: 'not activated (Node only)',
  blas: null,
  threads: null,
  kernels: [],
};
let announced = false;

/** Loads the compiled addon once; null (with {@link loadError}) when it is not built or fails to load. */
function loadAddon(): NativeAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  const proc = globalThis.process as
    (NodeJS.Process & { getBuiltinModule?: (id: string) => unknown }) | undefined;
  const mod = proc?.getBuiltinModule?.('node:module') as typeof import('node:module') | undefined;
  if (!mod) {
    loadError = 'needs Node ≥ 20.16 (process.getBuiltinModule)';
    return null;
  }
  try {
    // Resolved relative to this file: src/backend/ under tsx, dist/backend/ when built.
    addon = mod.createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
  } catch (e) {
    const msg = (e as Error).message;
    loadError = /Cannot find module/.test(msg)
      ? 'the native module is not built'
      : `the native module failed to load: ${msg}`;
    return null;
  }
  const info = addon.info();
  if (!info.available) {
    loadError = `no usable BLAS: ${info.error}`;
    addon = null;
  }
  return addon;
}

function requestedThreads(): number {
  const raw = globalThis.process?.env?.[THREADS_ENV_VAR];
  const n = raw === undefined || raw === '' ? DEFAULT_BLAS_THREADS : Number(raw);
  return Number.isInteger(n) && n >= 1 ? n : DEFAULT_BLAS_THREADS;
}

/**
 * Turns native kernels on for the wasm backend when possible (Node, addon built, BLAS found, not
 * disabled by `ADAPTERKIT_NATIVE=0` or `enabled: false`). Called by `initBackend` under Node; safe
 * to call again (e.g. to switch off and on in tests). Returns what is active.
 */
export function activateNative(opts: { enabled?: boolean; threads?: number } = {}): NativeStatus {
  const env = globalThis.process?.env;
  const off = opts.enabled === false || (opts.enabled === undefined && env?.[NATIVE_ENV_VAR] === '0');
  if (off) {
    deactivateNative(`turned off (${opts.enabled === false ? 'enabled: false' : `${NATIVE_ENV_VAR}=0`})`);
    return nativeStatus();
  }
  const lib = loadAddon();
  if (!lib) {
    deactivateNative(loadError);
    if (!announced) {
      announced = true;
      logger().warn(`native kernels not active (${loadError}); training runs on wasm. ${ENABLE_HINT}`);
    }
    return nativeStatus();
  }
  const threads = opts.threads ?? requestedThreads();
  lib.setThreads(threads);
  // Replaces the JavaScript fused kernels if they were registered: native wins.
  const kernels = [registerBlasBatchMatMul(lib), ...registerHeapKernels(lib, 'native', HEAP_OPS)];
  // An addon built before the fused LoRA kernels existed lacks them; LoRA then composes its ops.
  if (lib.loraLinear && lib.loraLinearGrad) kernels.push(...registerLoraLinear(lib as LoraLinearKernels));
  else unregisterLoraLinear();
  const info = lib.info();
  status = { active: true, reason: '', blas: info.library || null, threads: info.threads, kernels };
  return nativeStatus();
}

/** Restores the wasm backend's own kernels (JavaScript fused kernels, if registered, stay). */
export function deactivateNative(reason = 'turned off'): void {
  unregisterBlasBatchMatMul();
  unregisterHeapKernels('native');
  unregisterLoraLinear();
  status = { active: false, reason, blas: null, threads: null, kernels: [] };
}

/** A copy of the current native status. */
export function nativeStatus(): NativeStatus {
  return { ...status, kernels: [...status.kernels] };
}

/**
 * True when matrix products on the active backend run on the BLAS: transposes are then free
 * (BLAS flags) and batched products are fast, so callers skip wasm-specific workarounds.
 */
export function nativeKernelsActive(): boolean {
  return status.active && tf.getBackend() === 'wasm';
}
