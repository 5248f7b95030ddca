/** The README's "Prefix tuning and MAM" examples run as printed, with the package's names. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as adapterkit from '../src/index.js';

const readme = readFileSync(path.resolve(import.meta.dirname, '../README.md'), 'utf8');

/** The ```ts blocks of the section, in order. */
function sectionBlocks(): string[] {
  const start = readme.indexOf('## Prefix tuning and MAM');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** Runs a block (plain JavaScript apart from its import line) with the names it imports; returns `lm`. */
function run(block: string): adapterkit.models.CharLM {
  const m = /^import \{([^}]*)\} from 'adapterkit';\n/.exec(block);
  expect(m, block).toBeTruthy();
  const names = m![1]!.split(',').map((s) => s.trim());
  const body = `${block.slice(m![0].length)}\nreturn lm;`;
  const api = adapterkit as unknown as Record<string, unknown>;
  return new Function(...names, body)(...names.map((n) => api[n])) as adapterkit.models.CharLM;
}

describe("the README's prefix tuning and MAM examples", () => {
  it('prefix tuning: the counts its comment states; the projection is merged', () => {
    const [prefix] = sectionBlocks();
    const lm = run(prefix!);
    expect(lm.adapterNames()).toEqual(['prefix', 'mlp']);
    expect(lm.getAdapterModule('prefix')!.numParameters()).toBe(2048);
    expect(lm.cfg.adapters!.mlp).toMatchObject({ prefixProjection: false });
    lm.dispose();
  });

  it('MAM: one adapter, disabled', () => {
    const [, mam] = sectionBlocks();
    const lm = run(mam!);
    expect(lm.adapterNames()).toEqual(['mam']);
    expect(lm.getEnabledAdapters()).toEqual([]);
    lm.dispose();
  });
});
