/**
 * Test fixtures for the server: a tiny character LM saved as a base-model directory, and LoRA
 * adapters written into an adapter store the way the store contract says (manifest with SHA-256 per
 * file, directory renamed into place).
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PeftModel } from '../../src/adapters/lora/model.js';
import { CharVocab } from '../../src/data/vocab.js';
import { savePretrained } from '../../src/io/peft.js';
import { saveModelToDir } from '../../src/io/model-checkpoint.js';
import { CharLM, type CharLMConfig } from '../../src/models/char-lm.js';
import { manualSeed } from '../../src/rng.js';

export const TEXT = 'the quick brown fox jumps over the lazy dog. ';

/** A fresh temporary directory. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `adapterkit-${prefix}-`));
}

/** Config of the tiny base model (context 48). */
export function tinyConfig(): CharLMConfig {
  const vocab = CharVocab.fromText(TEXT);
  return { vocabSize: vocab.size, dModel: 32, numLayers: 2, nHead: 4, dFF: 64, maxLen: 48, vocab: vocab.toJSON() };
}

/** Writes the tiny base model to `dir` (config.json + model.safetensors). */
export async function writeBaseModel(dir: string): Promise<void> {
  manualSeed(1);
  const lm = new CharLM(tinyConfig());
  await saveModelToDir(lm, dir);
  lm.dispose();
}

/**
 * Writes LoRA adapter `name` (non-zero B, seeded by `seed`) into `store` in PEFT format, as a hidden
 * sibling renamed into place.
 */
export async function writeStoreAdapter(store: string, name: string, seed: number): Promise<void> {
  manualSeed(seed);
  const lm = new CharLM(tinyConfig());
  const peft = PeftModel.wrap(lm, { type: 'lora', r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj', 'fc1'], initLoraWeights: false });
  const files = new Map<string, Uint8Array>();
  await savePretrained(peft, { writeFile: (p, d) => void files.set(`peft/${p}`, typeof d === 'string' ? new TextEncoder().encode(d) : d) });
  peft.dispose();
  const tmp = join(store, 'adapters', `.${name}.tmp-${process.pid}-${seed}`);
  const hashes: Record<string, string> = {};
  for (const [p, d] of files) {
    await mkdir(dirname(join(tmp, p)), { recursive: true });
    await writeFile(join(tmp, p), d);
    hashes[p] = createHash('sha256').update(d).digest('hex');
  }
  const manifest = {
    name,
    jobId: `job-${name}`,
    kind: 'lora',
    format: 'peft',
    base: { name: 'tiny', config: tinyConfig() },
    config: { r: 4 },
    metrics: {},
    files: hashes,
    contentHash: createHash('sha256').update(JSON.stringify(hashes)).digest('hex'),
    createdAt: new Date(0).toISOString(),
  };
  await writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2));
  await rm(join(store, 'adapters', name), { recursive: true, force: true });
  await rename(tmp, join(store, 'adapters', name));
}

/** POSTs JSON (or a raw string) and returns status and parsed body. */
export async function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

/** A completion's text, after checking that it holds `max_tokens` tokens. */
export async function complete(base: string, body: Record<string, unknown>): Promise<string> {
  const { status, json } = await post(`${base}/v1/completions`, body);
  if (status !== 200) throw new Error(`completion failed with ${status}: ${JSON.stringify(json)}`);
  const want = (body.max_tokens as number | undefined) ?? 16;
  if (json.usage.completion_tokens !== want) throw new Error(`expected ${want} tokens, got ${JSON.stringify(json.usage)}`);
  return json.choices[0].text as string;
}
