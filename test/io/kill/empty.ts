/**
 * What the kill-during-save child loads in place of `@tensorflow/tfjs-backend-wasm` (bundle alias): the
 * child runs on the CPU backend, so only the name the library imports from the wasm package is needed.
 */
export function setWasmPaths(): void {}
