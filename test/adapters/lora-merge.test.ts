/** SPEC §4.6 merge and unmerge (B-251 … B-258). */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import { LoraEmbedding, LoraLinear, PeftModel, type LoraConfig } from '../../src/adapters/index.js';
import { Linear } from '../../src/nn/layers.js';
import type { Module } from '../../src/nn/module.js';
import { TestModel, cfgPre, makeX, routing } from '../fixtures/spec-models.js';
import { Holder, TinyLM, makeIds, makeInput, randomize, seed, snapshot } from '../fixtures/lora-models.js';
import { captureLogs, expectClose, maxAbsDiff, thrown, values } from '../helpers.js';

const lora = (extra: Partial<LoraConfig> = {}): LoraConfig => ({ type: 'lora', ...extra });

/** Sets every LoRA factor (and lora_B's bias) to seeded non-zero values. */
function randomizeLora(m: Module, s = 200): void {
  let i = 0;
  for (const [key, p] of m.namedParameters())
    if (/\.lora_(A|B|embedding_A|embedding_B)\b/.test(key)) randomize(p, s + i++, 0.3);
}

/** Max |W| over the base weights, for relative tolerances. */
function maxAbs(t: Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(t)).dataSync()[0]!);
}

/** A Linear stored `[in, out]` and applied as `x·W + b` (GPT-2's Conv1D), square so its bias fits. */
class Conv1D extends Linear {
  static override readonly typeName: string = 'Conv1D';
  override forward(x: Tensor): Tensor {
    return tf.tidy(() => tf.add(tf.matMul(x, this.weight), this.bias!));
  }
}

function lmWithAdapters(extra: Partial<LoraConfig> = {}) {
  seed();
  const model = new TinyLM();
  model.eval();
  const peft = PeftModel.wrap(
    model,
    lora({ targetModules: ['q_proj', 'v_proj', 'fc1', 'embed_tokens'], r: 4, loraAlpha: 8, ...extra }),
    {
      adapterName: 'a',
    },
  );
  peft.addAdapter('b', lora({ targetModules: ['q_proj', 'fc2'], r: 2, loraAlpha: 2, useRslora: true }));
  randomizeLora(model);
  return { model, peft, ids: makeIds() };
}

describe('§4.6 merge and unmerge', () => {
  it('B-251 after mergeAdapters() outputs match the unmerged outputs within 1e-5 and the branch is not applied twice', () => {
    const { model, peft, ids } = lmWithAdapters();
    const y = peft.forward(ids);
    const base = peft.withAdaptersDisabled(() => peft.forward(ids));
    expect(maxAbsDiff(y, base)).toBeGreaterThan(1e-2);
    peft.mergeAdapters();
    expect(peft.isMerged('a') && peft.isMerged('b')).toBe(true);
    expectClose(peft.forward(ids), y, 1e-5);
    // merged weights differ from the originals, so a doubled branch would show
    expect((model.getSubmodule('model.layers.0.self_attn.q_proj') as LoraLinear).mergedAdapters).toEqual([
      'a',
      'b',
    ]);
  });

  it('B-252 unmergeAdapters() restores every weight within 1e-6 × max(1, max|W|)', () => {
    const { model, peft } = lmWithAdapters();
    const before = new Map(model.namedParameters().map(([k, p]) => [k, p.clone()]));
    peft.mergeAdapters();
    peft.unmergeAdapters();
    for (const [k, p] of model.namedParameters()) {
      const w0 = before.get(k)!;
      expect(maxAbsDiff(p, w0), k).toBeLessThanOrEqual(1e-6 * Math.max(1, maxAbs(w0)));
    }
    expect(peft.isMerged('a')).toBe(false);
  });

  it('B-253 with fanInFanOut the merged delta is the transpose of the non-fanInFanOut delta', () => {
    const deltas: Tensor[] = [];
    for (const fanInFanOut of [false, true]) {
      seed(4);
      const lin = fanInFanOut
        ? new Conv1D({ inFeatures: 5, outFeatures: 5 })
        : new Linear({ inFeatures: 5, outFeatures: 5 });
      const model = new Holder({ lin });
      const peft = PeftModel.wrap(model, lora({ targetModules: ['lin'], r: 2, loraAlpha: 3, fanInFanOut }));
      const w = model.getSubmodule('lin') as LoraLinear;
      randomize(w.lora_A.get('default')!.weight, 1);
      randomize(w.lora_B.get('default')!.weight, 2);
      const x = makeInput(3, 5);
      const y = peft.forward(x);
      const w0 = lin.weight.clone();
      peft.mergeAdapters();
      expectClose(peft.forward(x), y, 1e-5); // the layout is honoured in forward and in merge
      deltas.push(tf.sub(lin.weight, w0));
    }
    expectClose(deltas[1]!, tf.transpose(deltas[0]!), 1e-6);
  });

  it('B-254 loraBias: merge also updates the base bias by s·b_B', () => {
    seed();
    const model = new Holder({ lin: new Linear({ inFeatures: 6, outFeatures: 4 }) });
    const peft = PeftModel.wrap(model, lora({ targetModules: ['lin'], r: 2, loraAlpha: 6, loraBias: true }));
    const w = model.getSubmodule('lin') as LoraLinear;
    randomizeLora(model);
    const bB = w.lora_B.get('default')!.bias!;
    expect(maxAbs(bB)).toBeGreaterThan(0);
    const b0 = w.bias!.clone();
    const x = makeInput(3, 6);
    const y = peft.forward(x);
    peft.mergeAdapters();
    expectClose(w.bias!, tf.add(b0, tf.mul(bB, 3)), 1e-6);
    expectClose(peft.forward(x), y, 1e-5);
    peft.unmergeAdapters();
    expectClose(w.bias!, b0, 1e-6);
  });

  it('B-255 merging twice warns and changes nothing; unmerging with nothing merged warns', () => {
    const { model, peft } = lmWithAdapters();
    peft.mergeAdapters(['a']);
    const sd = snapshot(model);
    const { warnings } = captureLogs(() => peft.mergeAdapters(['a']));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('a');
    expect(snapshot(model)).toEqual(sd);
    peft.unmergeAdapters();
    const again = captureLogs(() => peft.unmergeAdapters());
    expect(again.warnings).toHaveLength(1);
    expect(again.warnings[0]).toMatch(/no adapter is merged/);
  });

  it('B-256 safeMerge with a NaN in lora_B → NON_FINITE_MERGE; every base weight is bitwise unchanged', () => {
    const { model, peft, ids } = lmWithAdapters();
    const y = values(peft.forward(ids));
    // the last q_proj in module order gets the NaN, so earlier layers have been merged when it fails
    const w = model.getSubmodule('model.layers.1.self_attn.q_proj') as LoraLinear;
    const B = w.lora_B.get('a')!.weight;
    const bad = values(B);
    bad[3] = NaN;
    B.assign(tf.tensor(bad, B.shape));
    const sd = snapshot(model);
    const err = thrown(() => peft.mergeAdapters(undefined, { safeMerge: true }));
    expect(err.code).toBe('NON_FINITE_MERGE');
    expect(err.message).toContain('model.layers.1.self_attn.q_proj');
    expect(err.message).toContain("'a'");
    expect(snapshot(model)).toEqual(sd);
    expect(peft.isMerged('a') || peft.isMerged('b')).toBe(false);
    bad[3] = 0.1;
    B.assign(tf.tensor(bad, B.shape));
    void y;
  });

  it('B-257 mergeAndUnload() returns the model with the original keys and the LoRA outputs; unload() returns the original base', () => {
    for (const mode of ['merge', 'unload'] as const) {
      seed();
      const model = new TinyLM();
      model.eval();
      const ids = makeIds();
      const keys = [...model.stateDict().keys()];
      const y0 = model.forward(ids);
      const peft = PeftModel.wrap(
        model,
        lora({ targetModules: ['q_proj', 'v_proj', 'embed_tokens'], r: 4, useDora: false }),
      );
      randomizeLora(model);
      const y = peft.forward(ids);
      const result = mode === 'merge' ? peft.mergeAndUnload() : peft.unload();
      expect(result).toBe(model);
      expect([...result.stateDict().keys()]).toEqual(keys);
      expect(result.getSubmodule('model.layers.0.self_attn.q_proj')).toBeInstanceOf(Linear);
      expect(result.getSubmodule('model.layers.0.self_attn.q_proj')).not.toBeInstanceOf(LoraLinear);
      expect(result.getSubmodule('model.embed_tokens')).not.toBeInstanceOf(LoraEmbedding);
      expectClose(result.forward(ids), mode === 'merge' ? y : y0, 1e-5);
      expect(peft.adapterNames()).toEqual([]);
    }
  });

  it('B-257 mergeAndUnload keeps the running adapter’s modulesToSave copy under the original keys', () => {
    seed();
    const model = new TinyLM({ classifier: true });
    model.eval();
    const ids = makeIds();
    const keys = [...model.stateDict().keys()];
    const peft = PeftModel.wrap(model, lora({ targetModules: ['q_proj'], modulesToSave: ['classifier'] }));
    randomizeLora(model);
    randomize(
      (
        model.getChild('classifier') as unknown as { modules_to_save: { get(n: string): Linear } }
      ).modules_to_save.get('default').weight,
      9,
    );
    const y = peft.forward(ids);
    const result = peft.mergeAndUnload();
    expect([...result.stateDict().keys()]).toEqual(keys);
    expect(result.getChild('classifier')).toBeInstanceOf(Linear);
    expectClose(result.forward(ids), y, 1e-5);
  });

  it('B-258 mergeAdapters naming a linear bottleneck adapter → MERGE_UNSUPPORTED naming it and its type', () => {
    const m = new TestModel(routing('enc'));
    m.addAdapter('adapter_0', cfgPre);
    const peft = PeftModel.wrap(m, lora({ targetModules: ['fc'], r: 2 }));
    const err = thrown(() => peft.mergeAdapters(['adapter_0']));
    expect(err.code).toBe('MERGE_UNSUPPORTED');
    expect(err.message).toContain('adapter_0');
    expect(err.message).toContain('linear');
    expect(thrown(() => peft.mergeAdapters(['nope'])).code).toBe('UNKNOWN_ADAPTER');
    void makeX;
  });
});
