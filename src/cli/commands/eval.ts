import { Command, Option } from 'commander';
import { TEXT_CORPUS_NAMES, type TextCorpusName } from '../../data/datasets.js';
import { evaluateBpcAsync } from '../../recipes/lm.js';
import { positiveInt, windowCount } from '../args.js';
import { describeSetup, type SetupBlock } from '../../adapters/composition/setup.js';
import { loadModelWith, type LoadedModel } from '../artefact.js';
import { encodeCorpus } from '../base-model.js';
import { stoppableTask, throwIfInterrupted } from '../interrupt.js';
import { createTaskProgress, type ProgressMode, type TaskProgress } from '../progress.js';
import { UsageError } from '../user-error.js';
import { activateSetup, readSetupFlag } from '../setup-flag.js';
import { progressOption } from './pretrain.js';

/** What `adapterkit eval --json` reports. */
export interface EvalRecord {
  dataset: string;
  split: string;
  windows: number | null;
  adapters: string[];
  /** The `--setup` the adapters ran in (JSON form), when one was given. */
  setup?: SetupBlock;
  bpc: number;
}

/** Windows evaluated by default: a fixed, evenly spaced sample, seconds instead of minutes. */
export const DEFAULT_EVAL_WINDOWS = 512;

/** `--base`, `--adapter`, `--setup`: what `eval` and `generate` load. */
export function modelOptions(cmd: Command): Command {
  return cmd
    .option(
      '--base <dir>',
      'base model checkpoint directory (default: the one the run was trained on, else the shipped Moby-Dick model)',
    )
    .option(
      '--adapter <path>',
      'what `adapterkit adapt` wrote: its run directory, an adapter file, a PEFT directory (LoRA) or a model directory (full fine-tuning); repeat it, or write name=path, to load several adapter files for --setup',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--setup <setup>',
      "how the loaded adapters compose: 'stack(a, b)', 'average(a, b, weights=[1, 3])', 'stack(a, fuse(b, c))', … or a .json file holding the setup's JSON form",
    );
}

/** Loads what `--base` and `--adapter` name and activates `--setup` (see {@link modelOptions}). */
export async function loadModelFromFlags(o: {
  adapter?: string[];
  base?: string;
  setup?: string;
}): Promise<LoadedModel> {
  const setup = o.setup === undefined ? undefined : await readSetupFlag(o.setup);
  const loaded = await loadModelWith(o.adapter, o.base);
  if (setup === undefined) return loaded;
  if (loaded.lm !== loaded.model)
    throw new UsageError(
      `--setup composes adapters from adapter files; ${loaded.description.replace(/^with /, '')} holds LoRA, which has no composition setups`,
    );
  activateSetup(loaded.model, setup);
  return { ...loaded, setup, description: `${loaded.description}, setup ${describeSetup(setup)}` };
}

/** `adapterkit eval`: bits per character of the base model, alone or with what an `adapt` run trained. */
export function evalCommand(): Command {
  return modelOptions(
    new Command('eval').description(
      'held-out bits per character of the base model, alone or with what `adapterkit adapt` trained',
    ),
  )
    .addOption(
      new Option('--dataset <name>', 'text to evaluate on').choices(TEXT_CORPUS_NAMES).default('sotu'),
    )
    .addOption(
      new Option('--split <split>', 'which part of the text')
        .choices(['heldOut', 'train'])
        .default('heldOut'),
    )
    .option(
      '--eval-windows <n>',
      "evenly spaced windows evaluated, or 'all' for every window of the split (exact, minutes on a whole text)",
      windowCount('--eval-windows'),
      DEFAULT_EVAL_WINDOWS,
    )
    .addOption(
      new Option('--windows <n>', 'old name of --eval-windows')
        .argParser(windowCount('--windows'))
        .hideHelp(),
    )
    .option('--batch <n>', 'windows per forward pass', positiveInt('--batch'), 16)
    .option('--json', 'print the result as one JSON line ({event: "result", record})')
    .addOption(progressOption())
    .action(async (o) => {
      if (o.windows !== undefined && o.evalWindows !== DEFAULT_EVAL_WINDOWS)
        throw new UsageError('give --eval-windows only (--windows is its old name)');
      const chosen: number | 'all' = o.windows ?? o.evalWindows;
      const windows = chosen === 'all' ? undefined : chosen;
      const loaded = await loadModelFromFlags(o);
      const ids = encodeCorpus(loaded.vocab, o.dataset as TextCorpusName, o.split);
      // The bar is made on the first batch, when the number of batches is known.
      let bar: TaskProgress | null = null;
      const bpc = await stoppableTask(() =>
        evaluateBpcAsync(loaded.lm, ids, {
          seqLen: loaded.model.cfg.maxLen,
          batch: o.batch,
          windows,
          onBatch: (done, total) => {
            bar ??= createTaskProgress(`eval ${o.dataset}`, total, 'batches', o.progress as ProgressMode);
            bar.update(done);
            throwIfInterrupted();
          },
        }),
      ).finally(() => (bar as TaskProgress | null)?.stop());
      if (o.json) {
        const record: EvalRecord = {
          dataset: o.dataset,
          split: o.split,
          windows: windows ?? null,
          adapters: loaded.adapters,
          ...(loaded.setup ? { setup: loaded.setup } : {}),
          bpc,
        };
        process.stdout.write(`${JSON.stringify({ event: 'result', record })}\n`);
        return;
      }
      const sample = windows === undefined ? 'every window' : `${windows} windows`;
      console.log(
        `${o.dataset} ${o.split} (${sample}): ${bpc.toFixed(4)} bits per character (${loaded.description})`,
      );
    });
}
