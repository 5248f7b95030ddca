/**
 * What the kill-during-save child loads in place of `@tensorflow/tfjs` (bundle alias): TensorFlow.js
 * core and its CPU backend only. Saving needs no gradients, layers or converters, and loading the full
 * package costs most of the child's start-up, which each of the many killed children pays.
 */
import '@tensorflow/tfjs-backend-cpu';

export * from '@tensorflow/tfjs-core';
