/** The README's quick-start block and what its output must be; shared by the README and package tests. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';

const readme = path.resolve(import.meta.dirname, '../README.md');

/** The first ```ts block of the README's "Quick start (library)" section, exactly as printed. */
export function quickStartBlock(): string {
  const text = readFileSync(readme, 'utf8');
  const section = text.slice(text.indexOf('## Quick start (library)'));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README.md: no ```ts block under "## Quick start (library)"');
  return m[1]!;
}

/**
 * Checks the block's printed output: every `// …` comment line right after a `console.log` line is the
 * line it prints, and the training loss falls.
 */
export function quickStartExpectations(stdout: string): void {
  const lines = quickStartBlock().split('\n');
  const expected = lines
    .map((l, i) => (lines[i - 1]?.startsWith('console.log(') && l.startsWith('// ') ? l.slice(3) : null))
    .filter((l): l is string => l !== null);
  const printed = stdout.trim().split('\n');
  expect(expected.length).toBeGreaterThanOrEqual(4);
  for (const line of expected) expect(printed).toContain(line);
  const loss = printed.map((l) => /^loss (\d+\.\d+) → (\d+\.\d+)$/.exec(l)).find((m) => m !== null);
  expect(loss, `no "loss a → b" line in:\n${stdout}`).toBeTruthy();
  expect(Number(loss![2])).toBeLessThan(Number(loss![1]));
}
