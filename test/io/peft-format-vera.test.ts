/**
 * SPEC §5.4 B-344: VeRA adapters as PEFT directories (`peft_type: "VERA"`), with and without the
 * shared projections, and the checks a loaded VeRA directory goes through.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import type { VeraConfig } from '../../src/adapters/index.js';
import { generateVeraProjections } from '../../src/adapters/vera/projection.js';
import { PeftModel, loadPretrained, savePretrained } from '../../src/io/index.js';
import { listPeftTypes } from '../../src/io/peft-formats.js';
import { safetensorsFromTensors, tensorsFromSafetensors } from '../../src/io/safetensors-tf.js';
import { TinyLM, makeIds, seed } from '../fixtures/lora-models.js';
import { thrownAsync } from '../helpers.js';
import { CONFIG, MemDir, WEIGHTS, randomizeAdapter } from './peft-fixtures.js';

const owned: Array<{ dispose(): void }> = [];
afterEach(() => {
  for (const o of owned.splice(0)) o.dispose();
});

const VERA_KEYS = [
  'auto_mapping',
  'base_model_name_or_path',
  'bias',
  'd_initial',
  'fan_in_fan_out',
  'inference_mode',
  'init_weights',
  'layers_pattern',
  'layers_to_transform',
  'modules_to_save',
  'peft_type',
  'projection_prng_key',
  'r',
  'revision',
  'save_projection',
  'target_modules',
  'task_type',
  'vera_dropout',
];

/** A TinyLM with a randomised VeRA adapter, its output on fixed ids, and its directory in memory. */
async function saved(cfg: Partial<VeraConfig> = {}) {
  seed();
  const model = new TinyLM();
  model.eval();
  const peft = PeftModel.wrap(model, { type: 'vera', r: 6, targetModules: ['q_proj', 'fc1'], ...cfg });
  randomizeAdapter(peft);
  const ids = makeIds();
  const y = peft.forward(ids) as Tensor;
  const dir = new MemDir();
  await savePretrained(peft, dir);
  owned.push(peft, ids, y);
  return { peft, ids, y, dir };
}

/** A fresh base of the same weights. */
function freshBase(): TinyLM {
  seed();
  const m = new TinyLM();
  m.eval();
  return m;
}

function bytes(t: Tensor): number[] {
  return Array.from(new Uint8Array((t.dataSync() as Float32Array).slice().buffer));
}

describe('§5.4 VeRA PEFT directories', () => {
  it('VERA is a registered PEFT type', () => {
    expect(listPeftTypes()).toContain('VERA');
  });

  it("B-344 savePretrained writes PEFT's VeraConfig keys and tensor names, shared projections under base_model.", async () => {
    const { dir, peft } = await saved({ projectionPrngKey: 9 });
    const json = dir.json();
    expect(Object.keys(json).sort()).toEqual(VERA_KEYS);
    expect(json).toMatchObject({
      peft_type: 'VERA',
      r: 6,
      target_modules: ['fc1', 'q_proj'],
      projection_prng_key: 9,
      save_projection: true,
      vera_dropout: 0,
      d_initial: 0.1,
      bias: 'none',
      init_weights: true,
    });
    const file = dir.tensors();
    expect([...file.tensors.keys()]).toEqual([
      'base_model.model.model.layers.0.mlp.fc1.vera_lambda_b',
      'base_model.model.model.layers.0.mlp.fc1.vera_lambda_d',
      'base_model.model.model.layers.0.self_attn.q_proj.vera_lambda_b',
      'base_model.model.model.layers.0.self_attn.q_proj.vera_lambda_d',
      'base_model.model.model.layers.1.mlp.fc1.vera_lambda_b',
      'base_model.model.model.layers.1.mlp.fc1.vera_lambda_d',
      'base_model.model.model.layers.1.self_attn.q_proj.vera_lambda_b',
      'base_model.model.model.layers.1.self_attn.q_proj.vera_lambda_d',
      'base_model.vera_A',
      'base_model.vera_B',
    ]);
    expect(file.tensors.get('base_model.vera_A')!.shape).toEqual([6, 8]);
    expect(file.tensors.get('base_model.vera_B')!.shape).toEqual([16, 6]);
    expect(file.metadata).toEqual({ format: 'pt' });
    // Saving leaves the projections frozen tensors of the model, not trainable variables.
    expect(peft.model.namedParameters().some(([k]) => k.includes('vera_A'))).toBe(false);
  });

  it('B-344 loadPretrained reproduces the outputs bit for bit; the loaded projections come from the file', async () => {
    const { dir, ids, y } = await saved();
    // Replace the stored projections: a loader that regenerated them would give other outputs.
    const changed = dir.clone();
    const tensors = tensorsFromSafetensors(changed.files.get(WEIGHTS)!, WEIGHTS);
    const a = tensors.get('base_model.vera_A')!;
    tensors.set('base_model.vera_A', tf.mul(a, 2));
    a.dispose();
    changed.files.set(WEIGHTS, safetensorsFromTensors(tensors, { metadata: { format: 'pt' } }));
    for (const t of tensors.values()) t.dispose();

    const before = tf.memory().numTensors;
    const loaded = await loadPretrained(freshBase(), dir);
    const y2 = loaded.forward(ids) as Tensor;
    expect(bytes(y2)).toEqual(bytes(y));
    const other = await loadPretrained(freshBase(), changed);
    const y3 = other.forward(ids) as Tensor;
    expect(bytes(y3)).not.toEqual(bytes(y));
    for (const t of [y2, y3, loaded, other]) t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('B-344 saveProjection: false writes no projections; the loader regenerates them from the key', async () => {
    const { dir, ids, y } = await saved({ saveProjection: false, projectionPrngKey: 77 });
    expect(dir.json().save_projection).toBe(false);
    const keys = [...dir.tensors().tensors.keys()];
    expect(keys.some((k) => k.includes('vera_A') || k.includes('vera_B'))).toBe(false);
    expect(keys).toHaveLength(8);
    const loaded = await loadPretrained(freshBase(), dir);
    owned.push(loaded);
    const y2 = loaded.forward(ids) as Tensor;
    expect(bytes(y2)).toEqual(bytes(y));
    y2.dispose();
    const g = generateVeraProjections(77, 6, 8, 16);
    const pair = loaded.adapterRecord('default').shared as unknown as { a: Tensor };
    expect(Array.from(pair.a.dataSync())).toEqual(Array.from(g.a));
  });

  it('modulesToSave copies are saved under the original keys and restored with the adapter', async () => {
    const { dir, ids, y } = await saved({ modulesToSave: ['lm_head'] });
    expect(dir.json().modules_to_save).toEqual(['lm_head']);
    const keys = [...dir.tensors().tensors.keys()];
    expect(keys).toContain('base_model.model.lm_head.weight');
    expect(keys).toContain('base_model.model.lm_head.bias');
    const loaded = await loadPretrained(freshBase(), dir);
    owned.push(loaded);
    const y2 = loaded.forward(ids) as Tensor;
    expect(bytes(y2)).toEqual(bytes(y));
    y2.dispose();
  });

  it('an adapter not named default goes to its sub-directory and loads back from it', async () => {
    seed();
    const model = new TinyLM();
    const peft = PeftModel.wrap(
      model,
      { type: 'vera', r: 2, targetModules: ['v_proj'] },
      { adapterName: 'task' },
    );
    owned.push(peft);
    const dir = new MemDir();
    await savePretrained(peft, dir);
    expect([...dir.files.keys()].sort()).toEqual([
      'task/adapter_config.json',
      'task/adapter_model.safetensors',
    ]);
    const loaded = await loadPretrained(freshBase(), dir, { subfolder: 'task', adapterName: 'task' });
    owned.push(loaded);
    expect(loaded.adapterNames()).toEqual(['task']);
  });

  it('untrusted files: missing, mis-shaped or extra tensors → STATE_DICT_MISMATCH naming them; the base is left as it was', async () => {
    const { dir } = await saved();
    const edit = (f: (m: Map<string, Tensor>) => void) => {
      const d = dir.clone();
      const m = tensorsFromSafetensors(d.files.get(WEIGHTS)!, WEIGHTS);
      f(m);
      d.files.set(WEIGHTS, safetensorsFromTensors(m, { metadata: { format: 'pt' } }));
      for (const t of m.values()) t.dispose();
      return d;
    };
    const missing = edit((m) => {
      m.get('base_model.vera_B')!.dispose();
      m.delete('base_model.vera_B');
    });
    const misShaped = edit((m) => {
      m.get('base_model.vera_A')!.dispose();
      m.set('base_model.vera_A', tf.zeros([6, 4]));
    });
    const extra = edit((m) => m.set('base_model.vera_C', tf.zeros([2])));
    for (const [d, needles] of [
      [missing, ['missing keys', 'base_model.vera_B']],
      [misShaped, ['base_model.vera_A', '[6, 4]', '[6, 8]']],
      [extra, ['unexpected keys', 'base_model.vera_C']],
    ] as const) {
      const base = freshBase();
      const before = tf.memory().numTensors;
      const e = await thrownAsync(() => loadPretrained(base, d));
      expect(e.code).toBe('STATE_DICT_MISMATCH');
      for (const n of needles) expect(e.message).toContain(n);
      expect(tf.memory().numTensors).toBe(before);
      expect(base.namedParameters().every(([, p]) => !p.trainable || !p.name.includes('vera'))).toBe(true);
      expect(base.namedModules().some(([, m]) => m.typeName === 'VeraLinear')).toBe(false);
      base.dispose();
    }
  });

  it('a bad option in the file → INVALID_CONFIG naming the PEFT key; excludeModules cannot be written', async () => {
    const { dir, peft } = await saved();
    const bad = dir.clone().setJson({ ...dir.json(), bias: 'lora_only' });
    const e = await thrownAsync(() => loadPretrained(freshBase(), bad));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain(CONFIG);
    expect(e.message).toContain('vera_only');
    peft.addAdapter('x', {
      type: 'vera',
      r: 2,
      targetModules: ['q_proj', 'v_proj'],
      excludeModules: ['q_proj'],
    });
    const x = await thrownAsync(() => savePretrained(peft, new MemDir(), { selectedAdapters: ['x'] }));
    expect(x.code).toBe('UNSUPPORTED_FEATURE');
    expect(x.message).toContain('excludeModules');
  });
});
