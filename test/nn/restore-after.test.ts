import { describe, expect, it } from 'vitest';
import { restoreAfter } from '../../src/nn/restore-after.js';

describe('restoreAfter', () => {
  it('restores after a sync return and after a throw', () => {
    let restored = 0;
    expect(
      restoreAfter(
        () => 7,
        () => void restored++,
      ),
    ).toBe(7);
    expect(restored).toBe(1);
    expect(() =>
      restoreAfter(
        () => {
          throw new Error('boom');
        },
        () => void restored++,
      ),
    ).toThrow('boom');
    expect(restored).toBe(2);
  });

  it('restores only once a promise settles, resolved or rejected', async () => {
    let restored = 0;
    let resolve!: (v: number) => void;
    const pending = restoreAfter(
      () => new Promise<number>((r) => (resolve = r)),
      () => void restored++,
    );
    expect(restored).toBe(0);
    resolve(3);
    await expect(pending).resolves.toBe(3);
    expect(restored).toBe(1);
    await expect(
      restoreAfter(
        () => Promise.reject(new Error('no')),
        () => void restored++,
      ),
    ).rejects.toThrow('no');
    expect(restored).toBe(2);
  });
});
