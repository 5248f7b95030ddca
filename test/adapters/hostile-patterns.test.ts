/**
 * Patterns from files and users cannot hang the process: catastrophic-backtracking patterns (`(.+)+X`
 * against 31-character module paths, which blocks a backtracking engine for minutes) go through every
 * place the library matches patterns in a child process that must finish well before its timeout.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CHILD = fileURLToPath(new URL('./hostile-patterns.child.ts', import.meta.url));
/** Far above the child's run time (about 3 s, most of it start-up); a backtracking match takes minutes. */
const TIMEOUT_MS = 30_000;

describe('hostile patterns', () => {
  it('target_modules, exclude_modules, rank_pattern and alpha_pattern with (.+)+X-style patterns return, and backreferences are refused', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD], {
      encoding: 'utf8',
      timeout: TIMEOUT_MS,
    });
    expect(r.signal, 'the child was killed by the timeout: a pattern hung').toBeNull();
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const { keyLength, lines } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      keyLength: number;
      lines: Array<{ case: string; outcome: string; detail?: number[] }>;
    };
    expect(keyLength).toBeGreaterThanOrEqual(30);
    expect(lines.length).toBe(25);
    for (const l of lines) {
      if (l.case.startsWith('targetModules') || l.case.startsWith('file target_modules'))
        expect([l.case, l.outcome]).toEqual([l.case, 'TARGET_NOT_FOUND']);
      else if (l.case.startsWith('rank/alpha'))
        expect([l.case, l.outcome, l.detail]).toEqual([l.case, 'ok', [2]]);
      else if (l.case.startsWith('excludeModules')) expect([l.case, l.outcome]).toEqual([l.case, 'ok']);
      else expect([l.case, l.outcome]).toEqual(['backreference', 'INVALID_CONFIG']);
    }
  });
});
