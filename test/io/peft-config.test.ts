/** adapter_config.json as PEFT writes and reads it (SPEC §4.3): key order and layout, the keys every config holds, PEFT types and keys the library cannot honour, rank/alpha patterns, target_modules defaults. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Linear } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import { PeftModel, loadPretrained, peftTensorsFor, savePretrained } from '../../src/io/index.js';
import { buildGroupGBase, type ModuleSpec } from '../../tools/golden/group-g.js';
import { TinyLM, makeIds, seed } from '../fixtures/lora-models.js';
import { thrownAsync, values } from '../helpers.js';
import {
  lora,
  ia3,
  CONFIG,
  GOLDEN,
  G_CASES,
  LORA_KEYS,
  MemDir,
  warningsOf,
  savedAdapter,
} from './peft-fixtures.js';

describe('§4.3 writing PEFT directories', () => {
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
});
