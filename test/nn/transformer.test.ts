import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import type { Linear } from '../../src/nn/layers.js';
import { MultiHeadAttention } from '../../src/nn/attention.js';
import {
  type AdapterLocation,
  type AdapterPointContext,
  TransformerDecoder,
  TransformerDecoderBlock,
  TransformerEncoder,
  TransformerEncoderBlock,
} from '../../src/nn/transformer.js';
import { createRng } from '../../src/rng.js';

const maxAbsDiff = (a: Tensor, b: Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
const opts = { dModel: 16, nHead: 4, dFF: 32 };

function zeroLinear(m: unknown): void {
  const lin = m as Linear;
  lin.weight.assign(tf.zerosLike(lin.weight));
  lin.bias!.assign(tf.zerosLike(lin.bias!));
}

describe('transformer blocks', () => {
  it('expose type names, dModel, selfAttentionModel and named children', () => {
    const enc = new TransformerEncoderBlock(opts);
    const dec = new TransformerDecoderBlock(opts);
    expect(TransformerEncoderBlock.typeName).toBe('TransformerEncoderBlock');
    expect(TransformerDecoderBlock.typeName).toBe('TransformerDecoderBlock');
    expect(enc.typeName).toBe('TransformerEncoderBlock');
    expect(enc.selfAttentionModel).toBe('abs_pos');
    expect(enc.dModel).toBe(16);
    expect(enc.causal).toBe(false);
    expect(dec.causal).toBe(true);
    expect(enc.namedChildren().map(([n]) => n)).toEqual(['norm1', 'self_attn', 'norm2', 'ffn', 'dropout']);
    expect(enc.getChild('self_attn')).toBeInstanceOf(MultiHeadAttention);
    expect(enc.namedParameters().map(([n]) => n)).toContain('ffn.fc1.weight');
    expect((enc.getChild('ffn')!.getChild('fc1') as Linear).weight.shape).toEqual([32, 16]);
  });

  it('return [B, T, dModel]', () => {
    const x = tf.randomNormal([2, 5, 16]);
    expect(new TransformerEncoderBlock(opts).forward(x).shape).toEqual([2, 5, 16]);
    expect(new TransformerDecoderBlock(opts).forward(x).shape).toEqual([2, 5, 16]);
    const pad = tf.tensor2d(
      [
        [0, 0, 0, 1, 1],
        [0, 0, 0, 0, 0],
      ],
      [2, 5],
      'bool',
    );
    expect(new TransformerEncoderBlock(opts).forward(x, { keyPaddingMask: pad }).shape).toEqual([2, 5, 16]);
    expect(() => new TransformerEncoderBlock(opts).forward(tf.zeros([2, 5, 8]))).toThrow(
      /\[B, T, 16\], got \[2, 5, 8\]/,
    );
  });

  it('are pre-LN residual blocks: zeroed out_proj and fc2 make them the identity', () => {
    for (const block of [new TransformerEncoderBlock(opts), new TransformerDecoderBlock(opts)]) {
      zeroLinear(block.getChild('self_attn')!.getChild('out_proj'));
      zeroLinear(block.getChild('ffn')!.getChild('fc2'));
      const x = tf.randomNormal([2, 5, 16], 3, 2);
      expect(maxAbsDiff(block.forward(x), x)).toBe(0);
    }
  });

  it('decoder blocks are causal', () => {
    const block = new TransformerDecoderBlock({ ...opts, rng: createRng(1) });
    const x = tf.randomNormal([1, 6, 16], 0, 1, 'float32', 1);
    const x2 = tf.concat(
      [tf.slice(x, [0, 0, 0], [1, 3, 16]), tf.randomNormal([1, 3, 16], 0, 1, 'float32', 2)],
      1,
    );
    const head = (y: Tensor) => tf.slice(y, [0, 0, 0], [1, 3, 16]);
    expect(maxAbsDiff(head(block.forward(x)), head(block.forward(x2)))).toBeLessThan(1e-5);
    const enc = new TransformerEncoderBlock({ ...opts, rng: createRng(1) });
    expect(maxAbsDiff(head(enc.forward(x)), head(enc.forward(x2)))).toBeGreaterThan(1e-4);
  });

  it('call adapterPoint at input, attentionOutput, mha, ffnOutput and post, with the additive attention mask', () => {
    const calls: Array<{ loc: AdapterLocation; shape: number[]; mask: number[][] | null }> = [];
    class Spy extends TransformerDecoderBlock {
      protected override adapterPoint(loc: AdapterLocation, x: Tensor, ctx: AdapterPointContext): Tensor {
        const mask = ctx.attMask ? (tf.reshape(ctx.attMask, [-1, 3]).arraySync() as number[][]) : null;
        calls.push({ loc, shape: x.shape, mask });
        return tf.add(x, 1);
      }
    }
    const block = new Spy(opts);
    zeroLinear(block.getChild('self_attn')!.getChild('out_proj'));
    zeroLinear(block.getChild('ffn')!.getChild('fc2'));
    const x = tf.zeros([1, 3, 16]);
    const y = block.forward(x);
    expect(calls.map((c) => c.loc)).toEqual(['input', 'attentionOutput', 'mha', 'ffnOutput', 'post']);
    expect(calls[0]!.shape).toEqual([1, 3, 16]);
    expect(calls[0]!.mask).toEqual([
      [0, -10000, -10000],
      [0, 0, -10000],
      [0, 0, 0],
    ]);
    // Every hook's output was used: x₀ = 1, h = x₀ + (0 + 1) + 1 = 3, y = h + (0 + 1) + 1 = 5.
    expect(maxAbsDiff(y, tf.fill([1, 3, 16], 5))).toBe(0);

    calls.length = 0;
    const enc = new (class extends TransformerEncoderBlock {
      protected override adapterPoint(loc: AdapterLocation, x: Tensor, ctx: AdapterPointContext): Tensor {
        calls.push({ loc, shape: ctx.attMask?.shape ?? [], mask: null });
        return x;
      }
    })(opts);
    enc.forward(tf.zeros([2, 3, 16]));
    expect(calls.map((c) => c.shape)).toEqual([[], [], [], [], []]); // nothing masked: no attMask
    calls.length = 0;
    enc.forward(tf.zeros([2, 3, 16]), {
      keyPaddingMask: tf.tensor2d(
        [
          [0, 0, 1],
          [0, 0, 0],
        ],
        [2, 3],
        'bool',
      ),
    });
    expect(calls[0]!.shape).toEqual([2, 1, 1, 3]);
  });

  it('cross-attention (opt-in) reads the memory and respects its padding mask', () => {
    const block = new TransformerDecoderBlock({ ...opts, crossAttention: true, rng: createRng(2) });
    expect(block.namedChildren().map(([n]) => n)).toEqual([
      'norm1',
      'self_attn',
      'norm2',
      'ffn',
      'dropout',
      'cross_norm',
      'cross_attn',
    ]);
    const x = tf.randomNormal([2, 4, 16]);
    const mem = tf.randomNormal([2, 6, 16]);
    const pad = tf.tensor2d(
      [
        [0, 0, 0, 0, 1, 1],
        [0, 0, 0, 0, 0, 0],
      ],
      [2, 6],
      'bool',
    );
    const y = block.forward(x, { memory: mem, memoryKeyPaddingMask: pad });
    expect(y.shape).toEqual([2, 4, 16]);
    const mem2 = tf.concat([tf.slice(mem, [0, 0, 0], [2, 4, 16]), tf.randomNormal([2, 2, 16])], 1);
    const y2 = block.forward(x, { memory: mem2, memoryKeyPaddingMask: pad });
    const first = (t: Tensor) => tf.slice(t, [0, 0, 0], [1, 4, 16]);
    expect(maxAbsDiff(first(y), first(y2))).toBeLessThan(1e-5);
    expect(maxAbsDiff(y, y2)).toBeGreaterThan(1e-4);
    expect(() => block.forward(x)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => new TransformerDecoderBlock(opts).forward(x, { memory: mem })).toThrow(
      /without crossAttention/,
    );
  });

  it('have gradients for every parameter and do not leak', () => {
    const block = new TransformerDecoderBlock({ ...opts, dropout: 0.1 });
    const x = tf.randomNormal([2, 5, 16]);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(block.forward(x))) as tf.Scalar);
      const n = Object.keys(grads).length;
      value.dispose();
      Object.values(grads).forEach((g) => g.dispose());
      return n;
    };
    expect(step()).toBe(block.namedParameters().length);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) step();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reject bad options', () => {
    expect(() => new TransformerEncoderBlock({ ...opts, nHead: 3 })).toThrow(/not divisible by nHead \(3\)/);
    expect(() => new TransformerEncoderBlock({ ...opts, dFF: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    );
    expect(() => new TransformerEncoderBlock({ ...opts, activation: 'tanh' })).toThrow(
      /activation "tanh" is not one of/,
    );
  });
});

describe('transformer stacks', () => {
  const stack = { numLayers: 2, dModel: 8, nHead: 2, dFF: 16, dropout: 0, activation: 'gelu' };

  it('2-layer encoder state-dict keys', () => {
    const enc = new TransformerEncoder(stack);
    const block = (i: number) => [
      `layers.${i}.norm1.weight`,
      `layers.${i}.norm1.bias`,
      `layers.${i}.self_attn.q_proj.weight`,
      `layers.${i}.self_attn.q_proj.bias`,
      `layers.${i}.self_attn.k_proj.weight`,
      `layers.${i}.self_attn.k_proj.bias`,
      `layers.${i}.self_attn.v_proj.weight`,
      `layers.${i}.self_attn.v_proj.bias`,
      `layers.${i}.self_attn.out_proj.weight`,
      `layers.${i}.self_attn.out_proj.bias`,
      `layers.${i}.norm2.weight`,
      `layers.${i}.norm2.bias`,
      `layers.${i}.ffn.fc1.weight`,
      `layers.${i}.ffn.fc1.bias`,
      `layers.${i}.ffn.fc2.weight`,
      `layers.${i}.ffn.fc2.bias`,
    ];
    expect([...enc.stateDict().keys()]).toEqual([...block(0), ...block(1), 'norm.weight', 'norm.bias']);
    expect(TransformerEncoder.typeName).toBe('TransformerEncoder');
  });

  it('blocks() and forward', () => {
    const enc = new TransformerEncoder(stack);
    const dec = new TransformerDecoder(stack);
    expect(enc.blocks()).toHaveLength(2);
    expect(enc.blocks()[1]).toBeInstanceOf(TransformerEncoderBlock);
    expect(dec.blocks()[0]).toBeInstanceOf(TransformerDecoderBlock);
    expect(TransformerDecoder.typeName).toBe('TransformerDecoder');
    const x = tf.randomNormal([3, 4, 8]);
    expect(enc.forward(x).shape).toEqual([3, 4, 8]);
    expect(dec.forward(x).shape).toEqual([3, 4, 8]);
    // the final LayerNorm normalises each position
    const mean = tf.mean(enc.forward(x), -1);
    expect(tf.max(tf.abs(mean)).dataSync()[0]).toBeLessThan(1e-5);
  });

  it('a replaced block is used by forward and returned by blocks()', () => {
    const enc = new TransformerEncoder(stack);
    let called = 0;
    class Counting extends TransformerEncoderBlock {
      override forward(x: Tensor) {
        called++;
        return x;
      }
    }
    const replacement = new Counting({ dModel: 8, nHead: 2, dFF: 16 });
    enc.getChild('layers')!.replaceModule('1', replacement);
    enc.forward(tf.zeros([1, 2, 8]));
    expect(called).toBe(1);
    expect(enc.blocks()[1]).toBe(replacement);
  });
});
