/**
 * The `adapterkit` command. Every subcommand has `--help`; bad flag values are rejected with a
 * message naming the flag and the valid values; library errors print their message and exit 1.
 */
import { Command, CommanderError } from 'commander';
import { pathToFileURL } from 'node:url';
import { initBackend } from '../backend/backend.js';
import { AdapterError } from '../errors.js';
import '../index.js';
import { adaptCommand } from './commands/adapt.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { generateCommand } from './commands/generate.js';
import { inspectCommand } from './commands/inspect.js';
import { cancelCommand, resultsCommand, statusCommand, submitCommand, workerCommand } from './commands/jobs.js';
import { exportCommand, mergeCommand } from './commands/merge.js';
import { pretrainCommand } from './commands/pretrain.js';
import { serveCommand } from './commands/serve.js';
import { spamCommand } from './commands/spam.js';
import { sweepCommand } from './commands/sweep.js';

/** The program with every subcommand. */
export function buildProgram(): Command {
  const program = new Command('adapterkit')
    .description('parameter-efficient adaptation of neural networks on TensorFlow.js')
    .option('--backend <name>', 'TensorFlow.js backend (wasm or cpu; default: $ADAPTERKIT_BACKEND or wasm)')
    .showHelpAfterError()
    .hook('preAction', async (cmd) => {
      const backend = cmd.opts().backend as string | undefined;
      await initBackend(backend ? { backend: backend as 'wasm' } : {});
    });
  for (const c of [
    demoCommand(),
    pretrainCommand(),
    adaptCommand(),
    evalCommand(),
    generateCommand(),
    inspectCommand(),
    mergeCommand(),
    exportCommand(),
    sweepCommand(),
    spamCommand(),
    workerCommand(),
    submitCommand(),
    statusCommand(),
    resultsCommand(),
    cancelCommand(),
    serveCommand(),
  ]) {
    program.addCommand(c);
  }
  return program;
}

/** Runs the CLI with `argv` (process.argv form); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (process.env.ADAPTERKIT_DEBUG) console.error(e);
    if (e instanceof AdapterError) {
      console.error(`error: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isEntry) process.exitCode = await main(process.argv);
