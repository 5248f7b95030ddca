/* global process, console -- a Node script run by npm at install */
/**
 * `npm install` / `npm ci` step: compiles the optional native kernels (native/binding.gyp) with the
 * system C compiler, node-gyp (shipped with npm) and the headers of the Node that runs the install.
 * It never downloads anything and never fails the install: when something is missing it says what,
 * and the library runs on wasm.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(root, 'native');
const say = (msg) => console.log(`adapterkit: ${msg}`);
const skip = (why) => {
  say(`native kernels not built (${why}); training runs on the wasm backend.`);
  say(
    'To enable them: install a C compiler, make, python3 and OpenBLAS (Debian: apt-get install build-essential python3 libopenblas0-pthread), then `npm rebuild adapterkit` or `npm run build:native`.',
  );
  process.exit(0);
};

if (process.env.ADAPTERKIT_NATIVE === '0') {
  say('ADAPTERKIT_NATIVE=0: native kernels not built.');
  process.exit(0);
}
if (!existsSync(path.join(nativeDir, 'binding.gyp'))) process.exit(0);

/** node-gyp: npm passes its own copy in npm_config_node_gyp; otherwise look next to npm. */
function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  if (process.env.npm_execpath) {
    candidates.push(
      path.resolve(
        path.dirname(process.env.npm_execpath),
        '..',
        'node_modules',
        'node-gyp',
        'bin',
        'node-gyp.js',
      ),
    );
  }
  candidates.push(
    path.resolve(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  );
  return candidates.find((p) => p && existsSync(p));
}

/** The directory holding include/node/node_api.h for the running Node (node-gyp would download it otherwise). */
function findNodeDir() {
  const candidates = [process.env.npm_config_nodedir, path.resolve(path.dirname(process.execPath), '..')];
  return candidates.find((d) => d && existsSync(path.join(d, 'include', 'node', 'node_api.h')));
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) skip('node-gyp not found next to npm');
const nodeDir = findNodeDir();
if (!nodeDir) skip(`Node's headers (include/node/node_api.h) not found next to ${process.execPath}`);

const r = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`, '--loglevel=warn'], {
  cwd: nativeDir,
  encoding: 'utf8',
  env: { ...process.env, npm_config_nodedir: nodeDir },
});
if (r.status !== 0) {
  const detail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-6).join('\n  ');
  rmSync(path.join(nativeDir, 'build'), { recursive: true, force: true });
  skip(`the compile failed${r.error ? `: ${r.error.message}` : ''}\n  ${detail}`);
}
say(`native kernels built (native/build/Release/adapterkit_native.node; BLAS is opened at run time).`);
