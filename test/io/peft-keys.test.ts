/** Adapter tensors under PEFT's checkpoint keys (SPEC §4.3): the key of each wrapped layer kind, and loading a file whose keys or shapes disagree with the model. */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { peftModelOf } from '../../src/adapters/index.js';
import { loadPretrained, peftTensorsFor } from '../../src/io/index.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { TinyLM, seed } from '../fixtures/lora-models.js';
import { thrownAsync, values } from '../helpers.js';
import { lora, WEIGHTS, warningsOf, savedAdapter } from './peft-fixtures.js';

describe('§4.3 writing PEFT directories', () => {
  it('B-230 a linear at model.layers.0.self_attn.q_proj (64→64, r 8) is saved as …lora_A.weight [8, 64] and …lora_B.weight [64, 8]', async () => {
    const { dir } = await savedAdapter(lora({ targetModules: ['q_proj'], r: 8 }), {
      model: () => new TinyLM({ d: 64 }),
    });
    const t = dir.tensors().tensors;
    expect(t.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')).toMatchObject({
      dtype: 'F32',
      shape: [8, 64],
    });
    expect(t.get('base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight')).toMatchObject({
      dtype: 'F32',
      shape: [64, 8],
    });
    expect(t.size).toBe(4);
  });

  it('B-231 a wrapped embedding is saved as …lora_embedding_A [r, num] and …lora_embedding_B [dim, r], without .weight', async () => {
    const { dir } = await savedAdapter(lora({ targetModules: ['embed_tokens'], r: 4 }));
    const t = dir.tensors().tensors;
    expect([...t.keys()]).toEqual([
      'base_model.model.model.embed_tokens.lora_embedding_A',
      'base_model.model.model.embed_tokens.lora_embedding_B',
    ]);
    expect(t.get('base_model.model.model.embed_tokens.lora_embedding_A')!.shape).toEqual([4, 12]);
    expect(t.get('base_model.model.model.embed_tokens.lora_embedding_B')!.shape).toEqual([8, 4]);
  });

  it("B-232 a modules_to_save classifier is saved under <path>.weight/.bias; bias 'lora_only' adds ….base_layer.bias", async () => {
    const { dir } = await savedAdapter(
      lora({ targetModules: ['q_proj'], modulesToSave: ['classifier'], bias: 'lora_only' }),
      {
        model: () => new TinyLM({ classifier: true }),
      },
    );
    const keys = [...dir.tensors().tensors.keys()];
    expect(keys).toContain('base_model.model.classifier.weight');
    expect(keys).toContain('base_model.model.classifier.bias');
    expect(keys).toContain('base_model.model.model.layers.0.self_attn.q_proj.base_layer.bias');
    expect(keys).toContain('base_model.model.model.layers.1.self_attn.q_proj.base_layer.bias');
    expect(keys.filter((k) => k.includes('modules_to_save') || k.includes('default'))).toEqual([]);
    expect(dir.json().modules_to_save).toEqual(['classifier']);
    expect(dir.json().bias).toBe('lora_only');
  });
});

describe('§4.3 reading PEFT directories', () => {
  it('B-233 a transposed lora_A → STATE_DICT_MISMATCH naming the key, both shapes and "looks transposed"; the model is left as it was', async () => {
    const { dir } = await savedAdapter(lora({ targetModules: ['q_proj'], r: 8 }), {
      model: () => new TinyLM({ d: 64 }),
    });
    const key = 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight';
    const entries = [...dir.tensors().tensors].map(
      ([k, e]) => [k, k === key ? { ...e, shape: [64, 8] } : e] as const,
    );
    dir.files.set(WEIGHTS, writeSafetensors(entries, { format: 'pt' }));
    seed(2);
    const model = new TinyLM({ d: 64 });
    const keys = [...model.stateDict().keys()];
    const before = tf.memory().numTensors;
    const err = await thrownAsync(() => loadPretrained(model, dir));
    expect(err.code).toBe('STATE_DICT_MISMATCH');
    expect(err.message).toContain(key);
    expect(err.message).toContain('[64, 8]');
    expect(err.message).toContain('[8, 64]');
    expect(err.message).toContain('looks transposed');
    expect(err.message).toContain(WEIGHTS);
    expect(tf.memory().numTensors).toBe(before);
    expect([...model.stateDict().keys()]).toEqual(keys);
    expect(peftModelOf(model)).toBeUndefined();
    expect(model.parameters().every((p) => p.trainable)).toBe(true);
    // The model can be loaded afterwards.
    const ok = await savedAdapter(lora({ targetModules: ['q_proj'], r: 8 }), {
      model: () => new TinyLM({ d: 64 }),
    });
    expect((await loadPretrained(model, ok.dir)).adapterNames()).toEqual(['default']);
  });

  it('B-234 a missing lora_B key: strict → STATE_DICT_MISMATCH listing it; non-strict loads the rest and warns', async () => {
    const { dir, peft: src } = await savedAdapter(lora({ targetModules: ['q_proj'] }));
    const key = 'base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight';
    dir.files.set(
      WEIGHTS,
      writeSafetensors(
        [...dir.tensors().tensors].filter(([k]) => k !== key),
        { format: 'pt' },
      ),
    );
    const err = await thrownAsync(() => loadPretrained(new TinyLM(), dir));
    expect(err.code).toBe('STATE_DICT_MISMATCH');
    expect(err.message).toContain(key);
    const { result: peft, warnings } = await warningsOf(() =>
      loadPretrained(new TinyLM(), dir, { strict: false }),
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(key);
    const other = 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight';
    expect(values(peftTensorsFor(peft, 'default').get(other)!)).toEqual(
      values(peftTensorsFor(src, 'default').get(other)!),
    );
  });

  it('keys without base_model.model. are accepted with one warning', async () => {
    const { dir, peft: src } = await savedAdapter(lora({ targetModules: ['q_proj'] }));
    const entries = [...dir.tensors().tensors].map(
      ([k, e]) => [k.replace(/^base_model\.model\./, ''), e] as const,
    );
    dir.files.set(WEIGHTS, writeSafetensors(entries, { format: 'pt' }));
    const { result, warnings } = await warningsOf(() => loadPretrained(new TinyLM(), dir));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('base_model.model.');
    for (const [k, t] of peftTensorsFor(result, 'default'))
      expect(values(t), k).toEqual(values(peftTensorsFor(src, 'default').get(k)!));
  });
});
