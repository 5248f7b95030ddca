import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { quickStartBlock, quickStartExpectations } from './readme.js';

const root = path.resolve(import.meta.dirname, '..');
const example = readFileSync(path.join(root, 'examples/quickstart.ts'), 'utf8');
const cwd = mkdtempSync(path.join(tmpdir(), 'adapterkit-quickstart-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe("the README's quick start", () => {
  it('is examples/quickstart.ts, with the package name in place of the source path', () => {
    const block = quickStartBlock();
    expect(block).toContain("from 'adapterkit/node'");
    expect(example).toBe(block.replace("from 'adapterkit/node'", "from '../src/node.js'"));
  });

  it('runs and prints what its comments say', () => {
    const r = spawnSync(
      path.join(root, 'node_modules/.bin/tsx'),
      [path.join(root, 'examples/quickstart.ts')],
      {
        cwd, // it writes out/peft here
        encoding: 'utf8',
        timeout: 180_000,
      },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    quickStartExpectations(r.stdout);
  });
});
