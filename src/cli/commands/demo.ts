/**
 * The main job (`npm start`): adapt the pretrained Moby-Dick model to the State of the Union
 * addresses with a LinearAdapter, LoRA on the feed-forward layers and full fine-tuning (LoRA on the
 * attention on request), all with the same step budget, and report what each method recovers of full
 * fine-tuning's improvement, at what share of trainable parameters.
 *
 * Each method runs in its own process (`adapterkit adapt --progress json`): TensorFlow.js's wasm
 * backend uses one thread, so two processes use both cores of a small machine.
 *
 * With native kernels active every method (and the base model) is scored on the whole held-out texts;
 * on plain wasm that would not fit the 10-minute budget, so 512 evenly spaced windows per text are.
 */
import { Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getBackendInfo } from '../../backend/backend.js';
import { AdapterError } from '../../errors.js';
import { loadAdaptersFromFile } from '../../io/files-by-path.js';
import { createRng } from '../../rng.js';
import type { AdaptRecord } from '../adapt-run.js';
import { nameList, positiveInt, windowCount } from '../args.js';
import { DEFAULT_BASE_DIR, loadBaseModel } from '../base-model.js';
import { lossCurvesSvg, PLOT_PACKAGES_MISSING, type CurvePoint } from '../plots.js';
import { pool, runAdaptChild, runCliChild } from '../child-runs.js';
import { createMultiProgress, type ProgressMode } from '../progress.js';
import { timestamp, withOutputDir } from '../run-dir.js';
import { DEFAULT_LR } from './adapt.js';
import type { EvalRecord } from './eval.js';
import { progressOption } from './pretrain.js';

/** One method of the comparison: its label, what it trains, and the `adapt` flags that run it. */
interface MethodSpec {
  name: string;
  description: string;
  flags: string[];
  lr: number;
}

/** The methods the main job compares, by label. */
export const DEMO_METHODS: Record<string, (lr?: number) => MethodSpec> = {
  'linear-adapter': (lr = DEFAULT_LR.linear) => ({
    name: 'linear-adapter',
    description: 'LinearAdapter dim 32 in every block',
    flags: ['--method', 'linear', '--dim', '32'],
    lr,
  }),
  'linear-adapter-64': (lr = DEFAULT_LR.linear) => ({
    name: 'linear-adapter-64',
    description: 'LinearAdapter dim 64 in every block',
    flags: ['--method', 'linear', '--dim', '64'],
    lr,
  }),
  'parallel-adapter': (lr = DEFAULT_LR.parallel) => ({
    name: 'parallel-adapter',
    description: 'scaled parallel adapter dim 32 (s = 4) beside every FFN',
    flags: ['--method', 'parallel', '--dim', '32', '--scaling', '4'],
    lr,
  }),
  lora: (lr = DEFAULT_LR.lora) => ({
    name: 'lora',
    description: 'LoRA r 8 on the attention projections q_proj, v_proj',
    flags: ['--method', 'lora', '--rank', '8', '--alpha', '16', '--targets', 'q_proj,v_proj'],
    lr,
  }),
  // Where full fine-tuning's gain comes from (README, "Where the gain is"): the FFNs, so LoRA there.
  'lora-ffn': (lr = DEFAULT_LR.lora) => ({
    name: 'lora-ffn',
    description: 'LoRA r 8 on the feed-forward layers fc1, fc2',
    flags: ['--method', 'lora', '--rank', '8', '--alpha', '16', '--targets', 'fc1,fc2'],
    lr,
  }),
  // The best adapter of the search at ≤ 5 % of the parameters (README, "Where the gain is"): LoRA on the
  // FFNs and on the output layer, which learns the new text's character frequencies.
  'lora-ffn-head': (lr = DEFAULT_LR.lora) => ({
    name: 'lora-ffn-head',
    description: 'LoRA r 8 (alpha 32) on fc1, fc2 and the output layer lm_head',
    flags: ['--method', 'lora', '--rank', '8', '--alpha', '32', '--targets', 'fc1,fc2,lm_head'],
    lr,
  }),
  'full-finetune': (lr = DEFAULT_LR.full) => ({
    name: 'full-finetune',
    description: 'every parameter',
    flags: ['--method', 'full'],
    lr,
  }),
};
// LoRA on the attention (`lora`) recovers 34 %; with it the job takes about 9 min 50 s on two cores,
// too close to the 10-minute budget, so it runs only when asked for (`--methods`).
const DEFAULT_METHODS = ['linear-adapter', 'lora-ffn-head', 'full-finetune'];

const f3 = (x: number) => x.toFixed(3);

/** Sequences per step, and windows per evaluation pass (the same everywhere, so figures compare exactly). */
const BATCH = 16;

/** Held-out windows per text on plain wasm (evenly spaced); with native kernels the whole texts. */
const WASM_EVAL_WINDOWS = 512;

/**
 * Longest runs first (full fine-tuning, then LoRA, then the rest), so the workers finish at about
 * the same time.
 */
function longestFirst(specs: MethodSpec[]): MethodSpec[] {
  const cost = (s: MethodSpec) => (s.name === 'full-finetune' ? 3 : s.flags.includes('lora') ? 2 : 1);
  return [...specs].sort((a, b) => cost(b) - cost(a));
}

/** The share of full fine-tuning's held-out improvement a method recovers. */
function recovered(base: number, method: number, full: number): number {
  return (base - method) / (base - full);
}

/** `adapterkit demo`: the main job. */
export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'the main job: adapt the Moby-Dick model to State of the Union addresses with a LinearAdapter, LoRA and full fine-tuning, and compare',
    )
    .option('--base <dir>', 'base model checkpoint directory', DEFAULT_BASE_DIR)
    .option('--out <dir>', 'parent of the run directory', 'runs')
    .option('--steps <n>', 'optimizer steps per method', positiveInt('--steps'), 200)
    .option(
      '--methods <list>',
      `methods to compare (${Object.keys(DEMO_METHODS).join(', ')})`,
      nameList('--methods'),
      DEFAULT_METHODS,
    )
    .option('--workers <n>', 'methods trained at the same time (one core each)', positiveInt('--workers'), 2)
    .option(
      '--eval-windows <n>',
      `held-out windows evaluated per text (evenly spaced), or 'all' for the whole texts (default: all with native kernels, ${WASM_EVAL_WINDOWS} on wasm)`,
      windowCount('--eval-windows'),
    )
    .addOption(progressOption())
    .action(async (o) => {
      for (const m of o.methods as string[]) {
        if (!DEMO_METHODS[m])
          throw new AdapterError(
            'INVALID_CONFIG',
            `--methods: unknown method '${m}'; valid: ${Object.keys(DEMO_METHODS).join(', ')}`,
          );
      }
      if (!(o.methods as string[]).includes('full-finetune')) {
        throw new AdapterError(
          'INVALID_CONFIG',
          '--methods must include full-finetune: the other methods are measured against it',
        );
      }
      const t0 = performance.now();
      const runDir = join(o.out, timestamp());
      await withOutputDir(runDir, {}, async () => {
        console.log(
          `adapterkit main job: Moby-Dick → State of the Union, ${o.steps} steps per method; writing ${runDir}`,
        );

        const base = await loadBaseModel(o.base);
        // Whole held-out texts when native kernels make that affordable (the children run on the same backend).
        const evalWindows: number | 'all' =
          o.evalWindows ?? (getBackendInfo().native ? 'all' : WASM_EVAL_WINDOWS);
        console.log(
          evalWindows === 'all'
            ? 'scoring every method on the whole held-out SOTU and Moby-Dick texts'
            : `scoring every method on ${evalWindows} evenly spaced windows of each held-out text${o.evalWindows === undefined ? ' (native kernels are off; with them the whole texts are scored)' : ''}`,
        );
        const specs = (o.methods as string[]).map((m) => DEMO_METHODS[m]!());
        const bars = createMultiProgress(o.progress as ProgressMode);
        const common = ['--base', o.base, '--eval-windows', String(evalWindows)];
        const methodTasks = longestFirst(specs).map(
          (s) => () =>
            runAdaptChild(
              [
                ...common,
                '--steps',
                String(o.steps),
                '--batch',
                String(BATCH),
                '--lr',
                String(s.lr),
                '--name',
                s.name,
                '--out',
                join(runDir, s.name),
                ...s.flags,
              ],
              bars.add(s.name, o.steps),
            ),
        );
        // The base model's figures come from separate processes, queued last: they fill the time a
        // worker would otherwise wait for the longest run, and disabled adapters are compared with them.
        const baseTasks = (['sotu', 'mobydick'] as const).map(
          (dataset) => () =>
            runCliChild<EvalRecord>([
              'eval',
              '--base',
              o.base,
              '--dataset',
              dataset,
              '--eval-windows',
              String(evalWindows),
              '--batch',
              String(BATCH),
              '--json',
              '--progress',
              'none',
            ]),
        );
        const done = await pool<AdaptRecord | EvalRecord>([...methodTasks, ...baseTasks], o.workers);
        bars.stop();
        const records = done.slice(0, methodTasks.length) as AdaptRecord[];
        const [sotuBase, mobyBase] = done.slice(methodTasks.length) as EvalRecord[];
        const baseBpc = { heldOutBpc: sotuBase!.bpc, sourceHeldOutBpc: mobyBase!.bpc };
        console.log(
          `base model: held-out SOTU ${f3(baseBpc.heldOutBpc)} bpc, held-out Moby-Dick ${f3(baseBpc.sourceHeldOutBpc)} bpc`,
        );
        const byName = new Map(records.map((r) => [r.name, r]));
        const ordered = specs.map((s) => byName.get(s.name)!);
        const full = byName.get('full-finetune')!;

        const samples = await sampleTexts(base, ordered);
        const results = {
          task: 'mobydick-to-sotu',
          backend: getBackendInfo().name,
          steps: o.steps,
          evalWindows,
          base: baseBpc,
          methods: ordered.map((r, i) => ({
            name: r.name,
            description: specs[i]!.description,
            trainableParams: r.trainableParams,
            totalParams: r.totalParams,
            trainablePercent: r.trainablePercent,
            lr: r.lr,
            heldOutBpc: r.heldOutBpc,
            sourceHeldOutBpc: r.sourceHeldOutBpc,
            recoveredOfFullFinetune: recovered(baseBpc.heldOutBpc, r.heldOutBpc, full.heldOutBpc),
            disabledMatchesBase:
              r.disabledHeldOutBpc === undefined
                ? null
                : r.disabledHeldOutBpc === baseBpc.heldOutBpc &&
                  r.disabledSourceHeldOutBpc === baseBpc.sourceHeldOutBpc,
            seconds: r.seconds,
            tokensPerSecond: r.tokensPerSecond,
            saved: r.saved,
          })),
          samples,
          wallSeconds: (performance.now() - t0) / 1000,
        };
        await writeFile(join(runDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
        const table = resultsTable(results);
        const chart = await writeLossCurves(runDir, ordered);
        await writeFile(join(runDir, 'report.md'), reportMarkdown(results, table, chart));
        console.log(`\n${table}\n`);
        for (const s of samples) console.log(`[${s.label}]\n${s.text}\n`);
        console.log(
          `wrote ${runDir} (results.json, report.md, ${chart ? 'loss-curves.svg, ' : ''}metrics.jsonl, adapters) in ${results.wallSeconds.toFixed(0)} s`,
        );
      });
    });
}

type Results = {
  base: { heldOutBpc: number; sourceHeldOutBpc: number };
  methods: Array<{
    name: string;
    description: string;
    trainableParams: number;
    trainablePercent: number;
    heldOutBpc: number;
    sourceHeldOutBpc: number;
    recoveredOfFullFinetune: number;
    disabledMatchesBase: boolean | null;
    seconds: number;
    tokensPerSecond: number;
    lr: number;
  }>;
  samples: Array<{ label: string; text: string }>;
  steps: number;
  evalWindows: number | 'all';
  backend: string;
  wallSeconds: number;
};

/** The results as a Markdown table. */
function resultsTable(r: Results): string {
  const rows = [
    '| method | what is trained | trainable params | % of model | lr | SOTU bpc before → after | recovered of full FT | Moby-Dick bpc after | disabled = base | seconds | tokens/s |',
    '|---|---|---:|---:|---:|---|---:|---:|:---:|---:|---:|',
  ];
  for (const m of r.methods) {
    rows.push(
      `| ${m.name} | ${m.description} | ${m.trainableParams.toLocaleString('en-US')} | ${m.trainablePercent.toFixed(2)} | ${m.lr} | ${f3(r.base.heldOutBpc)} → ${f3(m.heldOutBpc)} | ${(100 * m.recoveredOfFullFinetune).toFixed(1)} % | ${f3(m.sourceHeldOutBpc)} | ${m.disabledMatchesBase === null ? '–' : m.disabledMatchesBase ? 'yes' : 'NO'} | ${m.seconds.toFixed(0)} | ${m.tokensPerSecond.toFixed(0)} |`,
    );
  }
  return rows.join('\n');
}

function reportMarkdown(r: Results, table: string, chart: boolean): string {
  return [
    '# Moby-Dick → State of the Union',
    '',
    `Base model held-out bits per character: SOTU ${f3(r.base.heldOutBpc)}, Moby-Dick ${f3(r.base.sourceHeldOutBpc)}. ${r.steps} steps per method, backend ${r.backend}, ${r.evalWindows === 'all' ? 'scored on the whole held-out texts' : `${r.evalWindows} evenly spaced held-out windows per text`}.`,
    '',
    table,
    '',
    ...(chart ? ['![loss curves](loss-curves.svg)', ''] : []),
    '## Samples',
    '',
    ...r.samples.flatMap((s) => [`**${s.label}**`, '', '```', s.text, '```', '']),
    `Wall time: ${r.wallSeconds.toFixed(0)} s.`,
    '',
  ].join('\n');
}

/** Loss curves (SVG) and all methods' metrics as one JSON-lines log; false when no chart was drawn. */
async function writeLossCurves(runDir: string, records: AdaptRecord[]): Promise<boolean> {
  const points: CurvePoint[] = [];
  const lines: string[] = [];
  for (const r of records) {
    const text = await readFile(join(runDir, r.name, 'metrics.jsonl'), 'utf8');
    for (const line of text.split('\n').filter(Boolean)) {
      const m = JSON.parse(line);
      points.push({ method: r.name, step: m.step, loss: m.loss });
      lines.push(JSON.stringify({ method: r.name, ...m }));
    }
  }
  await writeFile(join(runDir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
  const svg = await lossCurvesSvg(points, 'Adapting to State of the Union: training loss');
  if (svg === null) {
    console.log(PLOT_PACKAGES_MISSING);
    return false;
  }
  await writeFile(join(runDir, 'loss-curves.svg'), svg);
  return true;
}

const PROMPT = 'Fellow-Citizens of the Senate and House of Representatives: ';

/** Text from the base model with the adapter disabled and enabled (the first adapter method's file). */
async function sampleTexts(base: Awaited<ReturnType<typeof loadBaseModel>>, records: AdaptRecord[]) {
  const gen = () =>
    PROMPT +
    base.vocab.decode(
      base.model.generate(base.vocab.encode(PROMPT), 160, { temperature: 0.7, rng: createRng(7) }),
    );
  const samples = [{ label: 'base model (adapter disabled)', text: gen() }];
  const adapter = records.find((r) => r.saved.endsWith('.safetensors'));
  if (adapter) {
    const { loaded } = await loadAdaptersFromFile(base.model, adapter.saved);
    samples.push({ label: `${adapter.name} enabled`, text: gen() });
    for (const n of loaded) base.model.setEnabledAdapters(n, false);
    samples.push({ label: `${adapter.name} loaded but disabled`, text: gen() });
  }
  return samples;
}
