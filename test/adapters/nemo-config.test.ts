import { describe, expect, it } from 'vitest';
import '../../src/adapters/builtins.js';
import { fromNemoConfig, NEMO_CLASS_PATHS, nemoClassNameToType } from '../../src/adapters/nemo-config.js';
import {
  buildAdapter,
  getAdapterTypeSchema,
  getStrategyTypeSchema,
  listAdapterTypes,
  listStrategyTypes,
  parseAdapterConfig,
} from '../../src/adapters/registry.js';
import { MultiHeadAttentionAdapter } from '../../src/adapters/attention/index.js';
import type { AdapterConfig } from '../../src/adapters/types.js';
import { thrown } from '../helpers.js';

const LINEAR = 'nemo.collections.common.parts.adapter_modules.LinearAdapter';
const RESIDUAL = 'nemo.core.classes.mixins.adapter_mixin_strategies.ResidualAddAdapterStrategy';
const RETURN_RESULT = 'nemo.core.classes.mixins.adapter_mixin_strategies.ReturnResultAdapterStrategy';
const MHA_MODULE = 'nemo.collections.asr.parts.submodules.adapters.multi_head_attention_adapter_module';

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

describe('fromNemoConfig', () => {
  it('B-010 converts a NeMo linear adapter config (class path, snake_case, nested residual strategy); an unknown _target_ → UNKNOWN_TYPE', () => {
    const nemo = deepFreeze({
      _target_: LINEAR,
      in_features: 50,
      dim: 5,
      activation: 'swish',
      norm_position: 'pre',
      dropout: 0.0,
      adapter_strategy: { _target_: RESIDUAL, stochastic_depth: 0.0, l2_lambda: 0.0 },
    });
    const before = JSON.stringify(nemo);
    const cfg = fromNemoConfig(nemo);
    expect(cfg).toEqual({
      type: 'linear',
      inFeatures: 50,
      dim: 5,
      activation: 'swish',
      normPosition: 'pre',
      dropout: 0,
      adapterStrategy: { type: 'residualAdd', stochasticDepth: 0, l2Lambda: 0 },
    });
    expect(JSON.stringify(nemo)).toBe(before);
    expect(() => buildAdapter(cfg as AdapterConfig)).not.toThrow();

    const e = thrown(() =>
      fromNemoConfig({
        _target_: 'nemo.collections.common.parts.adapter_modules.ConvAdapter',
        in_features: 4,
      }),
    );
    expect(e.code).toBe('UNKNOWN_TYPE');
    expect(e.message).toContain('nemo.collections.common.parts.adapter_modules.ConvAdapter');
    expect(e.message).toContain(LINEAR);
    expect(e.details.valid).toContain(RESIDUAL);
    // Also for a nested strategy path.
    expect(
      thrown(() =>
        fromNemoConfig({ _target_: LINEAR, in_features: 4, dim: 2, adapter_strategy: { _target_: 'x.Y' } }),
      ).code,
    ).toBe('UNKNOWN_TYPE');
  });

  it('B-008 every built-in adapter and strategy type of §2.3 is listed and has a schema', () => {
    const adapters = [
      'linear',
      'multiHeadAttention',
      'relPositionMultiHeadAttention',
      'transformerMultiHeadAttention',
      'positionalEncoding',
      'relPositionalEncoding',
      'infused',
    ];
    const strategies = ['residualAdd', 'mhaResidualAdd', 'returnResult'];
    expect(listAdapterTypes()).toEqual(expect.arrayContaining(adapters));
    expect(listStrategyTypes()).toEqual(expect.arrayContaining(strategies));
    for (const t of adapters)
      expect(Object.keys(getAdapterTypeSchema(t).fields)).toEqual(
        expect.arrayContaining(['type', 'enabled']),
      );
    for (const t of strategies) expect(getStrategyTypeSchema(t).fields.type).toBeDefined();
    // Every type a NeMo class path maps to is registered.
    for (const { type, kind } of Object.values(NEMO_CLASS_PATHS)) {
      expect(kind === 'adapter' ? listAdapterTypes() : listStrategyTypes()).toContain(type);
    }
  });

  it('converts attention configs: use_pytorch_sdpa → useFusedAttention, null use_pytorch_sdpa_backends dropped', () => {
    const nemo = {
      _target_: `${MHA_MODULE}.RelPositionMultiHeadAttentionAdapter`,
      n_head: 4,
      n_feat: 64,
      dropout_rate: 0.1,
      proj_dim: -1,
      use_pytorch_sdpa: true,
      use_pytorch_sdpa_backends: null,
      adapter_strategy: {
        _target_: `${MHA_MODULE}.MHAResidualAddAdapterStrategy`,
        stochastic_depth: 0.1,
        l2_lambda: 0,
      },
    };
    const cfg = fromNemoConfig(nemo);
    expect(cfg).toEqual({
      type: 'relPositionMultiHeadAttention',
      nHead: 4,
      nFeat: 64,
      dropoutRate: 0.1,
      projDim: -1,
      useFusedAttention: true,
      adapterStrategy: { type: 'mhaResidualAdd', stochasticDepth: 0.1, l2Lambda: 0 },
    });
    const a = buildAdapter(cfg as AdapterConfig) as MultiHeadAttentionAdapter;
    expect(a.useFusedAttention).toBe(true);
    expect(a.projDim).toBe(4);
    expect('use_pytorch_sdpa_backends' in nemo).toBe(true);

    const e = thrown(() => fromNemoConfig({ ...nemo, use_pytorch_sdpa_backends: ['MATH'] }));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain('use_pytorch_sdpa_backends');

    const t = fromNemoConfig({
      _target_:
        'nemo.collections.asr.parts.submodules.adapters.transformer_multi_head_attention_adapter_module.TransformerMultiHeadAttentionAdapter',
      hidden_size: 32,
      num_attention_heads: 4,
      attn_score_dropout: 0,
      attn_layer_dropout: 0.1,
      proj_dim: null,
    });
    expect(t).toEqual({
      type: 'transformerMultiHeadAttention',
      hiddenSize: 32,
      numAttentionHeads: 4,
      attnScoreDropout: 0,
      attnLayerDropout: 0.1,
      projDim: null,
    });
    expect(() => parseAdapterConfig(t, 'test')).not.toThrow();
  });

  it('converts positional-encoding and infused configs, and accepts …Config dataclass and package re-export paths', () => {
    expect(
      fromNemoConfig({
        _target_: `${MHA_MODULE}.PositionalEncodingAdapter`,
        d_model: 8,
        max_len: 100,
        xscale: 1.0,
        adapter_strategy: { _target_: RETURN_RESULT },
      }),
    ).toEqual({
      type: 'positionalEncoding',
      dModel: 8,
      maxLen: 100,
      xscale: 1,
      adapterStrategy: { type: 'returnResult' },
    });
    expect(
      fromNemoConfig({
        _target_: 'nemo.collections.asr.parts.submodules.adapters.RelPositionalEncodingAdapterConfig',
        d_model: 8,
      }),
    ).toEqual({ type: 'relPositionalEncoding', dModel: 8 });
    expect(
      fromNemoConfig({
        _target_: 'nemo.collections.common.parts.adapter_modules.LinearAdapterConfig',
        in_features: 4,
        dim: 2,
      }),
    ).toMatchObject({ type: 'linear' });
    expect(
      fromNemoConfig({
        _target_: 'nemo.collections.nlp.modules.common.megatron.adapters.parallel_adapters.InfusedAdapter',
        in_features: 16,
      }),
    ).toEqual({ type: 'infused', inFeatures: 16 });
    expect(fromNemoConfig({ _target_: RESIDUAL, stochastic_depth: 0.5 })).toEqual({
      type: 'residualAdd',
      stochasticDepth: 0.5,
    });
    expect(nemoClassNameToType('MultiHeadAttentionAdapter')).toEqual({
      type: 'multiHeadAttention',
      kind: 'adapter',
    });
    expect(nemoClassNameToType('MHAResidualAddAdapterStrategy')).toEqual({
      type: 'mhaResidualAdd',
      kind: 'strategy',
    });
  });

  it('converts an adapters section: names kept, global_cfg → globalCfg with adapterMetaCfg', () => {
    const section = deepFreeze({
      adapter_0: { _target_: LINEAR, in_features: 8, dim: 2, enabled: false },
      global_cfg: { check_encoder_adapter: true, adapter_meta_cfg: { modules: { adapter_0: 'encoder' } } },
    });
    expect(fromNemoConfig(section)).toEqual({
      adapter_0: { type: 'linear', inFeatures: 8, dim: 2, enabled: false },
      globalCfg: { checkEncoderAdapter: true, adapterMetaCfg: { modules: { adapter_0: 'encoder' } } },
    });
  });

  it('rejects non-objects, a strategy where an adapter is expected (and the reverse), and colliding keys', () => {
    expect(thrown(() => fromNemoConfig(42)).code).toBe('INVALID_CONFIG');
    expect(thrown(() => fromNemoConfig({ _target_: 7 })).code).toBe('INVALID_CONFIG');
    const s = thrown(() =>
      fromNemoConfig({ _target_: LINEAR, in_features: 4, dim: 2, adapter_strategy: { _target_: LINEAR } }),
    );
    expect(s.code).toBe('INVALID_CONFIG');
    expect(s.message).toContain('expected a strategy');
    expect(thrown(() => fromNemoConfig({ a: { _target_: RESIDUAL } })).message).toContain(
      'expected an adapter',
    );
    expect(thrown(() => fromNemoConfig({ a: { in_features: 3 } })).message).toContain("without '_target_'");
    expect(thrown(() => fromNemoConfig({ _target_: LINEAR, in_features: 4, inFeatures: 4 })).code).toBe(
      'INVALID_CONFIG',
    );
  });

  it("every field of each NeMo config dataclass converts to a field of the library type's schema, and the result parses", () => {
    // The fields of NeMo's `…Config` dataclasses, with values those dataclasses accept.
    const strategy = { _target_: RESIDUAL, stochastic_depth: 0.1, l2_lambda: 0.01 };
    const mhaStrategy = {
      _target_: `${MHA_MODULE}.MHAResidualAddAdapterStrategy`,
      stochastic_depth: 0,
      l2_lambda: 0,
    };
    const mha = {
      n_head: 2,
      n_feat: 8,
      dropout_rate: 0,
      proj_dim: null,
      adapter_strategy: mhaStrategy,
      use_pytorch_sdpa: false,
      use_pytorch_sdpa_backends: null,
    };
    const dataclasses: Record<string, Record<string, unknown>> = {
      [LINEAR]: {
        in_features: 8,
        dim: 2,
        activation: 'swish',
        norm_position: 'pre',
        dropout: 0,
        adapter_strategy: strategy,
      },
      [`${MHA_MODULE}.MultiHeadAttentionAdapter`]: mha,
      [`${MHA_MODULE}.RelPositionMultiHeadAttentionAdapter`]: mha,
      'nemo.collections.asr.parts.submodules.adapters.transformer_multi_head_attention_adapter_module.TransformerMultiHeadAttentionAdapter':
        {
          hidden_size: 8,
          num_attention_heads: 2,
          attn_score_dropout: 0,
          attn_layer_dropout: 0,
          proj_dim: null,
          adapter_strategy: mhaStrategy,
        },
      [`${MHA_MODULE}.PositionalEncodingAdapter`]: {
        d_model: 8,
        max_len: 16,
        xscale: 1,
        adapter_strategy: { _target_: RETURN_RESULT },
      },
      [`${MHA_MODULE}.RelPositionalEncodingAdapter`]: {
        d_model: 8,
        max_len: 16,
        xscale: null,
        adapter_strategy: { _target_: RETURN_RESULT },
      },
      'nemo.collections.nlp.modules.common.megatron.adapters.parallel_adapters.InfusedAdapter': {
        in_features: 8,
        adapter_strategy: { _target_: RETURN_RESULT },
      },
    };
    for (const [target, fields] of Object.entries(dataclasses)) {
      const cfg = fromNemoConfig({ _target_: target, ...fields }) as AdapterConfig;
      const schemaFields = Object.keys(getAdapterTypeSchema(cfg.type).fields);
      expect(schemaFields, target).toEqual(expect.arrayContaining(Object.keys(cfg)));
      const strategyCfg = cfg.adapterStrategy as AdapterConfig;
      expect(Object.keys(getStrategyTypeSchema(strategyCfg.type).fields), target).toEqual(
        expect.arrayContaining(Object.keys(strategyCfg)),
      );
      expect(() => parseAdapterConfig(cfg, target)).not.toThrow();
    }
  });
});
