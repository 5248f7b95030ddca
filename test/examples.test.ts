import { describe, expect, it } from 'vitest';
import { quickstart } from '../examples/quickstart.js';

describe('examples', () => {
  it("the README's quick start runs and does what it says", async () => {
    const log = await quickstart();
    expect(log[0]).toBe('logits 1x4x91; enabled: sotu');
    expect(log[1]).toMatch(/^adapter file: \d+ bytes; loaded as customer_a$/);
    expect(log[2]).toBe('routed 4x3x91');
    expect(log[3]).toMatch(/^trainable params: [\d,]+ \|\| all params: [\d,]+ \|\| trainable%: \d+\.\d{4}$/);
    expect(log[4]).toBe('restored adapters: default');
  });
});
