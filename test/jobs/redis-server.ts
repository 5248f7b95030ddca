/** Starting and stopping a real `redis-server` on a free loopback port, for queue tests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { it } from 'vitest';
import { openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The message printed once when the queue tests cannot run. */
export const REDIS_MISSING =
  'QUEUE TESTS NOT RUN: redis-server not found; install it with `apt-get install redis-server`';

/**
 * Prints {@link REDIS_MISSING} once per test run (outside CI): every queue test file calls this, and
 * the first of them in a run (test files share the vitest parent process) prints the line.
 */
export function reportRedisMissing(): void {
  if (process.env.CI === 'true') return;
  try {
    closeSync(openSync(join(tmpdir(), `adapterkit-redis-missing-${process.ppid}`), 'wx'));
  } catch {
    return; // another test file of this run printed it
  }
  console.error(`\n*** ${REDIS_MISSING} ***\n`);
}

/**
 * Whether the queue tests of a file can run: `redis-server` is on the PATH. When it is not, prints
 * the one loud line (outside CI) or registers a failing test named after `what` (under CI, where a
 * missing real part is a failure, not a skip). Call at a test file's top level.
 */
export function requireRedis(what: string): boolean {
  if (hasRedisServer()) return true;
  reportRedisMissing();
  if (process.env.CI === 'true') {
    it(`${what} need redis-server under CI`, () => {
      throw new Error(REDIS_MISSING);
    });
  }
  return false;
}

/** Whether `redis-server` is on the PATH. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A port the OS reports free on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A running redis-server. */
export interface RedisHandle {
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts redis-server without persistence on a free loopback port and waits until it accepts connections. */
export async function startRedis(): Promise<RedisHandle> {
  const port = await freePort();
  const proc = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`redis-server did not start on port ${port}:\n${log}`)),
      15_000,
    );
    proc.stdout!.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with code ${code}:\n${log}`));
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        process.kill(proc.pid!, 'SIGTERM');
      }),
  };
}
