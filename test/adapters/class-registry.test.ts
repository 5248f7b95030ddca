import { describe, expect, it } from 'vitest';
import {
  getRegisteredAdapter,
  registerAdapter,
  updateModuleClassWithAdapterClass,
} from '../../src/adapters/index.js';
import { Module } from '../../src/nn/module.js';
import { AdapterHost, Host, makeX, seed } from '../fixtures/spec-models.js';
import { meanAbsDiff, thrown } from '../helpers.js';

describe('adapter class registry (SPEC §2.4)', () => {
  it('B-001 getRegisteredAdapter by base type name returns the registered pair', () => {
    const rec = getRegisteredAdapter('Host')!;
    expect(rec.baseClass).toBe(Host);
    expect(rec.adapterClass).toBe(AdapterHost);
    expect(rec.baseTypeName).toBe('Host');
    expect(rec.adapterTypeName).toBe('AdapterHost');
  });

  it('B-002 getRegisteredAdapter by base class returns the same record', () => {
    expect(getRegisteredAdapter(Host)).toBe(getRegisteredAdapter('Host'));
  });

  it('B-003 getRegisteredAdapter by adapter class maps back to the base', () => {
    const rec = getRegisteredAdapter(AdapterHost)!;
    expect(rec).toBe(getRegisteredAdapter('Host'));
    expect(rec.baseClass).toBe(Host);
  });

  it('B-004 an unregistered class or name returns undefined', () => {
    class Other extends Module {
      static override readonly typeName: string = 'Other';
    }
    expect(getRegisteredAdapter(Other)).toBeUndefined();
    expect(getRegisteredAdapter('Other')).toBeUndefined();
  });

  it('B-005 a second adapter class for Host throws REGISTRY_CONFLICT naming Host', () => {
    class AdapterHost2 extends AdapterHost {
      static override readonly typeName: string = 'AdapterHost2';
    }
    const err = thrown(() => registerAdapter(Host, AdapterHost2));
    expect(err.code).toBe('REGISTRY_CONFLICT');
    expect(err.message).toContain('Host');
    expect(getRegisteredAdapter(Host)!.adapterClass).toBe(AdapterHost);
  });

  it('B-006 an adapter class that does not extend the base throws REGISTRY_CONFLICT naming both', () => {
    class Base2 extends Module {
      static override readonly typeName: string = 'Base2';
    }
    class NotASubclass extends Module {
      static override readonly typeName: string = 'NotASubclass';
    }
    const err = thrown(() => registerAdapter(Base2, NotASubclass));
    expect(err.code).toBe('REGISTRY_CONFLICT');
    expect(err.message).toContain('Base2');
    expect(err.message).toContain('NotASubclass');
    expect(getRegisteredAdapter(Base2)).toBeUndefined();
  });

  it('B-007 updateModuleClassWithAdapterClass swaps the class in place and rewrites config types', () => {
    seed();
    const h = new Host();
    h.eval();
    const x = makeX();
    const before = h.forward(x);
    const sdBefore = [...h.stateDict().keys()];
    const cfg = { type: 'Host', nested: { inner: [{ type: 'Host' }, { type: 'Other' }] } };
    updateModuleClassWithAdapterClass(h, cfg);
    expect(h).toBeInstanceOf(AdapterHost);
    expect([...h.stateDict().keys()]).toEqual(sdBefore);
    expect(meanAbsDiff(h.forward(x), before)).toBe(0);
    expect(cfg).toEqual({
      type: 'AdapterHost',
      nested: { inner: [{ type: 'AdapterHost' }, { type: 'Other' }] },
    });
    expect(h.training).toBe(false);

    const h2 = new Host();
    const cfg2 = { type: 'Host' };
    updateModuleClassWithAdapterClass(h2, cfg2, { updateConfig: false });
    expect(h2).toBeInstanceOf(AdapterHost);
    expect(cfg2).toEqual({ type: 'Host' });

    const host = new AdapterHost();
    const proto = Object.getPrototypeOf(host);
    const cfg3 = { type: 'Host' };
    updateModuleClassWithAdapterClass(host, cfg3);
    expect(Object.getPrototypeOf(host)).toBe(proto);
    expect(cfg3).toEqual({ type: 'Host' });
  });
});
