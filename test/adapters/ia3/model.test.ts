import { describe, expect, it } from 'vitest';
import { ia3Method, parseIa3Config } from '../../../src/adapters/index.js';
import type { TargetPlan } from '../../../src/adapters/tuners/targets.js';
import { Embedding, Linear } from '../../../src/nn/layers.js';
import { thrown } from '../../helpers.js';

const plan = (keys: string[], targetKeys: string[]) => ({ keys, targetKeys }) as unknown as TargetPlan;

describe('the ia3 tuner method', () => {
  it('wraps Linear layers only', () => {
    const cfg0 = parseIa3Config({ type: 'ia3', targetModules: ['fc2'] });
    expect(ia3Method.canWrap(new Linear({ inFeatures: 2, outFeatures: 2 }), cfg0)).toBe(true);
    expect(ia3Method.canWrap(new Embedding({ numEmbeddings: 4, embeddingDim: 2 }), cfg0)).toBe(false);
  });

  it('describeTarget marks feed-forward modules: list entries by path suffix, a string as a full-match regex', () => {
    const list = parseIa3Config({
      type: 'ia3',
      targetModules: ['fc2', 'v_proj'],
      feedforwardModules: ['fc2'],
    });
    expect(ia3Method.describeTarget!(list, 'model.layers.0.mlp.fc2').feedforward).toBe(true);
    expect(ia3Method.describeTarget!(list, 'model.layers.0.self_attn.v_proj').feedforward).toBe(false);
    const regex = parseIa3Config({
      type: 'ia3',
      targetModules: '.*(fc2|v_proj)',
      feedforwardModules: '.*\\.fc2',
    });
    expect(ia3Method.describeTarget!(regex, 'model.layers.0.mlp.fc2').feedforward).toBe(true);
    expect(ia3Method.describeTarget!(regex, 'fc2').feedforward).toBe(false);
    const none = parseIa3Config({ type: 'ia3', targetModules: ['fc2'] });
    expect(ia3Method.describeTarget!(none, 'fc2').feedforward).toBe(false);
  });

  it('checkPlan: feed-forward modules that matched no target → INVALID_CONFIG naming them', () => {
    const cfg = parseIa3Config({ type: 'ia3', targetModules: '.*v_proj', feedforwardModules: '.*fc\\d' });
    const keys = ['a.v_proj', 'a.fc1', 'a.fc2'];
    const e = thrown(() => ia3Method.checkPlan!(plan(keys, ['a.v_proj', 'a.fc1']), cfg, 'ia3'));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain('not targets: a.fc2');
    expect(() => ia3Method.checkPlan!(plan(keys, keys), cfg, 'ia3')).not.toThrow();
  });
});
