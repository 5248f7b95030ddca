/** What an adapter checkpoint of a wrapped model holds (SPEC §3.10 B-170, §4.1). */
import type { Tensor } from '../../backend/tf.js';
import { BatchNorm } from '../../nn/layers.js';
import type { Module, StateDict } from '../../nn/module.js';
import { libraryFrozen } from '../host.js';

/** Batch-norm buffers saved with adapters when the library froze the batch norm. */
export const BATCH_NORM_STAT_BUFFERS = ['running_mean', 'running_var', 'num_batches_tracked'] as const;

/**
 * The trainable parameters of `model` by state key, plus `running_mean`, `running_var` and
 * `num_batches_tracked` of every batch norm the library froze (`PeftModel.wrap`,
 * `unfreezeEnabledAdapters`). The tensors are the model's own: do not dispose them.
 *
 * @example
 * ```ts
 * const peft = PeftModel.wrap(model, { type: 'lora', targetModules: ['fc'] });
 * [...adapterStateDict(model).keys()]; // ['fc.lora_A.default.weight', 'fc.lora_B.default.weight', 'bn.running_mean', …]
 * ```
 */
export function adapterStateDict(model: Module): StateDict {
  const out: StateDict = new Map();
  for (const [key, p] of model.namedParameters()) if (p.trainable) out.set(key, p);
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof BatchNorm) || !libraryFrozen.has(m)) continue;
    for (const name of BATCH_NORM_STAT_BUFFERS) {
      const t: Tensor | undefined = m.getBuffer(name);
      if (t) out.set(path ? `${path}.${name}` : name, t);
    }
  }
  return out;
}
