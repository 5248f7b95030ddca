/**
 * `npm run golden -- <path>...`: runs golden fixture cases (a case folder, or a folder of case
 * folders), prints one line per case and `N passed, N failed`, and exits non-zero on any failure.
 */
import { initBackend } from '../src/backend/backend.js';
import '../src/index.js';
import { runGolden } from '../tools/golden/runner.js';

const paths = process.argv.slice(2);
if (paths.length === 0) {
  console.error('usage: npm run golden -- <case folder or folder of cases>...');
  process.exit(2);
}
await initBackend();
let passed = 0;
let failed = 0;
try {
  await runGolden(paths, (o) => {
    if (o.ok) passed++;
    else failed++;
    console.log(`${o.ok ? 'PASS' : 'FAIL'} ${o.group} ${o.name}${o.ok ? '' : `: ${o.detail}`}`);
  });
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
