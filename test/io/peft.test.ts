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
import { type Ia3Config, type LoraConfig } from '../../src/adapters/index.js';
import { Module } from '../../src/nn/module.js';
import {
  PeftModel,
  loadAdapter,
  loadPretrained,
  peftFiles,
  peftTensorsFor,
  savePretrained,
} from '../../src/io/index.js';
import { parseSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { tensorsFromSafetensors } from '../../src/io/safetensors-tf.js';
import { buildGroupGBase, type ModuleSpec } from '../../tools/golden/group-g.js';
import { runCase } from '../../tools/golden/runner.js';
import { TinyLM, makeIds, seed } from '../fixtures/lora-models.js';
import { thrownAsync, values } from '../helpers.js';
import {
  lora,
  ia3,
  CONFIG,
  WEIGHTS,
  GOLDEN,
  G_CASES,
  IA3_KEYS,
  LORA_KEYS,
  MemDir,
  randomizeAdapter,
  savedAdapter,
} from './peft-fixtures.js';

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
