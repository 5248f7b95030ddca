/**
 * The adapters a server holds, in two tiers (as vLLM's `max_loras` / `max_cpu_loras`):
 *
 * - **resident**: attached to the one base model (LoRA wrappers in place), at most `maxLoras`; a
 *   request's rows are routed to them per sample. Least recently used ones with no request in flight
 *   are detached to make room; when every slot is busy, a request waits for one to free up.
 * - **in memory**: verified store files kept in an LRU of `maxCpuLoras` entries, so re-attaching an
 *   evicted adapter skips the disk read and the hash check.
 *
 * Requests pin their adapter ({@link acquire} / {@link release}); unloading a pinned adapter is
 * deferred until its last request finishes, so loading and unloading never interrupt requests in
 * flight. Model changes happen between decoding steps (the steps are synchronous).
 */
import { tf, type Tensor } from '../backend/tf.js';
import { AdapterError } from '../errors.js';
import type { PeftModel } from '../adapters/tuners/peft-model.js';
import { loadAdapter, type FileSource } from '../io/peft.js';
import { loadPretrained } from '../io/peft-model.js';
import type { CharLM } from '../models/char-lm.js';
import type { CachedInput } from '../models/kv-cache.js';
import { BASE_SELECTION } from '../adapters/per-sample.js';
import type { ServerMetrics } from './metrics.js';
import { STORE_PEFT_DIR, type AdapterStore, type StoredAdapter } from '../store/index.js';

/** Options of {@link AdapterPool}. */
export interface AdapterPoolOptions {
  model: CharLM;
  /** The store adapters are read from (verified on every read). */
  store: AdapterStore;
  /** Most adapters attached to the model at once (≥ 1). */
  maxLoras: number;
  /** Most adapters whose verified files are kept in memory (≥ 0). */
  maxCpuLoras: number;
  metrics: ServerMetrics;
}

interface Resident {
  refs: number;
  lastUsed: number;
  /** Unload requested while requests were in flight: detach when the last one ends. */
  unloadWhenIdle: boolean;
  /** Tensor bytes the adapter added to the model. */
  bytes: number;
  /** Its name inside the PeftModel (store names may hold characters adapter names may not). */
  peftName: string;
}

/** An adapter being attached: the requests waiting for it, pinned as soon as it is resident. */
interface Loading {
  refs: number;
  done: Promise<void>;
}

/** Resident and in-memory adapters of a server; see the file comment. */
export class AdapterPool {
  private peft: PeftModel | null = null;
  private readonly resident = new Map<string, Resident>();
  private readonly inMemory = new Map<string, StoredAdapter>();
  private nextPeftName = 0;
  private readonly loading = new Map<string, Loading>();
  private waiters: Array<() => void> = [];
  private clock = 0;

  constructor(private readonly opts: AdapterPoolOptions) {}

  /** Names attached to the model, least recently used first. */
  residentNames(): string[] {
    return [...this.resident.entries()].sort((a, b) => a[1].lastUsed - b[1].lastUsed).map(([n]) => n);
  }

  /** Tensor bytes of each resident adapter. */
  residentBytes(): Map<string, number> {
    return new Map([...this.resident].map(([n, r]) => [n, r.bytes]));
  }

  /** Makes `name` resident and pins it for one request. */
  async acquire(name: string, countMetrics = true): Promise<void> {
    let counted = !countMetrics;
    for (;;) {
      const r = this.resident.get(name);
      if (r) {
        if (!counted) this.opts.metrics.cacheHits.inc();
        r.refs++;
        r.unloadWhenIdle = false;
        r.lastUsed = ++this.clock;
        return;
      }
      if (!counted) {
        this.opts.metrics.cacheMisses.inc();
        counted = true;
      }
      const pending = this.loading.get(name);
      if (pending) {
        // The pin is handed over when the adapter becomes resident, before anyone can evict it.
        pending.refs++;
        return pending.done;
      }
      if (this.resident.size + this.loading.size >= this.opts.maxLoras && !this.evictOne()) {
        await new Promise<void>((resolve) => this.waiters.push(resolve)); // a slot frees up on release/unload
        continue;
      }
      const entry: Loading = { refs: 1, done: Promise.resolve() };
      entry.done = this.attach(name, entry).finally(() => {
        this.loading.delete(name);
        this.wakeWaiters();
      });
      this.loading.set(name, entry);
      return entry.done;
    }
  }

  /** Unpins `name` after a request; detaches it if an unload was requested meanwhile. */
  release(name: string): void {
    const r = this.resident.get(name);
    if (!r) return;
    r.refs = Math.max(0, r.refs - 1);
    if (r.refs === 0) {
      if (r.unloadWhenIdle) this.detach(name);
      this.wakeWaiters();
    }
  }

  /** Loads `name` from the store and attaches it (a no-op when resident); it stays until evicted or unloaded. */
  async load(name: string): Promise<void> {
    await this.acquire(name, false);
    this.release(name);
  }

  /**
   * Detaches `name` now, or when its in-flight requests end. Returns whether it was detached at once.
   * Not resident → `UNKNOWN_ADAPTER`.
   */
  unload(name: string): { deferred: boolean } {
    const r = this.resident.get(name);
    if (!r) {
      throw new AdapterError(
        'UNKNOWN_ADAPTER',
        `adapter '${name}' is not loaded; loaded: ${this.residentNames().join(', ') || '(none)'}`,
        { name },
      );
    }
    if (r.refs > 0) {
      r.unloadWhenIdle = true;
      return { deferred: true };
    }
    this.detach(name);
    this.wakeWaiters();
    return { deferred: false };
  }

  /**
   * One forward of a cached batch with row `b` routed to `adapters[b]` (null = the base model).
   * Every named adapter must be resident (pinned by its request).
   */
  forward(input: CachedInput, adapters: readonly (string | null)[]): Tensor {
    if (!this.peft) return this.opts.model.forward(input);
    const names = adapters.map((a) => (a === null ? BASE_SELECTION : (this.resident.get(a)?.peftName ?? a)));
    return this.peft.forward(input, { adapterNames: names }) as Tensor;
  }

  /** Detaches every adapter and forgets the files held in memory. */
  dispose(): void {
    for (const n of [...this.resident.keys()]) this.detach(n);
    this.inMemory.clear();
  }

  /** Detaches the least recently used idle adapter; false when every resident adapter is pinned. */
  private evictOne(): boolean {
    const idle = this.residentNames().find((n) => this.resident.get(n)!.refs === 0);
    if (idle === undefined) return false;
    this.detach(idle);
    this.opts.metrics.adapterEvictions.inc();
    return true;
  }

  private async attach(name: string, pins: Loading): Promise<void> {
    let stored = this.inMemory.get(name);
    if (stored) {
      this.opts.metrics.cpuCacheHits.inc();
      this.inMemory.delete(name); // re-inserted below as most recent
    } else {
      stored = await this.opts.store.get(name);
    }
    const { manifest, files } = stored;
    if (manifest.format !== 'peft' || manifest.kind !== 'lora') {
      throw new AdapterError(
        'UNSUPPORTED_FEATURE',
        `store adapter '${name}' is a ${manifest.kind} adapter in format ${manifest.format}; the server serves LoRA adapters in PEFT format (kind "lora", format "peft")`,
        { name, kind: manifest.kind, format: manifest.format },
      );
    }
    const source: FileSource = { readFile: (p) => files[`${STORE_PEFT_DIR}/${p}`] ?? null };
    const peftName = `adapter_${this.nextPeftName++}`;
    const before = tf.memory().numBytes;
    if (this.peft) await loadAdapter(this.peft, source, peftName);
    else this.peft = await loadPretrained(this.opts.model, source, { adapterName: peftName });
    this.resident.set(name, {
      refs: pins.refs,
      lastUsed: ++this.clock,
      unloadWhenIdle: false,
      bytes: tf.memory().numBytes - before,
      peftName,
    });
    this.rememberFiles(name, stored);
    this.opts.metrics.adapterLoads.inc();
    this.updateGauges();
  }

  private rememberFiles(name: string, files: StoredAdapter): void {
    if (this.opts.maxCpuLoras <= 0) return;
    this.inMemory.set(name, files);
    while (this.inMemory.size > this.opts.maxCpuLoras)
      this.inMemory.delete(this.inMemory.keys().next().value as string);
  }

  private detach(name: string): void {
    const r = this.resident.get(name);
    if (!r) return;
    this.resident.delete(name);
    if (this.peft) {
      this.peft.deleteAdapter(r.peftName);
      if (this.peft.adapterNames().length === 0) this.peft = null; // the model is unwrapped
    }
    this.updateGauges();
  }

  private wakeWaiters(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  private updateGauges(): void {
    this.opts.metrics.residentAdapters.set(this.resident.size);
    this.opts.metrics.residentAdapterBytes.set([...this.resident.values()].reduce((s, r) => s + r.bytes, 0));
  }
}
