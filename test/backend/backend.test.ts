import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { BACKEND_ENV_VAR, getBackendInfo, initBackend } from '../../src/backend/backend.js';
import '../../src/index.js';
import { CharLM } from '../../src/models/char-lm.js';
import { manualSeed } from '../../src/rng.js';
import { crossEntropy } from '../../src/train/losses.js';
import { thrownAsync } from '../helpers.js';

afterAll(async () => {
  delete process.env[BACKEND_ENV_VAR];
  await initBackend({ backend: 'wasm' });
});

/** Loss and gradients of a small CharLM on the active backend. */
function lossAndGrads(): { loss: number; grads: number[][] } {
  manualSeed(11);
  const model = new CharLM({ vocabSize: 10, dModel: 8, numLayers: 1, nHead: 2, dFF: 16, maxLen: 8 });
  const ids = tf.tensor2d(
    [
      [1, 2, 3, 4, 5, 6, 7, 8],
      [9, 8, 7, 6, 5, 4, 3, 2],
    ],
    [2, 8],
    'int32',
  );
  const targets = tf.tensor2d(
    [
      [2, 3, 4, 5, 6, 7, 8, 9],
      [8, 7, 6, 5, 4, 3, 2, 1],
    ],
    [2, 8],
    'int32',
  );
  const vars = model.trainableParameters();
  const { value, grads } = tf.variableGrads(() => crossEntropy(model.forward(ids), targets), vars);
  const out = { loss: value.dataSync()[0]!, grads: vars.map((v) => Array.from(grads[v.name]!.dataSync())) };
  model.dispose();
  return out;
}

describe('backend selection', () => {
  it('defaults to wasm in Node and reports it', () => {
    const info = getBackendInfo();
    expect(info.name).toBe('wasm');
    expect(info.platform).toBe('node');
    expect(info.tfjsVersion).toMatch(/^4\./);
  });

  it('rejects an unknown backend naming the valid ones, by option and by environment variable', async () => {
    const err = await thrownAsync(() => initBackend({ backend: 'tpu' as never }));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('wasm, cpu, webgl, webgpu');
    process.env[BACKEND_ENV_VAR] = 'gpu';
    const envErr = await thrownAsync(() => initBackend());
    expect(envErr.message).toContain(BACKEND_ENV_VAR);
    delete process.env[BACKEND_ENV_VAR];
  });

  it('an unavailable backend is an error, never a silent fallback; a list allows one', async () => {
    const err = await thrownAsync(() => initBackend({ backend: 'webgpu' }));
    expect(err.code).toBe('BACKEND_UNSUPPORTED');
    expect(err.message).toContain('webgpu');
    expect(err.message).toContain('@tensorflow/tfjs-backend-webgpu');
    // A backend that is registered but cannot start here (no WebGL in Node) leaves the active one in place.
    const webgl = await thrownAsync(() => initBackend({ backend: 'webgl' }));
    expect(webgl.code).toBe('BACKEND_UNSUPPORTED');
    expect(getBackendInfo().name).toBe('wasm');
    const info = await initBackend({ backend: ['webgpu', 'cpu'] });
    expect(info.name).toBe('cpu');
  });

  it('checks wasmPaths and refuses to change them once wasm has started', async () => {
    const noSlash = await thrownAsync(() => initBackend({ wasmPaths: '/wasm' }));
    expect(noSlash.code).toBe('INVALID_CONFIG');
    expect(noSlash.message).toContain("end with '/'");
    const partial = await thrownAsync(() =>
      initBackend({ wasmPaths: { 'tfjs-backend-wasm.wasm': '/a.wasm' } as never }),
    );
    expect(partial.code).toBe('INVALID_CONFIG');
    expect(partial.message).toContain(
      'missing: tfjs-backend-wasm-simd.wasm, tfjs-backend-wasm-threaded-simd.wasm',
    );
    // The test set-up started wasm already: new paths could no longer take effect.
    const late = await thrownAsync(() => initBackend({ backend: 'wasm', wasmPaths: '/static/wasm/' }));
    expect(late.code).toBe('INVALID_CONFIG');
    expect(late.message).toContain('already started');
    expect(getBackendInfo().registered).toEqual(expect.arrayContaining(['wasm', 'cpu']));
    expect(getBackendInfo().wasmPaths).toBeNull();
  });

  it('training math agrees between the cpu fallback and wasm (gradients included)', async () => {
    await initBackend({ backend: 'cpu' });
    const cpu = lossAndGrads();
    process.env[BACKEND_ENV_VAR] = 'wasm';
    await initBackend();
    expect(getBackendInfo().name).toBe('wasm');
    const wasm = lossAndGrads();
    expect(Math.abs(cpu.loss - wasm.loss)).toBeLessThan(1e-5);
    cpu.grads.forEach((g, i) =>
      g.forEach((x, j) => expect(Math.abs(x - wasm.grads[i]![j]!)).toBeLessThan(1e-4)),
    );
  });
});
