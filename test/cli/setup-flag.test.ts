import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { activateSetup, isSetupFile, parseSetupText, readSetupFlag } from '../../src/cli/setup-flag.js';
import type { SetupBlock } from '../../src/adapters/composition/setup.js';
import { thrown } from '../helpers.js';

describe('--setup text form', () => {
  it('reads blocks in any letter case, nested blocks, options with JSON values and a bare name', () => {
    expect(parseSetupText('stack(a, b)')).toEqual({ type: 'stack', children: ['a', 'b'] });
    expect(parseSetupText(' Stack( lang , Fuse(x,y) ) ')).toEqual({
      type: 'stack',
      children: ['lang', { type: 'fuse', children: ['x', 'y'] }],
    });
    expect(parseSetupText('batchsplit(a, b, batchSizes=[1, 2])')).toEqual({
      type: 'batchSplit',
      children: ['a', 'b'],
      batchSizes: [1, 2],
    });
    expect(parseSetupText('average(a, b, weights=[1,3], normalizeWeights=false)')).toEqual({
      type: 'average',
      children: ['a', 'b'],
      weights: [1, 3],
      normalizeWeights: false,
    });
    expect(parseSetupText('decoder:a')).toEqual({ type: 'stack', children: ['decoder:a'] });
  });

  it('says what is wrong and where, as a usage error', () => {
    const cases: Array<[string, string]> = [
      ['', '--setup is empty'],
      ['stack(a b)', "expected ',' or ')' in stack(…) at character 9"],
      ['stack(a,)', 'expected an adapter name, a block or an option name=value at character 9'],
      ['stack(weights=[1], a)', "'a': children come before the options"],
      ['average(a, weights=[1, 2)', "the list of weights has no closing ']'"],
      ['average(a, weights=one)', 'weights=one is not a JSON value'],
      ['mix(a)', "'mix' is not a block; blocks: stack, parallel, batchSplit, average, fuse at character 1"],
    ];
    for (const [text, message] of cases) {
      const err = thrown(() => parseSetupText(text));
      expect([text, err.code, err.details.usage]).toEqual([text, 'INVALID_INPUT', true]);
      expect(err.message).toContain(message);
    }
  });

  it("passes the library's setup errors on, prefixed with the flag", () => {
    const err = thrown(() => parseSetupText('fuse(parallel(a, b))'));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toMatch(/^--setup 'fuse\(parallel\(a, b\)\)': /);
    expect(err.message).toContain('Fuse may hold');
  });
});

describe('--setup JSON file', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-setup-flag-'));

  it('a value ending in .json is a file holding the JSON form or the list shorthand', async () => {
    expect(isSetupFile('setups/fuse.JSON')).toBe(true);
    expect(isSetupFile('stack(a, b)')).toBe(false);
    const file = join(tmp, 'shorthand.json');
    writeFileSync(file, JSON.stringify(['a', ['b', 'c']]));
    expect(await readSetupFlag(file)).toEqual({
      type: 'stack',
      children: ['a', { type: 'fuse', children: ['b', 'c'] }],
    });
    expect(await readSetupFlag('average(a, b)')).toEqual({ type: 'average', children: ['a', 'b'] });
  });

  it('names the file and the problem when it cannot be read or is not JSON', async () => {
    const missing = join(tmp, 'nope.json');
    await expect(readSetupFlag(missing)).rejects.toThrow(
      `cannot read the setup file ${missing}: no such file`,
    );
    const broken = join(tmp, 'broken.json');
    writeFileSync(broken, '[');
    await expect(readSetupFlag(broken)).rejects.toThrow(`${broken} is not valid JSON`);
  });
});

describe('activateSetup', () => {
  const model = (names: string[]) => {
    const active: Array<SetupBlock | null> = [];
    return {
      adapterNames: () => names,
      setActiveSetup: (s: SetupBlock | null) => void active.push(s),
      active,
    };
  };

  it('activates a setup over loaded adapters', () => {
    const m = model(['a', 'b']);
    activateSetup(m, parseSetupText('average(a, b)'));
    expect(m.active).toEqual([{ type: 'average', children: ['a', 'b'] }]);
  });

  it('refuses a name that was not loaded (listing the loaded ones) and a Parallel block', () => {
    const m = model(['a', 'b']);
    const unknown = thrown(() => activateSetup(m, parseSetupText('stack(a, c)')));
    expect(unknown.code).toBe('NOT_FOUND');
    expect(unknown.message).toContain("'c', which is not a loaded adapter; loaded adapters: a, b");
    const parallel = thrown(() => activateSetup(m, parseSetupText('stack(parallel(a, b))')));
    expect(parallel.message).toContain('a Parallel block gives one output per child');
    expect(m.active).toEqual([]);
  });
});
