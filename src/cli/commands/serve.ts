import { basename, resolve } from 'node:path';
import { Command } from 'commander';
import { AdapterServer } from '../../server/adapter-server.js';
import { nonNegativeInt, positiveInt } from '../args.js';
import { DEFAULT_BASE_DIR, loadBaseModel } from '../base-model.js';
import { stoppableTask } from '../interrupt.js';

/** `adapterkit serve`: the multi-adapter completions server over an adapter store. */
export function serveCommand(): Command {
  return new Command('serve')
    .description(
      'serve the base model and the adapters of a store over an OpenAI-compatible HTTP API, batching requests across adapters',
    )
    .option('--base <dir>', 'base model checkpoint directory', DEFAULT_BASE_DIR)
    .option(
      '--base-name <name>',
      "name clients use for the base model without an adapter (default: the base directory's name)",
    )
    .requiredOption('--store <dir>', 'adapter store directory (adapters/<name>/manifest.json …)')
    .option('--host <addr>', 'interface to bind', '127.0.0.1')
    .option('--port <n>', 'port (0 = any free port)', nonNegativeInt('--port'), 8000)
    .option('--max-loras <n>', 'most adapters attached to the model at once', positiveInt('--max-loras'), 8)
    .option(
      '--max-cpu-loras <n>',
      'most adapters whose verified files stay in memory',
      nonNegativeInt('--max-cpu-loras'),
      32,
    )
    .option('--max-batch <n>', 'most sequences decoded together', positiveInt('--max-batch'), 64)
    .action(async (o) => {
      const { model, vocab, dir } = await loadBaseModel(o.base);
      const server = await AdapterServer.start({
        model,
        vocab,
        baseName: o.baseName ?? basename(resolve(dir)),
        store: resolve(o.store),
        host: o.host,
        port: o.port,
        maxLoras: o.maxLoras,
        maxCpuLoras: o.maxCpuLoras,
        maxBatch: o.maxBatch,
      });
      console.log(
        `serving on ${server.url} (base '${o.baseName ?? basename(resolve(dir))}', store ${resolve(o.store)})`,
      );
      // A stoppable task: the first Ctrl-C or SIGTERM closes the server (requests in flight finish) and
      // the command ends normally; a second one exits at once.
      await stoppableTask(
        () =>
          new Promise<void>((done) => {
            const stop = () => void server.close().then(done);
            process.once('SIGINT', stop);
            process.once('SIGTERM', stop);
          }),
      );
    });
}
