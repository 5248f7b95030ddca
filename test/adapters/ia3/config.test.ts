import { describe, expect, it } from 'vitest';
import { parseIa3Config } from '../../../src/adapters/index.js';
import { thrown } from '../../helpers.js';

describe('parseIa3Config', () => {
  it('writes every default out and returns a fresh copy', () => {
    const cfg = { type: 'ia3', targetModules: ['v_proj', 'fc2'], feedforwardModules: ['fc2'] };
    const out = parseIa3Config(cfg);
    expect(out).toMatchObject({
      type: 'ia3',
      targetModules: ['v_proj', 'fc2'],
      feedforwardModules: ['fc2'],
      excludeModules: null,
      fanInFanOut: false,
      modulesToSave: null,
      initIa3Weights: true,
    });
    expect(out.targetModules).not.toBe(cfg.targetModules);
  });

  it('list feedforwardModules outside list targetModules → INVALID_CONFIG naming them and the targets', () => {
    const e = thrown(() =>
      parseIa3Config({ type: 'ia3', targetModules: ['v_proj'], feedforwardModules: ['fc2', 'v_proj'] }),
    );
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain('feedforwardModules must be a subset');
    expect(e.message).toContain('not targets: fc2');
    expect(e.message).toContain('targets: v_proj');
  });

  it('a bad feedforwardModules regex, an unknown field, or a non-object → INVALID_CONFIG', () => {
    const bad = thrown(() =>
      parseIa3Config({ type: 'ia3', targetModules: ['fc2'], feedforwardModules: '((' }),
    );
    expect(bad.code).toBe('INVALID_CONFIG');
    expect(bad.message).toContain('feedforwardModules');
    const unknown = thrown(() => parseIa3Config({ type: 'ia3', r: 8 }));
    expect(unknown.code).toBe('INVALID_CONFIG');
    expect(unknown.message).toContain('r');
    expect(thrown(() => parseIa3Config('ia3')).code).toBe('INVALID_CONFIG');
  });
});
