import { describe, expect, it } from 'vitest';
import { lossCurvesSvg, PLOT_PACKAGES_MISSING } from '../../src/cli/plots.js';

describe('lossCurvesSvg', () => {
  it('draws one line per method with the title, as SVG (vega is a dev dependency here)', async () => {
    const points = [1, 2, 3].flatMap((step) => [
      { method: 'lora', step, loss: 3 - step * 0.1 },
      { method: 'linear-adapter', step, loss: 3.2 - step * 0.2 },
    ]);
    const svg = await lossCurvesSvg(points, 'training loss on sotu');
    expect(svg).not.toBeNull();
    expect(svg!.startsWith('<svg')).toBe(true);
    expect(svg).toContain('training loss on sotu');
    expect(svg).toContain('lora');
    expect(svg).toContain('linear-adapter');
    expect(svg).toContain('mark-line');
  });

  it('the line printed without vega names the packages and how to install them', () => {
    expect(PLOT_PACKAGES_MISSING).toContain('npm install vega vega-lite');
  });
});
