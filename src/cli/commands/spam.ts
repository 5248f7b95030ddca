import { Command, Option } from 'commander';
import { evaluateClassifier, trainSpamClassifier, DEFAULT_SPAM_TRAINING } from '../../recipes/classify.js';
import { nonNegativeInt, positiveInt, positiveNumber } from '../args.js';
import { DEFAULT_BASE_DIR, loadBaseModel } from '../base-model.js';
import { createProgress, type ProgressMode } from '../progress.js';
import { progressOption } from './pretrain.js';

/** `adapterkit spam`: the second task, spam vs ham with the encoder classifier. */
export function spamCommand(): Command {
  const d = DEFAULT_SPAM_TRAINING;
  return new Command('spam')
    .description(
      'classify SpamAssassin mail as spam or ham with a transformer encoder, from scratch or from the base model’s character embeddings',
    )
    .addOption(
      new Option('--init <how>', 'start from random weights, or from the char LM’s vocabulary and embeddings')
        .choices(['scratch', 'lm'])
        .default('scratch'),
    )
    .option('--base <dir>', 'char LM checkpoint for --init lm', DEFAULT_BASE_DIR)
    .addOption(
      new Option('--adapter <kind>', 'train only a linear adapter (and the head) on the frozen encoder')
        .choices(['none', 'linear'])
        .default('none'),
    )
    .option('--dim <n>', 'adapter bottleneck width', positiveInt('--dim'), 16)
    .option('--steps <n>', 'optimizer steps', positiveInt('--steps'), d.steps)
    .option('--batch <n>', 'messages per step', positiveInt('--batch'), d.batch)
    .option('--max-len <n>', 'characters read per message', positiveInt('--max-len'), d.maxLen)
    .option('--lr <x>', 'peak learning rate', positiveNumber('--lr'), d.lr)
    .option('--seed <n>', 'seed', nonNegativeInt('--seed'), d.seed)
    .addOption(progressOption())
    .action(async (o) => {
      const lm = o.init === 'lm' ? (await loadBaseModel(o.base)).model : undefined;
      const init = lm ? { lm } : 'scratch';
      const dModel = lm?.cfg.dModel ?? d.model.dModel;
      const progress = createProgress('spam', o.steps, o.progress as ProgressMode);
      const run = await trainSpamClassifier({
        steps: o.steps,
        batch: o.batch,
        maxLen: o.maxLen,
        lr: o.lr,
        seed: o.seed,
        init,
        ...(o.adapter === 'linear' ? { adapter: { type: 'linear', inFeatures: dModel, dim: o.dim } } : {}),
        onStep: (i) =>
          progress.update({
            step: i.step,
            loss: i.loss,
            tokensPerSecond: i.totalTokens / (i.elapsedMs / 1000),
          }),
      });
      progress.stop();
      const test = evaluateClassifier(run.model, run.splits.test, { maxLen: o.maxLen, vocab: run.vocab });
      console.log(
        `spam vs ham: ${run.trainableParameters} trainable parameters, test accuracy ${(100 * test.accuracy).toFixed(1)} % on ${test.count} messages (loss ${test.loss.toFixed(3)})`,
      );
    });
}
