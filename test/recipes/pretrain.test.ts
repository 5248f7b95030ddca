import { describe, expect, it } from 'vitest';
import '../../src/index.js';
import { pretrainCharLm } from '../../src/recipes/pretrain.js';

const tiny = { steps: 3, batch: 2, seqLen: 16, dModel: 8, numLayers: 1, nHead: 2, dFF: 16, evalWindows: 4 };

describe('pretraining', () => {
  it('the same seed reproduces the same weights bit for bit; another seed does not', async () => {
    const a = await pretrainCharLm({ ...tiny, seed: 5 });
    const b = await pretrainCharLm({ ...tiny, seed: 5 });
    const c = await pretrainCharLm({ ...tiny, seed: 6 });
    const weights = (r: typeof a) => r.model.namedParameters().map(([k, v]) => [k, Array.from(v.dataSync())]);
    expect(weights(b)).toEqual(weights(a));
    expect(weights(c)).not.toEqual(weights(a));
    expect(a.losses).toEqual(b.losses);
    expect(a.model.cfg.vocab).toEqual(a.vocab.toJSON());
    expect(Number.isFinite(a.heldOutBpc)).toBe(true);
    for (const r of [a, b, c]) r.model.dispose();
  });
});
