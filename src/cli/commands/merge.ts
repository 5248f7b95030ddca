import { Command, Option } from 'commander';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AdapterError } from '../../errors.js';
import { saveModelToDir } from '../../io/files-by-path.js';
import { savePretrained } from '../../io/peft.js';
import { loadPretrained } from '../../io/peft-model.js';
import { locateArtefact } from '../artefact.js';
import { DEFAULT_BASE_DIR, loadBaseModel } from '../base-model.js';
import { withOutputDir } from '../run-dir.js';
import { baseShape, checkSameShape, runRecordOf } from '../run-record.js';

const BASE_HELP =
  'base model checkpoint directory (default: the one the run recorded in run.json, else the shipped Moby-Dick model)';

/** The base of a run's artefact: `--base` when given, else the recorded one, else the shipped model; checked against the record. */
async function baseFor(artefact: string, baseFlag: string | undefined) {
  const record = await runRecordOf(artefact);
  const dir = baseFlag ?? record?.base.path ?? DEFAULT_BASE_DIR;
  const base = await loadBaseModel(dir);
  if (record) checkSameShape(artefact, record.base, baseShape(base.model.cfg), dir);
  return base;
}

/** `adapterkit merge`: folds a PEFT LoRA/IA³ directory into the base model's weights. */
export function mergeCommand(): Command {
  return new Command('merge')
    .description(
      'fold a PEFT LoRA or IA3 adapter directory into the base model and write the merged model checkpoint',
    )
    .option('--base <dir>', BASE_HELP)
    .requiredOption(
      '--peft <dir>',
      'PEFT adapter directory (adapter_config.json + adapter_model.safetensors), or the run directory of `adapt --method lora`',
    )
    .requiredOption('--out <dir>', 'model checkpoint directory to create')
    .option('--force', 'replace --out if it holds an earlier model')
    .option('--safe', 'check the merged weights for NaN/Inf before writing them')
    .action(async (o) => {
      const source = await peftDirOf(o.peft);
      const { model, dir } = await baseFor(source, o.base);
      const peft = await loadPretrained(model, source);
      const merged = peft.mergeAndUnload({ safeMerge: Boolean(o.safe) });
      await withOutputDir(o.out, { force: o.force }, () => saveModelToDir(merged as typeof model, o.out));
      console.log(
        `merged ${source} into ${dir}; wrote ${o.out} (${merged.numParameters()} parameters, no adapters)`,
      );
    });
}

/** The PEFT directory `path` is or holds (an `adapt --method lora` run keeps it in `peft/`). */
async function peftDirOf(run: string): Promise<string> {
  if (await stat(join(run, 'adapter_config.json')).catch(() => null)) return run;
  const dir = join(run, 'peft');
  if (await stat(join(dir, 'adapter_config.json')).catch(() => null)) return dir;
  if (!(await stat(run).catch(() => null)))
    throw new AdapterError('INVALID_INPUT', `no such file or directory: ${run}`, { path: run });
  if ((await locateArtefact(run).catch(() => null))?.kind === 'model') {
    throw new AdapterError(
      'UNSUPPORTED_FEATURE',
      `${run} is a whole model (full fine-tuning), not a LoRA adapter; use it directly as --base or --adapter`,
    );
  }
  if (await stat(join(run, 'adapter.safetensors')).catch(() => null)) {
    throw new AdapterError(
      'UNSUPPORTED_FEATURE',
      `${run} holds a bottleneck (linear) adapter, which the PEFT format cannot express; export a LoRA run (adapt --method lora), or use the adapter file itself`,
    );
  }
  throw new AdapterError(
    'CHECKPOINT_FORMAT',
    `${run} is not an adapt run directory with a PEFT adapter (no peft/adapter_config.json)`,
  );
}

/** `adapterkit export`: writes a trained LoRA run as a PEFT directory, e.g. in another dtype. */
export function exportCommand(): Command {
  return new Command('export')
    .description(
      'write the LoRA adapter of an `adapt` run as a PEFT directory that PEFT and other tools load',
    )
    .addOption(new Option('--format <format>', 'output format').choices(['peft']).makeOptionMandatory())
    .requiredOption('--run <dir>', 'run directory written by `adapterkit adapt --method lora`')
    .requiredOption('--out <dir>', 'directory to create')
    .option('--base <dir>', BASE_HELP)
    .option('--force', 'replace --out if it holds an earlier export')
    .addOption(
      new Option('--dtype <dtype>', 'tensor storage type')
        .choices(['float32', 'float16', 'bfloat16'])
        .default('float32'),
    )
    .option('--base-model-name <name>', 'base_model_name_or_path written into adapter_config.json')
    .action(async (o) => {
      const source = await peftDirOf(o.run);
      const { model } = await baseFor(source, o.base);
      const peft = await loadPretrained(model, source);
      await withOutputDir(o.out, { force: o.force }, () =>
        savePretrained(peft, o.out, {
          dtype: o.dtype,
          ...(o.baseModelName ? { baseModelNameOrPath: o.baseModelName } : {}),
        }),
      );
      console.log(`wrote ${o.out} (PEFT ${o.dtype})`);
    });
}
