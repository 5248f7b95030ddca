import { Command, Option } from 'commander';
import { TEXT_CORPUS_NAMES, type TextCorpusName } from '../../data/datasets.js';
import { ACTIVATIONS, type Activation } from '../../nn/activations.js';
import { AdapterError } from '../../errors.js';
import { ADAPT_METHODS, DEFAULT_LR, type AdaptMethod } from '../../recipes/adapt.js';
import { nameList, nonNegativeInt, positiveInt, positiveNumber, windowCount } from '../args.js';
import { runAdapt } from '../adapt-run.js';
import { DEFAULT_BASE_DIR } from '../base-model.js';
import { createProgress, type ProgressMode } from '../progress.js';
import { readRunRecord } from '../run-record.js';
import { timestamp, withOutputDir } from '../run-dir.js';
import { UsageError } from '../user-error.js';
import { progressOption } from './pretrain.js';

/** Learning rates chosen by the sweep recorded in the README, per method (shared with training jobs). */
export { DEFAULT_LR };

/** Default label of a run, per method. */
const RUN_NAMES: Record<(typeof ADAPT_METHODS)[number], string> = {
  full: 'full-finetune',
  linear: 'linear-adapter',
  parallel: 'parallel-adapter',
  lora: 'lora',
  vera: 'vera',
  prefix: 'prefix-tuning',
  mam: 'mam-adapter',
};

/** Builds the method from the command's flags. */
export function methodFromFlags(o: {
  method: string;
  dim: number;
  activation?: Activation;
  normPosition?: 'pre' | 'post';
  scaling: number;
  rank: number;
  alpha?: number;
  targets: string[];
  trainable?: string;
  modulesToSave?: string[];
  prefixTokens?: number;
  prefixProjection?: boolean;
  prefixHidden?: number;
}): AdaptMethod {
  if (o.trainable !== undefined && o.method !== 'full') {
    throw new UsageError(`--trainable applies to --method full only (got --method ${o.method})`);
  }
  if (o.method === 'full') {
    if (o.modulesToSave !== undefined)
      throw new UsageError(
        '--modules-to-save applies to adapter methods (linear, parallel, lora, vera, prefix, mam); --method full trains every module already (use --trainable to choose)',
      );
    return o.trainable === undefined ? { kind: 'full' } : { kind: 'full', trainable: o.trainable };
  }
  // Module copies the adapter owns (PEFT's modules_to_save); given as paths, space- or comma-separated.
  const heads = o.modulesToSave === undefined ? {} : { modulesToSave: modulesToSaveList(o.modulesToSave) };
  if (o.method === 'linear')
    return {
      kind: 'linear',
      dim: o.dim,
      ...(o.activation ? { activation: o.activation } : {}),
      ...(o.normPosition ? { normPosition: o.normPosition } : {}),
      ...heads,
    };
  const isPrefix = o.method === 'prefix' || o.method === 'mam';
  if (!isPrefix && (o.prefixProjection || o.prefixHidden !== undefined)) {
    const flag = o.prefixProjection ? '--prefix-projection' : '--prefix-hidden';
    throw new UsageError(`${flag} applies to --method prefix or mam only (got --method ${o.method})`);
  }
  if (o.prefixHidden !== undefined && !o.prefixProjection) {
    throw new UsageError('--prefix-hidden is the width of the prefix MLP; add --prefix-projection');
  }
  if (o.method === 'parallel') return { kind: 'parallel', dim: o.dim, scaling: o.scaling, ...heads };
  if (isPrefix) {
    const prefix = {
      numVirtualTokens: o.prefixTokens ?? 16,
      ...(o.prefixProjection ? { prefixProjection: true } : {}),
      ...(o.prefixHidden !== undefined ? { encoderHiddenSize: o.prefixHidden } : {}),
    };
    return o.method === 'prefix'
      ? { kind: 'prefix', ...prefix, ...heads }
      : { kind: 'mam', dim: o.dim, scaling: o.scaling, ...prefix, ...heads };
  }
  if (o.method === 'vera') return { kind: 'vera', r: o.rank, targetModules: o.targets, ...heads };
  return { kind: 'lora', r: o.rank, alpha: o.alpha ?? 2 * o.rank, targetModules: o.targets, ...heads };
}

function modulesToSaveList(values: string[]): string[] {
  const paths = values.flatMap((v) => v.split(',')).map((p) => p.trim());
  if (paths.length === 0 || paths.some((p) => p === ''))
    throw new UsageError(
      `--modules-to-save must list module paths such as 'lm_head' or 'decoder.norm', got '${values.join(' ')}'`,
    );
  return paths;
}

/** `--prefix-tokens`: prefix tuning's (and MAM's) virtual tokens; shared with `submit`. */
export const prefixTokensOption = () =>
  new Option('--prefix-tokens <n>', 'prefix tuning (and MAM): learned key and value vectors per layer')
    .argParser(positiveInt('--prefix-tokens'))
    .default(16);
/** `--prefix-projection`; shared with `submit`. */
export const prefixProjectionOption = () =>
  new Option('--prefix-projection', "prefix tuning (and MAM): reparameterise the prefixes with PEFT's MLP");
/** `--prefix-hidden`; shared with `submit`. */
export const prefixHiddenOption = () =>
  new Option(
    '--prefix-hidden <n>',
    'hidden width of the prefix MLP (with --prefix-projection; default the model width)',
  ).argParser(positiveInt('--prefix-hidden'));
/** `--modules-to-save`; shared with `submit`. */
export const modulesToSaveOption = () =>
  new Option(
    '--modules-to-save <paths...>',
    "modules the adapter owns a trainable copy of (PEFT's modules_to_save), e.g. 'decoder.norm'; not with --method full",
  );

/** `adapterkit adapt`: adapts the base model to a corpus with one method. */
export function adaptCommand(): Command {
  return new Command('adapt')
    .description('adapt the pretrained base model to a text with an adapter, LoRA, or full fine-tuning')
    .option('--base <dir>', 'base model checkpoint directory', DEFAULT_BASE_DIR)
    .addOption(new Option('--dataset <name>', 'text to adapt to').choices(TEXT_CORPUS_NAMES).default('sotu'))
    .addOption(
      new Option('--source <name>', 'the base model’s own text, evaluated to show what was forgotten')
        .choices(TEXT_CORPUS_NAMES)
        .default('mobydick'),
    )
    .addOption(new Option('--method <kind>', 'what to train').choices(ADAPT_METHODS).default('linear'))
    .option(
      '--dim <n>',
      'bottleneck width of the linear or parallel adapter (and of MAM’s parallel part)',
      positiveInt('--dim'),
      32,
    )
    .addOption(
      new Option('--activation <name>', 'activation of the linear adapter')
        .choices(ACTIVATIONS)
        .default('swish'),
    )
    .addOption(
      new Option('--norm-position <where>', 'LayerNorm before or after the linear adapter')
        .choices(['pre', 'post'])
        .default('pre'),
    )
    .option(
      '--scaling <x>',
      'output scale of the parallel adapter and of MAM’s parallel part (4 = scaled parallel)',
      positiveNumber('--scaling'),
      4,
    )
    .addOption(prefixTokensOption())
    .addOption(prefixProjectionOption())
    .addOption(prefixHiddenOption())
    .option('--rank <n>', 'LoRA or VeRA rank (PEFT’s VeRA default is 256)', positiveInt('--rank'), 8)
    .option('--alpha <x>', 'LoRA alpha (default 2 × rank)', positiveNumber('--alpha'))
    .option('--targets <list>', 'LoRA or VeRA target modules, comma-separated', nameList('--targets'), [
      'q_proj',
      'v_proj',
    ])
    .addOption(modulesToSaveOption())
    .option(
      '--trainable <regex>',
      "with --method full: train only the parameters whose path matches, e.g. '^lm_head' or 'ffn'",
    )
    .option('--steps <n>', 'optimizer steps', positiveInt('--steps'), 200)
    .option('--batch <n>', 'sequences per step', positiveInt('--batch'), 16)
    .option('--seq-len <n>', 'characters per sequence (default: the model context)', positiveInt('--seq-len'))
    .option('--lr <x>', 'peak learning rate (default: per method, see README)', positiveNumber('--lr'))
    .option('--seed <n>', 'seed of the batches and the adapter initialisation', nonNegativeInt('--seed'), 0)
    .option(
      '--eval-windows <n>',
      "held-out windows evaluated (evenly spaced), or 'all'",
      windowCount('--eval-windows'),
      512,
    )
    .option(
      '--tune',
      'train without the validation part of the training text and evaluate on it (for choosing hyper-parameters; the held-out text is not used)',
    )
    .option('--name <label>', 'label of this run in reports')
    .option('--out <dir>', 'run directory to create (default: runs/adapt-<time>)')
    .option(
      '--checkpoint-every <n>',
      'save a resumable checkpoint every n steps (the newest is kept until the run finishes)',
      positiveInt('--checkpoint-every'),
      50,
    )
    .option(
      '--resume',
      'continue the interrupted run in --out from its last checkpoint, with the settings it recorded',
    )
    .option('--force', 'replace --out if it holds an earlier run')
    .addOption(progressOption())
    .action(async (o, cmd: Command) => {
      if (o.resume) await useRecordedSettings(o, cmd);
      const method = methodFromFlags(o);
      const partial = method.kind === 'full' && method.trainable !== undefined;
      const name = o.name ?? (partial ? 'partial-finetune' : RUN_NAMES[method.kind]);
      const { resume: _r, force: _f, progress: _p, out: _o, ...settings } = o;
      const record = await withOutputDir(
        o.out ?? `runs/adapt-${timestamp()}`,
        { force: o.force, resume: o.resume, resumable: true },
        (out) =>
          runAdapt(
            {
              name,
              baseDir: o.base,
              dataset: o.dataset as TextCorpusName,
              sourceDataset: o.source as TextCorpusName,
              method,
              steps: o.steps,
              batch: o.batch,
              seqLen: o.seqLen,
              lr: o.lr ?? DEFAULT_LR[method.kind],
              seed: o.seed,
              evalWindows: o.evalWindows === 'all' ? undefined : o.evalWindows,
              outDir: out.path,
              tune: Boolean(o.tune),
              checkpointEvery: o.checkpointEvery,
              resume: out.resumed,
              recordedOptions: settings,
            },
            createProgress(name, o.steps, o.progress as ProgressMode),
          ),
      );
      if (o.progress === 'json') process.stdout.write(`${JSON.stringify({ event: 'result', record })}\n`);
      else {
        console.log(
          `${name}: ${record.trainableParams} trainable parameters (${record.trainablePercent.toFixed(2)} %), ${record.evalSplit} ${o.dataset} ${record.heldOutBpc.toFixed(3)} bpc, ${o.source} ${record.sourceHeldOutBpc.toFixed(3)} bpc; saved ${record.saved}`,
        );
      }
    });
}

/**
 * `--resume`: the run continues with the settings recorded in its `run.json`; a flag given with a
 * different value is refused (the run would no longer be the one that was started).
 */
async function useRecordedSettings(o: Record<string, unknown>, cmd: Command): Promise<void> {
  if (typeof o.out !== 'string')
    throw new UsageError('--resume needs --out <dir>, the run directory to continue');
  const rec = await readRunRecord(o.out);
  if (!rec)
    throw new AdapterError(
      'INVALID_INPUT',
      `--resume: ${o.out} has no run.json; it is not a run started by adapterkit adapt`,
      { path: o.out },
    );
  for (const [key, value] of Object.entries(rec.options)) {
    if (cmd.getOptionValueSource(key) === 'cli' && JSON.stringify(o[key]) !== JSON.stringify(value)) {
      const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new UsageError(
        `--resume: this run was started with ${flag} ${JSON.stringify(value)}, not ${JSON.stringify(o[key])}; drop the flag or start a new run`,
      );
    }
    o[key] = value;
  }
  if (cmd.getOptionValueSource('base') !== 'cli') o.base = rec.base.path; // absolute, whatever the working directory
}
