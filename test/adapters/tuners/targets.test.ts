/** SPEC §4.2 target-module matching (B-212 … B-223). */
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Embedding, Linear } from '../../../src/nn/layers.js';
import { Module } from '../../../src/nn/module.js';
import {
  LoraEmbedding,
  LoraLinear,
  ModulesToSaveWrapper,
  PeftModel,
  inspectTargets,
  pythonRegexToJs,
  type LoraConfig,
} from '../../../src/adapters/index.js';
import { TinyLM, makeIds, seed, snapshot } from '../../fixtures/lora-models.js';
import { captureLogs, thrown, values } from '../../helpers.js';

const lora = (extra: Partial<LoraConfig> = {}): LoraConfig => ({ type: 'lora', ...extra });

/** TinyLM with `xq_proj` beside every `q_proj`, a root-level `q_proj`, and 2 layers. */
function model(): TinyLM {
  seed();
  return new TinyLM({ extra: ['xq_proj'], rootQProj: true });
}

const matched = (m: Module, cfg: LoraConfig) => inspectTargets(m, cfg).matched.map((t) => t.path);
const Q0 = 'model.layers.0.self_attn.q_proj';
const Q1 = 'model.layers.1.self_attn.q_proj';

describe('§4.2 target-module matching', () => {
  it('B-212 list target q_proj matches …self_attn.q_proj, not …xq_proj; self_attn.q_proj matches it too', () => {
    const m = model();
    const a = matched(m, lora({ targetModules: ['q_proj'] }));
    expect(a).toEqual([Q0, Q1, 'q_proj']);
    expect(a.some((p) => p.endsWith('xq_proj'))).toBe(false);
    expect(matched(m, lora({ targetModules: ['self_attn.q_proj'] }))).toEqual([Q0, Q1]);
  });

  it("B-213 string target 'q_proj' matches only the root-level q_proj; '.*\\.q_proj' matches every nested q_proj", () => {
    const m = model();
    expect(matched(m, lora({ targetModules: 'q_proj' }))).toEqual(['q_proj']);
    expect(matched(m, lora({ targetModules: '.*\\.q_proj' }))).toEqual([Q0, Q1]);
  });

  it('B-214 excludeModules list removes that module from list targets; an exclusion regex removes every fully matching key', () => {
    const m = model();
    const r = inspectTargets(
      m,
      lora({ targetModules: ['q_proj'], excludeModules: ['layers.1.self_attn.q_proj'] }),
    );
    expect(r.matched.map((t) => t.path)).toEqual([Q0, 'q_proj']);
    expect(r.excluded).toEqual([Q1]);
    const r2 = inspectTargets(
      m,
      lora({ targetModules: ['q_proj', 'v_proj'], excludeModules: 'model\\.layers\\.\\d+\\.self_attn\\..*' }),
    );
    expect(r2.matched.map((t) => t.path)).toEqual(['q_proj']);
    expect(r2.excluded).toHaveLength(4);
  });

  it('B-215 a module listed in modulesToSave is not wrapped even when a target matches it', () => {
    const m = model();
    PeftModel.wrap(m, lora({ targetModules: ['q_proj'], modulesToSave: ['layers.1.self_attn.q_proj'] }));
    expect(m.getSubmodule(Q0)).toBeInstanceOf(LoraLinear);
    expect(m.getSubmodule(Q1)).toBeInstanceOf(ModulesToSaveWrapper);
    expect(m.getChild('q_proj')).toBeInstanceOf(LoraLinear);
    expect(matched(model(), lora({ targetModules: ['q_proj'], modulesToSave: ['self_attn'] }))).toEqual([
      'q_proj',
    ]);
  });

  it('B-216 layersToTransform keeps the first numbered segment; layersPattern picks the index after .layers.; misuse → INVALID_CONFIG', () => {
    seed();
    // model.extra.1.layers.0.self_attn.q_proj: first numbered segment 1, index after '.layers.' 0
    const m = new TinyLM();
    const extra = m.getChild('model')!.registerModule('extra', new Module());
    const one = extra.registerModule('1', new Module());
    one.registerModule('layers', new TinyLM().getChild('model')!.getChild('layers')!);
    const all = matched(m, lora({ targetModules: ['q_proj'] }));
    expect(all).toHaveLength(4);
    expect(matched(m, lora({ targetModules: ['q_proj'], layersToTransform: [0] }))).toEqual([Q0]);
    expect(matched(m, lora({ targetModules: ['q_proj'], layersToTransform: 1 }))).toEqual([
      Q1,
      'model.extra.1.layers.0.self_attn.q_proj',
      'model.extra.1.layers.1.self_attn.q_proj',
    ]);
    const r = inspectTargets(
      m,
      lora({ targetModules: ['q_proj'], layersToTransform: [0], layersPattern: 'layers' }),
    );
    expect(r.matched.map((t) => t.path)).toEqual([Q0, 'model.extra.1.layers.0.self_attn.q_proj']);
    expect(r.filteredByLayer).toEqual([Q1, 'model.extra.1.layers.1.self_attn.q_proj']);
    const e1 = thrown(() => inspectTargets(m, lora({ targetModules: '.*q_proj', layersToTransform: [0] })));
    expect(e1.code).toBe('INVALID_CONFIG');
    expect(e1.message).toContain('layersToTransform');
    const e2 = thrown(() => PeftModel.wrap(m, lora({ targetModules: ['q_proj'], layersPattern: 'layers' })));
    expect(e2.code).toBe('INVALID_CONFIG');
    expect(e2.message).toContain('layersPattern');
  });

  it('B-217 rankPattern / alphaPattern give r = 4 / α = 32 on one module and the defaults elsewhere; inspectTargets reports the scaling', () => {
    const m = model();
    const cfg = lora({
      targetModules: ['q_proj', 'v_proj'],
      r: 8,
      loraAlpha: 16,
      rankPattern: { 'layers.0.self_attn.q_proj': 4 },
      alphaPattern: { 'layers\\.1\\..*v_proj': 32 },
    });
    const r = inspectTargets(m, cfg);
    const by = new Map(r.matched.map((t) => [t.path, t]));
    expect(by.get(Q0)).toMatchObject({ r: 4, alpha: 16, scaling: 4 });
    expect(by.get(Q1)).toMatchObject({ r: 8, alpha: 16, scaling: 2 });
    expect(by.get('model.layers.1.self_attn.v_proj')).toMatchObject({ r: 8, alpha: 32, scaling: 4 });
    expect(by.get('model.layers.0.self_attn.v_proj')).toMatchObject({ r: 8, alpha: 16, scaling: 2 });
    PeftModel.wrap(m, cfg);
    expect((m.getSubmodule(Q0) as LoraLinear).lora_A.get('default')!.weight.shape).toEqual([4, 8]);
    expect((m.getSubmodule(Q1) as LoraLinear).lora_A.get('default')!.weight.shape).toEqual([8, 8]);
    expect(
      (m.getSubmodule('model.layers.1.self_attn.v_proj') as LoraLinear).info.get('default')!.scaling,
    ).toBe(4);
  });

  it("B-218 'all-linear' wraps every Linear except outputLayerPath and no Embedding; the stored config lists the leaf names", () => {
    seed();
    const m = new TinyLM();
    const linears = m
      .namedModules()
      .filter(([p, x]) => x instanceof Linear && p !== 'lm_head')
      .map(([p]) => p);
    const peft = PeftModel.wrap(m, lora({ targetModules: 'all-linear' }));
    for (const p of linears) expect(m.getSubmodule(p), p).toBeInstanceOf(LoraLinear);
    expect(m.getChild('lm_head')).toBeInstanceOf(Linear);
    expect(m.getSubmodule('model.embed_tokens')).toBeInstanceOf(Embedding);
    expect(m.getSubmodule('model.embed_tokens')).not.toBeInstanceOf(LoraEmbedding);
    expect(peft.peftConfigFor('default').targetModules).toEqual([
      'fc1',
      'fc2',
      'k_proj',
      'o_proj',
      'q_proj',
      'v_proj',
    ]);
  });

  it('B-219 inspectTargets leaves parameter counts, state keys and outputs unchanged', () => {
    const m = model();
    const ids = makeIds();
    const before = { n: m.numParameters(), sd: snapshot(m), y: values(m.forward(ids)) };
    inspectTargets(m, lora({ targetModules: 'all-linear', rankPattern: { q_proj: 2 } }));
    inspectTargets(m, { type: 'ia3', targetModules: ['fc1', 'fc2'], feedforwardModules: ['fc2'] });
    expect(m.numParameters()).toBe(before.n);
    expect(snapshot(m)).toEqual(before.sd);
    expect(values(m.forward(ids))).toEqual(before.y);
    expect(m.namedParameters().every(([, p]) => p.trainable)).toBe(true);
  });

  it("B-220 targets ['q_proj', 'qproj'] → TARGET_NOT_FOUND naming qproj and nothing wrapped; allowPartialMatch wraps q_proj with one warning", () => {
    const m = model();
    const keys = [...m.stateDict().keys()];
    const err = thrown(() => PeftModel.wrap(m, lora({ targetModules: ['q_proj', 'qproj'] })));
    expect(err.code).toBe('TARGET_NOT_FOUND');
    expect(err.message).toContain("'qproj'");
    expect([...m.stateDict().keys()]).toEqual(keys);
    expect(m.getSubmodule(Q0)).toBeInstanceOf(Linear);
    expect(inspectTargets(m, lora({ targetModules: ['q_proj', 'qproj'] })).unmatchedTargets).toEqual([
      'qproj',
    ]);
    const { warnings } = captureLogs(() =>
      PeftModel.wrap(m, lora({ targetModules: ['q_proj', 'qproj'] }), { allowPartialMatch: true }),
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('qproj');
    expect(m.getSubmodule(Q0)).toBeInstanceOf(LoraLinear);
  });

  it('B-221 a regex matching nothing → TARGET_NOT_FOUND naming it, even with allowPartialMatch', () => {
    const m = model();
    for (const allowPartialMatch of [false, true]) {
      const err = thrown(() =>
        PeftModel.wrap(m, lora({ targetModules: '.*\\.nothing_here' }), { allowPartialMatch }),
      );
      expect(err.code).toBe('TARGET_NOT_FOUND');
      expect(err.message).toContain('nothing_here');
    }
  });

  it('B-222 a list target matching a BatchNorm1d → UNSUPPORTED_TARGET naming the path and the type', () => {
    seed();
    const m = new TinyLM({ classifier: true });
    const err = thrown(() => PeftModel.wrap(m, lora({ targetModules: ['norm', 'q_proj'] })));
    expect(err.code).toBe('UNSUPPORTED_TARGET');
    expect(err.message).toContain("'norm'");
    expect(err.message).toContain('BatchNorm1d');
    expect(err.message).toContain('Linear, Embedding');
    expect(m.getChild('norm')).toBeInstanceOf(BatchNorm1d);
    expect(inspectTargets(m, lora({ targetModules: ['norm', 'q_proj'] })).unsupported).toEqual([
      { path: 'norm', kind: 'BatchNorm1d' },
    ]);
  });

  it('B-223 a Python-style (?P<x>q)_proj is accepted and behaves like (?<x>q)_proj; (?P=x) and \\Z are rewritten too', () => {
    const m = model();
    expect(pythonRegexToJs('(?P<x>q)_proj\\Z')).toBe('(?<x>q)_proj$');
    expect(pythonRegexToJs('(?P<x>q)(?P=x)')).toBe('(?<x>q)\\k<x>');
    expect(pythonRegexToJs('a\\\\Z')).toBe('a\\\\Z');
    expect(matched(m, lora({ targetModules: '(?P<x>q)_proj' }))).toEqual(
      matched(m, lora({ targetModules: '(?<x>q)_proj' })),
    );
    expect(matched(m, lora({ targetModules: '.*\\.(?P<x>q)_proj\\Z' }))).toEqual([Q0, Q1]);
    // A backreference needs a backtracking engine: refused by name (patterns run in linear time).
    const backref = thrown(() => inspectTargets(m, lora({ targetModules: '.*\\.(?P<x>[xq])(?P=x)_proj' })));
    expect(backref.code).toBe('INVALID_CONFIG');
    expect(backref.message).toContain('(?P=x)');
    expect(backref.message).toContain('backreference');
    const err = thrown(() => inspectTargets(m, lora({ targetModules: '(unclosed' })));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('(unclosed');
  });

  it('targetModules absent: the model’s defaultLoraTargets are used; with no default → INVALID_CONFIG asking for it', () => {
    const m = model();
    const peft = PeftModel.wrap(m, lora());
    expect(peft.peftConfigFor('default').targetModules).toEqual(['q_proj', 'v_proj']);
    const plain = new Module();
    plain.registerModule('fc', new Linear({ inFeatures: 2, outFeatures: 2 }));
    const err = thrown(() => PeftModel.wrap(plain, lora()));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('targetModules');
  });
});
