import { describe, expect, it } from 'vitest';
import { ADAPTER_HOST, asHost, isAdapterHost } from '../../src/adapters/host-brand.js';
import { Module } from '../../src/nn/module.js';
import { AdapterHost, Host } from '../fixtures/spec-models.js';

describe('adapter host brand', () => {
  it('a withAdapters host is branded; its plain base class and non-objects are not', () => {
    expect(isAdapterHost(new AdapterHost())).toBe(true);
    expect(isAdapterHost(new Host())).toBe(false);
    expect(isAdapterHost(new Module())).toBe(false);
    for (const v of [null, undefined, 42, 'host']) expect(isAdapterHost(v)).toBe(false);
  });

  it('the brand survives a prototype swap (only the symbol is checked, not the class)', () => {
    const m = new Module();
    Object.setPrototypeOf(m, AdapterHost.prototype);
    expect(isAdapterHost(m)).toBe(true);
    expect(isAdapterHost({ [ADAPTER_HOST]: 'yes' })).toBe(false);
  });

  it('asHost returns the module itself for a host and undefined otherwise', () => {
    const h = new AdapterHost();
    expect(asHost(h)).toBe(h);
    expect(asHost(new Host())).toBeUndefined();
  });
});
