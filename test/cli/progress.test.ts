import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createMultiProgress,
  createProgress,
  createTaskProgress,
  stopAllProgress,
} from '../../src/cli/progress.js';

/** A fake terminal that records what is drawn on it. */
function fakeTty(): { stream: NodeJS.WritableStream; text: () => string } {
  let written = '';
  const stream = Object.assign(
    new Writable({
      write(chunk, _enc, cb) {
        written += String(chunk);
        cb();
      },
    }),
    { isTTY: true, columns: 120, rows: 30 },
  );
  return { stream: stream as unknown as NodeJS.WritableStream, text: () => written };
}

afterEach(() => vi.restoreAllMocks());

describe('step progress', () => {
  it("'lines' logs every `every` steps and the last one, with loss, tokens/s and ETA", () => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((s: string) => void lines.push(s));
    const p = createProgress('adapt', 10, 'lines', 4);
    for (let step = 1; step <= 10; step++) p.update({ step, loss: 2.123456, tokensPerSecond: 512.4 });
    p.stop();
    expect(lines.map((l) => l.split(' loss')[0])).toEqual([
      'adapt: step 4/10',
      'adapt: step 8/10',
      'adapt: step 10/10',
    ]);
    expect(lines[0]).toMatch(/^adapt: step 4\/10 loss 2\.1235 512 tok\/s ETA \d+s$/);
  });

  it("'lines' shows a non-finite loss as '-'", () => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((s: string) => void lines.push(s));
    createProgress('adapt', 1, 'lines').update({ step: 1, loss: NaN, tokensPerSecond: Infinity });
    expect(lines[0]).toMatch(/^adapt: step 1\/1 loss - - tok\/s ETA 0s$/);
  });

  it("'json' writes one step event per update on standard output; 'none' writes nothing", () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    createProgress('lora', 5, 'json').update({ step: 2, loss: 1.5, tokensPerSecond: 10 });
    createProgress('lora', 5, 'none').update({ step: 3, loss: 1.5, tokensPerSecond: 10 });
    expect(out).toEqual([
      `${JSON.stringify({ event: 'step', label: 'lora', total: 5, step: 2, loss: 1.5, tokensPerSecond: 10 })}\n`,
    ]);
    expect(err).not.toHaveBeenCalled();
  });

  it("'bar' draws the step, total and loss; stopAllProgress stops it once", () => {
    const tty = fakeTty();
    const bar = createProgress('adapt', 10, 'bar', 1, { stream: tty.stream });
    bar.update({ step: 3, loss: 2.5, tokensPerSecond: 100 });
    stopAllProgress();
    expect(tty.text()).toContain('3/10 loss 2.5000 | 100 tok/s');
    expect(tty.text()).toContain('\x1b[?25h'); // the cursor is shown again
    const drawn = tty.text().length;
    bar.stop();
    expect(tty.text().length).toBe(drawn);
  });

  it('several runs at once get one progress each when not on a terminal', () => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((s: string) => void lines.push(s));
    const multi = createMultiProgress('lines');
    multi.add('lora', 2).update({ step: 2, loss: 1, tokensPerSecond: 1 });
    multi.add('linear', 2).update({ step: 2, loss: 1, tokensPerSecond: 1 });
    multi.stop();
    expect(lines.map((l) => l.split(':')[0])).toEqual(['lora', 'linear']);
  });
});

describe('task progress', () => {
  it("'lines' logs every tenth of the units and the last one, naming the unit", () => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((s: string) => void lines.push(s));
    const p = createTaskProgress('eval', 20, 'batches', 'lines');
    for (let done = 1; done <= 20; done++) p.update(done);
    expect(lines).toHaveLength(10);
    expect(lines[0]).toMatch(/^eval: 2\/20 batches, ETA \d+s$/);
    expect(lines.at(-1)).toMatch(/^eval: 20\/20 batches, ETA 0s$/);
  });

  it("'json' writes progress events; 'bar' draws done/total and the unit", () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    createTaskProgress('eval', 4, 'windows', 'json').update(1);
    expect(JSON.parse(out[0]!)).toEqual({
      event: 'progress',
      label: 'eval',
      done: 1,
      total: 4,
      unit: 'windows',
    });
    const tty = fakeTty();
    const bar = createTaskProgress('eval', 4, 'windows', 'bar', { stream: tty.stream });
    bar.update(2);
    bar.stop();
    expect(tty.text()).toContain('2/4 windows');
  });
});
