import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const example = readFileSync(path.join(root, 'examples/vera.ts'), 'utf8');

/** The ```ts block of the README's VeRA section, exactly as printed. */
function veraBlock(): string {
  const section = readme.slice(readme.indexOf('\n## VeRA\n'));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README.md: no ```ts block in the "VeRA" section');
  return m[1]!;
}

describe("the README's VeRA example", () => {
  it('is examples/vera.ts, with the package name in place of the source path', () => {
    const block = veraBlock();
    expect(block).toContain("from 'adapterkit'");
    expect(block).toContain("type: 'vera'");
    expect(example).toBe(block.replace("from 'adapterkit'", "from '../src/index.js'"));
  });

  it('runs and prints what its comments say', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await import('../examples/vera.js');
      const lines = veraBlock().split('\n');
      const expected = lines
        .filter((l, i) => lines[i - 1]?.startsWith('console.log(') && l.startsWith('// '))
        .map((l) => l.slice(3));
      expect(expected).toEqual(['trainable: 640', 'restored output equal: true']);
      expect(log.mock.calls.map((c) => c.join(' '))).toEqual(expected);
    } finally {
      log.mockRestore();
    }
  });
});
