/**
 * Test fixtures for the server: a tiny character LM saved as a base-model directory, and LoRA
 * adapters put into an adapter store (the store module writes manifests and renames into place).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeftModel } from '../../src/adapters/index.js';
import { CharVocab } from '../../src/data/vocab.js';
import { savePretrained } from '../../src/io/peft.js';
import { saveModelToDir } from '../../src/io/files-by-path.js';
import { CharLM, type CharLMConfig } from '../../src/models/char-lm.js';
import { manualSeed } from '../../src/rng.js';
import { FsAdapterStore } from '../../src/store/index.js';

export const TEXT = 'the quick brown fox jumps over the lazy dog. ';

/** A fresh temporary directory. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `adapterkit-${prefix}-`));
}

/** Config of the tiny base model (context 48). */
export function tinyConfig(): CharLMConfig {
  const vocab = CharVocab.fromText(TEXT);
  return {
    vocabSize: vocab.size,
    dModel: 32,
    numLayers: 2,
    nHead: 4,
    dFF: 64,
    maxLen: 48,
    vocab: vocab.toJSON(),
  };
}

/** Writes the tiny base model to `dir` (config.json + model.safetensors). */
export async function writeBaseModel(dir: string): Promise<void> {
  manualSeed(1);
  const lm = new CharLM(tinyConfig());
  await saveModelToDir(lm, dir);
  lm.dispose();
}

/** Puts LoRA adapter `name` (non-zero B, seeded by `seed`) into `store` in PEFT format, replacing any. */
export async function writeStoreAdapter(store: string, name: string, seed: number): Promise<void> {
  manualSeed(seed);
  const lm = new CharLM(tinyConfig());
  const peft = PeftModel.wrap(lm, {
    type: 'lora',
    r: 4,
    loraAlpha: 8,
    targetModules: ['q_proj', 'v_proj', 'fc1'],
    initLoraWeights: false,
  });
  const files = new Map<string, Uint8Array>();
  await savePretrained(peft, {
    writeFile: (p, d) => void files.set(`peft/${p}`, typeof d === 'string' ? new TextEncoder().encode(d) : d),
  });
  peft.dispose();
  await new FsAdapterStore(store).put(
    {
      name,
      jobId: `job-${name}`,
      kind: 'lora',
      format: 'peft',
      base: { name: 'tiny', config: tinyConfig() },
      config: { r: 4 },
      metrics: {},
      files: Object.fromEntries(files),
    },
    { replace: true },
  );
}

/** The server's JSON replies, as far as the tests read them: a completion or an error. */
export interface ApiReply {
  error?: { code: string; message: string; type: string };
  usage?: { completion_tokens: number };
  choices?: Array<{ text: string }>;
}

/** POSTs JSON (or a raw string) and returns status and parsed body. */
export async function post(url: string, body: unknown): Promise<{ status: number; json: ApiReply }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as ApiReply };
}

/** A completion's text, after checking that it holds `max_tokens` tokens. */
export async function complete(base: string, body: Record<string, unknown>): Promise<string> {
  const { status, json } = await post(`${base}/v1/completions`, body);
  if (status !== 200) throw new Error(`completion failed with ${status}: ${JSON.stringify(json)}`);
  const want = (body.max_tokens as number | undefined) ?? 16;
  if (json.usage?.completion_tokens !== want)
    throw new Error(`expected ${want} tokens, got ${JSON.stringify(json.usage)}`);
  return json.choices![0]!.text;
}
