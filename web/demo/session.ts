/**
 * What the demo page does with the library, free of any DOM code so that Node (the browser tests'
 * reference run) executes exactly the same steps: restore the base model, attach a LinearAdapter or
 * LoRA, train it with the library's Trainer, sample with the adapter off and on, and save or load the
 * adapter as the library's adapter file or as a PEFT directory.
 */
import { unzipSync, zipSync } from 'fflate';
import {
  ADAPTER_NAME,
  attachMethod,
  CharVocab,
  createRng,
  crossEntropy,
  loadAdapters,
  loadPretrained,
  manualSeed,
  models,
  normalizeText,
  io,
  saveAdapters,
  tf,
  trainLm,
  type FileSource,
  type PeftModel,
  type StepInfo,
} from '../../src/index.js';

type CharLM = InstanceType<typeof models.CharLM>;

/** The methods the page offers. */
export type DemoMethod = 'linear' | 'lora';

/** One training run's settings. */
export interface DemoTrainOptions {
  method: DemoMethod;
  text: string;
  steps: number;
  batch: number;
  seqLen: number;
  lr: number;
  seed: number;
  /** LinearAdapter bottleneck width (default 32) or LoRA rank (default 8). */
  dim?: number;
  /** Called after every step; a returned promise is awaited (the page uses it to repaint). */
  onStep?: (info: StepInfo) => void | Promise<void>;
}

/** What a training run reports. */
export interface DemoTrainResult {
  losses: number[];
  msPerStep: number;
  /** Milliseconds each step took (the first includes kernel compilation on webgl and webgpu). */
  stepMs: number[];
  trainableParams: number;
}

/** A loaded adapter's kind: the library's adapter file (LinearAdapter) or a PEFT directory (LoRA). */
export type AdapterKind = 'adapter-file' | 'peft';

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

/** The base model, plus at most one adapter on a fresh copy of it. */
export class DemoSession {
  readonly vocab: CharVocab;
  private model: CharLM;
  private peft: PeftModel | null = null;
  private kind: AdapterKind | null = null;
  private adapterName = ADAPTER_NAME;

  private constructor(private readonly checkpoint: { config: string; weights: Uint8Array }) {
    this.model = DemoSession.restore(checkpoint);
    this.vocab = CharVocab.fromJSON(this.model.cfg.vocab);
  }

  /** The session for a model directory's `config.json` text and `model.safetensors` bytes. */
  static fromFiles(config: string, weights: Uint8Array): DemoSession {
    return new DemoSession({ config, weights });
  }

  private static restore(ckpt: { config: string; weights: Uint8Array }): CharLM {
    const model = models.restoreModelFromCheckpoint(ckpt);
    if (!(model instanceof models.CharLM)) throw new Error('the demo needs a char-lm base model');
    return model;
  }

  /** Which adapter the model carries: null (the base model only), an adapter file's or PEFT's. */
  get adapterKind(): AdapterKind | null {
    return this.kind;
  }

  /** Parameters of the base model. */
  get baseParams(): number {
    return this.model.numParameters();
  }

  /** Throws away any adapter: back to the base model. */
  reset(): void {
    this.model.dispose();
    this.model = DemoSession.restore(this.checkpoint);
    this.peft = null;
    this.kind = null;
    this.adapterName = ADAPTER_NAME;
  }

  /** Text → ids in the base model's vocabulary (characters it lacks become `<unk>`). */
  encode(text: string): Int32Array {
    return this.vocab.encode(normalizeText(text));
  }

  /** Attaches a fresh adapter to a fresh base model and trains it on `text`. */
  async train(o: DemoTrainOptions): Promise<DemoTrainResult> {
    this.reset();
    const ids = this.encode(o.text);
    if (ids.length <= o.seqLen + 1)
      throw new Error(`the text is too short: at least ${o.seqLen + 2} characters are needed`);
    manualSeed(o.seed); // the adapter's initial weights
    const attached = attachMethod(
      this.model,
      o.method === 'linear'
        ? { kind: 'linear', dim: o.dim ?? 32 }
        : {
            kind: 'lora',
            r: o.dim ?? 8,
            alpha: 2 * (o.dim ?? 8),
            targetModules: ['q_proj', 'v_proj', 'fc1', 'fc2'],
          },
    );
    this.peft = attached.peft ?? null;
    this.kind = o.method === 'linear' ? 'adapter-file' : 'peft';
    const stepMs: number[] = [];
    let last = 0;
    const t0 = performance.now();
    const losses = await trainLm({
      model: attached.model,
      ids,
      steps: o.steps,
      batch: o.batch,
      seqLen: o.seqLen,
      lr: o.lr,
      seed: o.seed,
      onStep: (info) => {
        stepMs.push(info.elapsedMs - last);
        last = info.elapsedMs;
        return o.onStep?.(info);
      },
    });
    return {
      losses,
      msPerStep: (performance.now() - t0) / o.steps,
      stepMs,
      trainableParams: attached.model.numParameters({ trainableOnly: true }),
    };
  }

  /** Samples `length` characters after `prompt`, with the adapter on or off (same draws for the same seed). */
  async sample(
    prompt: string,
    length: number,
    o: {
      adapter: boolean;
      seed: number;
      temperature?: number;
      onText?: (textSoFar: string) => void | Promise<void>;
    },
  ): Promise<string> {
    const ids = this.encode(prompt.length ? prompt : '\n');
    const soFar: number[] = [];
    const onToken = o.onText
      ? (id: number) => {
          soFar.push(id);
          return o.onText!(this.vocab.decode(soFar));
        }
      : undefined;
    const run = () =>
      this.model.generateAsync(ids, length, {
        rng: createRng(o.seed),
        temperature: o.temperature ?? 0.8,
        ...(onToken ? { onToken } : {}),
      });
    let out: Int32Array;
    if (o.adapter || this.kind === null) out = await run();
    else if (this.peft) out = await this.peft.withAdaptersDisabled(run);
    else {
      this.model.setEnabledAdapters(this.adapterName, false);
      try {
        out = await run();
      } finally {
        this.model.setEnabledAdapters(this.adapterName, true);
      }
    }
    return this.vocab.decode(out);
  }

  /** Mean cross-entropy (nats) of the first `seqLen + 1` characters of `text`, as a fingerprint of the weights. */
  loss(text: string, seqLen: number): number {
    const ids = this.encode(text).subarray(0, seqLen + 1);
    return this.model.inEvalMode(() =>
      tf.tidy(() => {
        const x = tf.tensor2d(ids.subarray(0, seqLen), [1, seqLen], 'int32');
        const y = tf.tensor2d(ids.subarray(1), [1, seqLen], 'int32');
        return crossEntropy(this.model.forward(x), y).dataSync()[0]!;
      }),
    );
  }

  /** The adapter as bytes: the library's adapter file (LinearAdapter) or a zip of the PEFT directory (LoRA). */
  exportAdapter(): { kind: AdapterKind; fileName: string; bytes: Uint8Array } {
    if (this.kind === 'adapter-file') {
      return {
        kind: this.kind,
        fileName: 'adapter.safetensors',
        bytes: saveAdapters(this.model, this.adapterName),
      };
    }
    if (this.kind === 'peft' && this.peft) {
      const files: Record<string, Uint8Array> = {};
      for (const [path, data] of io.peftFiles(this.peft)) {
        files[path] = typeof data === 'string' ? new TextEncoder().encode(data) : data;
      }
      return { kind: 'peft', fileName: 'peft-adapter.zip', bytes: zipSync(files) };
    }
    throw new Error('no adapter to download: train one or load one first');
  }

  /** Loads an adapter file or a PEFT zip (told apart by content) onto a fresh base model. */
  async importAdapter(bytes: Uint8Array): Promise<AdapterKind> {
    this.reset();
    if (ZIP_MAGIC.every((b, i) => bytes[i] === b)) {
      const files = unzipSync(bytes);
      // A zip of the directory itself or of a folder holding it: read from where adapter_config.json is.
      const configPath = Object.keys(files).find((p) => p.endsWith('adapter_config.json'));
      if (!configPath) throw new Error('the zip holds no adapter_config.json: not a PEFT directory');
      const root = configPath.slice(0, -'adapter_config.json'.length);
      const source: FileSource = {
        readFile: (p) => files[root + p] ?? null,
        exists: (p) => root + p in files,
      };
      this.peft = await loadPretrained(this.model, source);
      this.kind = 'peft';
    } else {
      const { loaded } = loadAdapters(this.model, bytes);
      if (loaded.length !== 1) {
        this.reset();
        throw new Error(
          `the adapter file holds ${loaded.length} adapters (${loaded.join(', ')}); the page shows one at a time`,
        );
      }
      this.adapterName = loaded[0]!;
      this.kind = 'adapter-file';
    }
    return this.kind;
  }
}
