/**
 * The web demo page: trains a LinearAdapter or LoRA on the shipped Moby-Dick character model in the
 * browser, with a live loss chart, samples with the adapter off and on, and saves or loads adapters.
 * `window.adapterkitDemo` exposes the same actions to the browser tests.
 */
import '@tensorflow/tfjs-backend-webgpu'; // optional: registers webgpu where the browser has it
import { getBackendInfo, initBackend, type BackendInfo, type BackendName } from '../../src/index.js';
import { drawLossChart } from './loss-chart.js';
import { DemoSession, type DemoMethod, type DemoTrainOptions, type DemoTrainResult } from './session.js';

/** Where the server puts the wasm backend's files, the base model and the sample text. */
const WASM_PATHS = '/wasm/';
const MODEL_DIR = '/model/';
const SOTU_SAMPLE = '/samples/sotu-sample.txt';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const num = (id: string) => Number($<HTMLInputElement>(id).value);

let session: DemoSession;
let busy = false;

function status(text: string, error = false): void {
  const s = $('status');
  s.textContent = text;
  s.className = error ? 'error' : '';
}

function showBackend(info: BackendInfo): void {
  const extra =
    info.name === 'wasm'
      ? ` (SIMD ${info.simd ? 'on' : 'off'}, ${info.threads === 1 ? '1 thread' : 'threads'})`
      : '';
  $('backend-badge').textContent = `${info.name}${extra}`;
  $<HTMLSelectElement>('backend-select').value = info.name;
}

function showAdapter(): void {
  const kind = session.adapterKind;
  $<HTMLButtonElement>('download-adapter').disabled = kind !== 'adapter-file';
  $<HTMLButtonElement>('download-peft').disabled = kind !== 'peft';
  $('adapter-info').textContent =
    kind === null
      ? 'no adapter'
      : kind === 'peft'
        ? 'LoRA adapter (saves as a PEFT directory)'
        : 'LinearAdapter (saves as an adapter file)';
}

/** Runs a button's action; a failure is already shown in the status line. */
function onClick(what: string, fn: () => Promise<unknown>): () => void {
  return () => void guarded(what, fn).catch(() => undefined);
}

async function guarded<T>(what: string, fn: () => Promise<T>): Promise<T> {
  if (busy) throw new Error('busy: wait for the running action to finish');
  busy = true;
  document.querySelectorAll('button').forEach((b) => b.toggleAttribute('data-was-disabled', b.disabled));
  document.querySelectorAll('button').forEach((b) => (b.disabled = true));
  try {
    status(`${what}…`);
    const r = await fn();
    status(`${what}: done`);
    return r;
  } catch (e) {
    status(`${what} failed: ${(e as Error).message}`, true);
    throw e;
  } finally {
    busy = false;
    document.querySelectorAll('button').forEach((b) => (b.disabled = b.hasAttribute('data-was-disabled')));
    showAdapter();
  }
}

async function setBackend(name: BackendName): Promise<BackendInfo> {
  try {
    const info = await initBackend({ backend: name, wasmPaths: WASM_PATHS });
    session.reset(); // a fresh base model whose weights live on the new backend
    return info;
  } finally {
    showBackend(getBackendInfo()); // a failed switch keeps the old backend
    showAdapter();
  }
}

async function train(o: DemoTrainOptions): Promise<DemoTrainResult> {
  const losses: number[] = [];
  const chart = $('chart') as unknown as SVGSVGElement;
  const progress = $<HTMLProgressElement>('progress');
  progress.max = o.steps;
  progress.value = 0;
  drawLossChart(chart, losses, o.steps);
  const t0 = performance.now();
  const result = await session.train({
    ...o,
    onStep: (info) => {
      losses.push(info.loss);
      progress.value = info.step;
      const ms = (performance.now() - t0) / info.step;
      $('progress-text').textContent =
        `step ${info.step}/${o.steps} · loss ${info.loss.toFixed(3)} · ${ms.toFixed(0)} ms/step · ${getBackendInfo().name}`;
      drawLossChart(chart, losses, o.steps);
      o.onStep?.(info);
      // wasm and cpu compute on this thread: give the browser a turn to paint the chart and handle input.
      return new Promise<void>((resolve) => setTimeout(resolve, 0));
    },
  });
  $('progress-text').textContent =
    `trained ${result.trainableParams.toLocaleString()} adapter parameters: loss ${result.losses[0]!.toFixed(3)} → ${result.losses.at(-1)!.toFixed(3)} · ${result.msPerStep.toFixed(0)} ms/step on ${getBackendInfo().name}`;
  return result;
}

/** Shows the text as it is sampled, letting the browser paint every few characters. */
function streamInto(id: string, prompt: string): (text: string) => Promise<void> | void {
  return (text) => {
    $(id).textContent = prompt + text;
    if (text.length % 8 === 0) return new Promise<void>((resolve) => setTimeout(resolve, 0));
  };
}

async function sample(prompt: string, length: number, seed: number): Promise<{ off: string; on: string }> {
  $('sample-off').textContent = $('sample-on').textContent = '';
  const off = await session.sample(prompt, length, {
    adapter: false,
    seed,
    onText: streamInto('sample-off', prompt),
  });
  const on = await session.sample(prompt, length, {
    adapter: true,
    seed,
    onText: streamInto('sample-on', prompt),
  });
  return { off, on };
}

function download(name: string, bytes: Uint8Array): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function formOptions(): DemoTrainOptions {
  return {
    method: (document.querySelector('input[name=method]:checked') as HTMLInputElement).value as DemoMethod,
    text: $<HTMLTextAreaElement>('text').value,
    steps: num('steps'),
    batch: num('batch'),
    seqLen: num('seq-len'),
    lr: num('lr'),
    seed: num('seed'),
  };
}

async function useSotu(): Promise<void> {
  const text = await (await fetch(SOTU_SAMPLE)).text();
  $<HTMLTextAreaElement>('text').value = text;
  $('text-info').textContent = `${text.length.toLocaleString()} characters`;
}

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const requested = params.get('backend') as BackendName | null;
  const info = await initBackend({ ...(requested ? { backend: requested } : {}), wasmPaths: WASM_PATHS });
  showBackend(info);
  const [config, weights] = await Promise.all([
    fetch(`${MODEL_DIR}config.json`).then((r) => r.text()),
    fetch(`${MODEL_DIR}model.safetensors`).then(async (r) => new Uint8Array(await r.arrayBuffer())),
  ]);
  session = DemoSession.fromFiles(config, weights);
  $('base-params').textContent = session.baseParams.toLocaleString();
  await useSotu();
  showAdapter();

  $('backend-switch').onclick = onClick('switching backend', () =>
    setBackend($<HTMLSelectElement>('backend-select').value as BackendName),
  );
  $('use-sotu').onclick = onClick('loading the sample', useSotu);
  $('train').onclick = onClick('training', () => train(formOptions()));
  $('sample').onclick = onClick('sampling', () =>
    sample($<HTMLInputElement>('prompt').value, num('sample-len'), num('seed')),
  );
  // Each method's usual learning rate (LoRA's scaled update diverges at a LinearAdapter's rate).
  document.querySelectorAll<HTMLInputElement>('input[name=method]').forEach((r) => {
    r.onchange = () => ($<HTMLInputElement>('lr').value = r.value === 'lora' ? '0.003' : '0.01');
  });
  $('download-adapter').onclick = $('download-peft').onclick = () => {
    const { fileName, bytes } = session.exportAdapter();
    download(fileName, bytes);
  };
  $<HTMLInputElement>('upload').onchange = (ev) => {
    const file = (ev.target as HTMLInputElement).files?.[0];
    if (file)
      onClick(`loading ${file.name}`, async () =>
        session.importAdapter(new Uint8Array(await file.arrayBuffer())),
      )();
  };
  status('ready');
}

const ready = start().catch((e: Error) => {
  status(`start-up failed: ${e.message}`, true);
  throw e;
});

/** What the browser tests drive. */
(window as unknown as { adapterkitDemo: unknown }).adapterkitDemo = {
  ready,
  info: () => getBackendInfo(),
  setBackend: (name: BackendName) => guarded('switching backend', () => setBackend(name)),
  train: (o: DemoTrainOptions) => guarded('training', () => train(o)),
  sample: (prompt: string, length: number, seed: number) =>
    guarded('sampling', () => sample(prompt, length, seed)),
  loss: (text: string, seqLen: number) => session.loss(text, seqLen),
  exportAdapter: () => Array.from(session.exportAdapter().bytes),
  importAdapter: (bytes: number[]) =>
    guarded('loading an adapter', () => session.importAdapter(Uint8Array.from(bytes))),
  adapterKind: () => session.adapterKind,
};
