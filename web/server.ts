/**
 * The web demo's server: bundles the page with esbuild (in memory) and serves it with the wasm
 * backend's `.wasm` files, the shipped base model and the SOTU sample, from node:http on loopback.
 * The cross-origin isolation headers let the wasm backend use threads where the browser allows.
 */
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join, normalize, sep } from 'node:path';

const repo = join(import.meta.dirname, '..');
const wasmDir = join(
  dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')),
  '..',
  'dist',
);

/** URL prefix → directory the server reads files from (nothing outside them is served). */
const STATIC_ROUTES: ReadonlyArray<[string, string]> = [
  ['/wasm/', wasmDir],
  ['/model/', join(repo, 'assets', 'mobydick-char-lm')],
  ['/samples/', join(repo, 'assets')],
];

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.safetensors': 'application/octet-stream',
};

/** Bundles the page's entry with esbuild's browser defaults; returns the JavaScript. */
export async function bundleDemoPage(entry = join(repo, 'web', 'demo', 'main.ts')): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    sourcemap: 'inline',
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/** A running demo server. */
export interface DemoServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Starts the server on `host:port` (port 0: any free port) and resolves once it listens. */
export async function startDemoServer(opts: { port?: number; host?: string } = {}): Promise<DemoServer> {
  const host = opts.host ?? '127.0.0.1';
  const app = await bundleDemoPage();
  const index = await readFile(join(repo, 'web', 'demo', 'index.html'));
  const server = createServer((req, res) => {
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    };
    const send = (status: number, type: string, body: string | Uint8Array) => {
      res.writeHead(status, { ...headers, 'Content-Type': type });
      res.end(body);
    };
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed');
    if (path === '/' || path === '/index.html') return send(200, CONTENT_TYPES['.html']!, index);
    if (path === '/app.js') return send(200, CONTENT_TYPES['.js']!, app);
    for (const [prefix, dir] of STATIC_ROUTES) {
      if (!path.startsWith(prefix)) continue;
      const file = normalize(join(dir, decodeURIComponent(path.slice(prefix.length))));
      if (!file.startsWith(dir + sep)) return send(403, 'text/plain', 'forbidden');
      readFile(file).then(
        (bytes) =>
          send(200, CONTENT_TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream', bytes),
        () => send(404, 'text/plain', `not found: ${path}`),
      );
      return;
    }
    send(404, 'text/plain', `not found: ${path}`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
