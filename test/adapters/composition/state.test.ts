import { describe, expect, it } from 'vitest';
import {
  COMPOSITION_KEY,
  compositionCfgOf,
  ensureCompositionCfg,
} from '../../../src/adapters/composition/state.js';
import type { AdaptersConfig } from '../../../src/adapters/types.js';

describe('composition state in the adapters config', () => {
  it('compositionCfgOf is undefined without a config, without globalCfg, or without the key', () => {
    expect(compositionCfgOf(undefined)).toBeUndefined();
    expect(compositionCfgOf({} as AdaptersConfig)).toBeUndefined();
    expect(compositionCfgOf({ globalCfg: {} } as AdaptersConfig)).toBeUndefined();
  });

  it('ensureCompositionCfg creates the state under globalCfg once and returns the same object after', () => {
    const adapters = {} as AdaptersConfig;
    const first = ensureCompositionCfg(adapters);
    expect(first).toEqual({});
    expect(adapters.globalCfg?.[COMPOSITION_KEY]).toBe(first);
    first.fusions = {};
    expect(ensureCompositionCfg(adapters)).toBe(first);
    expect(compositionCfgOf(adapters)).toBe(first);
  });

  it('ensureCompositionCfg keeps the other globalCfg entries', () => {
    const adapters = { globalCfg: { other: 1 } } as unknown as AdaptersConfig;
    ensureCompositionCfg(adapters);
    expect(adapters.globalCfg).toEqual({ other: 1, [COMPOSITION_KEY]: {} });
  });
});
