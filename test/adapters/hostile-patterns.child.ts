/**
 * Child process of hostile-patterns.test.ts: runs patterns that backtrack catastrophically in a
 * backtracking engine (`(.+)+X` against 31-character module paths) through every place the library
 * matches patterns, and prints one JSON line per case: `{case, outcome}` (`ok` or the error code).
 * If matching backtracked, this process would not finish and the parent's timeout would kill it.
 */
import { initBackend } from '../../src/backend/backend.js';
import '../../src/index.js';
import { PeftModel, type LoraConfig } from '../../src/adapters/index.js';
import { AdapterError } from '../../src/errors.js';
import { peftFiles } from '../../src/io/peft.js';
import { peftTensorsFor } from '../../src/io/peft-keys.js';
import { loadPretrained } from '../../src/io/peft-model.js';
import { TinyLM, seed } from '../fixtures/lora-models.js';

await initBackend();

const HOSTILE = ['(.+)+X', '([a-z_.0-9]+)+X', '(.*a){20}X', '(x+x+)+y', '(\\w|\\w\\w)+X', '(.|\\.)+X'];

function model(): TinyLM {
  seed();
  return new TinyLM();
}

async function outcome(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (e) {
    if (e instanceof AdapterError) return e.code;
    throw e;
  }
}

const lora = (extra: Partial<LoraConfig>): LoraConfig => ({ type: 'lora', ...extra });
const lines: Array<{ case: string; outcome: string; detail?: unknown }> = [];
const keyLength = Math.max(
  ...model()
    .namedModules()
    .map(([k]) => k.length),
);

for (const p of HOSTILE) {
  lines.push({
    case: `targetModules ${p}`,
    outcome: await outcome(() => PeftModel.wrap(model(), lora({ targetModules: p }))),
  });
  lines.push({
    case: `excludeModules ${p}`,
    outcome: await outcome(() =>
      PeftModel.wrap(model(), lora({ targetModules: ['q_proj'], excludeModules: p })),
    ),
  });
  const peft = PeftModel.wrap(
    model(),
    lora({ targetModules: ['q_proj', 'v_proj'], r: 2, rankPattern: { [p]: 4 }, alphaPattern: { [p]: 3 } }),
  );
  const files = peftFiles(peft);
  const source = {
    readFile: (rel: string) => {
      const f = files.get(rel);
      return f === undefined ? null : typeof f === 'string' ? new TextEncoder().encode(f) : f;
    },
  };
  let ranks: number[] = [];
  const loaded = await outcome(async () => {
    const back = await loadPretrained(model(), source);
    // The rank each wrapped layer got: the pattern matches no module, so every layer keeps r = 2.
    const shapes = [...peftTensorsFor(back, 'default')]
      .filter(([k]) => k.includes('lora_A'))
      .map(([, t]) => t.shape[0]!);
    ranks = [...new Set(shapes)];
  });
  lines.push({ case: `rank/alpha pattern ${p}`, outcome: loaded, detail: ranks });
  const config = JSON.parse(files.get('adapter_config.json') as string);
  config.target_modules = p;
  files.set('adapter_config.json', JSON.stringify(config));
  lines.push({
    case: `file target_modules ${p}`,
    outcome: await outcome(() => loadPretrained(model(), source)),
  });
}
lines.push({
  case: 'backreference',
  outcome: await outcome(() => PeftModel.wrap(model(), lora({ targetModules: '(.+)\\1X' }))),
});
console.log(JSON.stringify({ keyLength, lines }));
