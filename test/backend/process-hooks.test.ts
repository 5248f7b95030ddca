import { describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../src/backend/backend.js';
import { tf } from '../../src/backend/tf.js';

describe('initBackend keeps TensorFlow.js out of the process', () => {
  it("removes the wasm glue's rethrowing uncaughtException/unhandledRejection listeners", async () => {
    await initBackend({ backend: 'wasm' });
    const glue = (ev: 'uncaughtException' | 'unhandledRejection') =>
      process.listeners(ev as 'uncaughtException').filter((l) => /ExitStatus|throw reason/.test(String(l)));
    expect(glue('uncaughtException')).toHaveLength(0);
    expect(glue('unhandledRejection')).toHaveLength(0);
  });

  it('the cpu backend does not print its "install our node backend" banner', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      await initBackend({ backend: 'cpu' });
      tf.tidy(() => tf.add(tf.tensor([1, 2]), tf.tensor([3, 4])).dataSync());
      expect(warn.mock.calls.flat().join(' ')).not.toContain('node backend');
    } finally {
      warn.mockRestore();
      await initBackend({ backend: 'wasm' });
    }
  });
});
