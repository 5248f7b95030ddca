/** Starting and stopping a real `redis-server` on a free loopback port, for queue tests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** The message printed once when the queue tests cannot run. */
export const REDIS_MISSING =
  'QUEUE TESTS NOT RUN: redis-server not found; install it with `apt-get install redis-server`';

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
