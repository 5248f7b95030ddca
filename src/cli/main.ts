/**
 * The `adapterkit` command. Every subcommand has `--help`. Every failure ends with one line on standard
 * error (`error: …`, and with `--json` or `--progress json` also `{"event":"error","code",…}` on standard
 * output) and exit code 1 (failed while running) or 2 (the command line is wrong); Ctrl-C or SIGTERM
 * exits with 130 or 143 after restoring the terminal. `ADAPTERKIT_DEBUG=1` also prints the stack.
 */
import { Command, CommanderError, Option } from 'commander';
import { pathToFileURL } from 'node:url';
import { BACKEND_NAMES, initBackend, type BackendName } from '../backend/backend.js';
import '../node.js'; // the whole library, with Node's file system installed for paths
import { adaptCommand } from './commands/adapt.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { generateCommand } from './commands/generate.js';
import { inspectCommand } from './commands/inspect.js';
import {
  cancelCommand,
  resultsCommand,
  statusCommand,
  submitCommand,
  workerCommand,
} from './commands/jobs.js';
import { exportCommand, mergeCommand } from './commands/merge.js';
import { pretrainCommand } from './commands/pretrain.js';
import { serveCommand } from './commands/serve.js';
import { spamCommand } from './commands/spam.js';
import { sweepCommand } from './commands/sweep.js';
import { installSignalHandlers, Interrupted, signalExitCode } from './interrupt.js';
import { stopAllProgress } from './progress.js';
import { describeError } from './user-error.js';

/** The program with every subcommand. */
export function buildProgram(): Command {
  const program = new Command('adapterkit')
    .description('parameter-efficient adaptation of neural networks on TensorFlow.js')
    .addOption(
      new Option('--backend <name>', 'TensorFlow.js backend (default: $ADAPTERKIT_BACKEND or wasm)').choices(
        BACKEND_NAMES,
      ),
    )
    .hook('preAction', async (cmd) => {
      const backend = cmd.opts().backend as BackendName | undefined;
      await initBackend(backend ? { backend } : {});
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

/** Whether the command line asks for machine-readable output. */
function wantsJson(argv: string[]): boolean {
  return argv.some(
    (a, i) => a === '--json' || a === '--progress=json' || (a === '--progress' && argv[i + 1] === 'json'),
  );
}

/** Reports `e` as one line (plus a JSON line in JSON mode); returns the exit code. */
function report(e: unknown, argv: string[]): number {
  stopAllProgress();
  if (process.env.ADAPTERKIT_DEBUG) console.error(e);
  if (e instanceof Interrupted) {
    console.error(e.message);
    if (wantsJson(argv))
      process.stdout.write(`${JSON.stringify({ event: 'error', code: e.signal, message: e.message })}\n`);
    return signalExitCode(e.signal);
  }
  const r = describeError(e);
  const hint = r.exitCode === 2 && !/--help/.test(r.message) ? ` (see --help)` : '';
  console.error(`error: ${r.message}${hint}`);
  if (wantsJson(argv))
    process.stdout.write(
      `${JSON.stringify({ event: 'error', code: r.code, message: r.message, exitCode: r.exitCode })}\n`,
    );
  return r.exitCode;
}

/** Runs the CLI with `argv` (process.argv form); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  // Commander's own messages go through `report`, as one line like every other error.
  const quiet = { outputError: () => {} };
  program.exitOverride().configureOutput(quiet);
  for (const c of program.commands) c.exitOverride().configureOutput(quiet);
  const uninstallSignals = installSignalHandlers();
  // An error thrown outside the command's promise (a stream or timer callback) is reported the same way.
  const onUncaught = (e: unknown) => process.exit(report(e, argv));
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError && e.exitCode === 0) return 0;
    if (e instanceof CommanderError && e.code === 'commander.help') return 2; // no command given: help was printed
    return report(e, argv);
  } finally {
    uninstallSignals();
    process.removeListener('uncaughtException', onUncaught);
    process.removeListener('unhandledRejection', onUncaught);
  }
}

const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isEntry) process.exitCode = await main(process.argv);
