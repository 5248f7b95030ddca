/**
 * How the CLI reports a failure: one line naming the problem, an exit code (1 for a failure while
 * running, 2 for a command line that is wrong), and a stable code for `--json` callers. Errors that are
 * not the library's own (file system, JSON, TensorFlow.js) are put in the same terms.
 */
import { CommanderError } from 'commander';
import { AdapterError } from '../errors.js';

/** A command line that cannot work as given (conflicting or missing flags): exit code 2. */
export class UsageError extends AdapterError {
  constructor(message: string) {
    super('INVALID_INPUT', message, { usage: true });
  }
}

/** What the user sees of a failure. */
export interface ErrorReport {
  /** `AdapterError` codes, Node's system error codes (`ENOENT`, …), `USAGE`, `INVALID_JSON` or `INTERNAL`. */
  code: string;
  /** One line. */
  message: string;
  /** 1: the command failed while running; 2: the command line is wrong. */
  exitCode: 1 | 2;
}

/** Node's system errors in words. */
const SYSTEM_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'this is a directory; a file was expected',
  ENOTDIR: 'a path component is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EROFS: 'the file system is read-only',
  EEXIST: 'it already exists',
  ENOTEMPTY: 'the directory is not empty',
  EMFILE: 'too many open files',
};

interface SystemError extends Error {
  code: string;
  syscall?: string;
  path?: string;
}

function isSystemError(e: unknown): e is SystemError {
  return (
    e instanceof Error &&
    typeof (e as SystemError).code === 'string' &&
    /^E[A-Z]+$/.test((e as SystemError).code)
  );
}

/** Several lines joined into one. */
export function oneLine(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ');
}

/** The report for any thrown value. */
export function describeError(e: unknown): ErrorReport {
  if (e instanceof CommanderError) {
    return { code: 'USAGE', message: oneLine(e.message.replace(/^error:\s*/, '')), exitCode: 2 };
  }
  if (e instanceof AdapterError) {
    return { code: e.code, message: oneLine(e.message), exitCode: e.details.usage === true ? 2 : 1 };
  }
  if (isSystemError(e)) {
    const what = SYSTEM_ERRORS[e.code] ?? oneLine(e.message);
    const where = e.path ? `${e.syscall ?? 'access'} ${e.path}: ` : '';
    return { code: e.code, message: `${where}${what}${e.path ? '' : ` (${e.code})`}`, exitCode: 1 };
  }
  if (e instanceof SyntaxError && /JSON/.test(e.message)) {
    return { code: 'INVALID_JSON', message: `invalid JSON: ${oneLine(e.message)}`, exitCode: 1 };
  }
  const message = e instanceof Error ? (e.message.split('\n')[0] ?? '').trim() || e.name : String(e);
  return { code: 'INTERNAL', message: `${message} (set ADAPTERKIT_DEBUG=1 to see where)`, exitCode: 1 };
}
