/**
 * The adapters layer's PeftModel (the tuner core: wrapping, targets, merge; no files), as the io layer
 * builds on it. Its one import point in this layer: `peft.ts` reads and writes PEFT directories for it,
 * and `peft-model.ts` extends it into the PeftModel the package exports.
 */
export { PeftModel as TunerPeftModel, peftModelOf } from '../adapters/index.js';
