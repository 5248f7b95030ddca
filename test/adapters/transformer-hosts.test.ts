/**
 * SPEC §3.9 Layered and attention hosts (B-157 … B-166): fan-out hosts (§2.7 "Layered hosts"),
 * blocks with the `'mha'` and `'post'` insertion points (§2.7 "Attention hosts"), on the layered
 * `AdapterHost` stack of `fixtures/layered.ts` and the conformer-style fixtures of
 * `fixtures/conformer.ts`.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  TransformerDecoderAdapter,
  TransformerEncoderAdapter,
  buildAdapter,
  type AdapterConfig,
  type AdapterHostModule,
} from '../../src/adapters/index.js';
import type { Module } from '../../src/nn/module.js';
import { seed } from '../fixtures/spec-models.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** Parameter count of one `linear` adapter: `2·in·dim + 2·in` (SPEC §2.9.2). */
const linearCount = (inF: number, dim: number) => 2 * inF * dim + 2 * inF;

/** A transformer attention config. */
function transformerAtt(
  hiddenSize: number,
  numAttentionHeads: number,
  extra: Record<string, unknown> = {},
): AdapterConfig {
  return { type: 'transformerMultiHeadAttention', hiddenSize, numAttentionHeads, ...extra } as AdapterConfig;
}

/** A `linear` config of width `inFeatures`. */
function lin(inFeatures: number, dim = 8, extra: Record<string, unknown> = {}): AdapterConfig {
  return { type: 'linear', inFeatures, dim, ...extra } as AdapterConfig;
}

/** The adapter-layer hosts of a layered module (`adapterLayers()`). */
function layersOf(m: Module): AdapterHostModule[] {
  return (m as unknown as { adapterLayers(): AdapterHostModule[] }).adapterLayers();
}

beforeEach(() => seed());

// ---------------------------------------------------------------------------------------------

describe("the library's transformer hosts (SPEC §3.9)", () => {
  it("B-157 the library's TransformerEncoderAdapter / TransformerDecoderAdapter, constructed directly, add N × the count", () => {
    for (const make of [
      () => new TransformerEncoderAdapter({ dModel: 16, nHead: 2, dFF: 32, numLayers: 3 }),
      () => new TransformerDecoderAdapter({ dModel: 16, nHead: 2, dFF: 32, numLayers: 3 }),
    ]) {
      const stack = make();
      const before = stack.numParameters();
      stack.addAdapter('adapter_0', lin(16, 8));
      stack.addAdapter('adapter_1', transformerAtt(16, 2));
      expect(stack.numParameters() - before).toBe(
        3 * (linearCount(16, 8) + buildAdapter(transformerAtt(16, 2)).numParameters()),
      );
      for (const b of layersOf(stack)) expect(b.heldAdapterNames()).toEqual(['adapter_0', 'adapter_1']);
    }
  });
});
