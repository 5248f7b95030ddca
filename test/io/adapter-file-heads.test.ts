/** SPEC §5.2 B-323: adapter files carry the module copies and output extensions an adapter owns. */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { AdapterHeadsWrapper } from '../../src/adapters/heads/heads-wrapper.js';
import { loadAdapters, parseAdapterFile, saveAdapters } from '../../src/io/adapter-file.js';
import { safetensorsFromTensors, tensorsFromSafetensors } from '../../src/io/safetensors-tf.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { Linear } from '../../src/nn/layers.js';
import { thrown } from '../helpers.js';
import { bits, features, linearCfg, mlp50, randomize } from '../adapters/heads/fixture.js';

/** A model with adapter 'a' owning a copy of the head and a two-row extension, all randomised. */
function adapted() {
  const m = mlp50();
  m.addAdapter(
    'a',
    linearCfg({
      modulesToSave: ['classifier'],
      extendOutput: { module: 'classifier', newLabels: ['epo', 'ido'] },
    }),
  );
  m.addAdapter('plain', linearCfg());
  randomize(m.getAdapterModule('a')!, 1);
  const w = m.getSubmodule('classifier') as AdapterHeadsWrapper;
  randomize(w.modules_to_save.get('a')!, 2);
  randomize(w.output_extensions.get('a')!, 3);
  m.setEnabledAdapters('plain', false);
  return m;
}

/** Rewrites an adapter file's tensors and metadata. */
function rewrite(
  bytes: Uint8Array,
  edit: (tensors: Map<string, tf.Tensor>, metadata: Record<string, string>) => void,
): Uint8Array {
  const metadata = { ...parseSafetensors(bytes).metadata! };
  const tensors = tensorsFromSafetensors(bytes);
  edit(tensors, metadata);
  const out = safetensorsFromTensors([...tensors], { metadata });
  for (const t of tensors.values()) t.dispose();
  return out;
}

describe('§5.2 heads in adapter files', () => {
  it("B-323 saveAdapters('a') includes its copies and extension, named under the adapter; a fresh base restores outputs bit for bit", () => {
    const m = adapted();
    const x = features();
    const expected = bits(m.forward(x));
    const bytes = saveAdapters(m, 'a');
    const { index, headsIndex, config } = parseAdapterFile(bytes);
    expect(Object.keys(index)).toEqual(['a']);
    expect(headsIndex.a!.sort()).toEqual(
      [
        'a/heads/classifier/copy/bias',
        'a/heads/classifier/copy/weight',
        'a/heads/classifier/extension/bias',
        'a/heads/classifier/extension/weight',
      ].sort(),
    );
    expect(config.a).toMatchObject({
      modulesToSave: ['classifier'],
      extendOutput: { module: 'classifier', newLabels: ['epo', 'ido'] },
    });
    const fresh = mlp50();
    const n0 = tf.memory().numTensors;
    expect(loadAdapters(fresh, bytes).loaded).toEqual(['a']);
    expect(bits(fresh.forward(x))).toEqual(expected);
    expect(fresh.forward(x).shape).toEqual([4, 52]);
    // Loading under another name finds the same tensors; deleting frees all of them.
    fresh.deleteAdapter('a');
    expect(tf.memory().numTensors).toBe(n0 + 2); // the two forward outputs above
    loadAdapters(fresh, bytes, { rename: { a: 'b' } });
    expect(bits(fresh.forward(x))).toEqual(expected);
    // Same state → byte-identical file; a file without heads has no headsIndex.
    expect(saveAdapters(m, 'a')).toEqual(bytes);
    expect(parseSafetensors(saveAdapters(m, 'plain')).metadata!.headsIndex).toBeUndefined();
  });

  it('B-323 untrusted files: missing head tensors, wrong shapes and stray index entries are refused, leaving the model unchanged', () => {
    const bytes = saveAdapters(adapted(), 'a');
    const fresh = mlp50();
    const missing = rewrite(bytes, (tensors, md) => {
      tensors.get('a/heads/classifier/extension/weight')!.dispose();
      tensors.delete('a/heads/classifier/extension/weight');
      const hi = JSON.parse(md.headsIndex!) as Record<string, string[]>;
      hi.a = hi.a!.filter((n) => !n.endsWith('extension/weight'));
      md.headsIndex = JSON.stringify(hi);
    });
    const e1 = thrown(() => loadAdapters(fresh, missing));
    expect(e1.code).toBe('STATE_DICT_MISMATCH');
    expect(e1.message).toContain('classifier/extension/weight');
    const badShape = rewrite(bytes, (tensors) => {
      tensors.get('a/heads/classifier/extension/weight')!.dispose();
      tensors.set('a/heads/classifier/extension/weight', tf.zeros([3, 8]));
    });
    const e2 = thrown(() => loadAdapters(fresh, badShape));
    expect(e2.code).toBe('STATE_DICT_MISMATCH');
    expect(e2.message).toContain('[3, 8]');
    const stray = rewrite(bytes, (_t, md) => {
      md.headsIndex = JSON.stringify({ a: ['a/heads/classifier/copy/nothing'] });
    });
    expect(thrown(() => loadAdapters(fresh, stray)).code).toBe('CHECKPOINT_FORMAT');
    const unlisted = rewrite(bytes, (_t, md) => {
      delete md.headsIndex;
    });
    expect(thrown(() => loadAdapters(fresh, unlisted)).code).toBe('CHECKPOINT_FORMAT');
    expect(fresh.adapterNames()).toEqual([]);
    expect(fresh.getSubmodule('classifier')).toBeInstanceOf(Linear);
  });
});
