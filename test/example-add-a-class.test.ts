/** examples/add-a-class.ts runs and shows what it promises (SPEC §5.2). */
import { describe, expect, it, vi } from 'vitest';

describe('examples/add-a-class.ts', () => {
  it('adds a class with one adapter: the new class is learned, and disabled the base comes back bit for bit', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await import('../examples/add-a-class.js');
      const lines = log.mock.calls.map((c) => c.join(' '));
      const number = (prefix: string) =>
        Number(lines.find((l) => l.startsWith(prefix))!.slice(prefix.length));
      expect(number('base accuracy on a-d: ')).toBeGreaterThanOrEqual(0.9);
      expect(lines).toContain('labels with the adapter: a, b, c, d, e');
      expect(number('accuracy on the new class e: ')).toBeGreaterThanOrEqual(0.9);
      expect(number('accuracy on a-d with the adapter: ')).toBeGreaterThanOrEqual(0.85);
      expect(lines).toContain('disabled: 4 classes, base logits bit for bit: true');
    } finally {
      log.mockRestore();
    }
  });
});
