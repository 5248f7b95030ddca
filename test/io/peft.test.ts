/**
 * SPEC §4.3 PEFT checkpoint directories (B-224 … B-239), the savePretrained half of B-270, byte-exact
 * round trips for every LoRA variant and IA³, and the group-G golden cases through the fixture runner.
 */
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import '../../src/io/node-path-files.js'; // paths in savePretrained / loadPretrained
import { peftModelOf, type Ia3Config, type LoraConfig } from '../../src/adapters/index.js';
import { setLogger } from '../../src/logger.js';
import { Linear } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import {
  PeftModel,
  loadAdapter,
  loadPretrained,
  peftFiles,
  peftTensorsFor,
  savePretrained,
  type FileSink,
  type FileSource,
} from '../../src/io/index.js';
import * as root from '../../src/index.js';
import { parseSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { tensorsFromSafetensors } from '../../src/io/safetensors-tf.js';
import { buildGroupGBase, type ModuleSpec } from '../../tools/golden/group-g.js';
import { runCase } from '../../tools/golden/runner.js';
import { TinyLM, makeIds, randomize, seed } from '../fixtures/lora-models.js';
import { thrownAsync, values } from '../helpers.js';

const lora = (extra: Partial<LoraConfig> = {}): LoraConfig => ({ type: 'lora', ...extra });
const ia3 = (extra: Partial<Ia3Config> = {}): Ia3Config => ({ type: 'ia3', ...extra });
const CONFIG = 'adapter_config.json';
const WEIGHTS = 'adapter_model.safetensors';
const GOLDEN = join(import.meta.dirname, '..', 'fixtures', 'golden');
const G_CASES = ['g-peft-lora-plain', 'g-peft-lora-rank-alpha-pattern', 'g-peft-lora-rslora'];

/** Every LoRA key PEFT writes (the §4.1 table, the remaining PEFT keys, the common ones), without peft_version. */
const LORA_KEYS = [
  'alora_invocation_tokens',
  'alpha_pattern',
  'arrow_config',
  'auto_mapping',
  'base_model_name_or_path',
  'bias',
  'corda_config',
  'ensure_weight_tying',
  'eva_config',
  'exclude_modules',
  'fan_in_fan_out',
  'inference_mode',
  'init_lora_weights',
  'kasa_config',
  'layer_replication',
  'layers_pattern',
  'layers_to_transform',
  'loftq_config',
  'lora_alpha',
  'lora_bias',
  'lora_dropout',
  'lora_ga_config',
  'megatron_config',
  'megatron_core',
  'modules_to_save',
  'monteclora_config',
  'peft_type',
  'qalora_group_size',
  'r',
  'rank_pattern',
  'revision',
  'target_modules',
  'target_parameters',
  'task_type',
  'trainable_token_indices',
  'use_bdlora',
  'use_dora',
  'use_qalora',
  'use_rslora',
  'velora_config',
];
const IA3_KEYS = [
  'auto_mapping',
  'base_model_name_or_path',
  'exclude_modules',
  'fan_in_fan_out',
  'feedforward_modules',
  'inference_mode',
  'init_ia3_weights',
  'modules_to_save',
  'peft_type',
  'revision',
  'target_modules',
  'task_type',
];

/** An in-memory directory: a FileSink and a FileSource. */
class MemDir implements FileSink, FileSource {
  readonly files = new Map<string, Uint8Array>();
  writeFile(path: string, data: Uint8Array | string): void {
    this.files.set(path, typeof data === 'string' ? new TextEncoder().encode(data) : data.slice());
  }
  readFile(path: string): Uint8Array | null {
    return this.files.get(path) ?? null;
  }
  json(path = CONFIG): Record<string, unknown> {
    return JSON.parse(new TextDecoder().decode(this.files.get(path)!));
  }
  setJson(value: unknown, path = CONFIG): this {
    this.files.set(path, new TextEncoder().encode(JSON.stringify(value)));
    return this;
  }
  text(path = CONFIG): string {
    return new TextDecoder().decode(this.files.get(path)!);
  }
  tensors(path = WEIGHTS) {
    return parseSafetensors(this.files.get(path)!, path);
  }
  clone(): MemDir {
    const d = new MemDir();
    for (const [k, v] of this.files) d.files.set(k, v.slice());
    return d;
  }
}

/** Runs `f`, collecting library warnings. */
async function warningsOf<T>(f: () => Promise<T>): Promise<{ result: T; warnings: string[] }> {
  const warnings: string[] = [];
  const prev = setLogger({ warn: (m) => warnings.push(m) });
  try {
    return { result: await f(), warnings };
  } finally {
    setLogger(prev);
  }
}

/** Gives every variable adapter `name` saves seeded non-zero values (SPEC §4 intro). */
function randomizeAdapter(peft: PeftModel, name = 'default', s = 100): void {
  let i = 0;
  for (const t of peftTensorsFor(peft, name).values())
    if (t instanceof tf.Variable) randomize(t, s + i++, 0.3);
}

/** A source model with one adapter (randomised), saved to memory. */
async function savedAdapter(cfg: LoraConfig | Ia3Config, opts: { model?: () => Module; name?: string } = {}) {
  seed();
  const model = opts.model ? opts.model() : new TinyLM();
  const peft = PeftModel.wrap(model, cfg, { adapterName: opts.name ?? 'default' });
  randomizeAdapter(peft, opts.name ?? 'default');
  const dir = new MemDir();
  await savePretrained(peft, dir);
  return { model, peft, dir };
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'adapterkit-peft-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('§4.3 writing PEFT directories', () => {
  it('B-224 default at the root, task2 under task2/; no tensor key contains an adapter name', async () => {
    seed();
    const model = new TinyLM();
    const peft = PeftModel.wrap(model, lora({ targetModules: ['q_proj'] }));
    peft.addAdapter('task2', lora({ targetModules: ['v_proj'], r: 4 }));
    const out = join(tmp, 'b224');
    await peft.savePretrained(out);
    expect((await readdir(out)).filter((f) => !f.startsWith('.')).sort()).toEqual([CONFIG, WEIGHTS, 'task2']);
    expect((await readdir(join(out, 'task2'))).sort()).toEqual([CONFIG, WEIGHTS]);
    for (const file of [WEIGHTS, `task2/${WEIGHTS}`]) {
      const parsed = parseSafetensors(new Uint8Array(await readFile(join(out, file))), file);
      expect(parsed.tensors.size).toBeGreaterThan(0);
      expect(parsed.metadata).toEqual({ format: 'pt' });
      for (const key of parsed.tensors.keys()) {
        expect(key).not.toContain('default');
        expect(key).not.toContain('task2');
      }
    }
    const rootKeys = [
      ...parseSafetensors(new Uint8Array(await readFile(join(out, WEIGHTS))), WEIGHTS).tensors.keys(),
    ];
    expect(rootKeys.every((k) => k.includes('q_proj'))).toBe(true);
    const task2 = JSON.parse(await readFile(join(out, 'task2', CONFIG), 'utf8'));
    expect(task2).toMatchObject({ r: 4, target_modules: ['v_proj'] });
    // The same layout through a FileSink, and selectedAdapters restricts it.
    const mem = new MemDir();
    await savePretrained(peft, mem, { selectedAdapters: ['task2'] });
    expect([...mem.files.keys()].sort()).toEqual([`task2/${CONFIG}`, `task2/${WEIGHTS}`]);
    // peftFiles: the same files, without writing.
    const files = peftFiles(peft);
    expect([...files.keys()].sort()).toEqual([CONFIG, WEIGHTS, `task2/${CONFIG}`, `task2/${WEIGHTS}`]);
    expect(files.get(`task2/${WEIGHTS}`)).toEqual(mem.files.get(`task2/${WEIGHTS}`));
  });

  it("B-225 the config's keys are sorted, 2-space indented, every PEFT LoRA key present, values from the adapter", async () => {
    seed();
    const peft = PeftModel.wrap(
      new TinyLM(),
      lora({
        targetModules: ['v_proj', 'q_proj'],
        r: 4,
        loraAlpha: 16,
        useRslora: true,
        modulesToSave: ['lm_head'],
        initLoraWeights: 'xavierUniform',
      }),
    );
    const dir = new MemDir();
    await savePretrained(peft, dir);
    const text = dir.text();
    const cfg = dir.json();
    expect(Object.keys(cfg)).toEqual([...Object.keys(cfg)].sort());
    expect(Object.keys(cfg).sort()).toEqual([...LORA_KEYS].sort());
    expect(text.split('\n')[1]).toMatch(/^ {2}"alora_invocation_tokens": null,$/);
    expect(text).toBe(JSON.stringify(cfg, null, 2));
    expect(cfg).toMatchObject({
      peft_type: 'LORA',
      inference_mode: true,
      r: 4,
      lora_alpha: 16,
      use_rslora: true,
      target_modules: ['q_proj', 'v_proj'],
      modules_to_save: ['lm_head'],
      init_lora_weights: true, // xavierUniform has no PEFT name
      task_type: null,
      base_model_name_or_path: null,
      revision: null,
      auto_mapping: null,
      megatron_core: 'megatron.core',
      loftq_config: {},
      qalora_group_size: 16,
      use_qalora: false,
      ensure_weight_tying: false,
    });
    // peft_version only when given; auto_mapping only with a null task type.
    await savePretrained(peft, dir, {
      peftVersion: '0.20.0',
      autoMapping: { baseModelClass: 'TinyLM', parentLibrary: 'tests' },
    });
    expect(dir.json()).toMatchObject({
      peft_version: '0.20.0',
      auto_mapping: { base_model_class: 'TinyLM', parent_library: 'tests' },
    });
    await savePretrained(peft, dir, {
      taskType: 'CAUSAL_LM',
      baseModelNameOrPath: 'org/tiny',
      autoMapping: { baseModelClass: 'TinyLM', parentLibrary: 'tests' },
    });
    expect(dir.json()).toMatchObject({
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: 'org/tiny',
      auto_mapping: null,
    });
    expect(dir.json()).not.toHaveProperty('peft_version');
  });

  it('B-225 the written config equals the PEFT-written g-* configs key for key when the same values are passed', async () => {
    for (const name of G_CASES) {
      const caseDir = join(GOLDEN, name);
      const caseJson = JSON.parse(await readFile(join(caseDir, 'case.json'), 'utf8'));
      const model = buildGroupGBase(caseJson.config.baseModel.modules as Record<string, ModuleSpec>);
      const peft = PeftModel.wrap(model, {
        type: 'lora',
        targetModules: caseJson.config.targetModules,
        r: caseJson.config.r,
        loraAlpha: caseJson.config.loraAlpha,
        useRslora: caseJson.config.useRslora,
        rankPattern: caseJson.config.rankPattern,
        alphaPattern: caseJson.config.alphaPattern,
        loraDropout: JSON.parse(await readFile(join(caseDir, 'peft', CONFIG), 'utf8')).lora_dropout,
      });
      const want = JSON.parse(await readFile(join(caseDir, 'peft', CONFIG), 'utf8'));
      const dir = new MemDir();
      await savePretrained(peft, dir, {
        peftVersion: want.peft_version,
        autoMapping: {
          baseModelClass: want.auto_mapping.base_model_class,
          parentLibrary: want.auto_mapping.parent_library,
        },
      });
      expect(dir.json(), name).toEqual(want);
      model.dispose();
    }
  });

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

  it('B-238 dtype bfloat16 writes BF16 (float16 F16); F32, F16 and BF16 files all load', async () => {
    const { peft } = await savedAdapter(lora({ targetModules: ['q_proj'] }));
    for (const [dtype, tag] of [
      ['float32', 'F32'],
      ['float16', 'F16'],
      ['bfloat16', 'BF16'],
    ] as const) {
      const dir = new MemDir();
      await savePretrained(peft, dir, { dtype });
      expect(
        [...dir.tensors().tensors.values()].every((e) => e.dtype === tag),
        dtype,
      ).toBe(true);
      const stored = tensorsFromSafetensors(dir.files.get(WEIGHTS)!); // what the file keeps, widened to float32
      const loaded = await loadPretrained(new TinyLM(), dir);
      for (const [k, t] of peftTensorsFor(loaded, 'default')) {
        expect(values(t), `${dtype} ${k}`).toEqual(values(stored.get(k)!));
        const original = values(peftTensorsFor(peft, 'default').get(k)!);
        if (dtype === 'float32') expect(values(t)).toEqual(original);
        else expect(values(t)).not.toEqual(original); // rounded, so the check above is not vacuous
      }
      for (const t of stored.values()) t.dispose();
      loaded.dispose();
    }
  });

  it('savePretrained errors: no adapters, unknown selected adapter, bad dtype / taskType / autoMapping, a file as target', async () => {
    seed();
    const peft = PeftModel.wrap(new TinyLM(), lora({ targetModules: ['q_proj'] }));
    const sink = new MemDir();
    const unknown = await thrownAsync(() =>
      savePretrained(peft, sink, { selectedAdapters: ['default', 'nope'] }),
    );
    expect(unknown.code).toBe('UNKNOWN_ADAPTER');
    expect(unknown.message).toContain('nope');
    expect(unknown.message).toContain('default');
    const dtype = await thrownAsync(() => savePretrained(peft, sink, { dtype: 'float64' as never }));
    expect(dtype.code).toBe('INVALID_CONFIG');
    expect(dtype.message).toContain('bfloat16');
    const task = await thrownAsync(() => savePretrained(peft, sink, { taskType: 'LM' }));
    expect(task.code).toBe('INVALID_CONFIG');
    expect(task.message).toContain('CAUSAL_LM');
    expect(
      (await thrownAsync(() => savePretrained(peft, sink, { autoMapping: { baseModelClass: 1 } as never })))
        .code,
    ).toBe('INVALID_CONFIG');
    expect(sink.files.size).toBe(0); // nothing written on error
    const file = join(tmp, 'not-a-dir');
    await writeFile(file, 'x');
    expect((await thrownAsync(() => savePretrained(peft, file))).code).toBe('INVALID_INPUT');
    peft.deleteAdapter('default');
    expect((await thrownAsync(() => savePretrained(peft, sink))).code).toBe('NO_ADAPTERS');
  });
});

describe('§4.3 reading PEFT directories', () => {
  it('B-226 a minimal config {peft_type, target_modules} loads with r = 8, α = 8, scaling 1', async () => {
    const { dir } = await savedAdapter(lora({ targetModules: ['q_proj'] }));
    dir.setJson({ peft_type: 'LORA', target_modules: ['q_proj'] });
    seed(3);
    const peft = await loadPretrained(new TinyLM(), dir);
    const wrapped = peft.wrappedModulesFor('default');
    expect(wrapped).toHaveLength(2);
    for (const m of wrapped) expect(m).toMatchObject({ r: 8, alpha: 8, scaling: 1 });
    expect(peft.peftConfigFor('default')).toMatchObject({
      r: 8,
      loraAlpha: 8,
      useRslora: false,
      loraDropout: 0,
    });
  });

  it('B-227 missing peft_type → CHECKPOINT_FORMAT; LOHA → UNSUPPORTED_FEATURE listing LORA and IA3; IA3 loads an IA³ adapter', async () => {
    const { dir } = await savedAdapter(lora({ targetModules: ['q_proj'] }));
    const cfg = dir.json();
    delete cfg.peft_type;
    const missing = await thrownAsync(() => loadPretrained(new TinyLM(), dir.clone().setJson(cfg)));
    expect(missing.code).toBe('CHECKPOINT_FORMAT');
    expect(missing.message).toContain('peft_type');
    const loha = await thrownAsync(() =>
      loadPretrained(new TinyLM(), dir.clone().setJson({ ...cfg, peft_type: 'LOHA' })),
    );
    expect(loha.code).toBe('UNSUPPORTED_FEATURE');
    expect(loha.message).toContain('LOHA');
    expect(loha.message).toContain('LORA');
    expect(loha.message).toContain('IA3');

    const { dir: ia3Dir, peft: src } = await savedAdapter(
      ia3({ targetModules: ['v_proj', 'fc2'], feedforwardModules: ['fc2'] }),
    );
    expect(ia3Dir.json().peft_type).toBe('IA3');
    seed();
    const model = new TinyLM();
    const peft = await loadPretrained(model, ia3Dir);
    expect(peft.tunerType).toBe('ia3');
    expect(peft.peftConfigFor('default')).toMatchObject({ type: 'ia3', feedforwardModules: ['fc2'] });
    const ids = makeIds();
    expect(values(peft.forward(ids))).toEqual(values(src.inEvalMode(() => src.forward(ids))));
    for (const [k, t] of peftTensorsFor(peft, 'default'))
      expect(values(t), k).toEqual(values(peftTensorsFor(src, 'default').get(k)!));
  });

  it('B-228 an unknown key loads; one warning names it', async () => {
    const { dir } = await savedAdapter(lora({ targetModules: ['q_proj'] }));
    dir.setJson({ ...dir.json(), foo: 1, bar_baz: 'x' });
    const { result, warnings } = await warningsOf(() => loadPretrained(new TinyLM(), dir));
    expect(result.adapterNames()).toEqual(['default']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('foo');
    expect(warnings[0]).toContain('bar_baz');
  });

  it('B-229 use_dora loads a DoRA adapter with its magnitude from the file; pissa and layer_replication → UNSUPPORTED_FEATURE', async () => {
    const { dir, peft: src } = await savedAdapter(lora({ targetModules: ['q_proj'], useDora: true }));
    expect(dir.json().use_dora).toBe(true);
    const key = 'base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector';
    expect(dir.tensors().tensors.get(key)!.shape).toEqual([8]);
    seed(); // the same base weights as the source
    const model = new TinyLM();
    const peft = await loadPretrained(model, dir);
    expect(peft.peftConfigFor('default')).toMatchObject({ useDora: true });
    expect(values(peftTensorsFor(peft, 'default').get(key)!)).toEqual(
      values(peftTensorsFor(src, 'default').get(key)!),
    );
    const ids = makeIds();
    expect(values(peft.forward(ids))).toEqual(values(src.inEvalMode(() => src.forward(ids))));

    const pissa = await thrownAsync(() =>
      loadPretrained(new TinyLM(), dir.clone().setJson({ ...dir.json(), init_lora_weights: 'pissa' })),
    );
    expect(pissa.code).toBe('UNSUPPORTED_FEATURE');
    expect(pissa.message).toContain('init_lora_weights');
    expect(pissa.message).toContain('pissa');
    const rep = await thrownAsync(() =>
      loadPretrained(new TinyLM(), dir.clone().setJson({ ...dir.json(), layer_replication: [[0, 2]] })),
    );
    expect(rep.code).toBe('UNSUPPORTED_FEATURE');
    expect(rep.message).toContain('layer_replication');
    expect(rep.message).toContain('[[0,2]]');
    for (const [k, v] of Object.entries({
      use_qalora: true,
      target_parameters: ['w'],
      megatron_config: {},
      trainable_token_indices: [1],
    })) {
      const e = await thrownAsync(() =>
        loadPretrained(new TinyLM(), dir.clone().setJson({ ...dir.json(), [k]: v })),
      );
      expect(e.code, k).toBe('UNSUPPORTED_FEATURE');
      expect(e.message).toContain(k);
    }
  });

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

  it('B-235 a directory with only adapter_model.bin → CHECKPOINT_FORMAT saying pickles are not read and to convert to safetensors', async () => {
    const dir = join(tmp, 'b235');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'adapter_model.bin'), new Uint8Array([0x80, 0x02]));
    const err = await thrownAsync(() => loadPretrained(new TinyLM(), dir));
    expect(err.code).toBe('CHECKPOINT_FORMAT');
    expect(err.message).toContain('adapter_model.bin');
    expect(err.message).toContain('pickle');
    expect(err.message).toContain('safetensors');
    const mem = new MemDir();
    mem.files.set('adapter_model.bin', new Uint8Array([0x80]));
    expect((await thrownAsync(() => loadPretrained(new TinyLM(), mem))).message).toContain('safetensors');
    expect((await thrownAsync(() => loadPretrained(new TinyLM(), join(tmp, 'nope')))).code).toBe(
      'CHECKPOINT_FORMAT',
    );
    const noConfig = new MemDir();
    noConfig.files.set(WEIGHTS, writeSafetensors([], { format: 'pt' }));
    const e2 = await thrownAsync(() => loadPretrained(new TinyLM(), noConfig));
    expect(e2.code).toBe('CHECKPOINT_FORMAT');
    expect(e2.message).toContain(CONFIG);
    const badJson = noConfig.clone();
    badJson.files.set(CONFIG, new TextEncoder().encode('{"peft_type": '));
    expect((await thrownAsync(() => loadPretrained(new TinyLM(), badJson))).code).toBe('CHECKPOINT_FORMAT');
  });

  it('B-236 a PEFT-written directory round-trips: same tensor keys, shapes, dtypes and bytes; config equal (peft_version / auto_mapping when passed)', async () => {
    for (const name of G_CASES) {
      const caseDir = join(GOLDEN, name);
      const caseJson = JSON.parse(await readFile(join(caseDir, 'case.json'), 'utf8'));
      const model = buildGroupGBase(caseJson.config.baseModel.modules as Record<string, ModuleSpec>);
      const peft = await loadPretrained(model, join(caseDir, 'peft'));
      const want = JSON.parse(await readFile(join(caseDir, 'peft', CONFIG), 'utf8'));
      const wantBytes = new Uint8Array(await readFile(join(caseDir, 'peft', WEIGHTS)));
      const plain = new MemDir();
      await savePretrained(peft, plain);
      expect(plain.files.get(WEIGHTS), name).toEqual(wantBytes);
      const got = plain.json();
      expect(got).not.toHaveProperty('peft_version');
      expect(got.auto_mapping).toBeNull();
      const { peft_version: _v, auto_mapping: _a, ...rest } = want;
      const { auto_mapping: _b, ...gotRest } = got;
      gotRest.target_modules = [...(gotRest.target_modules as string[])].sort();
      rest.target_modules = [...rest.target_modules].sort();
      expect(gotRest, name).toEqual(rest);
      const same = new MemDir();
      await savePretrained(peft, same, {
        peftVersion: want.peft_version,
        autoMapping: {
          baseModelClass: want.auto_mapping.base_model_class,
          parentLibrary: want.auto_mapping.parent_library,
        },
      });
      expect(same.json(), name).toEqual(want);
      peft.dispose();
    }
  });

  it('B-236 base_model_name_or_path, task_type, revision and inert PEFT keys read from a file are written back', async () => {
    const { dir } = await savedAdapter(lora({ targetModules: ['q_proj'] }));
    const cfg = {
      ...dir.json(),
      base_model_name_or_path: 'org/model',
      task_type: 'CAUSAL_LM',
      revision: 'v1',
      loftq_config: { loftq_bits: 4 },
      qalora_group_size: 32,
    };
    dir.setJson(cfg);
    const peft = await loadPretrained(new TinyLM(), dir);
    const out = new MemDir();
    await savePretrained(peft, out);
    expect(out.json()).toEqual(cfg);
    await savePretrained(peft, out, { baseModelNameOrPath: null, taskType: null });
    expect(out.json()).toMatchObject({ base_model_name_or_path: null, task_type: null, revision: 'v1' });
  });

  it('B-237 rank_pattern / alpha_pattern from a file set per-module r and scaling exactly as PEFT would', async () => {
    const caseDir = join(GOLDEN, 'g-peft-lora-rank-alpha-pattern');
    const caseJson = JSON.parse(await readFile(join(caseDir, 'case.json'), 'utf8'));
    const model = buildGroupGBase(caseJson.config.baseModel.modules as Record<string, ModuleSpec>);
    const peft = await loadPretrained(model, join(caseDir, 'peft'));
    const got = Object.fromEntries(
      peft.wrappedModulesFor('default').map((m) => [m.path, { r: m.r, alpha: m.alpha, scaling: m.scaling }]),
    );
    expect(got).toEqual(caseJson.config.resolvedModules);
    // On another model, with a Python-only regex form.
    const { dir } = await savedAdapter(
      lora({
        targetModules: ['q_proj', 'v_proj'],
        r: 4,
        rankPattern: { 'layers\\.0\\.self_attn\\.q_proj': 2 },
      }),
    );
    dir.setJson({
      ...dir.json(),
      rank_pattern: { '(?P<l>layers)\\.0\\.self_attn\\.q_proj\\Z': 2 },
      alpha_pattern: { v_proj: 16 },
    });
    const other = await loadPretrained(new TinyLM(), dir);
    const byPath = Object.fromEntries(other.wrappedModulesFor('default').map((m) => [m.path, m]));
    expect(byPath['model.layers.0.self_attn.q_proj']).toMatchObject({ r: 2, alpha: 8, scaling: 4 });
    expect(byPath['model.layers.1.self_attn.q_proj']).toMatchObject({ r: 4, alpha: 8, scaling: 2 });
    expect(byPath['model.layers.0.self_attn.v_proj']).toMatchObject({ r: 4, alpha: 16, scaling: 4 });
  });

  it('B-239 PeftModel.loadPretrained(model, dir, {adapterName: "x"}) registers x, frozen unless isTrainable', async () => {
    const { dir } = await savedAdapter(lora({ targetModules: ['q_proj'], bias: 'lora_only' }));
    const out = join(tmp, 'b239');
    const src = await loadPretrained(new TinyLM(), dir, { isTrainable: true });
    await src.savePretrained(out);
    const frozen = await PeftModel.loadPretrained(new TinyLM(), out, { adapterName: 'x' });
    expect(frozen.adapterNames()).toEqual(['x']);
    expect(frozen.getEnabledAdapters()).toEqual(['x']);
    expect(frozen.model.trainableParameters()).toHaveLength(0);
    expect(frozen.training).toBe(false);
    const trainable = await PeftModel.loadPretrained(new TinyLM(), out, {
      adapterName: 'x',
      isTrainable: true,
    });
    const names = trainable.model
      .namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([k]) => k)
      .sort();
    expect(names).toEqual(
      [0, 1]
        .flatMap((i) =>
          ['lora_A.x.weight', 'lora_B.x.weight', 'bias'].map(
            (s) => `model.layers.${i}.self_attn.q_proj.${s}`,
          ),
        )
        .sort(),
    );
    expect(frozen).toBeInstanceOf(root.PeftModel); // the package's PeftModel, with the file methods
    expect(root.PeftModel).toBe(PeftModel);
    expect(root.loadPretrained).toBe(loadPretrained);
    expect(root.savePretrained).toBe(savePretrained);
  });

  it('target_modules absent: the model default is used, else INVALID_CONFIG asking for it; bad values name the PEFT key', async () => {
    const { dir } = await savedAdapter(lora({ targetModules: ['q_proj', 'v_proj'] }));
    const cfg = dir.json();
    delete cfg.target_modules;
    const withDefault = await loadPretrained(new TinyLM(), dir.clone().setJson(cfg)); // TinyLM: defaultLoraTargets q_proj, v_proj
    expect(withDefault.peftConfigFor('default').targetModules).toEqual(['q_proj', 'v_proj']);
    seed();
    const plain = new Module();
    plain.registerModule('q_proj', new Linear({ inFeatures: 2, outFeatures: 2 }));
    const err = await thrownAsync(() => loadPretrained(plain, dir.clone().setJson(cfg)));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('target_modules');
    const bad = await thrownAsync(() =>
      loadPretrained(new TinyLM(), dir.clone().setJson({ ...dir.json(), lora_alpha: -1 })),
    );
    expect(bad.code).toBe('INVALID_CONFIG');
    expect(bad.message).toContain('lora_alpha');
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

  it('loadAdapter adds a second adapter from a sub-directory; duplicates and an already-managed model are refused', async () => {
    seed();
    const srcModel = new TinyLM();
    const src = PeftModel.wrap(srcModel, lora({ targetModules: ['q_proj'] }));
    src.addAdapter('task2', lora({ targetModules: ['v_proj'], r: 2 }));
    randomizeAdapter(src, 'default', 1);
    randomizeAdapter(src, 'task2', 50);
    const dir = new MemDir();
    await src.savePretrained(dir);
    seed(); // the same base weights as the source
    const model = new TinyLM();
    const peft = await loadPretrained(model, dir);
    const res = await peft.loadAdapter(dir, 'task2', { subfolder: 'task2' });
    expect(res).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(peft.adapterNames()).toEqual(['default', 'task2']);
    const ids = makeIds();
    src.eval();
    expect(values(peft.forward(ids))).toEqual(values(src.forward(ids)));
    expect((await thrownAsync(() => loadAdapter(peft, dir, 'task2', { subfolder: 'task2' }))).code).toBe(
      'DUPLICATE_ADAPTER',
    );
    const managed = await thrownAsync(() => loadPretrained(model, dir));
    expect(managed.code).toBe('UNSUPPORTED_FEATURE');
    expect(managed.message).toContain('loadAdapter');
    // A failing loadAdapter leaves the model as it was.
    const broken = dir.clone();
    broken.files.set(`task2/${WEIGHTS}`, writeSafetensors([], { format: 'pt' }));
    const before = tf.memory().numTensors;
    const e = await thrownAsync(() => loadAdapter(peft, broken, 'task3', { subfolder: 'task2' }));
    expect(e.code).toBe('STATE_DICT_MISMATCH');
    expect(peft.adapterNames()).toEqual(['default', 'task2']);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('§4.3 round trips: write → read → write is byte-identical', () => {
  const variants: Array<[string, LoraConfig | Ia3Config, (() => Module)?]> = [
    ['plain', lora({ targetModules: ['q_proj', 'v_proj'], r: 4, loraAlpha: 8, loraDropout: 0.1 })],
    ['rsLoRA', lora({ targetModules: ['q_proj'], r: 4, loraAlpha: 16, useRslora: true })],
    [
      'rank/alpha patterns',
      lora({
        targetModules: ['q_proj', 'v_proj', 'fc1'],
        rankPattern: { 'layers.0.self_attn.q_proj': 2, fc1: 6 },
        alphaPattern: { v_proj: 3 },
      }),
    ],
    [
      'modules_to_save',
      lora({ targetModules: ['q_proj'], modulesToSave: ['classifier', 'norm'] }),
      () => new TinyLM({ classifier: true }),
    ],
    ['DoRA', lora({ targetModules: ['q_proj', 'o_proj'], useDora: true, r: 3 })],
    ['lora_bias', lora({ targetModules: ['k_proj'], loraBias: true })],
    ['embedding', lora({ targetModules: ['embed_tokens', 'q_proj'], r: 2 })],
    ["bias 'all'", lora({ targetModules: ['q_proj'], bias: 'all' })],
    ['regex target', lora({ targetModules: '.*\\.self_attn\\.(q|v)_proj', r: 2 })],
    [
      'layers_to_transform, exclude_modules',
      lora({
        targetModules: ['q_proj', 'v_proj'],
        layersToTransform: [1],
        layersPattern: 'layers',
        excludeModules: ['v_proj'],
      }),
    ],
    [
      'IA3',
      ia3({ targetModules: ['v_proj', 'fc2', 'k_proj'], feedforwardModules: ['fc2'], initIa3Weights: false }),
    ],
  ];
  it.each(variants)('%s', async (_label, cfg, make) => {
    const { dir } = await savedAdapter(cfg, { model: make });
    seed(77);
    const model = make ? make() : new TinyLM();
    const peft = await loadPretrained(model, dir);
    const again = new MemDir();
    await savePretrained(peft, again);
    expect([...again.files.keys()].sort()).toEqual([...dir.files.keys()].sort());
    for (const [path, bytes] of dir.files) expect(again.files.get(path), path).toEqual(bytes);
    if (cfg.type === 'ia3') {
      // B-270 (save half): exactly PEFT's IA3 key set; tensors base_model.model.<path>.ia3_l.
      expect(Object.keys(dir.json())).toEqual([...IA3_KEYS].sort());
      expect(dir.json()).toMatchObject({
        peft_type: 'IA3',
        target_modules: ['fc2', 'k_proj', 'v_proj'],
        feedforward_modules: ['fc2'],
        init_ia3_weights: false,
      });
      const t = dir.tensors().tensors;
      expect(
        [...t.keys()].every((k) =>
          /^base_model\.model\.model\.layers\.\d\.(self_attn\.(v|k)_proj|mlp\.fc2)\.ia3_l$/.test(k),
        ),
      ).toBe(true);
      expect(t.get('base_model.model.model.layers.0.mlp.fc2.ia3_l')!.shape).toEqual([1, 16]);
      expect(t.get('base_model.model.model.layers.0.self_attn.v_proj.ia3_l')!.shape).toEqual([8, 1]);
    } else {
      expect(Object.keys(dir.json())).toEqual([...LORA_KEYS].sort());
    }
  });

  it('B-270 an IA³ config with peft_version has exactly the IA3 keys plus peft_version', async () => {
    const { peft } = await savedAdapter(ia3({ targetModules: ['v_proj'] }));
    const dir = new MemDir();
    await savePretrained(peft, dir, { peftVersion: '0.20.0' });
    expect(Object.keys(dir.json())).toEqual([...IA3_KEYS, 'peft_version'].sort());
  });

  it('no tensor leaks: saving, loading, a failed load and unload keep the tensor count flat', async () => {
    const { dir, peft } = await savedAdapter(
      lora({ targetModules: ['q_proj'], useDora: true, modulesToSave: ['lm_head'] }),
    );
    const n0 = tf.memory().numTensors;
    await savePretrained(peft, new MemDir(), { dtype: 'bfloat16' });
    expect(tf.memory().numTensors).toBe(n0);
    seed(1);
    const model = new TinyLM();
    const n1 = tf.memory().numTensors;
    const loaded = await loadPretrained(model, dir);
    const adapterTensors = peftTensorsFor(loaded, 'default').size;
    expect(tf.memory().numTensors).toBe(n1 + adapterTensors);
    loaded.unload();
    expect(tf.memory().numTensors).toBe(n1);
    const bad = dir.clone().setJson({ ...dir.json(), r: 3 });
    expect((await thrownAsync(() => loadPretrained(model, bad))).code).toBe('STATE_DICT_MISMATCH');
    expect(tf.memory().numTensors).toBe(n1);
  });
});

describe('group G golden cases', () => {
  it.each(G_CASES)(
    '%s passes through the fixture runner (outputs, merged weights, byte-identical re-write)',
    async (name) => {
      const outcome = await runCase(join(GOLDEN, name));
      expect(outcome.group).toBe('G');
      expect(outcome.ok ? '' : outcome.detail).toBe('');
      expect(outcome.detail).toContain('byte-identical');
      expect(outcome.detail).toContain('expected.output: ok');
      expect(outcome.detail).toContain('expected.base_output: ok');
      expect(outcome.detail).toContain('expected.merged.layers.0.q_proj.weight: ok');
    },
  );

  it('a case whose adapter file disagrees with the expectations fails with a reason', async () => {
    const src = join(GOLDEN, 'g-peft-lora-plain');
    const dst = join(tmp, 'g-broken');
    await mkdir(join(dst, 'peft'), { recursive: true });
    for (const f of ['case.json', 'base.safetensors', 'tensors.safetensors', `peft/${CONFIG}`])
      await writeFile(join(dst, f), await readFile(join(src, f)));
    const cfg = JSON.parse(await readFile(join(src, 'peft', CONFIG), 'utf8'));
    await writeFile(join(dst, 'peft', CONFIG), JSON.stringify({ ...cfg, lora_alpha: 16 }));
    await writeFile(join(dst, 'peft', WEIGHTS), await readFile(join(src, 'peft', WEIGHTS)));
    const outcome = await runCase(dst);
    expect(outcome.ok).toBe(false);
    expect(outcome.detail).toContain('scaling');
  });
});
