/** `Module.getSubmodule` / `setSubmodule` (what PyTorch calls `get_submodule` / `set_submodule`). */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import { Linear } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import { thrown } from '../helpers.js';

class Block extends Module {
  static override readonly typeName: string = 'Block';
  fc = this.registerModule('fc', new Linear({ inFeatures: 2, outFeatures: 2 }));
  heads: Linear[] = [this.registerModule('h0', new Linear({ inFeatures: 2, outFeatures: 2 }))];
  override forward(x: Tensor): Tensor {
    return this.fc.forward(x);
  }
}

class Net extends Module {
  static override readonly typeName: string = 'Net';
  block = this.registerModule('block', new Block());
  out = this.registerModule('out', new Linear({ inFeatures: 2, outFeatures: 1 }));
}

describe('Module.getSubmodule / setSubmodule', () => {
  it('finds modules by dotted path; the empty path is the module itself; a missing path is undefined', () => {
    const net = new Net();
    expect(net.getSubmodule('')).toBe(net);
    expect(net.getSubmodule('block.fc')).toBe(net.block.fc);
    expect(net.getSubmodule('block.nope')).toBeUndefined();
    expect(net.getSubmodule('nope.fc')).toBeUndefined();
  });

  it('replaces in place (same order, same state keys) and rebinds the fields forward reads', () => {
    const net = new Net();
    const old = net.block.fc;
    const fresh = new Linear({ inFeatures: 2, outFeatures: 2 });
    const keys = net.namedModules().map(([p]) => p);
    expect(net.setSubmodule('block.fc', fresh)).toBe(old);
    expect(net.namedModules().map(([p]) => p)).toEqual(keys);
    expect(net.getSubmodule('block.fc')).toBe(fresh);
    expect(net.block.fc).toBe(fresh); // the field, not only the registry
    tf.tidy(() => {
      const x = tf.ones([1, 2]);
      expect(Array.from(net.block.forward(x).dataSync())).toEqual(
        Array.from((fresh.forward(x) as Tensor).dataSync()),
      );
    });
    const h = new Linear({ inFeatures: 2, outFeatures: 2 });
    net.setSubmodule('block.h0', h);
    expect(net.block.heads).toEqual([h]); // arrays of children too
    net.setSubmodule('out', old);
    expect(net.out).toBe(old);
  });

  it('a missing module or parent → MISSING_SUBMODULE naming the path', () => {
    const net = new Net();
    const e = thrown(() => net.setSubmodule('block.nope', new Linear({ inFeatures: 2, outFeatures: 2 })));
    expect(e.code).toBe('MISSING_SUBMODULE');
    expect(e.message).toContain("'block.nope'");
    expect(thrown(() => net.setSubmodule('x.fc', new Module())).message).toContain("no module at 'x'");
  });
});
