import { Command, Option } from 'commander';
import { TEXT_CORPUS_NAMES, type TextCorpusName } from '../../data/datasets.js';
import { loadAdaptersFromFile } from '../../io/files-by-path.js';
import { evaluateBpc } from '../../train/lm.js';
import { positiveInt } from '../args.js';
import { DEFAULT_BASE_DIR, encodeCorpus, loadBaseModel } from '../base-model.js';

/** What `adapterkit eval --json` reports. */
export interface EvalRecord {
  dataset: string;
  split: string;
  windows: number | null;
  adapters: string[];
  bpc: number;
}

/** `adapterkit eval`: bits per character of the base model, with or without an adapter file. */
export function evalCommand(): Command {
  return new Command('eval')
    .description('held-out bits per character of the base model, optionally with adapters loaded from a file')
    .option('--base <dir>', 'base model checkpoint directory', DEFAULT_BASE_DIR)
    .option('--adapter <file>', 'adapter file written by `adapterkit adapt`')
    .addOption(new Option('--dataset <name>', 'text to evaluate on').choices(TEXT_CORPUS_NAMES).default('sotu'))
    .addOption(new Option('--split <split>', 'which part of the text').choices(['heldOut', 'train']).default('heldOut'))
    .option('--windows <n>', 'evaluate this many evenly spaced windows instead of the whole split', positiveInt('--windows'))
    .option('--batch <n>', 'windows per forward pass', positiveInt('--batch'), 16)
    .option('--json', 'print the result as one JSON line ({event: "result", record})')
    .action(async (o) => {
      const { model, vocab } = await loadBaseModel(o.base);
      if (o.adapter) await loadAdaptersFromFile(model, o.adapter);
      const ids = encodeCorpus(vocab, o.dataset as TextCorpusName, o.split);
      const bpc = evaluateBpc(model, ids, { seqLen: model.cfg.maxLen, batch: o.batch, windows: o.windows });
      if (o.json) {
        const record: EvalRecord = { dataset: o.dataset, split: o.split, windows: o.windows ?? null, adapters: model.getEnabledAdapters(), bpc };
        process.stdout.write(`${JSON.stringify({ event: 'result', record })}\n`);
        return;
      }
      const what = o.adapter ? `with ${model.getEnabledAdapters().join(', ')}` : 'base model';
      console.log(`${o.dataset} ${o.split}: ${bpc.toFixed(4)} bits per character (${what})`);
    });
}
