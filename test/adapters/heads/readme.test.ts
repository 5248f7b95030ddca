import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import { outputLabels } from '../../../src/adapters/heads/index.js';
import '../../../src/index.js';
import * as models from '../../../src/models/index.js';

/** The ```ts block of the README's "Heads" section, without its import line. */
function readmeBlock(): string {
  const text = readFileSync(path.resolve(import.meta.dirname, '../../../README.md'), 'utf8');
  const section = text.slice(text.indexOf('### Heads: modulesToSave and output extensions'));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README.md: no ```ts block under "### Heads: modulesToSave and output extensions"');
  return m[1]!.replace(/^import .*\n/m, '');
}

describe('README: heads', () => {
  it('the example runs as printed: five labels while active, the file restores the extension', () => {
    const body = `${readmeBlock()}\nreturn { clf, bytes };`;
    const run = new Function('models', 'outputLabels', body) as (...a: unknown[]) => {
      clf: models.MlpClassifier;
      bytes: Uint8Array;
    };
    const { clf, bytes } = run(models, outputLabels);
    const x = tf.ones([2, 8]);
    expect(clf.forward(x).shape).toEqual([2, 4]);
    const other = new models.MlpClassifier({ ...clf.cfg, adapters: undefined });
    other.loadAdapters(bytes);
    expect(outputLabels(other)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(other.forward(x).shape).toEqual([2, 5]);
    tf.dispose(x);
    clf.dispose();
    other.dispose();
  });
});
