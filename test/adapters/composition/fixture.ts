/**
 * A small model for the composition cases: `body` is a host (`Linear(D→D)` then its adapters); with
 * `twoHosts`, a second host `head` follows it.
 */
import { tf, type Tensor } from '../../../src/backend/tf.js';
import '../../../src/index.js';
import { withAdapters } from '../../../src/adapters/host.js';
import type { AdapterModelConfig } from '../../../src/adapters/model.js';
import { withAdapterModel } from '../../../src/io/adapter-model.js';
import { normal } from '../../../src/nn/init.js';
import { Linear } from '../../../src/nn/layers.js';
import { Module } from '../../../src/nn/module.js';
import { createRng, setRng } from '../../../src/rng.js';

export const D = 8;

class BodyBase extends Module {
  static override readonly typeName: string = 'CompositionBodyBase';
  constructor() {
    super();
    this.registerModule('fc', new Linear({ inFeatures: D, outFeatures: D }));
  }
  override forward(x: Tensor): Tensor {
    return this.getChild('fc')!.forward(x) as Tensor;
  }
}

/** The body host: base, then adapters. */
export class BodyHost extends withAdapters(BodyBase) {
  static override readonly typeName: string = 'CompositionBodyHost';
  /** The base output (before adapters). */
  base(x: Tensor): Tensor {
    return super.forward(x);
  }
  override forward(x: Tensor): Tensor {
    return tf.tidy(() => {
      const out = this.base(x);
      return this.isAdapterAvailable() ? this.forwardEnabledAdapters(out) : out;
    });
  }
}

export interface TinyModelConfig extends AdapterModelConfig {
  twoHosts?: boolean;
}

class TinyModelBase extends Module {
  static override readonly typeName: string = 'CompositionTinyModelBase';
  constructor(public cfg: TinyModelConfig) {
    super();
    this.registerModule('body', new BodyHost());
    if (cfg.twoHosts) this.registerModule('head', new BodyHost());
  }
}

/** The model: `body` (default route) and optionally `head`. */
export class TinyModel extends withAdapterModel(TinyModelBase) {
  static override readonly typeName: string = 'CompositionTinyModel';
  constructor(cfg: TinyModelConfig = {}) {
    super(cfg);
    this.adapterModuleNames = cfg.twoHosts ? ['', 'body', 'head'] : ['', 'body'];
    this.defaultAdapterModuleName = 'body';
    this.setupAdapters();
  }
  get body(): BodyHost {
    return this.getChild('body') as BodyHost;
  }
  override forward(x: Tensor): Tensor {
    return tf.tidy(() => {
      const y = this.body.forward(x);
      return this.cfg.twoHosts ? (this.getChild('head') as BodyHost).forward(y) : y;
    });
  }
}

/** A linear adapter config of width D. */
export function linearCfg(
  extra: Record<string, unknown> = {},
): { type: 'linear'; inFeatures: number; dim: number } & Record<string, unknown> {
  return { type: 'linear', inFeatures: D, dim: 4, ...extra };
}

/** Overwrites every parameter of `m` with N(0, 0.5²) draws (adapters start as the identity otherwise). */
export function randomize(m: Module, seed: number): void {
  const rng = createRng(seed);
  for (const p of m.parameters()) p.assign(normal(p.shape, 0.5, rng));
}

/** A model holding linear adapters `names` (randomised), in eval mode. */
export function modelWith(names: string[], opts: { seed?: number; cfg?: TinyModelConfig } = {}): TinyModel {
  setRng(createRng(opts.seed ?? 7));
  const model = new TinyModel(opts.cfg ?? {});
  names.forEach((n, i) => {
    model.addAdapter(n, linearCfg());
    randomize(model.getAdapterModule(n)!, 100 + i);
  });
  model.eval();
  return model;
}

/** `[rows, D]` standard normal input. */
export function input(rows = 3, seed = 0): Tensor {
  return normal([rows, D], 1, createRng(seed));
}
