import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MODEL_GUID,
  modelGuidOf,
  setModelGuid,
  shareModelGuid,
} from '../../src/adapters/model-guid.js';
import { Linear, Sequential } from '../../src/nn/layers.js';
import { AdapterHost, cfgPre } from '../fixtures/spec-models.js';

const tree = () =>
  new Sequential(
    new Linear({ inFeatures: 2, outFeatures: 2 }),
    new Linear({ inFeatures: 2, outFeatures: 2 }),
  );

describe('model GUID (the auxiliary-tensor registry key)', () => {
  it("a module outside any model has 'default'; setModelGuid sets one module, or its whole subtree", () => {
    const seq = tree();
    expect(modelGuidOf(seq)).toBe(DEFAULT_MODEL_GUID);
    setModelGuid(seq, 'm1');
    expect(modelGuidOf(seq)).toBe('m1');
    expect(modelGuidOf(seq.getChild('0')!)).toBe(DEFAULT_MODEL_GUID);
    setModelGuid(seq, 'm2', { subtree: true });
    expect(seq.namedModules().map(([, m]) => modelGuidOf(m))).toEqual(['m2', 'm2', 'm2']);
  });

  it('shareModelGuid puts a module in another one’s model; an attached adapter joins its host’s model, subtree included', () => {
    const a = tree();
    const b = new Linear({ inFeatures: 2, outFeatures: 2 });
    setModelGuid(a, 'm3');
    shareModelGuid(a, b);
    expect(modelGuidOf(b)).toBe('m3');

    const host = new AdapterHost();
    setModelGuid(host, 'm4');
    host.addAdapter('a0', cfgPre);
    const adapter = host.getAdapterModule('a0')!;
    expect(adapter.namedModules().every(([, m]) => modelGuidOf(m) === 'm4')).toBe(true);
  });
});
