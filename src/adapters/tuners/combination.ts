/** Options of `PeftModel.addWeightedAdapter` (what PEFT calls `add_weighted_adapter`). */
import type { AdapterRecord } from './adapter-record.js';

/** How the adapters are combined. */
export const COMBINATION_TYPES = ['linear', 'cat', 'svd'] as const;
/** One of {@link COMBINATION_TYPES}. */
export type CombinationType = (typeof COMBINATION_TYPES)[number];

/** Options of `PeftModel.addWeightedAdapter`. */
export interface WeightedAdapterOptions {
  /** Default `'svd'`, as PEFT. With a single source adapter, `'linear'` is used whatever is given. */
  combinationType?: CombinationType;
  /** Rank of the `'svd'` result. Default: the largest source rank. */
  svdRank?: number;
}

/** @internal What a method's `addWeightedAdapter` hook may do with the model. */
export interface WeightedHost {
  records: ReadonlyMap<string, AdapterRecord>;
  record(name: string, where: string): AdapterRecord;
  addAdapter(name: string, cfg: { type: string }): void;
  deleteAdapter(name: string): void;
  setAdapterTrainable(name: string, trainable: boolean): void;
  disable(name: string): void;
}
