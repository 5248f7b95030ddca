/**
 * The library's differentiable ops that replace TensorFlow.js ops whose gradients are slow or
 * missing on the wasm backend (TFJS-NOTES), one per file under `kernels/`; this index re-exports them.
 */
export { batchedMatMul } from './kernels/batched-mat-mul.js';
export { embeddingLookup } from './kernels/embedding-lookup.js';
export { matMul } from './kernels/mat-mul.js';
export { matMulWeightT } from './kernels/mat-mul-weight-t.js';
export { fusedLoraLinear, loraLinearFusable } from './kernels/lora-linear.js';
export { permuteRows } from './kernels/permute-rows.js';
export { transposeLast2 } from './kernels/transpose-last2.js';
