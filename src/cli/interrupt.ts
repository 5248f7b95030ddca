/**
 * Ctrl-C (SIGINT) and SIGTERM during a command. The first signal restores the terminal at once (the
 * progress bars hide the cursor and turn line wrap off) and asks the running command to stop at its next
 * step: it then throws {@link Interrupted}, leaving what it has written (metrics, the last checkpoint)
 * usable. A command not at such a point, or a second signal, exits straight away.
 */

/** The exit status of a process stopped by `signal` (the shell's 128 + signal number). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGTERM' ? 143 : 130;
}

/** Thrown by a command that stopped because of a signal. */
export class Interrupted extends Error {
  override readonly name = 'Interrupted';
  constructor(
    readonly signal: NodeJS.Signals,
    message = `interrupted by ${signal}`,
  ) {
    super(message);
  }
}

const cleanups = new Set<(signal: NodeJS.Signals) => void>();
let received: NodeJS.Signals | null = null;
let stoppable = 0;

/** Runs `fn` on a signal (before anything else); returns a function that unregisters it. */
export function onInterrupt(fn: (signal: NodeJS.Signals) => void): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Throws {@link Interrupted} if a signal has arrived. Call between steps of a long task. */
export function throwIfInterrupted(): void {
  if (received) throw new Interrupted(received);
}

/** The signal that arrived, if any. */
export function interruptSignal(): NodeJS.Signals | null {
  return received;
}

/**
 * Runs `fn`, a task that calls {@link throwIfInterrupted} between its steps: a signal while it runs
 * lets it stop cleanly at the next step instead of exiting at once.
 */
export async function stoppableTask<T>(fn: () => Promise<T>): Promise<T> {
  stoppable++;
  try {
    return await fn();
  } finally {
    stoppable--;
  }
}

/** What a signal does: restore the terminal, then stop at the next step or exit now. */
export function handleSignal(
  signal: NodeJS.Signals,
  exit: (code: number) => void = (c) => process.exit(c),
): void {
  for (const fn of [...cleanups]) {
    try {
      fn(signal);
    } catch {
      // restoring the terminal must not stop the others
    }
  }
  if (received || stoppable === 0) {
    process.stderr.write(`\n${signal}: stopped\n`);
    exit(signalExitCode(received ?? signal));
    return;
  }
  received = signal;
  process.stderr.write(`\n${signal}: stopping after the current step (press Ctrl-C again to stop now)\n`);
}

/** Installs the SIGINT and SIGTERM handlers for one command; returns a function that removes them. */
export function installSignalHandlers(): () => void {
  received = null;
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((sig) => {
    const h = () => handleSignal(sig);
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
    received = null;
  };
}
