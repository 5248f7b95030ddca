/** Shared by the PEFT directory tests (test/io/peft*.test.ts): configs, the PEFT key lists, an in-memory directory and a saved adapter. */
import { join } from 'node:path';
import { tf } from '../../src/backend/tf.js';
import type { Ia3Config, LoraConfig } from '../../src/adapters/index.js';
import { setLogger } from '../../src/logger.js';
import type { Module } from '../../src/nn/module.js';
import {
  PeftModel,
  peftTensorsFor,
  savePretrained,
  type FileSink,
  type FileSource,
} from '../../src/io/index.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { TinyLM, randomize, seed } from '../fixtures/lora-models.js';

export const lora = (extra: Partial<LoraConfig> = {}): LoraConfig => ({ type: 'lora', ...extra });
export const ia3 = (extra: Partial<Ia3Config> = {}): Ia3Config => ({ type: 'ia3', ...extra });
export const CONFIG = 'adapter_config.json';
export const WEIGHTS = 'adapter_model.safetensors';
export const GOLDEN = join(import.meta.dirname, '..', 'fixtures', 'golden');
export const G_CASES = ['g-peft-lora-plain', 'g-peft-lora-rank-alpha-pattern', 'g-peft-lora-rslora'];

/** Every LoRA key PEFT writes (the §4.1 table, the remaining PEFT keys, the common ones), without peft_version. */
export const LORA_KEYS = [
  'alora_invocation_tokens',
  'alpha_pattern',
  'arrow_config',
  'auto_mapping',
  'base_model_name_or_path',
  'bias',
  'corda_config',
  'ensure_weight_tying',
  'eva_config',
  'exclude_modules',
  'fan_in_fan_out',
  'inference_mode',
  'init_lora_weights',
  'kasa_config',
  'layer_replication',
  'layers_pattern',
  'layers_to_transform',
  'loftq_config',
  'lora_alpha',
  'lora_bias',
  'lora_dropout',
  'lora_ga_config',
  'megatron_config',
  'megatron_core',
  'modules_to_save',
  'monteclora_config',
  'peft_type',
  'qalora_group_size',
  'r',
  'rank_pattern',
  'revision',
  'target_modules',
  'target_parameters',
  'task_type',
  'trainable_token_indices',
  'use_bdlora',
  'use_dora',
  'use_qalora',
  'use_rslora',
  'velora_config',
];
export const IA3_KEYS = [
  'auto_mapping',
  'base_model_name_or_path',
  'exclude_modules',
  'fan_in_fan_out',
  'feedforward_modules',
  'inference_mode',
  'init_ia3_weights',
  'modules_to_save',
  'peft_type',
  'revision',
  'target_modules',
  'task_type',
];

/** An in-memory directory: a FileSink and a FileSource. */
export class MemDir implements FileSink, FileSource {
  readonly files = new Map<string, Uint8Array>();
  writeFile(path: string, data: Uint8Array | string): void {
    this.files.set(path, typeof data === 'string' ? new TextEncoder().encode(data) : data.slice());
  }
  readFile(path: string): Uint8Array | null {
    return this.files.get(path) ?? null;
  }
  json(path = CONFIG): Record<string, unknown> {
    return JSON.parse(new TextDecoder().decode(this.files.get(path)!));
  }
  setJson(value: unknown, path = CONFIG): this {
    this.files.set(path, new TextEncoder().encode(JSON.stringify(value)));
    return this;
  }
  text(path = CONFIG): string {
    return new TextDecoder().decode(this.files.get(path)!);
  }
  tensors(path = WEIGHTS) {
    return parseSafetensors(this.files.get(path)!, path);
  }
  clone(): MemDir {
    const d = new MemDir();
    for (const [k, v] of this.files) d.files.set(k, v.slice());
    return d;
  }
}

/** Runs `f`, collecting library warnings. */
export async function warningsOf<T>(f: () => Promise<T>): Promise<{ result: T; warnings: string[] }> {
  const warnings: string[] = [];
  const prev = setLogger({ warn: (m) => warnings.push(m) });
  try {
    return { result: await f(), warnings };
  } finally {
    setLogger(prev);
  }
}

/** Gives every variable adapter `name` saves seeded non-zero values (SPEC §4 intro). */
export function randomizeAdapter(peft: PeftModel, name = 'default', s = 100): void {
  let i = 0;
  for (const t of peftTensorsFor(peft, name).values())
    if (t instanceof tf.Variable) randomize(t, s + i++, 0.3);
}

/** A source model with one adapter (randomised), saved to memory. */
export async function savedAdapter(
  cfg: LoraConfig | Ia3Config,
  opts: { model?: () => Module; name?: string } = {},
) {
  seed();
  const model = opts.model ? opts.model() : new TinyLM();
  const peft = PeftModel.wrap(model, cfg, { adapterName: opts.name ?? 'default' });
  randomizeAdapter(peft, opts.name ?? 'default');
  const dir = new MemDir();
  await savePretrained(peft, dir);
  return { model, peft, dir };
}
