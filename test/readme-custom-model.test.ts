import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const example = readFileSync(path.join(root, 'examples/custom-model.ts'), 'utf8');

/** The ```ts block right after the README's "Your own modules" sentence, exactly as printed. */
function customModelBlock(): string {
  const section = readme.slice(readme.indexOf('Your own modules become adapter hosts'));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README.md: no ```ts block after "Your own modules become adapter hosts"');
  return m[1]!;
}

describe("the README's custom-model example", () => {
  it('is examples/custom-model.ts, with the package name in place of the source path', () => {
    const block = customModelBlock();
    expect(block).toContain("from 'adapterkit'");
    expect(block).toContain('makeAdapterModel(');
    expect(example).toBe(block.replace("from 'adapterkit'", "from '../src/index.js'"));
  });

  it('runs and prints what its comment says', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await import('../examples/custom-model.js');
      const lines = customModelBlock().split('\n');
      const expected = lines.filter(
        (l, i) => lines[i - 1]?.startsWith('console.log(') && l.startsWith('// '),
      );
      expect(expected).toEqual(['// loaded: task']);
      expect(log.mock.calls.map((c) => c.join(' '))).toContain(expected[0]!.slice(3));
    } finally {
      log.mockRestore();
    }
  });
});
