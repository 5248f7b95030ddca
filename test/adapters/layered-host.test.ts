/**
 * SPEC §3.9 Layered and attention hosts (B-157 … B-166): fan-out hosts (§2.7 "Layered hosts"),
 * blocks with the `'mha'` and `'post'` insertion points (§2.7 "Attention hosts"), on the layered
 * `AdapterHost` stack of `fixtures/layered.ts` and the conformer-style fixtures of
 * `fixtures/conformer.ts`.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import {
  LinearAdapter,
  RelPositionMultiHeadAttentionAdapter,
  TransformerDecoderAdapter,
  TransformerDecoderBlockAdapter,
  TransformerEncoderAdapter,
  TransformerEncoderBlockAdapter,
  TransformerMultiHeadAttentionAdapter,
  buildAdapter,
  isAdapterHost,
  type AdapterConfig,
  type AdapterHostModule,
  type AdapterModule,
} from '../../src/adapters/index.js';
import { BatchNorm } from '../../src/nn/layers.js';
import type { Module } from '../../src/nn/module.js';
import { normal } from '../../src/nn/init.js';
import { createRng } from '../../src/rng.js';
import { cfgPost, cfgPre, makeX, seed } from '../fixtures/spec-models.js';
import { LayeredEncoder, LayeredModel } from '../fixtures/layered.js';
import {
  ConformerEncoderAdapter,
  ConformerLayerAdapter,
  ConformerModel,
  EncDecTransfModel,
  FrameHostAdapter,
  makeSeq,
  type ConformerModelConfig,
} from '../fixtures/conformer.js';
import { captureLogs, meanAbsDiff, thrown } from '../helpers.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** Parameter count of one `linear` adapter: `2·in·dim + 2·in` (SPEC §2.9.2). */
const linearCount = (inF: number, dim: number) => 2 * inF * dim + 2 * inF;

/**
 * Parameter count of one `relPositionMultiHeadAttention` adapter (SPEC §2.9.3) of width W and
 * projected width P: `pre_norm` 2W, `linear_q|k|v` 3(PW + P), `linear_out` WP + W, `linear_pos` PW,
 * `pos_bias_u|v` 2P.
 */
const relPosCount = (w: number, p = w) => 2 * w + 3 * (p * w + p) + (w * p + w) + p * w + 2 * p;

/** A conformer attention config (`relPositionMultiHeadAttention` unless `type` says otherwise). */
function conformerAtt(nFeat: number, nHead: number, extra: Record<string, unknown> = {}): AdapterConfig {
  return { type: 'relPositionMultiHeadAttention', nHead, nFeat, dropoutRate: 0, ...extra } as AdapterConfig;
}

/** A transformer attention config. */
function transformerAtt(
  hiddenSize: number,
  numAttentionHeads: number,
  extra: Record<string, unknown> = {},
): AdapterConfig {
  return { type: 'transformerMultiHeadAttention', hiddenSize, numAttentionHeads, ...extra } as AdapterConfig;
}

/** A `linear` config of width `inFeatures`. */
function lin(inFeatures: number, dim = 8, extra: Record<string, unknown> = {}): AdapterConfig {
  return { type: 'linear', inFeatures, dim, ...extra } as AdapterConfig;
}

/** Asserts `y` equals `y0` ("unchanged": mean absolute difference < 1e-5). */
function expectUnchanged(y: Tensor, y0: Tensor): void {
  expect(y.shape).toEqual(y0.shape);
  expect(meanAbsDiff(y, y0)).toBeLessThan(1e-5);
}

/** Asserts `y` differs from `y0` (the adapters are in the path) and is finite. */
function expectChanged(y: Tensor, y0: Tensor): void {
  expect(y.shape).toEqual(y0.shape);
  expect(meanAbsDiff(y, y0)).toBeGreaterThan(1e-4);
  expect(tf.tidy(() => tf.all(tf.isFinite(y)).dataSync()[0])).toBe(1);
}

/** Every adapter module in `root`'s subtree, with its path (`….adapter_layer.<name>`). */
function adaptersIn(root: Module): Array<[string, Module]> {
  return root.namedModules().filter(([p]) => /(^|\.)adapter_layer\.[^.]+$/.test(p));
}

/** The adapters named `name` in `root`'s subtree. */
function adaptersNamed(root: Module, name: string): Module[] {
  return adaptersIn(root)
    .filter(([p]) => p.endsWith(`adapter_layer.${name}`))
    .map(([, m]) => m);
}

/** Total parameters held under `adapter_layer` children in `root`'s subtree. */
function adapterParams(root: Module): number {
  return adaptersIn(root).reduce((n, [, m]) => n + m.numParameters(), 0);
}

/** Overwrites every parameter of `m` with small random values, so its output is no longer zero. */
function perturb(m: Module, s = 7): void {
  const rng = createRng(s);
  for (const p of m.parameters()) {
    tf.tidy(() => p.assign(tf.mul(normal([...p.shape], 1, rng), 0.1)));
  }
}

/** Perturbs every adapter in `root`'s subtree. */
function perturbAdapters(root: Module): void {
  adaptersIn(root).forEach(([, m], i) => perturb(m, 100 + i));
}

/** An encoder-decoder model whose transformer stacks were upgraded with `replaceAdapterCompatibleModules()`. */
function encDecModel(): EncDecTransfModel {
  const m = new EncDecTransfModel({ width: 16 });
  m.replaceAdapterCompatibleModules();
  return m;
}

/** The adapter-layer hosts of a layered module (`adapterLayers()`). */
function layersOf(m: Module): AdapterHostModule[] {
  return (m as unknown as { adapterLayers(): AdapterHostModule[] }).adapterLayers();
}

/** The insertion points of adapter `name` on an attention host. */
function locations(host: unknown, name: string): string[] {
  return (host as { adapterLocations(n: string): string[] }).adapterLocations(name);
}

beforeEach(() => seed());

// ---------------------------------------------------------------------------------------------

describe('layered and attention hosts (SPEC §2.7, §3.9)', () => {
  describe('B-157 parameter counts on layered hosts', () => {
    it.each([1, 3])(
      'B-157 a linear adapter on a layered host of %i layer(s) adds N × its count, held by every layer',
      (n) => {
        const enc = new LayeredEncoder(n, 50);
        const before = enc.numParameters();
        enc.addAdapter('adapter_0', cfgPre);
        expect(linearCount(50, 100)).toBe(10_100);
        expect(enc.numParameters() - before).toBe(n * 10_100);
        expect(enc.hostLayers.map((l) => l.heldAdapterNames())).toEqual(
          Array.from({ length: n }, () => ['adapter_0']),
        );
      },
    );

    it.each([1, 3])(
      'B-157 a relPositionMultiHeadAttention adapter on a layered conformer host of %i layer(s) adds N × its count',
      (n) => {
        const cfg = conformerAtt(32, 4);
        const single = buildAdapter(cfg).numParameters();
        expect(single).toBe(relPosCount(32)); // 5 376
        const enc = new ConformerEncoderAdapter({ width: 32, numLayers: n });
        const before = enc.numParameters();
        enc.addAdapter('adapter_0', cfg);
        expect(enc.numParameters() - before).toBe(n * single);
        for (const layer of enc.hostLayers) {
          expect(layer.getAdapterModule('adapter_0')).toBeInstanceOf(RelPositionMultiHeadAttentionAdapter);
        }
      },
    );

    it('B-157 encoder:adapter_0 on a model with a layered encoder adds N × the count (linear and rel-pos attention); nothing elsewhere', () => {
      const m = new LayeredModel({ layers: 3 });
      const before = m.numParameters();
      m.addAdapter('encoder:adapter_0', cfgPre);
      expect(m.numParameters() - before).toBe(3 * 10_100);
      expect(m.decoder.isAdapterAvailable()).toBe(false);
      expect(m.encoder.hostLayers.every((l) => l.heldAdapterNames().join() === 'adapter_0')).toBe(true);

      const c = new ConformerModel({ width: 32, layers: 3 });
      const before2 = c.numParameters();
      c.addAdapter('encoder:adapter_0', conformerAtt(32, 4));
      expect(c.numParameters() - before2).toBe(3 * relPosCount(32));
      expect(c.decoder.isAdapterAvailable()).toBe(false);
      expect(c.joint.isAdapterAvailable()).toBe(false);
      expect(adapterParams(c.encoder)).toBe(3 * relPosCount(32));
    });
  });

  describe('B-158 input-size correction', () => {
    it('B-158 inFeatures is overwritten with the layered host width (info log); the caller config is untouched', () => {
      const enc = new LayeredEncoder(2, 50);
      const cfg = { ...cfgPre, inFeatures: 7 };
      const { infos } = captureLogs(() => enc.addAdapter('a', cfg));
      expect(cfg.inFeatures).toBe(7);
      for (const layer of enc.hostLayers) {
        expect(layer.getAdapterCfg('a')?.inFeatures).toBe(50);
        expect(layer.getAdapterModule('a')!.stateDict().get('module.1.weight')!.shape).toEqual([100, 50]);
      }
      expect(infos.some((m) => m.includes('inFeatures') && m.includes('50'))).toBe(true);
      expect(enc.numParameters() - new LayeredEncoder(2, 50).numParameters()).toBe(2 * linearCount(50, 100));
      enc.eval();
      expect(enc.forward(makeX()).shape).toEqual([2, 50]);
    });

    it('B-158 nFeat (conformer attention) is overwritten with the width', () => {
      const enc = new ConformerEncoderAdapter({ width: 32, numLayers: 2 });
      const cfg = conformerAtt(8, 4);
      enc.addAdapter('att', cfg);
      expect((cfg as unknown as { nFeat: number }).nFeat).toBe(8);
      for (const layer of enc.hostLayers) {
        expect(layer.getAdapterCfg('att')?.nFeat).toBe(32);
        const a = layer.getAdapterModule('att') as RelPositionMultiHeadAttentionAdapter;
        expect(a.nFeat).toBe(32);
        expect(a.stateDict().get('linear_q.weight')!.shape).toEqual([32, 32]);
      }
      const x = makeSeq(2, 5, 32);
      enc.eval();
      expect(enc.forward(x, [5, 3]).shape).toEqual([2, 5, 32]);
    });

    it('B-158 hiddenSize (transformer attention) is overwritten with dModel on an upgraded TransformerEncoder', () => {
      const m = encDecModel();
      const te = m.getChild('transf_encoder')!;
      expect(te).toBeInstanceOf(TransformerEncoderAdapter);
      m.addAdapter('transf_encoder:att', transformerAtt(6, 2));
      for (const block of layersOf(te)) {
        expect(block.getAdapterCfg('att')?.hiddenSize).toBe(16);
        expect(block.getAdapterModule('att')!.stateDict().get('query_net.weight')!.shape).toEqual([16, 16]);
      }
    });

    it('B-158 a config with none of inFeatures, nFeat, hiddenSize → INVALID_CONFIG naming the three; nothing added', () => {
      const enc = new LayeredEncoder(2, 50);
      for (const cfg of [
        { type: 'positionalEncoding', dModel: 50 },
        { type: 'linear', dim: 8 },
      ] as AdapterConfig[]) {
        const err = thrown(() => enc.addAdapter('p', cfg));
        expect(err.code).toBe('INVALID_CONFIG');
        for (const f of ['inFeatures', 'nFeat', 'hiddenSize']) expect(err.message).toContain(f);
        expect(enc.isAdapterAvailable()).toBe(false);
      }
      // Through a model: the failed add leaves the config and the count as they were.
      const m = new LayeredModel({ layers: 2 });
      m.addAdapter('adapter_0', cfgPre);
      const cfgBefore = structuredClone(m.cfg.adapters);
      const count = m.numParameters();
      const err = thrown(() =>
        m.addAdapter('encoder:p', { type: 'positionalEncoding', dModel: 50 } as AdapterConfig),
      );
      expect(err.code).toBe('INVALID_CONFIG');
      expect(err.message).toContain('hiddenSize');
      expect(m.cfg.adapters).toEqual(cfgBefore);
      expect(m.numParameters()).toBe(count);
      expect(m.encoder.hostLayers.every((l) => l.heldAdapterNames().join() === 'adapter_0')).toBe(true);
    });
  });

  describe('B-159 layered encoder in a model, eval mode: outputs unchanged', () => {
    const NAMES = ['adapter_0', 'encoder:adapter_0', 'decoder:adapter_0'];
    const cases = NAMES.flatMap((name) => [
      [name, 'pre', cfgPre],
      [name, 'post', cfgPost],
    ]) as Array<[string, string, AdapterConfig]>;

    it.each(cases)(
      'B-159 %s (%s-norm): output unchanged; the adapter ran where it was routed',
      (name, _norm, cfg) => {
        const m = new LayeredModel({ layers: 2 });
        m.eval();
        const x = makeX();
        const y0 = m.forward(x);
        const before = m.numParameters();
        m.addAdapter(name, cfg);
        const onDecoder = name.startsWith('decoder:');
        expect(m.numParameters() - before).toBe((onDecoder ? 1 : 2) * 10_100);
        expectUnchanged(m.forward(x), y0);
        // The adapter ran on the hosts it was routed to, and only there.
        expect(m.decoder.lastRun).toEqual(onDecoder ? ['adapter_0'] : []);
        for (const layer of m.encoder.hostLayers)
          expect(layer.lastRun).toEqual(onDecoder ? [] : ['adapter_0']);
        // It is in the path: once non-zero, it changes the output.
        perturbAdapters(m);
        expectChanged(m.forward(x), y0);
      },
    );
  });

  describe('B-160 conformer-style host with a rel-pos attention adapter (width 128)', () => {
    it.each(['adapter_0', 'encoder:adapter_0'])(
      'B-160 %s: output unchanged; the adapter runs at mha in every layer',
      (name) => {
        const m = new ConformerModel({ width: 128, layers: 2 });
        m.eval();
        const x = makeSeq(2, 10, 128);
        const lengths = [10, 6];
        const y0 = m.forward(x, lengths);
        const before = m.numParameters();
        m.addAdapter(name, conformerAtt(128, 4));
        expect(m.numParameters() - before).toBe(2 * relPosCount(128));
        expect(m.cfg.adapters!.globalCfg!.adapterMetaCfg!.modules['adapter_0']).toBe(
          name.includes(':') ? 'encoder' : '',
        );
        const spies = m.encoder.hostLayers.map((l) => {
          expect(l.getEnabledAdapters()).toEqual(['adapter_0']);
          expect(l.adapterLocations('adapter_0')).toEqual(['mha']);
          return vi.spyOn(l.getAdapterModule('adapter_0') as AdapterModule, 'forward');
        });
        expectUnchanged(m.forward(x, lengths), y0);
        for (const s of spies) expect(s).toHaveBeenCalledTimes(1);
        perturbAdapters(m);
        expectChanged(m.forward(x, lengths), y0);
      },
    );
  });

  describe('B-161 encoder-decoder model with conformer and transformer hosts', () => {
    const PREFIXES = ['', 'encoder:', 'transf_encoder:', 'transf_decoder:'];

    it('B-161 replaceAdapterCompatibleModules upgrades the transformer stacks and their blocks; outputs unchanged', () => {
      const m = new EncDecTransfModel({ width: 16 });
      m.eval();
      const x = makeSeq(2, 8, 16);
      const y = makeSeq(2, 5, 16, 1);
      const o0 = m.forward(x, [8, 5], y);
      expect(isAdapterHost(m.getChild('transf_encoder')!)).toBe(false);
      m.replaceAdapterCompatibleModules();
      const te = m.getChild('transf_encoder')!;
      const td = m.getChild('transf_decoder')!;
      expect(te).toBeInstanceOf(TransformerEncoderAdapter);
      expect(td).toBeInstanceOf(TransformerDecoderAdapter);
      for (const b of layersOf(te)) expect(b).toBeInstanceOf(TransformerEncoderBlockAdapter);
      for (const b of layersOf(td)) expect(b).toBeInstanceOf(TransformerDecoderBlockAdapter);
      const o = m.forward(x, [8, 5], y);
      expectUnchanged(o.out, o0.out);
      expectUnchanged(o.enc, o0.enc);
    });

    it.each(PREFIXES)(
      'B-161 prefix "%s": a linear adapter_0 and an attention adapter_1 (projDim 4): output and encoder output unchanged; every linear adapter found is a LinearAdapter',
      (prefix) => {
        const m = encDecModel();
        m.eval();
        const x = makeSeq(2, 8, 16);
        const lengths = [8, 5];
        const y = makeSeq(2, 5, 16, 1);
        const o0 = m.forward(x, lengths, y);
        const transf = prefix.startsWith('transf_');
        const target = prefix ? prefix.slice(0, -1) : 'encoder';
        m.addAdapter(`${prefix}adapter_0`, lin(16, 8));
        m.addAdapter(
          `${prefix}adapter_1`,
          transf ? transformerAtt(16, 2, { projDim: 4 }) : conformerAtt(16, 2, { projDim: 4 }),
        );

        const spies = layersOf(m.getChild(target)!).flatMap((l) =>
          ['adapter_0', 'adapter_1'].map((n) => vi.spyOn(l.getAdapterModule(n) as AdapterModule, 'forward')),
        );
        const o = m.forward(x, lengths, y);
        expectUnchanged(o.out, o0.out);
        expectUnchanged(o.enc, o0.enc);
        // Each adapter ran once per forward in every layer of its target.
        for (const s of spies) expect(s).toHaveBeenCalledTimes(1);

        // Placement: both adapters on every layer of the target, in add order; nothing elsewhere.
        for (const name of ['encoder', 'transf_encoder', 'transf_decoder']) {
          const layers = layersOf(m.getChild(name)!);
          expect(layers.length).toBe(2);
          for (const l of layers) {
            expect(l.getEnabledAdapters()).toEqual(name === target ? ['adapter_0', 'adapter_1'] : []);
          }
        }
        for (const l of layersOf(m.getChild(target)!)) {
          expect(locations(l, 'adapter_0')).toEqual(['post']);
          expect(locations(l, 'adapter_1')).toEqual(['mha']);
          const att = l.getAdapterModule('adapter_1')!;
          if (transf) {
            expect(att).toBeInstanceOf(TransformerMultiHeadAttentionAdapter);
            expect(att.stateDict().get('query_net.weight')!.shape).toEqual([4, 16]);
          } else {
            expect(att).toBeInstanceOf(RelPositionMultiHeadAttentionAdapter);
            expect((att as RelPositionMultiHeadAttentionAdapter).projDim).toBe(4);
          }
        }

        // Every linear adapter found is a linear-adapter instance.
        const linears = adaptersNamed(m, 'adapter_0');
        expect(linears.length).toBe(2);
        for (const a of linears) expect(a).toBeInstanceOf(LinearAdapter);

        // The adapters are in the path: once non-zero they change the output (and the encoder
        // output only when they sit in the encoder).
        perturbAdapters(m);
        const o2 = m.forward(x, lengths, y);
        expectChanged(o2.out, o0.out);
        if (transf) expectUnchanged(o2.enc, o0.enc);
        else expectChanged(o2.enc, o0.enc);
      },
    );

    it('B-161 a conformer attention config for transf_encoder:adapter_1 → TYPE_NOT_ACCEPTED; nothing changes', () => {
      const m = encDecModel();
      m.addAdapter('transf_encoder:adapter_0', lin(16, 8));
      const cfgBefore = structuredClone(m.cfg.adapters);
      const count = m.numParameters();
      for (const type of ['relPositionMultiHeadAttention', 'multiHeadAttention']) {
        for (const prefix of ['transf_encoder:', 'transf_decoder:']) {
          const err = thrown(() =>
            m.addAdapter(`${prefix}adapter_1`, conformerAtt(16, 2, { type, projDim: 4 })),
          );
          expect(err.code).toBe('TYPE_NOT_ACCEPTED');
          expect(err.message).toContain(type);
          expect(err.message).toContain('linear');
          expect(err.message).toContain('transformerMultiHeadAttention');
        }
      }
      expect(m.cfg.adapters).toEqual(cfgBefore);
      expect(m.numParameters()).toBe(count);
      expect(adaptersNamed(m, 'adapter_1')).toEqual([]);
      // And the mirror: a conformer host does not take a transformer attention adapter.
      const err = thrown(() => m.addAdapter('encoder:adapter_1', transformerAtt(16, 2, { projDim: 4 })));
      expect(err.code).toBe('TYPE_NOT_ACCEPTED');
      expect(err.message).toContain('transformerMultiHeadAttention');
      expect(err.message).toContain('relPositionMultiHeadAttention');
      expect(m.numParameters()).toBe(count);
    });

    it('B-161 default accepted types: conformer layers [linear, multiHeadAttention, relPositionMultiHeadAttention]; transformer blocks include linear and transformerMultiHeadAttention only of the attention types', () => {
      const m = encDecModel();
      for (const l of layersOf(m.getChild('encoder')!)) {
        expect([...l.getAcceptedAdapterTypes()].sort()).toEqual([
          'linear',
          'multiHeadAttention',
          'relPositionMultiHeadAttention',
        ]);
      }
      for (const name of ['transf_encoder', 'transf_decoder']) {
        for (const b of layersOf(m.getChild(name)!)) {
          const types = b.getAcceptedAdapterTypes();
          expect(types.has('linear')).toBe(true);
          expect(types.has('transformerMultiHeadAttention')).toBe(true);
          expect(types.has('multiHeadAttention')).toBe(false);
          expect(types.has('relPositionMultiHeadAttention')).toBe(false);
        }
      }
    });
  });

  describe('B-164 accepted types pushed to the layers', () => {
    it.each([
      ['the type name', ['linear']],
      ['the class', [LinearAdapter]],
    ] as Array<[string, Array<string | typeof LinearAdapter>]>)(
      'B-164 setAcceptedAdapterTypes([linear]) (%s) on a layered conformer host: every layer rejects attention adapters',
      (_label, types) => {
        const enc = new ConformerEncoderAdapter({ width: 16, numLayers: 3 });
        for (const l of enc.hostLayers) {
          expect([...l.getAcceptedAdapterTypes()].sort()).toEqual([
            'linear',
            'multiHeadAttention',
            'relPositionMultiHeadAttention',
          ]);
        }
        enc.setAcceptedAdapterTypes(types);
        for (const l of enc.hostLayers) {
          expect([...l.getAcceptedAdapterTypes()]).toEqual(['linear']);
          const err = thrown(() => l.addAdapter('att', conformerAtt(16, 2)));
          expect(err.code).toBe('TYPE_NOT_ACCEPTED');
          expect(err.message).toContain('relPositionMultiHeadAttention');
          expect(err.message).toContain('linear');
        }
        for (const type of ['relPositionMultiHeadAttention', 'multiHeadAttention']) {
          const err = thrown(() => enc.addAdapter('att', conformerAtt(16, 2, { type })));
          expect(err.code).toBe('TYPE_NOT_ACCEPTED');
        }
        expect(enc.isAdapterAvailable()).toBe(false);
        enc.addAdapter('lin', lin(16, 4));
        expect(enc.hostLayers.map((l) => l.getEnabledAdapters())).toEqual([['lin'], ['lin'], ['lin']]);
        // [] resets every layer to the conformer defaults.
        enc.setAcceptedAdapterTypes([]);
        enc.addAdapter('att', conformerAtt(16, 2));
        expect(enc.hostLayers.map((l) => l.getEnabledAdapters())).toEqual([
          ['lin', 'att'],
          ['lin', 'att'],
          ['lin', 'att'],
        ]);
      },
    );

    it('B-164 through a model: encoder restricted to linear → encoder:att is TYPE_NOT_ACCEPTED and leaves no trace', () => {
      const m = new ConformerModel({ width: 16, layers: 2 });
      m.encoder.setAcceptedAdapterTypes(['linear']);
      const count = m.numParameters();
      const err = thrown(() => m.addAdapter('encoder:att', conformerAtt(16, 2)));
      expect(err.code).toBe('TYPE_NOT_ACCEPTED');
      expect(m.numParameters()).toBe(count);
      expect(m.adapterNames()).toEqual([]);
      m.addAdapter('encoder:lin', lin(16, 4));
      expect(m.getEnabledAdapters()).toEqual(['lin']);
    });

    it('B-164 restricting a layered host that already holds an attention adapter: a warning names it; it stays held and is skipped', () => {
      const enc = new ConformerEncoderAdapter({ width: 16, numLayers: 2 });
      enc.eval();
      enc.addAdapter('att', conformerAtt(16, 2));
      enc.addAdapter('lin', lin(16, 4));
      perturb(enc.hostLayers[0]!.getAdapterModule('att')!, 3);
      perturb(enc.hostLayers[1]!.getAdapterModule('att')!, 4);
      const x = makeSeq(2, 6, 16);
      enc.setEnabledAdapters('att', false);
      const withoutAtt = enc.forward(x, [6, 4]);
      enc.setEnabledAdapters('att', true);
      expect(meanAbsDiff(enc.forward(x, [6, 4]), withoutAtt)).toBeGreaterThan(1e-4);

      const { warnings } = captureLogs(() => enc.setAcceptedAdapterTypes(['linear']));
      expect(warnings.some((w) => w.includes('att'))).toBe(true);
      for (const l of enc.hostLayers) {
        expect(l.heldAdapterNames()).toEqual(['att', 'lin']);
        expect(l.getEnabledAdapters()).toEqual(['lin']);
      }
      expect(enc.isAdapterAvailable()).toBe(true);
      expect(enc.getEnabledAdapters()).toEqual(['lin']);
      expectUnchanged(enc.forward(x, [6, 4]), withoutAtt);
    });
  });

  describe('B-165 freeze and unfreeze on layered hosts', () => {
    /** Asserts only adapter parameters are trainable and every batch norm is frozen and untracked. */
    function expectOnlyAdaptersTrainable(root: Module, expectedTrainable: number): void {
      const named = root.namedParameters();
      const trainable = named.filter(([, p]) => p.trainable).map(([n]) => n);
      expect(trainable.length).toBeGreaterThan(0);
      for (const n of trainable) expect(n).toMatch(/(^|\.)adapter_layer\./);
      expect(root.numParameters({ trainableOnly: true })).toBe(expectedTrainable);
      const bns = root.namedModules().filter(([, m]) => m instanceof BatchNorm) as Array<[string, BatchNorm]>;
      expect(bns.length).toBeGreaterThan(0);
      for (const [, bn] of bns) {
        expect(bn.trackRunningStats).toBe(false);
        expect(bn.weight.trainable).toBe(false);
        expect(bn.bias.trainable).toBe(false);
        expect(bn.training).toBe(false);
      }
    }

    it("B-165 LayeredModel: freeze() + unfreezeEnabledAdapters() → only the encoder layers' adapters train; batch norms untracked", () => {
      const m = new LayeredModel({ layers: 3 });
      m.addAdapter('adapter_0', cfgPre);
      m.freeze();
      m.unfreezeEnabledAdapters();
      expectOnlyAdaptersTrainable(m, 3 * 10_100);
      for (const [, a] of adaptersIn(m)) {
        expect(a.training).toBe(true);
        expect(a.parameters().every((p) => p.trainable)).toBe(true);
      }
      // A forward leaves the frozen batch norms' statistics alone.
      const bn = m.encoder.hostLayers[0]!.bn;
      const rm = Array.from(bn.getBuffer('running_mean')!.dataSync());
      m.forward(makeX());
      expect(Array.from(bn.getBuffer('running_mean')!.dataSync())).toEqual(rm);
    });

    it('B-165 a layered conformer host on its own: linear and attention adapters train, a disabled one stays frozen', () => {
      const enc = new ConformerEncoderAdapter({ width: 16, numLayers: 2 });
      enc.addAdapter('lin', lin(16, 4));
      enc.addAdapter('att', conformerAtt(16, 2));
      enc.addAdapter('off', lin(16, 4, { enabled: false }));
      enc.freeze();
      enc.unfreezeEnabledAdapters();
      expectOnlyAdaptersTrainable(enc, 2 * (linearCount(16, 4) + relPosCount(16)));
      for (const l of enc.hostLayers) {
        expect(
          l
            .getAdapterModule('off')!
            .parameters()
            .every((p) => !p.trainable),
        ).toBe(true);
      }
    });
  });

  describe('B-166 upgrading an already-built model', () => {
    it('B-166 registered encoder class: after replaceAdapterCompatibleModules the encoder is a host; global, decoder: and joint: adapters; trainable count = adapters count', () => {
      const cfg: ConformerModelConfig = { width: 16, layers: 2, plain: true };
      const m = new ConformerModel(cfg);
      m.eval();
      const x = makeSeq(2, 6, 16);
      const lengths = [6, 4];
      const y0 = m.forward(x, lengths);
      expect(isAdapterHost(m.getChild('encoder')!)).toBe(false);
      const { result: before } = captureLogs(() => thrown(() => m.addAdapter('adapter_0', lin(16, 8))));
      expect(before.code).toBe('MODULE_NOT_ADAPTER_CAPABLE');

      m.replaceAdapterCompatibleModules();
      expect(m.encoder).toBeInstanceOf(ConformerEncoderAdapter);
      for (const l of layersOf(m.encoder)) expect(l).toBeInstanceOf(ConformerLayerAdapter);
      expect(m.decoder).toBeInstanceOf(FrameHostAdapter);
      expect(m.joint).toBeInstanceOf(FrameHostAdapter);
      expect(m.encoder.isAdapterAvailable()).toBe(false);
      expectUnchanged(m.forward(x, lengths), y0);

      m.addAdapter('adapter_0', lin(16, 8));
      m.addAdapter('decoder:adapter_1', lin(16, 8));
      m.addAdapter('joint:adapter_2', lin(16, 8));
      m.addAdapter('adapter_3', conformerAtt(16, 2));
      expect(m.cfg.adapters!.globalCfg!.adapterMetaCfg!.modules).toEqual({
        adapter_0: '',
        adapter_1: 'decoder',
        adapter_2: 'joint',
        adapter_3: '',
      });
      expect(m.encoder.hostLayers.map((l) => l.heldAdapterNames())).toEqual([
        ['adapter_0', 'adapter_3'],
        ['adapter_0', 'adapter_3'],
      ]);
      expect(m.decoder.heldAdapterNames()).toEqual(['adapter_1']);
      expect(m.joint.heldAdapterNames()).toEqual(['adapter_2']);
      expect(m.getEnabledAdapters()).toEqual(['adapter_0', 'adapter_1', 'adapter_2', 'adapter_3']);
      expectUnchanged(m.forward(x, lengths), y0);

      m.freeze();
      m.unfreezeEnabledAdapters();
      const expected = 4 * linearCount(16, 8) + 2 * relPosCount(16);
      expect(adapterParams(m)).toBe(expected);
      expect(m.numParameters({ trainableOnly: true })).toBe(expected);
      for (const [n, p] of m.namedParameters()) expect(p.trainable).toBe(n.includes('adapter_layer.'));
    });
  });
});
