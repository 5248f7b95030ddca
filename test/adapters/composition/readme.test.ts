import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import { Average, Fuse, Parallel, Stack } from '../../../src/adapters/composition/index.js';
import '../../../src/index.js';
import * as models from '../../../src/models/index.js';

/** The ```ts block of the README's "Composing adapters" section, without its import line. */
function readmeBlock(): string {
  const text = readFileSync(path.resolve(import.meta.dirname, '../../../README.md'), 'utf8');
  const section = text.slice(text.indexOf('## Composing adapters'));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README.md: no ```ts block under "## Composing adapters"');
  return m[1]!.replace(/^import .*\n/m, '');
}

describe('README: composing adapters', () => {
  it('the example runs as printed and its file restores the fusion and the setup', () => {
    const body = `${readmeBlock()}\nreturn { clf, bytes };`;
    const run = new Function('models', 'Stack', 'Parallel', 'Average', 'Fuse', body) as (...a: unknown[]) => {
      clf: models.EncoderClassifier;
      bytes: Uint8Array;
    };
    const { clf, bytes } = run(models, Stack, Parallel, Average, Fuse);
    expect(clf.getActiveSetup()).toBeNull();
    const other = new models.EncoderClassifier({ ...clf.cfg, adapters: undefined });
    other.loadAdapters(bytes);
    expect(other.listFusions()).toEqual(['spam,ham']);
    expect(other.getActiveSetup()).toEqual(Stack('lang', Fuse('spam', 'ham')));
    other.setActiveSetup(Parallel('spam', 'ham'));
    const ids = tf.tensor2d([[1, 2, 3]], [1, 3], 'int32');
    const y = other.forward(ids);
    expect(y.shape).toEqual([2, 2]);
    tf.dispose([ids, y]);
    clf.dispose();
    other.dispose();
  });
});
