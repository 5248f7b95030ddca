/**
 * The queue commands (`submit`, `status`, `cancel`) against a real redis-server on loopback, with no
 * worker: the payload `submit` builds from its flags, and what the commands print.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cancelCommand, statusCommand, submitCommand } from '../../../src/cli/commands/jobs.js';
import { JobClient } from '../../../src/jobs/client.js';
import { requireRedis, startRedis, type RedisHandle } from '../../jobs/redis-server.js';

const haveRedis = requireRedis('queue command tests');

describe.skipIf(!haveRedis)('submit, status and cancel on a real redis-server', () => {
  let redis: RedisHandle;
  let client: JobClient;
  let dir: string;
  const queue = ['--queue', 'cli-jobs'];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adapterkit-cli-jobs-'));
    redis = await startRedis();
    client = new JobClient(redis.url, 'cli-jobs');
  });
  afterAll(async () => {
    await client?.close();
    await redis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Runs a command with `args`; returns the JSON lines it printed. */
  async function run(cmd: ReturnType<typeof submitCommand>, ...args: string[]): Promise<unknown[]> {
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    try {
      await cmd.exitOverride().parseAsync([...args, '--redis', redis.url, ...queue], { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    return out
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as unknown);
  }

  it('submit builds the payload from its flags and prints the job id', async () => {
    const printed = await run(
      submitCommand(),
      ...['--name', 'from-flags', '--base', '/models/b', '--data', 'mobydick', '--rank', '4', '--alpha', '2'],
      ...['--steps', '5', '--seq-len', '16', '--job-id', 'flags-1'],
    );
    expect(printed).toEqual([{ event: 'submitted', id: 'flags-1' }]);
    const job = await client.queue.getJob('flags-1');
    expect(job!.data).toMatchObject({
      name: 'from-flags',
      base: '/models/b',
      data: 'mobydick',
      method: { kind: 'lora', r: 4, alpha: 2, targetModules: ['q_proj', 'v_proj'] },
      training: { steps: 5, batch: 16, seqLen: 16 },
      seed: 0,
      replace: false,
    });
    const parallel = await run(
      submitCommand(),
      ...['--name', 'par', '--method', 'parallel', '--dim', '8', '--job-id', 'par-1'],
    );
    expect(parallel).toEqual([{ event: 'submitted', id: 'par-1' }]);
    expect((await client.queue.getJob('par-1'))!.data.method).toEqual({
      kind: 'parallel',
      dim: 8,
      scaling: 4,
    });
  });

  it('submit takes every adapter method of adapt, with its flags and defaults', async () => {
    const submitted = async (id: string, ...flags: string[]) => {
      expect(await run(submitCommand(), '--name', id, ...flags, '--job-id', id)).toEqual([
        { event: 'submitted', id },
      ]);
      return (await client.queue.getJob(id))!.data as { method: unknown; training: { lr?: number } };
    };
    expect(
      (await submitted('vera-1', '--method', 'vera', '--rank', '16', '--targets', 'fc1,fc2')).method,
    ).toEqual({ kind: 'vera', r: 16, targetModules: ['fc1', 'fc2'] });
    expect((await submitted('prefix-1', '--method', 'prefix')).method).toEqual({
      kind: 'prefix',
      numVirtualTokens: 16,
    });
    expect(
      (
        await submitted(
          ...['mam-1', '--method', 'mam', '--dim', '8', '--prefix-tokens', '4'],
          ...['--prefix-projection', '--prefix-hidden', '24', '--modules-to-save', 'lm_head,decoder.norm'],
        )
      ).method,
    ).toEqual({
      kind: 'mam',
      dim: 8,
      scaling: 4,
      numVirtualTokens: 4,
      prefixProjection: true,
      encoderHiddenSize: 24,
      modulesToSave: ['lm_head', 'decoder.norm'],
    });
    const linear = await submitted('linear-1', '--method', 'linear', '--modules-to-save', 'lm_head');
    expect(linear.method).toEqual({ kind: 'linear', dim: 32, modulesToSave: ['lm_head'] });
    expect(linear.training.lr).toBeUndefined(); // the worker applies adapt's per-method default
  });

  it('submit refuses flags that do not fit the method, an unknown method, and a flow exporting a non-PEFT kind', async () => {
    await expect(
      run(submitCommand(), '--name', 'x', '--method', 'lora', '--prefix-projection'),
    ).rejects.toThrow('--prefix-projection applies to --method prefix or mam only (got --method lora)');
    await expect(
      run(submitCommand(), '--name', 'x', '--method', 'prefix', '--prefix-hidden', '8'),
    ).rejects.toThrow('--prefix-hidden is the width of the prefix MLP; add --prefix-projection');
    await expect(run(submitCommand(), '--name', 'x', '--method', 'ia3')).rejects.toThrow(
      'Allowed choices are lora, linear, parallel, vera, prefix, mam',
    );
    for (const method of ['prefix', 'mam', 'linear']) {
      const err = await run(
        submitCommand(),
        ...[
          '--name',
          `flow-${method}`,
          '--method',
          method,
          '--export-to',
          join(dir, 'out'),
          '--job-id',
          `flow-${method}`,
        ],
      ).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UNSUPPORTED_FEATURE' });
      expect((err as Error).message).toContain(`a ${method} adapter has no PEFT form`);
      expect((err as Error).message).toContain('methods that export to PEFT: lora, vera');
      expect(await client.queue.getJob(`flow-${method}`)).toBeUndefined(); // nothing was enqueued
    }
  });

  it('submit reads --payload, and names the file or the missing --name when it cannot', async () => {
    const file = join(dir, 'job.json');
    await writeFile(
      file,
      JSON.stringify({
        name: 'from-file',
        base: '/b',
        data: 'sotu',
        method: { kind: 'linear', dim: 4 },
        training: { steps: 3 },
      }),
    );
    expect(await run(submitCommand(), '--payload', file, '--job-id', 'file-1')).toEqual([
      { event: 'submitted', id: 'file-1' },
    ]);
    await expect(run(submitCommand(), '--payload', join(dir, 'none.json'))).rejects.toThrow(
      `--payload ${join(dir, 'none.json')}:`,
    );
    await expect(run(submitCommand())).rejects.toThrow(
      'submit needs --name <adapter> (or --payload <file.json>)',
    );
  });

  it('status prints one job or the list; cancel removes a waiting job', async () => {
    const [one] = (await run(statusCommand(), 'file-1')) as Array<{ id: string; adapter: string }>;
    expect(one).toMatchObject({ id: 'file-1', adapter: 'from-file', name: 'train' });
    const all = (await run(statusCommand())) as Array<{ id: string }>;
    expect(all.map((s) => s.id)).toEqual(expect.arrayContaining(['flags-1', 'par-1', 'file-1']));
    expect(await run(cancelCommand(), 'par-1')).toEqual([{ event: 'cancelled', id: 'par-1' }]);
    await expect(run(statusCommand(), 'par-1')).rejects.toThrow("no job par-1 in queue 'cli-jobs'");
  });
});
