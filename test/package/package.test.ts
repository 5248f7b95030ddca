/**
 * The package as users get it: `npm pack` (which builds dist/ through `prepare`), the tarball installed
 * into an empty project from the npm cache, then, in that project: a strict type check without
 * skipLibCheck, a consumer script that trains, saves and reloads adapters through `adapterkit` and
 * `adapterkit/node`, `require()`, the README's quick start as printed, the installed bin, and bundles of
 * the core entry made by esbuild, Vite and webpack with no configuration.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quickStartBlock, quickStartExpectations } from '../readme.js';

const root = path.resolve(import.meta.dirname, '../..');
const fixtures = path.join(import.meta.dirname, 'consumer');
const tmp = mkdtempSync(path.join(tmpdir(), 'adapterkit-package-'));
const project = path.join(tmp, 'project');
let tarballFiles: string[] = [];

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, cwd: project, ...opts });
  const stdout = String(r.stdout ?? '');
  const stderr = String(r.stderr ?? '');
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${stdout}\n${stderr}`,
    );
  }
  return { stdout, stderr };
}

/** The installed size of a directory tree in MB (apparent sizes of its files). */
function sizeMb(dir: string): number {
  let bytes = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) bytes += statSync(p).size;
    }
  };
  walk(dir);
  return bytes / 1e6;
}

beforeAll(() => {
  // npm runs `prepare` (the build) before packing.
  const packed = JSON.parse(
    run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: root }).stdout,
  ) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  tarballFiles = packed[0]!.files.map((f) => f.path);
  mkdirSync(project);
  writeFileSync(
    path.join(project, 'package.json'),
    `${JSON.stringify({ name: 'adapterkit-consumer', private: true, type: 'module' }, null, 2)}\n`,
  );
  for (const f of readdirSync(fixtures)) cpSync(path.join(fixtures, f), path.join(project, f));
  writeFileSync(path.join(project, 'readme-quickstart.ts'), quickStartBlock());
  const typesNode = JSON.parse(
    readFileSync(path.join(root, 'node_modules/@types/node/package.json'), 'utf8'),
  ).version;
  run('npm', [
    'install',
    '--prefer-offline',
    '--no-audit',
    '--no-fund',
    path.join(tmp, packed[0]!.filename),
    `@types/node@${typesNode}`,
  ]);
}, 600_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the packed package', () => {
  it('holds compiled JavaScript and declarations for both entries and the bin, and no TypeScript sources', () => {
    for (const f of [
      'dist/index.js',
      'dist/index.d.ts',
      'dist/node.js',
      'dist/node.d.ts',
      'dist/cli/main.js',
      'bin/adapterkit.js',
    ])
      expect(tarballFiles).toContain(f);
    expect(tarballFiles.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    const installed = JSON.parse(
      readFileSync(path.join(project, 'node_modules/adapterkit/package.json'), 'utf8'),
    );
    expect(Object.keys(installed.exports).sort()).toEqual([
      '.',
      './jobs',
      './node',
      './package.json',
      './server',
      './store',
    ]);
  });

  it('installs without the development tools or the optional plot packages', () => {
    for (const pkg of ['tsx', 'typescript', 'vitest', 'esbuild', 'vega', 'vega-lite'])
      expect(existsSync(path.join(project, 'node_modules', pkg)), pkg).toBe(false);
    const mb =
      sizeMb(path.join(project, 'node_modules')) - sizeMb(path.join(project, 'node_modules/@types/node'));
    console.log(`installed size of adapterkit and its dependencies: ${mb.toFixed(0)} MB`);
  });

  it('type-checks in a strict consumer project without skipLibCheck (types: ["node"])', () => {
    const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
    run(process.execPath, [tsc, '-p', project]);
    expect(existsSync(path.join(project, 'out/consumer.js'))).toBe(true);
  });

  it('trains adapters with the Trainer and AdamW, saves them by path and reloads identical outputs', () => {
    const { stdout } = run(process.execPath, ['out/consumer.js']);
    const r = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(r.optimizerIsAdamW).toBe(true);
    expect(r.trainerLosses).toHaveLength(8);
    expect(r.trainerLosses.at(-1)).toBeLessThan(r.trainerLosses[0]);
    expect(r.loraLosses.at(-1)).toBeLessThan(r.loraLosses[0]);
    expect(r.adapterDiff).toBeLessThan(1e-6);
    expect(r.loraDiff).toBeLessThan(1e-6);
    expect(r.loraAdapters).toEqual(['default']);
  });

  it('loads with require() from CommonJS', () => {
    const { stdout, stderr } = run(process.execPath, ['require.cjs']);
    expect(JSON.parse(stdout)).toEqual({ core: 'function', node: 'function' });
    expect(stderr).toBe('');
  });

  it("runs the README's quick start as printed", () => {
    const { stdout } = run(process.execPath, ['out/readme-quickstart.js']);
    quickStartExpectations(stdout);
  });

  it('runs the installed bin: npx adapterkit --help', () => {
    const { stdout } = run('npx', ['--offline', 'adapterkit', '--help']);
    expect(stdout).toContain('Usage: adapterkit');
    expect(stdout).toContain('demo');
  });
});

describe('the core entry in browser bundlers, with no configuration', () => {
  const source = [
    "import { initBackend, models, Trainer, AdamW, PeftModel, saveAdapters, crossEntropy, tf } from 'adapterkit';",
    'export async function train() {',
    '  await initBackend();',
    '  const lm = new models.CharLM({ vocabSize: 12, dModel: 16, numLayers: 1, nHead: 2, dFF: 32, maxLen: 8 });',
    "  lm.addAdapter('task', { type: 'linear', inFeatures: 16, dim: 4 });",
    '  lm.freeze();',
    '  lm.unfreezeEnabledAdapters();',
    "  const x = tf.tensor2d([[1, 2, 3]], [1, 3], 'int32');",
    "  const y = tf.tensor2d([[2, 3, 4]], [1, 3], 'int32');",
    '  const trainer = new Trainer({ model: lm, loss: (_b, m) => crossEntropy(m.forward(x), y) });',
    '  await trainer.fit(() => null, { steps: 2 });',
    '  return [trainer.optimizer instanceof AdamW, PeftModel.name, saveAdapters(lm).length];',
    '}',
    'train().then((r) => console.log(r));',
    '',
  ].join('\n');
  const nodeImport = /(?:from\s*|import\s*\(\s*|require\s*\(\s*)["']node:/;

  function bundleDir(name: string): string {
    const dir = path.join(project, name);
    mkdirSync(path.join(dir, 'src'), { recursive: true });
    writeFileSync(path.join(dir, 'src/index.js'), source);
    return dir;
  }

  function outputText(dir: string): string {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.m?js$/.test(e.name)) files.push(readFileSync(p, 'utf8'));
      }
    };
    walk(dir);
    expect(files.length).toBeGreaterThan(0);
    return files.join('\n');
  }

  it('esbuild --bundle --platform=browser --format=esm', async () => {
    const { build } = await import('esbuild');
    const dir = bundleDir('esbuild');
    const result = await build({
      entryPoints: [path.join(dir, 'src/index.js')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      outdir: path.join(dir, 'dist'),
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const out = outputText(path.join(dir, 'dist'));
    expect(out).toContain('adapter-set'); // the library's code is in the bundle
    expect(out).not.toMatch(nodeImport);
  });

  it('Vite (vite build of an index.html)', async () => {
    const { build } = await import('vite');
    const dir = bundleDir('vite');
    writeFileSync(
      path.join(dir, 'index.html'),
      '<!doctype html><script type="module" src="/src/index.js"></script>\n',
    );
    await build({ root: dir, configFile: false, logLevel: 'silent' });
    const out = outputText(path.join(dir, 'dist'));
    expect(out).toContain('adapter-set');
    expect(out).not.toMatch(nodeImport);
  });

  it('webpack (its defaults: src/index.js → dist/main.js)', async () => {
    const { default: webpack } = await import('webpack');
    const dir = bundleDir('webpack');
    // Only where the project is and no minification (terser over TensorFlow.js takes minutes here);
    // resolution, which is what a Node import would break, is webpack's default.
    const config = { context: dir, mode: 'none' as const, output: { path: path.join(dir, 'dist') } };
    const stats = await new Promise<import('webpack').Stats>((resolve, reject) =>
      webpack(config, (err, s) => (err || !s ? reject(err) : resolve(s))),
    );
    const info = stats.toJson({ all: false, errors: true });
    expect(info.errors?.map((e) => e.message) ?? []).toEqual([]);
    const out = outputText(path.join(dir, 'dist'));
    expect(out).toContain('adapter-set');
    expect(out).not.toMatch(nodeImport);
  });
});
