/**
 * The PeftModel the package exports: the adapters layer's PeftModel (wrapping, targets, merge,
 * per-sample routing) plus PEFT directories as methods, `peft.savePretrained(target, opts)`,
 * `peft.loadAdapter(source, name, opts)` and `PeftModel.loadPretrained(model, source, opts)`. It is
 * a plain subclass (no patching): `PeftModel.wrap` and `loadPretrained` return its instances.
 */
import type { Tensor } from '../backend/tf.js';
import type { Module } from '../nn/module.js';
import { loadPeftTensors, peftTensorsFor, type LoadPeftTensorsResult } from './peft-keys.js';
import { loadAdapter, loadPretrainedAs, savePretrained, type FileSink, type FileSource } from './peft.js';
import type { LoadAdapterOptions, LoadPretrainedOptions, SavePretrainedOptions } from './peft-options.js';
import { TunerPeftModel } from './tuner-peft-model.js';

/**
 * A model whose layers carry LoRA, DoRA or IA³ adapters (what PEFT calls `PeftModel`), with PEFT
 * checkpoint directories. Everything of the tuner core (`wrap`, `addAdapter`, `forward`,
 * `mergeAdapters`, `mergeAndUnload`, …) plus {@link PeftModel.savePretrained},
 * {@link PeftModel.loadAdapter} and {@link PeftModel.loadPretrained}; the same operations are the
 * functions {@link savePretrained}, {@link loadAdapter} and {@link loadPretrained}.
 *
 * @example
 * ```ts
 * const peft = PeftModel.wrap(model, { type: 'lora', targetModules: ['q_proj', 'v_proj'], r: 8, loraAlpha: 16 });
 * await peft.savePretrained('./out');                      // adapter_config.json + adapter_model.safetensors
 * const again = await PeftModel.loadPretrained(freshModel, './out');
 * ```
 */
export class PeftModel extends TunerPeftModel {
  /** As the core's `wrap`; returns this class's instance (the core builds with `new this`). */
  static override wrap(...args: Parameters<typeof TunerPeftModel.wrap>): PeftModel {
    return super.wrap(...args) as PeftModel;
  }

  /** Loads a PEFT adapter directory onto `model`; see {@link loadPretrained}. */
  static loadPretrained(
    model: Module,
    source: string | FileSource,
    opts?: LoadPretrainedOptions,
  ): Promise<PeftModel> {
    return loadPretrainedAs(this, model, source, opts);
  }

  /** Writes adapters as a PEFT directory; see {@link savePretrained}. */
  savePretrained(target: string | FileSink, opts?: SavePretrainedOptions): Promise<void> {
    return savePretrained(this, target, opts);
  }

  /** Adds the adapter stored in a PEFT directory under `adapterName`; see {@link loadAdapter}. */
  loadAdapter(source: string | FileSource, adapterName: string, opts?: LoadAdapterOptions) {
    return loadAdapter(this, source, adapterName, opts);
  }

  /** Adapter `name`'s tensors under PEFT's checkpoint keys; see {@link peftTensorsFor}. */
  peftTensorsFor(name: string): Map<string, Tensor> {
    return peftTensorsFor(this, name);
  }

  /** Loads tensors keyed as in a PEFT checkpoint into adapter `name`; see {@link loadPeftTensors}. */
  loadPeftTensors(
    name: string,
    tensors: Map<string, Tensor>,
    opts?: { strict?: boolean },
  ): LoadPeftTensorsResult {
    return loadPeftTensors(this, name, tensors, opts);
  }
}

/**
 * Loads a PEFT adapter directory onto `model` (what PEFT calls `PeftModel.from_pretrained`): reads
 * `adapter_config.json` (SPEC §4.3 "Reading"), wraps the model's targeted layers, and loads
 * `adapter_model.safetensors` (F32, F16 or BF16; keys without `base_model.model.` accepted with one
 * warning). The config and the tensor file are validated before the model is touched; a tensor
 * mismatch (`STATE_DICT_MISMATCH`, naming the keys, both shapes and "looks transposed") unwraps the
 * model again, restoring its trainable flags.
 *
 * With `isTrainable: false` (default) every tensor of the adapter is frozen and the model is put in
 * eval mode, as PEFT does.
 *
 * Errors: `CHECKPOINT_FORMAT` (missing files, `adapter_model.bin` only, bad JSON, missing `peft_type`,
 * malformed safetensors), `UNSUPPORTED_FEATURE` (other PEFT types, features the library cannot
 * honour; or `model` already managed by a PeftModel: use {@link loadAdapter}), `INVALID_CONFIG`
 * (bad values, naming the PEFT key; `target_modules` missing without a model default),
 * `TARGET_NOT_FOUND` / `UNSUPPORTED_TARGET` (§4.2), `STATE_DICT_MISMATCH`.
 *
 * @example
 * ```ts
 * const peft = await loadPretrained(model, './my-adapter', { adapterName: 'sql' });
 * const y = peft.forward(x);
 * ```
 */
export function loadPretrained(
  model: Module,
  source: string | FileSource,
  opts?: LoadPretrainedOptions,
): Promise<PeftModel> {
  return PeftModel.loadPretrained(model, source, opts);
}
