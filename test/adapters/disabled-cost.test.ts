/**
 * A disabled adapter costs nothing at inference: the model runs exactly the kernels it runs without
 * the adapter, for NeMo-style adapters held by the model and for PEFT-style tuners. This is the
 * structural guarantee behind the benchmark's disabled-adapter overhead (≤ 1 %), checked by kernel
 * lists, not by timing.
 */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import { PeftModel } from '../../src/io/peft-model.js';
import { CharLM } from '../../src/models/char-lm.js';
import { createRng, setRng } from '../../src/rng.js';

const CFG = { vocabSize: 40, dModel: 32, numLayers: 2, nHead: 4, dFF: 64, maxLen: 16 };

/** Names of the kernels one forward of `fn` launches, in order. */
async function kernelsOf(fn: () => Tensor): Promise<string[]> {
  const info = await tf.profile(() => tf.tidy(fn));
  return info.kernels.map((k) => k.name);
}

function setup(): { model: CharLM; ids: Tensor } {
  setRng(createRng(0));
  const model = new CharLM(CFG);
  model.eval();
  return { model, ids: tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8]], [1, 8], 'int32') };
}

describe('disabled adapters launch no kernels', () => {
  it('NeMo-style adapters of every placement, held but disabled, leave the forward unchanged', async () => {
    const { model, ids } = setup();
    const plain = await kernelsOf(() => model.forward(ids));
    model.addAdapter('a', { type: 'linear', inFeatures: CFG.dModel, dim: 8 });
    model.addAdapter('b', { type: 'parallel', inFeatures: CFG.dModel, dim: 8, scaling: 4 });
    model.addAdapter('c', { type: 'prefixTuning', numVirtualTokens: 4 });
    model.setEnabledAdapters(null, false);
    model.eval();
    const disabled = await kernelsOf(() => model.forward(ids));
    expect(disabled).toEqual(plain);
    // and enabling one does add work (the comparison can fail)
    model.setEnabledAdapters('a', true);
    model.eval();
    expect((await kernelsOf(() => model.forward(ids))).length).toBeGreaterThan(plain.length);
    ids.dispose();
    model.dispose();
  });

  it('LoRA under withAdaptersDisabled runs the base layers only', async () => {
    const { model, ids } = setup();
    const plain = await kernelsOf(() => model.forward(ids));
    const peft = PeftModel.wrap(model, {
      type: 'lora',
      r: 4,
      loraAlpha: 8,
      targetModules: ['fc1', 'fc2', 'q_proj'],
    });
    peft.eval();
    const disabled = await peft.withAdaptersDisabled(() =>
      kernelsOf(() => (peft as unknown as { forward(x: Tensor): Tensor }).forward(ids)),
    );
    expect(disabled).toEqual(plain);
    // Control: enabled, the list differs (more kernels, or with native kernels one fused LoRA
    // kernel in place of each wrapped layer's product and bias Add).
    expect(
      await kernelsOf(() => (peft as unknown as { forward(x: Tensor): Tensor }).forward(ids)),
    ).not.toEqual(plain);
    ids.dispose();
    peft.dispose();
  });
});
