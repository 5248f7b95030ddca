/**
 * Child process of the kill-during-save tests: `saver.child.ts <kind> <target>`. Prints `saving`, then
 * saves state 0, 1, 0, … to `<target>` forever, printing `saved <ms>` after each save, until it is killed.
 */
import { initBackend } from '../../../src/backend/backend.js';
import { savePath, type SaveKind } from './save-paths.js';

const [kind, target] = process.argv.slice(2) as [SaveKind, string];
await initBackend({ backend: 'cpu' });
const path = savePath(kind);
process.stdout.write('saving\n');
for (let i = 0; ; i++) {
  const t0 = performance.now();
  await path.save((i % 2) as 0 | 1, target);
  process.stdout.write(`saved ${(performance.now() - t0).toFixed(1)}\n`);
}
