import { builtinModules } from 'node:module';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { models, PeftModel, savePretrained, setPathFiles, tf, Trainer } from '../../src/index.js';
import { nodePathFiles } from '../../src/io/node-path-files.js';

const root = path.resolve(import.meta.dirname, '../..');

/** Every module outside the library (Node built-ins, packages) the entry reaches, statically or dynamically. */
async function externalImportsOf(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [path.join(root, entry)],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'neutral',
    format: 'esm',
    logLevel: 'silent',
    // Only the library's own graph matters here; packages are checked by the bundler tests.
    packages: 'external',
  });
  const found = new Set<string>();
  for (const input of Object.values(result.metafile.inputs))
    // Relative paths marked external are imports esbuild dropped as type-only.
    for (const imp of input.imports) if (imp.external && !imp.path.startsWith('.')) found.add(imp.path);
  return [...found].sort();
}

const isNodeBuiltin = (p: string) => p.startsWith('node:') || builtinModules.includes(p);

describe('the core entry is browser-safe', () => {
  it('src/index.ts reaches no Node module and only TensorFlow.js, zod and re2js (linear-time patterns); src/node.ts adds Node and the datasets', async () => {
    expect(await externalImportsOf('src/index.ts')).toEqual([
      '@tensorflow/tfjs',
      '@tensorflow/tfjs-backend-wasm',
      '@tensorflow/tfjs-core',
      're2js',
      'zod',
    ]);
    const node = await externalImportsOf('src/node.ts');
    expect(node.filter(isNodeBuiltin)).toContain('node:fs/promises');
    expect(node.filter((p) => !isNodeBuiltin(p))).toEqual([
      '@tensorflow/tfjs',
      '@tensorflow/tfjs-backend-wasm',
      '@tensorflow/tfjs-core',
      're2js',
      'zod',
    ]);
  });

  it('paths fail with a clear error until Node file access is installed, then work', async () => {
    setPathFiles(null);
    const cfg = { vocabSize: 11, dModel: 8, numLayers: 1, nHead: 2, dFF: 16, maxLen: 8 };
    const peft = PeftModel.wrap(new models.CharLM(cfg), { type: 'lora', r: 2, targetModules: ['q_proj'] });
    const err = await savePretrained(peft, 'out/peft').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNSUPPORTED_FEATURE' });
    expect(String((err as Error).message)).toContain("import from 'adapterkit/node'");
    expect(
      () => new Trainer({ model: peft, loss: () => tf.scalar(0), checkpointEvery: 1, checkpointDir: 'runs' }),
    ).toThrow(/adapterkit\/node/);
    // In-memory storage needs nothing from Node.
    const files = new Map<string, Uint8Array | string>();
    await savePretrained(peft, { writeFile: (p, d) => void files.set(p, d) });
    expect([...files.keys()].sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    setPathFiles(nodePathFiles);
    expect(
      () => new Trainer({ model: peft, loss: () => tf.scalar(0), checkpointEvery: 1, checkpointDir: 'runs' }),
    ).not.toThrow();
    peft.dispose();
  });
});
