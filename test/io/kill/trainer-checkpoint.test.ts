/** SIGKILL during a save of the trainer-checkpoint path, 20 times: what remains is always one complete state, never a mix or nothing after a completed save, and the next save leaves no temporary file behind. See kill-harness.ts. */
import { expect, it } from 'vitest';
import { runKills } from './kill-harness.js';

it('trainer-checkpoint: 20 SIGKILLs during saves of two alternating states leave one of them, loadable, and no temporary files after the next save', async () => {
  const stats = await runKills('trainer-checkpoint', 20, 27229);
  expect(stats.problems).toEqual([]);
  expect(stats.kills).toBe(20);
  expect(stats.state0 + stats.state1 + stats.absent).toBe(20);
  expect(stats.state0 + stats.state1).toBeGreaterThan(0);
  console.log('trainer-checkpoint kill stats', JSON.stringify(stats));
});
