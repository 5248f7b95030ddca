import { Command } from 'commander';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { AdapterError } from '../../errors.js';
import { readFileBytes } from '../../io/atomic-file.js';
import { parseAdapterFile } from '../../io/adapter-file.js';
import { elementCount, parseSafetensors, type SafetensorsFile } from '../../io/safetensors.js';
import { MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE } from '../../io/model-checkpoint.js';
import { inspectInsertionPoints } from '../../adapters/insertion-points.js';
import { buildModel } from '../../models/registry.js';
import { listTrainerCheckpoints } from '../../train/checkpoint-files.js';
import { locateArtefact } from '../artefact.js';
import { readRunRecord, RUN_RECORD_FILE } from '../run-record.js';

const fmtShape = (s: readonly number[]) => `[${s.join(', ')}]`;
const count = (n: number) => n.toLocaleString('en-US');

function tensorTable(file: SafetensorsFile, indent = '  '): string[] {
  return [...file.tensors].map(([name, e]) => `${indent}${name} ${e.dtype} ${fmtShape(e.shape)}`);
}

function totalElements(file: SafetensorsFile): number {
  return [...file.tensors.values()].reduce((n, e) => n + elementCount(e.shape), 0);
}

/** Describes an adapter file: every adapter, its module, config, fragments and tensors. */
export function describeAdapterFile(bytes: Uint8Array, source: string): string[] {
  const { config, index, headsIndex, file } = parseAdapterFile(bytes, source);
  const out = [
    `${source}: adapter file (format ${file.metadata!.format} v${file.metadata!.version}), ${count(totalElements(file))} parameters`,
  ];
  for (const [key, fragments] of Object.entries(index)) {
    const name = key.slice(key.indexOf(':') + 1);
    const cfg = config[name] as Record<string, unknown>;
    const params = fragments.flat().reduce((n, t) => n + elementCount(file.tensors.get(t)!.shape), 0);
    const at = typeof cfg.location === 'string' ? ` at ${cfg.location}` : '';
    out.push(
      `adapter ${key}: type ${String(cfg.type)}${at}, ${cfg.enabled === false ? 'disabled' : 'enabled'}, ${fragments.length} host(s), ${count(params)} parameters`,
    );
    out.push(`  config ${JSON.stringify(cfg)}`);
    for (const t of fragments.flat()) {
      const e = file.tensors.get(t)!;
      out.push(`  ${t} ${e.dtype} ${fmtShape(e.shape)}`);
    }
    // Module copies and output extensions the adapter owns (SPEC §5.2).
    const heads = headsIndex[key] ?? [];
    if (heads.length) {
      const n = heads.reduce((s, t) => s + elementCount(file.tensors.get(t)!.shape), 0);
      out.push(`  heads: ${count(n)} parameters`);
      for (const t of heads) {
        const e = file.tensors.get(t)!;
        out.push(`  ${t} ${e.dtype} ${fmtShape(e.shape)}`);
      }
    }
  }
  return out;
}

/** The JSON object in `file`; anything else is an error naming the file. */
async function readJsonObject(file: string, what: string): Promise<Record<string, unknown>> {
  const text = new TextDecoder().decode(await readFileBytes(file));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new AdapterError(
      'CHECKPOINT_FORMAT',
      `${file} is not valid JSON (${(e as Error).message}); expected ${what}`,
      { path: file },
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AdapterError(
      'CHECKPOINT_FORMAT',
      `${file} holds ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}; expected ${what}`,
      { path: file },
    );
  }
  return value as Record<string, unknown>;
}

/** `value[key]` when `value` is a JSON object, else undefined. */
const field = (value: unknown, key: string): unknown =>
  value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;

/** The length of a JSON array or string, else undefined. */
const lengthOf = (value: unknown): number | undefined =>
  Array.isArray(value) || typeof value === 'string' ? value.length : undefined;

/** Describes a model checkpoint directory: model type, sizes, recorded adapters, tensors. */
async function describeModelDir(dir: string): Promise<string[]> {
  const cfg = await readJsonObject(join(dir, MODEL_CONFIG_FILE), 'a model config object');
  const file = parseSafetensors(
    await readFileBytes(join(dir, MODEL_WEIGHTS_FILE)),
    join(dir, MODEL_WEIGHTS_FILE),
  );
  const { adapters, vocab, ...rest } = cfg;
  const out = [
    `${dir}: ${cfg.model ?? 'model'} checkpoint, ${count(totalElements(file))} parameters and buffers`,
  ];
  out.push(`  config ${JSON.stringify(rest)}`);
  if (vocab) {
    out.push(
      `  vocabulary: ${lengthOf(field(vocab, 'chars')) ?? '?'} characters + ${lengthOf(field(vocab, 'specials')) ?? 0} special ids`,
    );
  }
  const names = Object.keys(adapters ?? {}).filter((k) => k !== 'globalCfg');
  out.push(
    `  adapters: ${names.length ? names.map((n) => `${n} (${field(field(adapters, n), 'type')})`).join(', ') : 'none'}`,
  );
  out.push(...insertionPointLines(cfg));
  out.push(...tensorTable(file));
  return out;
}

/**
 * The insertion points of the model a checkpoint config describes (built, without weights, to ask
 * its hosts): one line per set of points, naming the hosts that offer it and where adapters run.
 */
export function insertionPointLines(cfg: Record<string, unknown>): string[] {
  // A config without `model` is the base character LM's (as the base-model loader reads it).
  const model = buildModel(cfg.model === undefined ? { ...cfg, model: 'char-lm' } : cfg);
  try {
    const groups = new Map<string, { paths: string[]; placed: Set<string> }>();
    for (const h of inspectInsertionPoints(model).hosts) {
      const key = h.points.map((p) => p.name).join(', ') || '(none: adapters run on the module output)';
      const g = groups.get(key) ?? { paths: [], placed: new Set<string>() };
      g.paths.push(h.path);
      for (const a of h.adapters) if (a.location) g.placed.add(`${a.name} at ${a.location}`);
      groups.set(key, g);
    }
    return [...groups].map(
      ([points, g]) =>
        `  insertion points of ${g.paths.join(', ')}: ${points}${g.placed.size ? ` (${[...g.placed].join(', ')})` : ''}`,
    );
  } finally {
    model.dispose();
  }
}

/** Describes a PEFT directory: type, size, config, tensors. */
async function describePeftDir(path: string): Promise<string[]> {
  const cfg = await readJsonObject(join(path, 'adapter_config.json'), 'a PEFT adapter config object');
  const weights = join(path, 'adapter_model.safetensors');
  const file = parseSafetensors(await readFileBytes(weights), weights);
  return [
    `${path}: PEFT ${cfg.peft_type ?? '?'} adapter, ${count(totalElements(file))} parameters`,
    `  config ${JSON.stringify(cfg)}`,
    ...tensorTable(file),
  ];
}

/** Describes an `adapt` run directory: its base, its result (or how far it got), then what it saved. */
async function describeRunDir(path: string, files: string[]): Promise<string[]> {
  const rec = await readRunRecord(path);
  const out = [
    `${path}: adapt run${rec ? ` on base ${rec.base.path} (d_model ${rec.base.dModel}, ${rec.base.numLayers} layers)` : ''}`,
  ];
  if (files.includes('result.json')) {
    const r = await readJsonObject(join(path, 'result.json'), 'the result of an adapt run');
    out.push(
      `  ${r.name} (${field(r.method, 'kind') ?? '?'}): ${r.steps} steps, ${r.trainableParams} trainable parameters, ${r.evalSplit} ${r.dataset} ${Number(r.heldOutBpc).toFixed(3)} bpc`,
    );
  } else {
    const steps = files.includes('metrics.jsonl')
      ? (await readFile(join(path, 'metrics.jsonl'), 'utf8')).split('\n').filter((l) => l.trim()).length
      : 0;
    const ckpt = (await listTrainerCheckpoints(join(path, 'checkpoints'))).at(-1);
    out.push(
      `  not finished: ${steps} steps in metrics.jsonl, ${ckpt ? `checkpoint of step ${ckpt.step}` : 'no checkpoint'} (continue with adapt --resume --out ${path})`,
    );
    return out;
  }
  const artefact = await locateArtefact(path);
  return [...out, ...(await describePath(artefact.path, artefact.kind !== 'adapter-file'))];
}

/** Describes whatever `path` holds. */
async function describePath(path: string, isDirectory: boolean): Promise<string[]> {
  if (isDirectory) {
    const files = await readdir(path);
    if (files.includes(MODEL_CONFIG_FILE) && files.includes(MODEL_WEIGHTS_FILE))
      return describeModelDir(path);
    if (files.includes('adapter_config.json')) return describePeftDir(path);
    if (files.includes(RUN_RECORD_FILE) || files.includes('result.json')) return describeRunDir(path, files);
    throw new AdapterError(
      'CHECKPOINT_FORMAT',
      `${path} is none of: a model checkpoint (${MODEL_CONFIG_FILE} + ${MODEL_WEIGHTS_FILE}), a PEFT directory (adapter_config.json), an adapt run directory (${RUN_RECORD_FILE})`,
    );
  }
  const bytes = await readFileBytes(path);
  const file = parseSafetensors(bytes, path);
  const format = file.metadata?.format;
  if (format === 'adapter-set') return describeAdapterFile(bytes, path);
  const trainer = file.metadata?.['adapterkit.trainer'];
  if (trainer !== undefined) {
    let step: unknown = '?';
    try {
      step = (JSON.parse(trainer) as { step?: unknown }).step;
    } catch {
      throw new AdapterError(
        'CHECKPOINT_FORMAT',
        `${path}: the trainer index in __metadata__ is not valid JSON`,
      );
    }
    return [`${path}: trainer checkpoint, step ${String(step)}`, ...tensorTable(file)];
  }
  return [
    `${basename(path)}: safetensors file${format ? ` (format ${format})` : ''}, ${file.tensors.size} tensors, ${count(totalElements(file))} elements`,
    ...tensorTable(file),
  ];
}

/** `adapterkit inspect <path>`: what a checkpoint holds. */
export function inspectCommand(): Command {
  return new Command('inspect')
    .description(
      'show what an adapter file, model checkpoint, PEFT directory, adapt run directory or safetensors file holds',
    )
    .argument('<path>', 'a file or checkpoint directory')
    .action(async (path: string) => {
      const info = await stat(path).catch(() => null);
      if (!info) throw new AdapterError('INVALID_INPUT', `no such file or directory: ${path}`);
      console.log((await describePath(path, info.isDirectory())).join('\n'));
    });
}
