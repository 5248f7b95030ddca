import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BASE_DIR, loadBaseModel } from '../../src/cli/base-model.js';

describe('the CLI default base model', () => {
  it('is the Moby-Dick character LM shipped in the repository', async () => {
    expect(existsSync(join(DEFAULT_BASE_DIR, 'config.json'))).toBe(true);
    const { model, vocab, dir } = await loadBaseModel();
    try {
      expect(dir).toBe(DEFAULT_BASE_DIR);
      expect(model.cfg.vocabSize).toBe(vocab.size);
      // Its vocabulary covers the corpus it was trained on.
      expect(vocab.decode(vocab.encode('Call me Ishmael.'))).toBe('Call me Ishmael.');
    } finally {
      model.dispose();
    }
  });

  it('a directory that does not exist is named in the error', async () => {
    await expect(loadBaseModel('/no/such/base')).rejects.toThrow(
      'base model /no/such/base: no such directory',
    );
  });
});
