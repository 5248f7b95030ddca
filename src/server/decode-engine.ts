/**
 * Continuous batching: requests join the running batch as soon as a slot is free and leave when they
 * are done, and every decoding step runs all running sequences — whatever their adapters and lengths —
 * as one forward (per-sample adapter routing, one key/value cache per sequence).
 *
 * Per loop turn: each newly admitted request is prefilled alone (its prompt in one forward, filling
 * its cache), then one batched step feeds every running sequence its last token. The loop yields to
 * the event loop between turns, so HTTP traffic, adapter loads and unloads happen between steps,
 * never inside one.
 *
 * Each request samples with its own RNG seeded by its `seed`, so its tokens do not depend on what it
 * was batched with.
 */
import { tf, type Tensor } from '../backend/tf.js';
import type { CharLM } from '../models/char-lm.js';
import type { CachedInput, SequenceCache } from '../models/kv-cache.js';
import { drawToken, nextTokenProbs } from '../models/sampling.js';
import { createRng, type Rng } from '../rng.js';
import type { ServerMetrics } from './metrics.js';

/** One generation request. */
export interface GenerationRequest {
  /** Prompt ids (≥ 1); prompt plus `maxTokens` must fit the model's context. */
  promptIds: Int32Array;
  maxTokens: number;
  /** Softmax temperature; 0 = greedy. */
  temperature: number;
  seed: number;
  /** Resident adapter to route this sequence to, or null for the base model. */
  adapter: string | null;
  /** Called with each new token as soon as it is sampled. */
  onToken?: (id: number) => void;
  /** Aborting drops the sequence at the next step (its promise rejects with the abort reason). */
  signal?: AbortSignal;
}

/** The forward a batch runs: rows routed to adapters (null = base). */
export type RoutedForward = (input: CachedInput, adapters: readonly (string | null)[]) => Tensor;

interface Sequence {
  req: GenerationRequest;
  cache: SequenceCache;
  rng: Rng;
  tokens: number[];
  resolve: (tokens: number[]) => void;
  reject: (e: unknown) => void;
}

/** Options of {@link DecodeEngine}. */
export interface DecodeEngineOptions {
  /** Most sequences decoded together. */
  maxBatch: number;
  metrics?: ServerMetrics;
}

/** The continuous-batching decoder of a server; see the file comment. */
export class DecodeEngine {
  private waiting: Sequence[] = [];
  private running: Sequence[] = [];
  private looping = false;

  constructor(
    private readonly model: CharLM,
    private readonly forward: RoutedForward,
    private readonly opts: DecodeEngineOptions,
  ) {}

  /** Sequences being decoded and waiting for a slot. */
  get load(): { running: number; waiting: number } {
    return { running: this.running.length, waiting: this.waiting.length };
  }

  /** Generates `req.maxTokens` tokens; resolves with them when the sequence is done. */
  generate(req: GenerationRequest): Promise<number[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({
        req,
        cache: this.model.newCache(),
        rng: createRng(req.seed),
        tokens: [],
        resolve,
        reject,
      });
      this.updateGauges();
      void this.loop();
    });
  }

  private async loop(): Promise<void> {
    if (this.looping) return;
    this.looping = true;
    try {
      while (this.waiting.length > 0 || this.running.length > 0) {
        this.dropAborted();
        while (this.waiting.length > 0 && this.running.length < this.opts.maxBatch) {
          const seq = this.waiting.shift()!;
          this.running.push(seq);
          this.guard([seq], () => this.prefill(seq)); // a failed prefill ends only this sequence
        }
        this.finishDone();
        if (this.running.length > 0) this.guard(this.running, () => this.step());
        this.finishDone();
        this.updateGauges();
        await new Promise<void>((r) => setImmediate(r));
      }
    } finally {
      this.looping = false;
    }
  }

  /** Runs `f`; on an error every sequence in `seqs` fails with it and leaves the engine. */
  private guard(seqs: Sequence[], f: () => void): void {
    try {
      f();
    } catch (e) {
      const failed = [...seqs];
      for (const s of failed) this.end(s, e);
    }
  }

  private prefill(seq: Sequence): void {
    const ids = seq.req.promptIds;
    const probs = tf.tidy(() => {
      const logits = this.forward({ ids: tf.tensor2d(ids, [1, ids.length], 'int32'), caches: [seq.cache] }, [
        seq.req.adapter,
      ]);
      const v = logits.shape[2]!;
      return nextTokenProbs(tf.reshape(tf.slice(logits, [0, ids.length - 1, 0], [1, 1, v]), [1, v]), [
        seq.req.temperature,
      ])[0]!;
    });
    this.push(
      seq,
      drawToken(probs, seq.req.temperature, () => seq.rng.next()),
    );
  }

  /** One batched step: every running sequence gets its next token. */
  private step(): void {
    const rows = this.running;
    const adapters = rows.map((s) => s.req.adapter);
    this.opts.metrics?.batchSize.observe(rows.length);
    this.opts.metrics?.adaptersInBatch.observe(new Set(adapters).size);
    const probs = tf.tidy(() => {
      const ids = tf.tensor2d(
        rows.map((s) => s.tokens[s.tokens.length - 1]!),
        [rows.length, 1],
        'int32',
      );
      const logits = this.forward({ ids, caches: rows.map((s) => s.cache) }, adapters);
      return nextTokenProbs(
        tf.reshape(logits, [rows.length, -1]),
        rows.map((s) => s.req.temperature),
      );
    });
    rows.forEach((s, r) =>
      this.push(
        s,
        drawToken(probs[r]!, s.req.temperature, () => s.rng.next()),
      ),
    );
  }

  private push(seq: Sequence, token: number): void {
    seq.tokens.push(token);
    this.opts.metrics?.generationTokens.inc();
    seq.req.onToken?.(token);
  }

  private finishDone(): void {
    for (const s of [...this.running]) if (s.tokens.length >= s.req.maxTokens) this.end(s);
  }

  private dropAborted(): void {
    for (const s of [...this.waiting, ...this.running]) {
      if (s.req.signal?.aborted) this.end(s, s.req.signal.reason ?? new Error('aborted'));
    }
  }

  /** Removes `seq`, frees its cache and settles its promise. */
  private end(seq: Sequence, error?: unknown): void {
    this.running = this.running.filter((s) => s !== seq);
    this.waiting = this.waiting.filter((s) => s !== seq);
    seq.cache.dispose();
    if (error === undefined) seq.resolve(seq.tokens);
    else seq.reject(error);
  }

  private updateGauges(): void {
    this.opts.metrics?.runningSequences.set(this.running.length);
    this.opts.metrics?.waitingSequences.set(this.waiting.length);
  }
}
