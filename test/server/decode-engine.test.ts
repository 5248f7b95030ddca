import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { CharLM } from '../../src/models/char-lm.js';
import { manualSeed } from '../../src/rng.js';
import { DecodeEngine, type GenerationRequest, type RoutedForward } from '../../src/server/decode-engine.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { tinyConfig } from './fixtures.js';

describe('DecodeEngine', () => {
  let model: CharLM;
  let forward: RoutedForward;

  beforeAll(() => {
    manualSeed(1);
    model = new CharLM(tinyConfig());
    model.eval(); // key/value caches are for inference, as the server runs it
    forward = (input) => model.forward(input);
  });
  afterAll(() => model?.dispose());

  const req = (prompt: number[], over: Partial<GenerationRequest> = {}): GenerationRequest => ({
    promptIds: Int32Array.from(prompt),
    maxTokens: 6,
    temperature: 0,
    seed: 0,
    adapter: null,
    ...over,
  });

  /** Greedy continuation recomputed from the whole context at each step, without caches. */
  function greedyWithoutCache(prompt: number[], n: number): number[] {
    const ctx = [...prompt];
    for (let i = 0; i < n; i++) {
      const next = tf.tidy(() => {
        const logits = model.forward(tf.tensor2d(ctx, [1, ctx.length], 'int32'));
        return logits
          .slice([0, ctx.length - 1, 0], [1, 1, -1])
          .argMax(-1)
          .dataSync()[0]!;
      });
      ctx.push(next);
    }
    return ctx.slice(prompt.length);
  }

  it('greedy decoding with caches gives the tokens of recomputing the whole context, and leaks no tensors', async () => {
    const engine = new DecodeEngine(model, forward, { maxBatch: 4 });
    const before = tf.memory().numTensors;
    const onToken = vi.fn();
    const tokens = await engine.generate(req([1, 2, 3], { onToken }));
    expect(tf.memory().numTensors).toBe(before);
    expect(tokens).toEqual(greedyWithoutCache([1, 2, 3], 6));
    expect(onToken.mock.calls.map((c) => c[0])).toEqual(tokens);
  });

  it('a sampled request gets the same tokens alone as batched with others, even when it waits for a slot', async () => {
    const sampled = req([4, 5], { temperature: 1, seed: 11 });
    const alone = await new DecodeEngine(model, forward, { maxBatch: 4 }).generate(sampled);
    const metrics = new ServerMetrics();
    const engine = new DecodeEngine(model, forward, { maxBatch: 2, metrics });
    const all = [
      engine.generate(req([7, 8, 9], { temperature: 1, seed: 3 })),
      engine.generate(req([2], { maxTokens: 3 })),
      engine.generate(sampled),
    ];
    expect(engine.load.waiting).toBeGreaterThan(0); // three requests, two slots
    const results = await Promise.all(all);
    expect(results[2]).toEqual(alone);
    expect(results.map((r) => r.length)).toEqual([6, 3, 6]);
    expect(engine.load).toEqual({ running: 0, waiting: 0 });
    expect(await metrics.registry.metrics()).toMatch(/adapterkit_decode_batch_size_count [1-9]/);
  });

  it('an aborted request is dropped with its abort reason; the others finish', async () => {
    const engine = new DecodeEngine(model, forward, { maxBatch: 4 });
    const ctrl = new AbortController();
    const aborted = engine.generate(
      req([1], {
        maxTokens: 20,
        signal: ctrl.signal,
        onToken: () => ctrl.abort(new Error('client went away')),
      }),
    );
    const other = engine.generate(req([2], { maxTokens: 20 }));
    await expect(aborted).rejects.toThrow('client went away');
    expect(await other).toHaveLength(20);
  });

  it('a forward that throws fails the sequences it ran, and the engine serves the next request', async () => {
    let failing = true;
    const flaky: RoutedForward = (input, adapters) => {
      if (failing) throw new Error('adapter vanished');
      return forward(input, adapters);
    };
    const engine = new DecodeEngine(model, flaky, { maxBatch: 4 });
    await expect(engine.generate(req([1]))).rejects.toThrow('adapter vanished');
    failing = false;
    expect(await engine.generate(req([1]))).toEqual(greedyWithoutCache([1], 6));
  });
});
