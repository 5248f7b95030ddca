import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateVeraProjections, veraKaimingBound } from '../../../src/adapters/vera/projection.js';

interface ProjectionCase {
  case: string;
  key: number;
  r: number;
  shapes: { vera_A: [number, number]; vera_B: [number, number] };
  vera_A: { shape: number[]; values: number[] };
  vera_B: { shape: number[]; values: number[] };
}
const fixture = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../fixtures/vera-projections.json'), 'utf8'),
) as {
  cases: ProjectionCase[];
};

describe('VeRA projections', () => {
  it.each(fixture.cases.map((c) => [c.case, c] as const))(
    '%s: vera_A and vera_B bit-identical to PyTorch',
    (_name, c) => {
      const [r, maxIn] = c.shapes.vera_A;
      const [maxOut] = c.shapes.vera_B;
      expect(r).toBe(c.r);
      const p = generateVeraProjections(c.key, r, maxIn, maxOut);
      expect(Array.from(p.a)).toEqual(Array.from(Float32Array.from(c.vera_A.values)));
      expect(Array.from(p.b)).toEqual(Array.from(Float32Array.from(c.vera_B.values)));
    },
  );

  it('the same key gives bit-identical matrices, a different key different ones', () => {
    const a = generateVeraProjections(42, 8, 16, 12);
    const b = generateVeraProjections(42, 8, 16, 12);
    const c = generateVeraProjections(43, 8, 16, 12);
    expect(Array.from(a.a)).toEqual(Array.from(b.a));
    expect(Array.from(a.b)).toEqual(Array.from(b.b));
    expect(Array.from(a.a)).not.toEqual(Array.from(c.a));
  });

  it('bounds follow the fan-in of each matrix', () => {
    const p = generateVeraProjections(3, 4, 64, 32);
    const maxAbs = (v: Float32Array) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    expect(maxAbs(p.a)).toBeLessThanOrEqual(veraKaimingBound(64));
    expect(maxAbs(p.b)).toBeLessThanOrEqual(veraKaimingBound(4));
    expect(maxAbs(p.b)).toBeGreaterThan(veraKaimingBound(64));
  });

  it('rejects a rank or size that is not a positive integer', () => {
    expect(() => generateVeraProjections(0, 0, 8, 8)).toThrow(/r must be a positive integer, got 0/);
    expect(() => generateVeraProjections(0, 4, 8.5, 8)).toThrow(/maxIn must be a positive integer/);
  });
});
