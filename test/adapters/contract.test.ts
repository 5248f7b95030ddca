/**
 * The contract every adapter kind keeps, as one table (PEFT's `TEST_CASES` in test_custom_models.py):
 * add, enable, disable, freeze, save, load into a fresh model, and "disabled equals base". Each row
 * builds a small model, adds one adapter of its kind, moves the adapter's weights away from their
 * initial values (so that "enabled" really changes the output), then runs the same test bodies.
 *
 * Host adapters (the type registry, `listAdapterTypes()`) go through the adapter-model API
 * (`addAdapter`, `setEnabledAdapters`, `saveAdapters` / `loadAdapters`); the LoRA family
 * (`listWrapperTypes()`) through `PeftModel` (`wrap`, `setEnabledAdapters`, `savePretrained` /
 * `loadPretrained`). A registered kind without a row fails the suite.
 *
 * Only the public entries are used, plus the test fixtures' small models.
 */
import { describe, expect, it } from 'vitest';
import {
  adapters,
  loadAdapters,
  loadPretrained,
  manualSeed,
  models,
  Module,
  nn,
  PeftModel,
  saveAdapters,
  savePretrained,
  tf,
  unfreezeEnabledAdapters,
  withAdapterModel,
  withAdapters,
  type LoraConfig,
  type Ia3Config,
  type VeraConfig,
} from '../../src/index.js';

type Tensor = tf.Tensor;
import { ConformerModel, makeSeq } from '../fixtures/conformer.js';

const D = 16;

/** One model under test, driven only through the public API. */
interface Subject {
  /** The module whose parameters, modes and files the contract is about. */
  readonly model: Module;
  /** The model's output on the row's fixed input, in eval mode (no dropout). */
  forward(): Tensor;
  setEnabled(enabled: boolean): void;
  /** Makes only the adapter trainable, as a user does before training. */
  freezeForTraining(): void;
  /** Saves the adapter; `load` restores it into a fresh model. */
  save(): Promise<Map<string, Uint8Array>>;
  dispose(): void;
}

interface Row {
  /** Table label. */
  label: string;
  /** The registered type (`listAdapterTypes()` or `listWrapperTypes()`) the row covers. */
  type: string;
  /** A fresh model without the adapter; the same base weights on every call. */
  base(): Pick<Subject, 'model' | 'forward' | 'dispose'>;
  /** A fresh model with adapter `NAME` added (not yet perturbed). */
  add(): Subject;
  /** A fresh model into which the saved files are loaded. */
  load(files: Map<string, Uint8Array>): Promise<Subject>;
}

const NAME = 'a0';

/** Every byte of a tensor's values: equality here is bit-for-bit, -0 and NaN payloads included. */
function bytesOf(t: Tensor): number[] {
  const data = t.dataSync() as Float32Array;
  return Array.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

/** Runs `f` and returns the bytes of its output, disposing it. */
function outputBytes(f: () => Tensor): number[] {
  const y = f();
  const bytes = bytesOf(y);
  y.dispose();
  return bytes;
}

/** Sets each parameter to seeded values near its own, so the adapter no longer starts as the identity. */
function perturb(params: Array<[string, tf.Variable]>): void {
  manualSeed(99);
  params.forEach(([, p], i) => {
    tf.tidy(() => p.assign(tf.add(p, tf.mul(tf.randomNormal(p.shape, 0, 1, 'float32', 100 + i), 0.2))));
  });
}

// ---------------------------------------------------------------------------------------------
// Hosts for the rows

/** A tiny character LM (decoder blocks take linear, parallel and transformer-attention adapters). */
function charLM(): models.CharLM {
  manualSeed(5);
  return new models.CharLM({ vocabSize: 12, dModel: D, numLayers: 2, nHead: 2, dFF: 32, maxLen: 8 });
}
const lmInput = () =>
  tf.tensor2d(
    [
      [1, 2, 3, 4, 5, 6, 7, 8],
      [8, 7, 6, 5, 4, 3, 2, 1],
    ],
    [2, 8],
    'int32',
  );

/** The conformer-style fixture (encoder layers take conformer attention adapters; decoder and joint any). */
function conformer(): ConformerModel {
  manualSeed(6);
  return new ConformerModel({ width: D, layers: 2 });
}
const seqInput = () => makeSeq(2, 6, D, 3);

/** A module that runs its enabled adapters on its input, keeping the first output of tuple adapters (positional encodings). */
class EmbeddingHost extends withAdapters(Module) {
  static override readonly typeName: string = 'ContractEmbeddingHost';
  override forward(x: Tensor): Tensor {
    if (!this.isAdapterAvailable()) return x;
    const out = this.forwardEnabledAdapters(x) as Tensor | Tensor[];
    if (!Array.isArray(out)) return out;
    out.slice(1).forEach((t) => t.dispose());
    return out[0]!;
  }
}

class PositionalModelBase extends Module {
  static override readonly typeName: string = 'ContractPositionalModelBase';
  constructor(public cfg: Record<string, unknown>) {
    super();
    this.registerModule('embed', new EmbeddingHost());
    this.registerModule('proj', new nn.Linear({ inFeatures: D, outFeatures: D }));
  }
}

/** `proj(embed(x))`, with adapters routed to `embed`: where positional-encoding adapters run. */
class PositionalModel extends withAdapterModel(PositionalModelBase) {
  static override readonly typeName: string = 'ContractPositionalModel';
  constructor(cfg: Record<string, unknown> = {}) {
    super(cfg);
    this.adapterModuleNames = ['', 'embed'];
    this.defaultAdapterModuleName = 'embed';
    this.setupAdapters();
  }
  override forward(x: Tensor): Tensor {
    return tf.tidy(() => this.getChild('proj')!.forward(this.getChild('embed')!.forward(x)) as Tensor);
  }
}
function positionalModel(): PositionalModel {
  manualSeed(7);
  return new PositionalModel();
}

// ---------------------------------------------------------------------------------------------
// Host adapters: the adapter-model API

/** The adapter-model methods the table drives (every `withAdapterModel` model has them). */
interface AdapterModel extends Module {
  addAdapter(name: string, cfg: Record<string, unknown>): void;
  setEnabledAdapters(name: string, enabled: boolean): void;
}

function hostRow<M extends Module>(
  type: string,
  opts: {
    label?: string;
    build: () => M;
    input: () => Tensor;
    run?: (m: M, x: Tensor) => Tensor;
    cfg: Record<string, unknown>;
    /** Where the adapter goes: `module:` prefix of the name ('' = the model's default). */
    module?: string;
  },
): Row {
  const run = opts.run ?? ((m: M, x: Tensor) => m.forward(x) as Tensor);
  const subject = (model: M): Subject => {
    const x = opts.input();
    return {
      model,
      forward: () => model.inEvalMode(() => run(model, x)),
      setEnabled: (on) => (model as unknown as AdapterModel).setEnabledAdapters(NAME, on),
      freezeForTraining: () => {
        model.freeze();
        unfreezeEnabledAdapters(model);
      },
      save: async () => new Map([['adapters.safetensors', saveAdapters(model)]]),
      dispose: () => {
        model.dispose();
        x.dispose();
      },
    };
  };
  return {
    label: opts.label ?? type,
    type,
    base: () => subject(opts.build()),
    add: () => {
      const model = opts.build();
      const name = opts.module ? `${opts.module}:${NAME}` : NAME;
      (model as unknown as AdapterModel).addAdapter(name, { type, ...opts.cfg });
      return subject(model);
    },
    load: async (files) => {
      const model = opts.build();
      loadAdapters(model, files.get('adapters.safetensors')!);
      return subject(model);
    },
  };
}

const conformerRun = (m: ConformerModel, x: Tensor) => m.forward(x, [6, 4]);

const HOST_ROWS: Row[] = [
  hostRow('linear', { build: charLM, input: lmInput, cfg: { inFeatures: D, dim: 4 } }),
  hostRow('parallel', { build: charLM, input: lmInput, cfg: { inFeatures: D, dim: 4 } }),
  // Held by the decoder stack (the model's default module); MAM adds a parallel adapter to every block.
  hostRow('prefixTuning', { build: charLM, input: lmInput, cfg: { numVirtualTokens: 3 } }),
  hostRow('mam', {
    build: charLM,
    input: lmInput,
    cfg: { prefix: { numVirtualTokens: 2 }, ffn: { dim: 4, scaling: 4 } },
  }),
  hostRow('transformerMultiHeadAttention', {
    build: charLM,
    input: lmInput,
    cfg: { hiddenSize: D, numAttentionHeads: 2 },
  }),
  hostRow('multiHeadAttention', {
    build: conformer,
    input: seqInput,
    run: conformerRun,
    cfg: { nHead: 2, nFeat: D },
  }),
  hostRow('relPositionMultiHeadAttention', {
    build: conformer,
    input: seqInput,
    run: conformerRun,
    cfg: { nHead: 2, nFeat: D },
  }),
  hostRow('infused', {
    build: conformer,
    input: seqInput,
    run: conformerRun,
    module: 'decoder',
    cfg: { inFeatures: D },
  }),
  hostRow('positionalEncoding', {
    build: positionalModel,
    input: seqInput,
    cfg: { dModel: D, maxLen: 16 },
  }),
  hostRow('relPositionalEncoding', {
    build: positionalModel,
    input: seqInput,
    cfg: { dModel: D, maxLen: 16, xscale: 2 },
  }),
  // Adapter-owned heads (SPEC §5.2): the same contract with a module copy, or new output rows.
  hostRow('linear', {
    label: 'linear + modulesToSave',
    build: charLM,
    input: lmInput,
    cfg: { inFeatures: D, dim: 4, modulesToSave: ['lm_head'] },
  }),
  hostRow('parallel', {
    label: 'parallel + extendOutput',
    build: charLM,
    input: lmInput,
    cfg: { inFeatures: D, dim: 4, extendOutput: { module: 'lm_head', newLabels: ['<new>'] } },
  }),
];

// ---------------------------------------------------------------------------------------------
// The LoRA family: PeftModel

function wrapperRow(label: string, cfg: LoraConfig | Ia3Config | VeraConfig): Row {
  const subject = (peft: PeftModel): Subject => {
    const x = lmInput();
    return {
      model: peft,
      forward: () => peft.inEvalMode(() => peft.forward(x) as Tensor),
      setEnabled: (on) => peft.setEnabledAdapters(NAME, on),
      // Wrapping freezes every base parameter; a loaded adapter is frozen unless asked (as PEFT).
      freezeForTraining: () => peft.setAdapterTrainable(NAME, true),
      save: async () => {
        const files = new Map<string, Uint8Array>();
        await savePretrained(peft, {
          writeFile: (p, d) => void files.set(p, typeof d === 'string' ? new TextEncoder().encode(d) : d),
        });
        return files;
      },
      dispose: () => {
        peft.dispose();
        x.dispose();
      },
    };
  };
  return {
    label,
    type: cfg.type,
    base: () => {
      const model = charLM();
      const x = lmInput();
      return {
        model,
        forward: () => model.inEvalMode(() => model.forward(x)),
        dispose: () => {
          model.dispose();
          x.dispose();
        },
      };
    },
    add: () => subject(PeftModel.wrap(charLM(), cfg, { adapterName: NAME })),
    load: async (files) =>
      subject(
        await loadPretrained(
          charLM(),
          { readFile: (p) => files.get(p) ?? null },
          // As PEFT, an adapter not named 'default' is saved in a sub-directory of its name.
          { adapterName: NAME, subfolder: NAME },
        ),
      ),
  };
}

const WRAPPER_ROWS: Row[] = [
  wrapperRow('lora', { type: 'lora', r: 2, targetModules: ['q_proj', 'v_proj', 'fc1'] }),
  wrapperRow('dora (lora with useDora)', {
    type: 'lora',
    r: 2,
    targetModules: ['q_proj', 'fc2'],
    useDora: true,
  }),
  wrapperRow('ia3', { type: 'ia3', targetModules: ['k_proj', 'v_proj', 'fc2'], feedforwardModules: ['fc2'] }),
  wrapperRow('vera', { type: 'vera', r: 4, targetModules: ['q_proj', 'v_proj', 'fc1'] }),
  wrapperRow('lora + modulesToSave', {
    type: 'lora',
    r: 2,
    targetModules: ['q_proj'],
    modulesToSave: ['lm_head'],
  }),
];

const ROWS = [...HOST_ROWS, ...WRAPPER_ROWS];

describe('the contract table covers every adapter kind', () => {
  it('every registered adapter type has a row', () => {
    expect([...new Set(HOST_ROWS.map((r) => r.type))].sort()).toEqual(
      [...adapters.listAdapterTypes()].sort(),
    );
  });
  it('every PeftModel method has a row', () => {
    expect([...new Set(WRAPPER_ROWS.map((r) => r.type))].sort()).toEqual(
      [...adapters.listWrapperTypes()].sort(),
    );
  });
});

describe.each(ROWS.map((r) => [r.label, r] as const))('adapter contract: %s', (_label, row) => {
  it('add, enable, disable, freeze, save, load; disabled equals base bit for bit; forward leaks no tensor', async () => {
    const base = row.base();
    const baseOut = outputBytes(() => base.forward());
    const baseNames = new Set(base.model.namedParameters().map(([n]) => n));

    // add: the adapter brings its parameters (positional encodings bring none) and, moved off its
    // initial values, changes the output.
    const s = row.add();
    const mine = s.model.namedParameters().filter(([n]) => !baseNames.has(n));
    expect(s.model.namedParameters().length - mine.length).toBe(baseNames.size);
    perturb(mine);
    const before = tf.memory().numTensors;
    const enabledOut = outputBytes(() => s.forward());
    expect(tf.memory().numTensors).toBe(before);
    expect(enabledOut).not.toEqual(baseOut);

    // disable: the output is the base model's, bit for bit; enable: the adapter's output again.
    s.setEnabled(false);
    expect(outputBytes(() => s.forward())).toEqual(baseOut);
    s.setEnabled(true);
    expect(outputBytes(() => s.forward())).toEqual(enabledOut);

    // freeze: only the adapter's parameters are trainable.
    s.freezeForTraining();
    const trainable = s.model
      .namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([n]) => n);
    expect(trainable.sort()).toEqual(mine.map(([n]) => n).sort());

    // save, then load into a fresh model: the same output, bit for bit.
    const files = await s.save();
    const loaded = await row.load(files);
    const beforeLoaded = tf.memory().numTensors;
    expect(outputBytes(() => loaded.forward())).toEqual(enabledOut);
    expect(tf.memory().numTensors).toBe(beforeLoaded);
    loaded.setEnabled(false);
    expect(outputBytes(() => loaded.forward())).toEqual(baseOut);

    loaded.dispose();
    s.dispose();
    base.dispose();
  });
});
