import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pool, runCliChild } from '../../src/cli/child-runs.js';
import { AdapterError } from '../../src/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-child-runs-'));

/**
 * A stand-in for the CLI entry (`process.argv[1]`, which children run): it prints the JSON lines a
 * command prints, chosen by its first argument.
 */
const fakeCli = join(tmp, 'fake-cli.mjs');
writeFileSync(
  fakeCli,
  `const [what] = process.argv.slice(2);
const line = (o) => console.log(JSON.stringify(o));
console.log('a line that is not JSON');
if (what === 'ok') {
  line({ event: 'step', step: 1, loss: 2.5, tokensPerSecond: 100 });
  line({ event: 'step', step: 2, loss: 2.0, tokensPerSecond: 110 });
  line({ event: 'result', record: { method: 'lora', heldOutBpc: 3.1 } });
} else if (what === 'error') {
  line({ event: 'error', code: 'CHECKPOINT_MISMATCH', message: 'adapter was trained for d_model 8' });
  process.exit(1);
} else {
  console.error('first\\nlast line of standard error');
  process.exit(3);
}
`,
);

describe('runCliChild', () => {
  const argv1 = process.argv[1];
  afterEach(() => {
    process.argv[1] = argv1!;
  });

  it("feeds the child's step lines to the progress and resolves with its result record", async () => {
    process.argv[1] = fakeCli;
    const progress = { update: vi.fn(), stop: vi.fn() };
    const record = await runCliChild<{ method: string }>(['ok'], progress);
    expect(record).toEqual({ method: 'lora', heldOutBpc: 3.1 });
    expect(progress.update.mock.calls.map((c) => c[0])).toEqual([
      { step: 1, loss: 2.5, tokensPerSecond: 100 },
      { step: 2, loss: 2.0, tokensPerSecond: 110 },
    ]);
    expect(progress.stop).toHaveBeenCalledOnce();
  });

  it("a failed child rejects with its error event's code and message, naming the command and --out", async () => {
    process.argv[1] = fakeCli;
    const err = await runCliChild(['error', '--out', 'runs/x']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).code).toBe('CHECKPOINT_MISMATCH');
    expect((err as AdapterError).message).toBe(
      'adapterkit error --out runs/x failed (exit 1): adapter was trained for d_model 8',
    );
  });

  it('without an error event, the last line of standard error says why', async () => {
    process.argv[1] = fakeCli;
    const err = await runCliChild(['crash']).catch((e: unknown) => e);
    expect((err as AdapterError).message).toBe(
      'adapterkit crash failed (exit 3): last line of standard error',
    );
  });
});

describe('pool', () => {
  it('runs at most `limit` tasks at a time and keeps their order', async () => {
    let running = 0;
    let most = 0;
    const tasks = [30, 5, 20, 1, 10].map((ms, i) => async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return i;
    });
    expect(await pool(tasks, 2)).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
    expect(await pool([], 3)).toEqual([]);
  });
});
