import { Command } from 'commander';
import { createRng } from '../../rng.js';
import { nonEmptyText, nonNegativeInt, positiveInt, positiveNumber } from '../args.js';
import { loadModelFromFlags, modelOptions } from './eval.js';

/** `adapterkit generate`: samples text from the base model, alone or with what an `adapt` run trained. */
export function generateCommand(): Command {
  return modelOptions(
    new Command('generate').description(
      'sample text from the base model, alone or with what `adapterkit adapt` trained',
    ),
  )
    .option(
      '--prompt <text>',
      'text to continue',
      nonEmptyText('--prompt', 'the model continues a text; give at least one character'),
      'The ',
    )
    .option('--length <n>', 'characters to generate', positiveInt('--length'), 200)
    .option('--temperature <x>', 'sampling temperature', positiveNumber('--temperature'), 0.8)
    .option('--seed <n>', 'sampling seed', nonNegativeInt('--seed'), 0)
    .action(async (o) => {
      const { model, vocab } = await loadModelFromFlags(o);
      const ids = model.generate(vocab.encode(o.prompt), o.length, {
        temperature: o.temperature,
        rng: createRng(o.seed),
      });
      console.log(o.prompt + vocab.decode(ids));
    });
}
