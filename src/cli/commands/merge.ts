import { Command, Option } from 'commander';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AdapterError } from '../../errors.js';
import { saveModelToDir } from '../../io/files-by-path.js';
import { loadPretrained, savePretrained } from '../../io/peft.js';
import { DEFAULT_BASE_DIR, loadBaseModel } from '../base-model.js';
import { ensureNewDir } from '../run-dir.js';

/** `adapterkit merge`: folds a PEFT LoRA/IA³ directory into the base model's weights. */
export function mergeCommand(): Command {
  return new Command('merge')
    .description('fold a PEFT LoRA or IA3 adapter directory into the base model and write the merged model checkpoint')
    .option('--base <dir>', 'base model checkpoint directory', DEFAULT_BASE_DIR)
    .requiredOption('--peft <dir>', 'PEFT adapter directory (adapter_config.json + adapter_model.safetensors)')
    .requiredOption('--out <dir>', 'model checkpoint directory to create')
    .option('--safe', 'check the merged weights for NaN/Inf before writing them')
    .action(async (o) => {
      const { model } = await loadBaseModel(o.base);
      const peft = await loadPretrained(model, o.peft);
      const merged = peft.mergeAndUnload({ safeMerge: Boolean(o.safe) });
      await ensureNewDir(o.out);
      await saveModelToDir(merged as typeof model, o.out);
      console.log(`merged ${o.peft} into ${o.base}; wrote ${o.out} (${merged.numParameters()} parameters, no adapters)`);
    });
}

/** Where an `adapt --method lora` run keeps its PEFT directory. */
async function peftDirOf(run: string): Promise<string> {
  const dir = join(run, 'peft');
  if (await stat(join(dir, 'adapter_config.json')).catch(() => null)) return dir;
  if (await stat(join(run, 'adapter.safetensors')).catch(() => null)) {
    throw new AdapterError(
      'UNSUPPORTED_FEATURE',
      `${run} holds a bottleneck (linear) adapter, which the PEFT format cannot express; export a LoRA run (adapt --method lora), or use the adapter file itself`,
    );
  }
  throw new AdapterError('CHECKPOINT_FORMAT', `${run} is not an adapt run directory with a PEFT adapter (no peft/adapter_config.json)`);
}

/** `adapterkit export`: writes a trained LoRA run as a PEFT directory, e.g. in another dtype. */
export function exportCommand(): Command {
  return new Command('export')
    .description('write the LoRA adapter of an `adapt` run as a PEFT directory that PEFT and other tools load')
    .addOption(new Option('--format <format>', 'output format').choices(['peft']).makeOptionMandatory())
    .requiredOption('--run <dir>', 'run directory written by `adapterkit adapt --method lora`')
    .requiredOption('--out <dir>', 'directory to create')
    .option('--base <dir>', 'base model checkpoint directory', DEFAULT_BASE_DIR)
    .addOption(new Option('--dtype <dtype>', 'tensor storage type').choices(['float32', 'float16', 'bfloat16']).default('float32'))
    .option('--base-model-name <name>', 'base_model_name_or_path written into adapter_config.json')
    .action(async (o) => {
      const source = await peftDirOf(o.run);
      const { model } = await loadBaseModel(o.base);
      const peft = await loadPretrained(model, source);
      await ensureNewDir(o.out);
      await savePretrained(peft, o.out, { dtype: o.dtype, ...(o.baseModelName ? { baseModelNameOrPath: o.baseModelName } : {}) });
      console.log(`wrote ${o.out} (PEFT ${o.dtype})`);
    });
}
