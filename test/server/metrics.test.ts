import { describe, expect, it } from 'vitest';
import { ServerMetrics } from '../../src/server/metrics.js';

describe('ServerMetrics', () => {
  it('exposes counters, gauges and histograms in the Prometheus text format', async () => {
    const m = new ServerMetrics();
    m.requests.inc({ route: '/v1/completions', status: '200' });
    m.requests.inc({ route: '/v1/completions', status: '200' });
    m.generationTokens.inc(5);
    m.residentAdapters.set(3);
    m.batchSize.observe(3);
    const text = await m.registry.metrics();
    expect(text).toContain('adapterkit_requests_total{route="/v1/completions",status="200"} 2');
    expect(text).toContain('adapterkit_generation_tokens_total 5');
    expect(text).toContain('adapterkit_resident_adapters 3');
    expect(text).toContain('adapterkit_decode_batch_size_bucket{le="2"} 0');
    expect(text).toContain('adapterkit_decode_batch_size_bucket{le="4"} 1');
    expect(text).toContain('# TYPE adapterkit_request_latency_seconds histogram');
  });

  it('two servers in one process keep their own counts', async () => {
    const a = new ServerMetrics();
    const b = new ServerMetrics();
    a.cacheHits.inc(4);
    b.cacheHits.inc(1);
    expect(await a.registry.metrics()).toContain('adapterkit_adapter_cache_hits_total 4');
    expect(await b.registry.metrics()).toContain('adapterkit_adapter_cache_hits_total 1');
  });
});
