/** The heads fields of an adapter config (SPEC §5.2): split off before the kind's schema, validated. */
import { describe, expect, it } from 'vitest';
import { isEmptyHeads, splitHeadsConfig } from '../../../src/adapters/heads/config.js';
import { thrown } from '../../helpers.js';

describe('heads config', () => {
  it('splits modulesToSave and extendOutput from the kind fields without touching the caller object', () => {
    const cfg = {
      type: 'linear',
      inFeatures: 8,
      dim: 2,
      modulesToSave: ['head'],
      extendOutput: { module: 'head', newLabels: ['epo'] },
    };
    const copy = structuredClone(cfg);
    const { kindConfig, heads } = splitHeadsConfig(cfg, 'addAdapter');
    expect(kindConfig).toEqual({ type: 'linear', inFeatures: 8, dim: 2 });
    expect(heads).toEqual({ modulesToSave: ['head'], extendOutput: { module: 'head', newLabels: ['epo'] } });
    expect(cfg).toEqual(copy);
    expect(isEmptyHeads(heads)).toBe(false);
    const none = splitHeadsConfig({ type: 'linear', modulesToSave: null }, 'x').heads;
    expect(none).toEqual({});
    expect(isEmptyHeads(none)).toBe(true);
  });

  it('bad heads fields → INVALID_CONFIG naming the field and what it accepts', () => {
    const e1 = thrown(() => splitHeadsConfig({ type: 'linear', modulesToSave: 'head' }, 'addAdapter'));
    expect(e1.code).toBe('INVALID_CONFIG');
    expect(e1.message).toContain("'modulesToSave'");
    expect(e1.message).toContain('list of module paths');
    const e2 = thrown(() =>
      splitHeadsConfig({ type: 'linear', extendOutput: { module: 'head', newLabels: [] } }, 'addAdapter'),
    );
    expect(e2.code).toBe('INVALID_CONFIG');
    expect(e2.message).toContain("'extendOutput'");
    const e3 = thrown(() =>
      splitHeadsConfig({ type: 'linear', extendOutput: { module: 'head', labels: ['a'] } }, 'addAdapter'),
    );
    expect(e3.code).toBe('INVALID_CONFIG');
  });
});
