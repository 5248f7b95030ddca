/**
 * The one place the library imports TensorFlow.js from. The umbrella package registers every gradient
 * (tfjs-core alone registers none); the wasm backend is imported for its side effect of registering
 * itself. Importing tf anywhere else risks a second engine copy with its own registries.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export { tf };
export { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
export type Tensor = tf.Tensor;
export type Variable = tf.Variable;
