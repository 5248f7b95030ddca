import { describe, expect, it } from 'vitest';
import { lowRankSvd } from '../../../src/adapters/index.js';
import { createRng } from '../../../src/rng.js';

describe('lowRankSvd', () => {
  it('lowRankSvd: full-rank factors reproduce P·Q; singular values sorted', () => {
    const rng = createRng(5);
    const [m, r, n] = [7, 3, 5];
    const p = Float64Array.from({ length: m * r }, () => rng.next() - 0.5);
    const q = Float64Array.from({ length: r * n }, () => rng.next() - 0.5);
    const { us, vt, singularValues } = lowRankSvd(p, m, r, q, n, 4);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let want = 0;
        for (let k = 0; k < r; k++) want += p[i * r + k]! * q[k * n + j]!;
        let got = 0;
        for (let k = 0; k < 4; k++) got += us[i * 4 + k]! * vt[k * n + j]!;
        expect(Math.abs(got - want)).toBeLessThan(1e-5);
      }
    }
    expect([...singularValues]).toEqual([...singularValues].sort((a, b) => b - a));
  });
});
