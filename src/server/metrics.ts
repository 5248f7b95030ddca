/**
 * The server's Prometheus metrics (`GET /metrics`, text exposition format), kept in a registry per
 * server so that several servers in one process do not share counters.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Counters, gauges and histograms of one server. */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'adapterkit_requests_total',
    help: 'HTTP requests by route and status code',
    labelNames: ['route', 'status'],
    registers: [this.registry],
  });
  readonly promptTokens = new Counter({
    name: 'adapterkit_prompt_tokens_total',
    help: 'Prompt tokens of completed requests',
    registers: [this.registry],
  });
  readonly generationTokens = new Counter({
    name: 'adapterkit_generation_tokens_total',
    help: 'Tokens generated',
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'adapterkit_decode_batch_size',
    help: 'Sequences in each batched decoding step',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });
  readonly adaptersInBatch = new Histogram({
    name: 'adapterkit_decode_batch_adapters',
    help: 'Distinct adapters (the base counts as one) in each batched decoding step',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });
  readonly cacheHits = new Counter({
    name: 'adapterkit_adapter_cache_hits_total',
    help: 'Requests whose adapter was already resident',
    registers: [this.registry],
  });
  readonly cacheMisses = new Counter({
    name: 'adapterkit_adapter_cache_misses_total',
    help: 'Requests that had to load their adapter',
    registers: [this.registry],
  });
  readonly cpuCacheHits = new Counter({
    name: 'adapterkit_adapter_cpu_cache_hits_total',
    help: 'Adapter loads served from verified files held in memory',
    registers: [this.registry],
  });
  readonly adapterLoads = new Counter({
    name: 'adapterkit_adapter_loads_total',
    help: 'Adapters attached to the resident model',
    registers: [this.registry],
  });
  readonly adapterEvictions = new Counter({
    name: 'adapterkit_adapter_evictions_total',
    help: 'Adapters detached to make room (LRU)',
    registers: [this.registry],
  });
  readonly residentAdapters = new Gauge({
    name: 'adapterkit_resident_adapters',
    help: 'Adapters attached to the resident model',
    registers: [this.registry],
  });
  readonly residentAdapterBytes = new Gauge({
    name: 'adapterkit_resident_adapter_bytes',
    help: 'Tensor bytes held by resident adapters',
    registers: [this.registry],
  });
  readonly runningSequences = new Gauge({
    name: 'adapterkit_running_sequences',
    help: 'Sequences being decoded',
    registers: [this.registry],
  });
  readonly waitingSequences = new Gauge({
    name: 'adapterkit_waiting_sequences',
    help: 'Sequences waiting for a batch slot',
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'adapterkit_request_latency_seconds',
    help: 'Completion latency from request to last token',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly timeToFirstToken = new Histogram({
    name: 'adapterkit_time_to_first_token_seconds',
    help: 'Time from request to its first generated token',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
}
