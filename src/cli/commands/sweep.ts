/**
 * `adapterkit sweep`: the learning-rate sweep behind each method's default. Every run trains on the
 * SOTU training addresses minus the validation ones and is scored on the validation addresses, so the
 * held-out addresses the main job reports on are never used for choosing.
 */
import { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AdapterError } from '../../errors.js';
import { nameList, positiveInt } from '../args.js';
import { DEFAULT_BASE_DIR } from '../base-model.js';
import { pool, runAdaptChild } from '../child-runs.js';
import { createMultiProgress, type ProgressMode } from '../progress.js';
import { timestamp, withOutputDir } from '../run-dir.js';
import { DEMO_METHODS } from './demo.js';
import { progressOption } from './pretrain.js';

const DEFAULT_GRID = {
  'full-finetune': [1e-3, 3e-3, 1e-2],
  'linear-adapter': [3e-3, 1e-2, 3e-2],
  lora: [3e-3, 1e-2, 3e-2],
  'lora-ffn': [3e-3, 1e-2, 3e-2],
};

function parseLrs(v: string): number[] {
  const lrs = v.split(',').map(Number);
  if (lrs.some((x) => !Number.isFinite(x) || x <= 0))
    throw new AdapterError(
      'INVALID_CONFIG',
      `--lrs must be positive numbers separated by commas, got '${v}'`,
    );
  return lrs;
}

export function sweepCommand(): Command {
  return new Command('sweep')
    .description('learning-rate sweep per method, scored on validation addresses (never the held-out ones)')
    .option('--base <dir>', 'base model checkpoint directory', DEFAULT_BASE_DIR)
    .option('--out <dir>', 'parent of the sweep directory', 'runs')
    .option(
      '--methods <list>',
      `methods (${Object.keys(DEMO_METHODS).join(', ')})`,
      nameList('--methods'),
      Object.keys(DEFAULT_GRID),
    )
    .option('--lrs <list>', 'learning rates for every method (default: a grid per method)', parseLrs)
    .option('--steps <n>', 'optimizer steps per run', positiveInt('--steps'), 200)
    .option('--workers <n>', 'runs at the same time', positiveInt('--workers'), 2)
    .option('--eval-windows <n>', 'validation windows per run', positiveInt('--eval-windows'), 256)
    .addOption(progressOption())
    .action(async (o) => {
      const methods = o.methods as string[];
      for (const m of methods) {
        if (!DEMO_METHODS[m])
          throw new AdapterError(
            'INVALID_CONFIG',
            `--methods: unknown method '${m}'; valid: ${Object.keys(DEMO_METHODS).join(', ')}`,
          );
      }
      const dir = join(o.out, `sweep-${timestamp()}`);
      await withOutputDir(dir, {}, async () => {
        const runs = methods.flatMap((m) =>
          (
            (o.lrs as number[] | undefined) ??
            DEFAULT_GRID[m as keyof typeof DEFAULT_GRID] ?? [1e-3, 3e-3, 1e-2]
          ).map((lr) => DEMO_METHODS[m]!(lr)),
        );
        const bars = createMultiProgress(o.progress as ProgressMode);
        const records = await pool(
          runs.map((r) => () => {
            const label = `${r.name}@${r.lr}`;
            return runAdaptChild(
              [
                '--base',
                o.base,
                '--tune',
                '--steps',
                String(o.steps),
                '--lr',
                String(r.lr),
                '--eval-windows',
                String(o.evalWindows),
                '--name',
                r.name,
                '--out',
                join(dir, label),
                ...r.flags,
              ],
              bars.add(label, o.steps),
            );
          }),
          o.workers,
        );
        bars.stop();
        const rows = records.map((r) => ({
          method: r.name,
          lr: r.lr,
          validationBpc: r.heldOutBpc,
          finalLoss: r.finalLoss,
          seconds: r.seconds,
        }));
        const best = Object.fromEntries(
          methods.map((m) => [
            m,
            rows.filter((r) => r.method === m).sort((a, b) => a.validationBpc - b.validationBpc)[0]!.lr,
          ]),
        );
        await writeFile(
          join(dir, 'sweep.json'),
          `${JSON.stringify({ steps: o.steps, rows, best }, null, 2)}\n`,
        );
        console.log('| method | lr | validation bpc |\n|---|---:|---:|');
        for (const r of rows)
          console.log(
            `| ${r.method} | ${r.lr} | ${r.validationBpc.toFixed(3)}${best[r.method] === r.lr ? ' (best)' : ''} |`,
          );
        console.log(`wrote ${join(dir, 'sweep.json')}`);
      });
    });
}
