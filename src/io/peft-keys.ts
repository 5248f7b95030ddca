/**
 * PEFT's checkpoint key naming (SPEC §4.3): the key set a PEFT writer saves and a reader loads for
 * one adapter of a {@link PeftModel}. The adapter name never appears in a key; the prefix
 * `base_model.model.` is kept. Each wrapper layer declares its tensors' key suffixes
 * (`lora_A.weight`, `ia3_l`, …); this file adds the model path and prefix, the modules-to-save copies
 * under their original keys and the base biases an adapter trains (`….base_layer.bias`).
 */
import { tf, type Tensor } from '../backend/tf.js';
import { AdapterError } from '../errors.js';
import { logger } from '../logger.js';
import { fmtShape } from '../nn/module.js';
import { ModulesToSaveWrapper } from '../adapters/tuners/modules-to-save.js';
import type { PeftModel } from '../adapters/tuners/peft-model.js';
import { getTunerMethod } from '../adapters/tuners/registry.js';
import { BaseTunerLayer } from '../adapters/tuners/tuner-layer.js';

/** The prefix PEFT puts in front of model paths. */
export const PEFT_KEY_PREFIX = 'base_model.model.';
/** The prefix of tensors PEFT keeps on the tuner rather than in the model (VeRA's `base_model.vera_A`). */
export const PEFT_SHARED_KEY_PREFIX = 'base_model.';

/** @internal One expected tensor: its PEFT key, the live tensor, how to write a loaded value. */
export interface PeftEntry {
  key: string;
  tensor: Tensor;
  assign(value: Tensor): void;
}

/** What `loadPeftTensors` returns (non-empty lists only when not strict). */
export interface LoadPeftTensorsResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

function assignVariable(v: tf.Variable): (value: Tensor) => void {
  return (value) => tf.tidy(() => v.assign(value.dtype === v.dtype ? value : tf.cast(value, v.dtype)));
}

/** @internal Every tensor of adapter `name`, by PEFT key. Unknown name → `UNKNOWN_ADAPTER`. */
export function collectPeftEntries(peft: PeftModel, name: string, where: string): PeftEntry[] {
  const record = peft.adapterRecord(name, where);
  const model = peft.model;
  const out: PeftEntry[] = [];
  for (const { path, layer } of record.layers) {
    for (const t of layer.adapterParameters(name)) {
      out.push({
        key: `${PEFT_KEY_PREFIX}${path}.${t.peftKey}`,
        tensor: t.param,
        assign: assignVariable(t.param),
      });
    }
  }
  for (const { path, wrapper } of record.copies) {
    const copy = wrapper.modules_to_save.get(name);
    if (!copy) continue;
    const params = new Map(copy.namedParameters());
    for (const [k, t] of copy.stateDict()) {
      const v = params.get(k);
      const assign = v
        ? assignVariable(v)
        : (value: Tensor) => {
            const i = k.lastIndexOf('.');
            const owner = i < 0 ? copy : copy.namedModules().find(([p]) => p === k.slice(0, i))![1];
            owner.setBuffer(
              k.slice(i + 1),
              tf.tidy(() => (value.dtype === t.dtype ? tf.clone(value) : tf.cast(value, t.dtype))),
            );
          };
      out.push({ key: `${PEFT_KEY_PREFIX}${path}.${k}`, tensor: t, assign });
    }
  }
  // Tensors shared by every layer of the adapter (VeRA's projections) sit on the tuner itself.
  for (const t of record.shared?.peftTensors() ?? [])
    out.push({ key: `${PEFT_SHARED_KEY_PREFIX}${t.peftKey}`, tensor: t.tensor, assign: t.assign });
  const method = getTunerMethod(record.config.type);
  const bias = method.biasMode ? method.biasMode(record.config) : 'none';
  if (bias !== 'none') {
    const wrapped = new Set<string>();
    for (const { path, layer } of record.layers) {
      wrapped.add(path);
      if (layer.bias)
        out.push({
          key: `${PEFT_KEY_PREFIX}${path}.base_layer.bias`,
          tensor: layer.bias,
          assign: assignVariable(layer.bias),
        });
    }
    if (bias === 'all') {
      const skip: string[] = [];
      for (const [p, m] of model.namedModules()) {
        if (m instanceof BaseTunerLayer) skip.push(`${p}.`);
        if (m instanceof ModulesToSaveWrapper) skip.push(`${p}.modules_to_save.`);
      }
      for (const [key, v] of model.namedParameters()) {
        if (!(key === 'bias' || key.endsWith('.bias')) || skip.some((s) => key.startsWith(s))) continue;
        const owner = key.slice(0, Math.max(0, key.length - '.bias'.length));
        if (wrapped.has(owner)) continue;
        out.push({ key: `${PEFT_KEY_PREFIX}${key}`, tensor: v, assign: assignVariable(v) });
      }
    }
  }
  return out;
}

/** @internal Checks `tensors` against `expected`, then copies. See {@link loadPeftTensors}. */
export function loadPeftEntries(
  expected: PeftEntry[],
  tensors: Map<string, Tensor>,
  opts: { strict: boolean; where: string },
): LoadPeftTensorsResult {
  const byKey = new Map(expected.map((e) => [e.key, e]));
  const given = new Map<string, Tensor>();
  let unprefixed = 0;
  for (const [k, t] of tensors) {
    if (k.startsWith(PEFT_KEY_PREFIX) || byKey.has(k)) given.set(k, t);
    else {
      unprefixed++;
      given.set(PEFT_KEY_PREFIX + k, t);
    }
  }
  if (unprefixed)
    logger().warn(
      `${opts.where}: ${unprefixed} key(s) had no '${PEFT_KEY_PREFIX}' prefix; read them as model paths`,
    );
  const missingKeys = [...byKey.keys()].filter((k) => !given.has(k));
  const unexpectedKeys = [...given.keys()].filter((k) => !byKey.has(k));
  const mismatched: string[] = [];
  for (const [k, t] of given) {
    const e = byKey.get(k);
    if (!e) continue;
    const want = e.tensor.shape;
    const same = t.shape.length === want.length && t.shape.every((d, i) => d === want[i]);
    if (same) continue;
    const reversed = [...want].reverse();
    const transposed =
      t.shape.length === reversed.length && want.length > 1 && t.shape.every((d, i) => d === reversed[i]);
    mismatched.push(
      `'${k}': file shape ${fmtShape(t.shape)}, expected ${fmtShape(want)}${transposed ? ' (looks transposed)' : ''}`,
    );
  }
  const parts: string[] = [];
  if (mismatched.length) parts.push(`shape mismatch for ${mismatched.join('; ')}`);
  if (missingKeys.length) parts.push(`missing keys: ${missingKeys.join(', ')}`);
  if (unexpectedKeys.length) parts.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
  if (mismatched.length || (opts.strict && (missingKeys.length || unexpectedKeys.length))) {
    throw new AdapterError('STATE_DICT_MISMATCH', `${opts.where}: ${parts.join('; ')}`, {
      missingKeys,
      unexpectedKeys,
      shapeMismatches: mismatched,
    });
  }
  if (parts.length) logger().warn(`${opts.where}: ${parts.join('; ')}; the other tensors were loaded`);
  for (const [k, t] of given) byKey.get(k)?.assign(t);
  return { missingKeys, unexpectedKeys };
}

/**
 * Adapter `name`'s tensors by PEFT key (§4.3): `base_model.model.<path>.lora_A.weight`, `….lora_B.weight`,
 * `….lora_B.bias`, `….lora_embedding_A`, `….lora_embedding_B`, `….lora_magnitude_vector`, `….ia3_l`,
 * `….vera_lambda_b`, `….vera_lambda_d`, tensors shared by the adapter's layers under `base_model.`
 * (`base_model.vera_A`), modules-to-save copies under the original keys, and `….base_layer.bias` / `<path>.bias` for
 * `bias: 'lora_only' | 'all'`. The tensors are the live variables and buffers: do not dispose them.
 * Unknown name → `UNKNOWN_ADAPTER`.
 *
 * @example
 * ```ts
 * const peft = PeftModel.wrap(model, { type: 'lora', targetModules: ['q_proj'] });
 * [...peftTensorsFor(peft, 'default').keys()]; // ['base_model.model.layers.0.q_proj.lora_A.weight', …]
 * ```
 */
export function peftTensorsFor(peft: PeftModel, name: string): Map<string, Tensor> {
  return new Map(collectPeftEntries(peft, name, 'peftTensorsFor').map((e) => [e.key, e.tensor]));
}

/**
 * Loads adapter `name`'s tensors from PEFT keys (keys without `base_model.model.` are accepted with one
 * warning). Missing, unexpected and mis-shaped keys are reported together in one
 * `STATE_DICT_MISMATCH` (strict, the default) or one warning (non-strict); a shape mismatch fails
 * even when non-strict, with "looks transposed" when the shape is the expected one reversed.
 * Nothing is copied when an error is raised.
 *
 * @example
 * ```ts
 * loadPeftTensors(peft, 'default', tensorsFromSafetensors(bytes)); // { missingKeys: [], unexpectedKeys: [] }
 * ```
 */
export function loadPeftTensors(
  peft: PeftModel,
  name: string,
  tensors: Map<string, Tensor>,
  opts: { strict?: boolean } = {},
): LoadPeftTensorsResult {
  const expected = collectPeftEntries(peft, name, 'loadPeftTensors');
  return loadPeftEntries(expected, tensors, {
    strict: opts.strict ?? true,
    where: `loadPeftTensors('${name}')`,
  });
}
