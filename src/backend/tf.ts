// tfjs-core's declarations use the global `Long` of @types/long (its dependency) without referencing it;
// this makes them check in projects that restrict compilerOptions.types.
/// <reference types="long" preserve="true" />
/**
 * The one place the library imports TensorFlow.js from. The umbrella package `@tensorflow/tfjs` is
 * loaded for its side effects: it registers every gradient (tfjs-core alone registers none) and the
 * cpu and webgl backends; the wasm backend registers itself the same way. `tf` itself is tfjs-core, the
 * same module the umbrella re-exports, so the published declarations name only tfjs-core, whose types
 * check under `strict` (those of the umbrella's tfjs-layers do not). Importing tf anywhere else risks a
 * second engine copy with its own registries.
 */
import * as tfjs from '@tensorflow/tfjs';
import * as tfjsWasm from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { AdapterError } from '../errors.js';

// Using the two packages (not only importing them) keeps their imports out of the declaration files.
if (tfjs.Tensor !== tf.Tensor || typeof tfjsWasm.setWasmPaths !== 'function') {
  throw new AdapterError(
    'BACKEND_UNSUPPORTED',
    '@tensorflow/tfjs and @tensorflow/tfjs-core are two different copies; install one version of each ' +
      'TensorFlow.js package (npm dedupe), so that gradients and backends register where adapterkit looks',
  );
}

export { tf };
/**
 * Where the wasm backend fetches its `.wasm` files (TensorFlow.js's `setWasmPaths`), wrapped so that the
 * declaration files do not name the wasm package (its declarations do not check under `strict`).
 */
export function setWasmPaths(prefixOrFileMap: string | Readonly<Record<string, string>>): void {
  tfjsWasm.setWasmPaths(prefixOrFileMap as string | Record<string, string>);
}
export type Tensor = tf.Tensor;
export type Variable = tf.Variable;
