/**
 * Trainable-parameter report (SPEC §4.7), with the line PEFT's `print_trainable_parameters` prints.
 */
import type { Variable } from '../backend/tf.js';
import type { Module } from '../nn/module.js';
import { AdapterHeadsWrapper } from './heads/heads-wrapper.js';
import { isAdapterHost } from './host-brand.js';
import type { AdapterHostModule } from './host.js';
import { ModulesToSaveWrapper } from './tuners/modules-to-save.js';
import { BaseTunerLayer } from './tuners/tuner-layer.js';

/** What {@link trainableParameterReport} returns. */
export interface TrainableParameterReport {
  /** Trainable scalar elements over unique parameters. */
  trainable: number;
  /** All scalar elements over unique parameters. */
  total: number;
  /** `100 · trainable / total` (0 when `total` is 0). */
  percent: number;
  /** Trainable elements per adapter name (LoRA/IA³ wrappers, modules-to-save copies, output extensions, NeMo-style hosts). */
  byAdapter: Record<string, number>;
}

/**
 * Counts parameter elements of `model` (a shared parameter counts once). `byAdapter` sums, per
 * adapter name, the trainable elements of its LoRA/DoRA/IA³ tensors, of its modules-to-save copies,
 * and of the NeMo-style adapters of that name held by hosts; an adapter whose tensors are all frozen
 * is listed with 0.
 *
 * @example
 * ```ts
 * const r = trainableParameterReport(peft);
 * console.log(formatTrainableParameters(r)); // trainable params: 8,192 || all params: 1,056,768 || trainable%: 0.7752
 * ```
 */
export function trainableParameterReport(model: Module): TrainableParameterReport {
  let trainable = 0;
  let total = 0;
  for (const p of model.parameters()) {
    total += p.size;
    if (p.trainable) trainable += p.size;
  }
  const perAdapter = new Map<string, Set<Variable>>();
  const add = (name: string, params: Iterable<Variable>) => {
    let set = perAdapter.get(name);
    if (!set) perAdapter.set(name, (set = new Set()));
    for (const p of params) set.add(p);
  };
  for (const [, m] of model.namedModules()) {
    if (m instanceof BaseTunerLayer) {
      for (const n of m.heldAdapters())
        add(
          n,
          m.adapterParameters(n).map((t) => t.param),
        );
    } else if (m instanceof ModulesToSaveWrapper) {
      for (const n of m.heldAdapters()) add(n, m.modules_to_save.get(n)!.parameters());
      if (m instanceof AdapterHeadsWrapper)
        for (const [n, ext] of m.output_extensions.entries()) add(n, ext.parameters());
    } else if (isAdapterHost(m)) {
      const layer = (m as AdapterHostModule).peekAdapterLayer();
      for (const [n, adapter] of layer?.entries() ?? []) add(n, adapter.parameters());
    }
  }
  const byAdapter: Record<string, number> = {};
  for (const [n, set] of perAdapter) {
    byAdapter[n] = [...set].reduce((s, p) => s + (p.trainable ? p.size : 0), 0);
  }
  return { trainable, total, percent: total === 0 ? 0 : (100 * trainable) / total, byAdapter };
}

/**
 * `trainable params: <t> || all params: <n> || trainable%: <p>`, comma thousands separators and four
 * decimals, as PEFT prints it.
 *
 * @example
 * ```ts
 * formatTrainableParameters({ trainable: 3686400, total: 3089625088 });
 * // 'trainable params: 3,686,400 || all params: 3,089,625,088 || trainable%: 0.1193'
 * ```
 */
export function formatTrainableParameters(r: { trainable: number; total: number }): string {
  const percent = r.total === 0 ? 0 : (100 * r.trainable) / r.total;
  const n = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 0 });
  return `trainable params: ${n(r.trainable)} || all params: ${n(r.total)} || trainable%: ${percent.toFixed(4)}`;
}
