import { Command, Option } from 'commander';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { saveModelToDir } from '../../io/files-by-path.js';
import { DEFAULT_PRETRAIN, pretrainCharLm } from '../../recipes/pretrain.js';
import { nonNegativeInt, positiveInt, positiveNumber } from '../args.js';
import { createProgress, defaultProgressMode, type ProgressMode } from '../progress.js';
import { stoppableTask, throwIfInterrupted } from '../interrupt.js';
import { timestamp, withOutputDir } from '../run-dir.js';

/** `adapterkit pretrain`: trains the Moby-Dick base model from scratch. */
export function pretrainCommand(): Command {
  const d = DEFAULT_PRETRAIN;
  return new Command('pretrain')
    .description(
      'train the character-level base model on Moby-Dick from scratch (reproduces the shipped weights with the defaults)',
    )
    .option('--out <dir>', 'checkpoint directory to create (default: runs/pretrain-<time>)')
    .option('--force', 'replace --out if it holds an earlier model or run (e.g. assets/mobydick-char-lm)')
    .option('--steps <n>', 'optimizer steps', positiveInt('--steps'), d.steps)
    .option('--batch <n>', 'sequences per step', positiveInt('--batch'), d.batch)
    .option(
      '--seq-len <n>',
      'characters per sequence (also the model context)',
      positiveInt('--seq-len'),
      d.seqLen,
    )
    .option('--lr <x>', 'peak learning rate (AdamW, warmup then cosine)', positiveNumber('--lr'), d.lr)
    .option(
      '--warmup-steps <n>',
      'linear warmup steps (default: 5 % of --steps)',
      nonNegativeInt('--warmup-steps'),
    )
    .option('--seed <n>', 'seed of the initial weights and the batches', nonNegativeInt('--seed'), d.seed)
    .option('--d-model <n>', 'model width', positiveInt('--d-model'), d.dModel)
    .option('--layers <n>', 'transformer blocks', positiveInt('--layers'), d.numLayers)
    .option('--heads <n>', 'attention heads', positiveInt('--heads'), d.nHead)
    .option('--d-ff <n>', 'feed-forward width', positiveInt('--d-ff'), d.dFF)
    .option('--checkpoint-dir <dir>', 'save a resumable checkpoint every 100 steps here')
    .option('--resume', 'continue from the newest checkpoint in --checkpoint-dir')
    .addOption(progressOption())
    .action(async (o) => {
      const outDir: string = o.out ?? `runs/pretrain-${timestamp()}`;
      await withOutputDir(outDir, { force: o.force }, async () => {
        const progress = createProgress('pretrain', o.steps, o.progress as ProgressMode);
        const r = await stoppableTask(() =>
          pretrainCharLm(
            {
              steps: o.steps,
              warmupSteps: o.warmupSteps,
              batch: o.batch,
              seqLen: o.seqLen,
              lr: o.lr,
              seed: o.seed,
              dModel: o.dModel,
              numLayers: o.layers,
              nHead: o.heads,
              dFF: o.dFf,
            },
            {
              checkpointDir: o.checkpointDir,
              resume: Boolean(o.resume),
              onStep: async (i) => {
                progress.update({
                  step: i.step,
                  loss: i.loss,
                  tokensPerSecond: i.totalTokens / (i.elapsedMs / 1000),
                });
                // Lets a signal in between steps (the training loop itself never waits on the event loop).
                await new Promise((resolve) => setImmediate(resolve));
                throwIfInterrupted();
              },
            },
          ),
        ).finally(() => progress.stop());
        await saveModelToDir(r.model, outDir);
        const record = {
          options: r.options,
          heldOutBpc: r.heldOutBpc,
          finalLoss: r.losses.at(-1),
          parameters: r.model.numParameters(),
        };
        await writeFile(join(outDir, 'pretrain.json'), `${JSON.stringify(record, null, 2)}\n`);
        console.log(
          `saved ${outDir}: ${record.parameters} parameters, held-out Moby-Dick ${r.heldOutBpc.toFixed(3)} bpc`,
        );
      });
    });
}

/** `--progress bar|lines|json|none`. */
export function progressOption(): Option {
  return new Option('--progress <mode>', 'progress display')
    .choices(['bar', 'lines', 'json', 'none'])
    .default(defaultProgressMode());
}
