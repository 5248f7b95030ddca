import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { describeError, oneLine, UsageError } from '../../src/cli/user-error.js';
import { AdapterError } from '../../src/errors.js';

describe('describeError', () => {
  it('puts errors that are not AdapterErrors in one line with a code and exit code 1', async () => {
    const eisdir = Object.assign(new Error('EISDIR: illegal operation on a directory, read'), {
      code: 'EISDIR',
      syscall: 'read',
      errno: -21,
    });
    expect(describeError(eisdir)).toEqual({
      code: 'EISDIR',
      message: 'this is a directory; a file was expected (EISDIR)',
      exitCode: 1,
    });
    const enoent = Object.assign(new Error('ENOENT: no such file or directory'), {
      code: 'ENOENT',
      syscall: 'open',
      path: '/x/y',
    });
    expect(describeError(enoent).message).toBe('open /x/y: no such file or directory');
    let syntax: unknown;
    try {
      JSON.parse('{"a":');
    } catch (e) {
      syntax = e;
    }
    expect(describeError(syntax)).toMatchObject({ code: 'INVALID_JSON', exitCode: 1 });
    const tfjs = describeError(
      new Error('slice() does not support negative begin indexing.\n    at somewhere'),
    );
    expect(tfjs.code).toBe('INTERNAL');
    expect(tfjs.message.split('\n')).toHaveLength(1);
    expect(tfjs.message).toContain('ADAPTERKIT_DEBUG');
  });

  it('usage errors exit with 2, library errors with 1, multi-line messages become one line', async () => {
    expect(describeError(new UsageError('--a and --b exclude each other')).exitCode).toBe(2);
    expect(
      describeError(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'")),
    ).toEqual({
      code: 'USAGE',
      message: "unknown option '--x'",
      exitCode: 2,
    });
    expect(describeError(new AdapterError('INVALID_CONFIG', 'first\nsecond'))).toEqual({
      code: 'INVALID_CONFIG',
      message: 'first second',
      exitCode: 1,
    });
  });
});

describe('oneLine', () => {
  it('joins trimmed non-empty lines with single spaces', () => {
    expect(oneLine('  first\n\n  second  \nthird')).toBe('first second third');
    expect(oneLine('')).toBe('');
  });
});
