import { Command } from 'commander';
import { loadAdaptersFromFile } from '../../io/files-by-path.js';
import { createRng } from '../../rng.js';
import { nonNegativeInt, positiveInt, positiveNumber } from '../args.js';
import { DEFAULT_BASE_DIR, loadBaseModel } from '../base-model.js';

/** `adapterkit generate`: samples text from the base model, optionally with an adapter. */
export function generateCommand(): Command {
  return new Command('generate')
    .description('sample text from the base model, optionally with adapters loaded from a file')
    .option('--base <dir>', 'base model checkpoint directory', DEFAULT_BASE_DIR)
    .option('--adapter <file>', 'adapter file written by `adapterkit adapt`')
    .option('--prompt <text>', 'text to continue', 'The ')
    .option('--length <n>', 'characters to generate', positiveInt('--length'), 200)
    .option('--temperature <x>', 'sampling temperature', positiveNumber('--temperature'), 0.8)
    .option('--seed <n>', 'sampling seed', nonNegativeInt('--seed'), 0)
    .action(async (o) => {
      const { model, vocab } = await loadBaseModel(o.base);
      if (o.adapter) await loadAdaptersFromFile(model, o.adapter);
      const ids = model.generate(vocab.encode(o.prompt), o.length, { temperature: o.temperature, rng: createRng(o.seed) });
      console.log(o.prompt + vocab.decode(ids));
    });
}
