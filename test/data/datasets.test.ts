import { describe, expect, it } from 'vitest';
import { DATASET_NAMES, loadDataset, loadTextCorpus } from '../../src/data/node-index.js';
import { thrown } from '../helpers.js';

describe('loadDataset', () => {
  it('names every dataset', () => {
    expect(DATASET_NAMES).toEqual(['mobydick', 'sotu', 'spamassassin']);
    const d = loadDataset('sotu');
    expect(d.kind).toBe('text');
    expect(d.name).toBe('sotu');
  });

  it('rejects an unknown name, listing the valid ones', () => {
    const e = thrown(() => loadDataset('moby-dick'));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain('"moby-dick"');
    for (const n of DATASET_NAMES) expect(e.message).toContain(n);
    expect(e.details).toMatchObject({ name: 'moby-dick', valid: [...DATASET_NAMES] });
    const e2 = thrown(() => loadTextCorpus('spamassassin' as never));
    expect(e2.code).toBe('INVALID_CONFIG');
    expect(e2.message).toContain('mobydick, sotu');
    expect(e2.message).toContain('loadSpamSplits');
  });
});
