import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../src/index.js';
import { activateNative } from '../src/backend/native.js';
import { runCase } from '../tools/golden/runner.js';

// The golden cases copied from the reference set; each runs through the same runner as `npm run golden`.
const root = join(import.meta.dirname, 'fixtures', 'golden');
const cases = readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

/** One test per case, run through the fixture runner. */
function everyCase(): void {
  it.each(cases)('%s', async (name) => {
    const outcome = await runCase(join(root, name));
    expect(outcome.detail && !outcome.ok ? outcome.detail : '').toBe('');
    expect(outcome.ok).toBe(true);
  });
}

describe('golden fixtures', () => {
  it('the fixture folder holds cases of every group', () => {
    const groups = new Set(cases.map((c) => c[0]!.toUpperCase()));
    for (const g of ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'P', 'T', 'V']) expect(groups).toContain(g);
  });
  everyCase();
});

// The cases above run with native kernels when they are built (the Node default); these run the same
// cases on the wasm backend's own kernels, so both paths (e.g. LoRA's fused kernel and its composed
// ops) are held to the reference values.
describe('golden fixtures with native kernels off', () => {
  beforeAll(() => {
    activateNative({ enabled: false });
  });
  afterAll(() => {
    activateNative();
  });
  everyCase();
});
