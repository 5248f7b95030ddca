import { Command } from 'commander';
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { AdapterError } from '../../errors.js';
import { readFileBytes } from '../../io/atomic-file.js';
import { parseAdapterFile } from '../../io/adapter-file.js';
import { elementCount, parseSafetensors, type SafetensorsFile } from '../../io/safetensors.js';
import { MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE } from '../../io/model-checkpoint.js';

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
  const { config, index, file } = parseAdapterFile(bytes, source);
  const out = [`${source}: adapter file (format ${file.metadata!.format} v${file.metadata!.version}), ${count(totalElements(file))} parameters`];
  for (const [key, fragments] of Object.entries(index)) {
    const name = key.slice(key.indexOf(':') + 1);
    const cfg = config[name] as Record<string, unknown>;
    const params = fragments.flat().reduce((n, t) => n + elementCount(file.tensors.get(t)!.shape), 0);
    out.push(`adapter ${key}: type ${String(cfg.type)}, ${cfg.enabled === false ? 'disabled' : 'enabled'}, ${fragments.length} host(s), ${count(params)} parameters`);
    out.push(`  config ${JSON.stringify(cfg)}`);
    for (const t of fragments.flat()) {
      const e = file.tensors.get(t)!;
      out.push(`  ${t} ${e.dtype} ${fmtShape(e.shape)}`);
    }
  }
  return out;
}

/** Describes a model checkpoint directory: model type, sizes, recorded adapters, tensors. */
async function describeModelDir(dir: string): Promise<string[]> {
  const cfg = JSON.parse(new TextDecoder().decode(await readFileBytes(join(dir, MODEL_CONFIG_FILE))));
  const file = parseSafetensors(await readFileBytes(join(dir, MODEL_WEIGHTS_FILE)), join(dir, MODEL_WEIGHTS_FILE));
  const { adapters, vocab, ...rest } = cfg;
  const out = [`${dir}: ${cfg.model ?? 'model'} checkpoint, ${count(totalElements(file))} parameters and buffers`];
  out.push(`  config ${JSON.stringify(rest)}`);
  if (vocab) out.push(`  vocabulary: ${vocab.chars?.length ?? '?'} characters + ${vocab.specials?.length ?? 0} special ids`);
  const names = Object.keys(adapters ?? {}).filter((k) => k !== 'globalCfg');
  out.push(`  adapters: ${names.length ? names.map((n) => `${n} (${adapters[n].type})`).join(', ') : 'none'}`);
  out.push(...tensorTable(file));
  return out;
}

/** `adapterkit inspect <path>`: what a checkpoint holds. */
export function inspectCommand(): Command {
  return new Command('inspect')
    .description('show what an adapter file, model checkpoint, PEFT directory or safetensors file holds')
    .argument('<path>', 'a file or checkpoint directory')
    .action(async (path: string) => {
      const info = await stat(path).catch(() => null);
      if (!info) throw new AdapterError('INVALID_INPUT', `no such file or directory: ${path}`);
      let lines: string[];
      if (info.isDirectory()) {
        const files = await readdir(path);
        if (files.includes(MODEL_CONFIG_FILE) && files.includes(MODEL_WEIGHTS_FILE)) {
          lines = await describeModelDir(path);
        } else if (files.includes('adapter_config.json')) {
          const weights = join(path, 'adapter_model.safetensors');
          const file = parseSafetensors(await readFileBytes(weights), weights);
          const cfg = JSON.parse(new TextDecoder().decode(await readFileBytes(join(path, 'adapter_config.json'))));
          lines = [`${path}: PEFT ${cfg.peft_type ?? '?'} adapter, ${count(totalElements(file))} parameters`, `  config ${JSON.stringify(cfg)}`, ...tensorTable(file)];
        } else {
          throw new AdapterError('CHECKPOINT_FORMAT', `${path} is neither a model checkpoint (${MODEL_CONFIG_FILE} + ${MODEL_WEIGHTS_FILE}) nor a PEFT directory (adapter_config.json)`);
        }
      } else {
        const bytes = await readFileBytes(path);
        const file = parseSafetensors(bytes, path);
        const format = file.metadata?.format;
        if (format === 'adapter-set') lines = describeAdapterFile(bytes, path);
        else if (file.metadata?.['adapterkit.trainer']) lines = [`${path}: trainer checkpoint, step ${JSON.parse(file.metadata['adapterkit.trainer']!).step}`, ...tensorTable(file)];
        else lines = [`${basename(path)}: safetensors file${format ? ` (format ${format})` : ''}, ${file.tensors.size} tensors, ${count(totalElements(file))} elements`, ...tensorTable(file)];
      }
      console.log(lines.join('\n'));
    });
}
