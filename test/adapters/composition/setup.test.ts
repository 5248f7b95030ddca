import { describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import {
  Average,
  BatchSplit,
  Fuse,
  Parallel,
  parseSetup,
  Stack,
  type SetupBlock,
} from '../../../src/adapters/composition/index.js';
import { thrown } from '../../helpers.js';
import { input, modelWith } from './fixture.js';

describe('composition setups: parsing, nesting, names', () => {
  it('B-308 invalid nestings raise INVALID_CONFIG naming the parent and child block; unknown names raise NOT_FOUND listing the adapters', () => {
    const model = modelWith(['a', 'b', 'c']);
    const before = JSON.stringify(model.cfg);
    const fp = thrown(() => model.setActiveSetup(Fuse(Parallel('a', 'b'))));
    expect(fp.code).toBe('INVALID_CONFIG');
    expect(fp.message).toContain('Parallel');
    expect(fp.message).toContain('Fuse');
    expect(fp.message).toContain('may hold: an adapter name, Stack');
    const af = thrown(() => model.setActiveSetup(Average(Fuse('a', 'b'), 'c')));
    expect(af.code).toBe('INVALID_CONFIG');
    expect(af.message).toContain('Fuse');
    expect(af.message).toContain('Average');
    // Parallel at depth 2 (inside a Stack at depth 1).
    const deep = thrown(() => model.setActiveSetup(Parallel(Stack('c', Parallel('a', 'b')), 'c')));
    expect(deep.code).toBe('INVALID_CONFIG');
    expect(deep.message).toContain('Parallel');
    expect(deep.message).toContain('Stack');
    expect(deep.message).toContain('depth 2');
    const deep2 = thrown(() =>
      model.setActiveSetup(
        BatchSplit(BatchSplit(Average('a', 'b'), { batchSizes: [1] }), { batchSizes: [1] }),
      ),
    );
    expect(deep2.code).toBe('INVALID_CONFIG');
    expect(deep2.message).toContain('Average');
    expect(deep2.message).toContain('depth 2');
    const unknown = thrown(() => model.setActiveSetup(Stack('a', 'zz')));
    expect(unknown.code).toBe('NOT_FOUND');
    expect(unknown.message).toContain("'zz'");
    expect(unknown.message).toContain('a, b, c');
    // Bad JSON fields name the field and the valid choices.
    const badType = thrown(() =>
      model.setActiveSetup({ type: 'mix', children: ['a'] } as unknown as SetupBlock),
    );
    expect(badType.code).toBe('INVALID_CONFIG');
    expect(badType.message).toContain('stack, parallel, batchSplit, average, fuse');
    const badSizes = thrown(() => model.setActiveSetup(BatchSplit('a', 'b', { batchSizes: [1] })));
    expect(badSizes.code).toBe('INVALID_CONFIG');
    expect(badSizes.message).toContain('batchSizes');
    // Every failure left the model as it was.
    expect(JSON.stringify(model.cfg)).toBe(before);
    expect(model.getActiveSetup()).toBeNull();
    model.dispose();
  });

  it("B-309 ['a', ['b','c']] parses to Stack('a', Fuse('b','c')), 'a' to Stack('a'), and a setup round-trips through JSON unchanged", () => {
    expect(parseSetup(['a', ['b', 'c']])).toEqual(Stack('a', Fuse('b', 'c')));
    expect(parseSetup('a')).toEqual(Stack('a'));
    expect(parseSetup(['a', 'b'])).toEqual(Stack('a', 'b'));
    const setups: SetupBlock[] = [
      Stack('a', Fuse('b', Stack('c', 'd'))),
      Parallel('a', Stack('b', 'c'), BatchSplit('a', 'b', { batchSizes: [2, 1] })),
      Average('a', BatchSplit('b', 'c', { batchSizes: [1, 1] }), {
        weights: [1, 3],
        normalizeWeights: false,
      }),
      BatchSplit('a', Stack('b', 'c'), { batchSizes: [1, 2] }),
    ];
    for (const s of setups) {
      const json = JSON.stringify(parseSetup(s));
      expect(parseSetup(JSON.parse(json))).toEqual(parseSetup(s));
      expect(JSON.stringify(parseSetup(JSON.parse(json)))).toBe(json);
    }
    // Through the model: getActiveSetup returns the JSON form, which setActiveSetup accepts back.
    const model = modelWith(['a', 'b', 'c']);
    model.setActiveSetup(['a', 'b']);
    const json = JSON.parse(JSON.stringify(model.getActiveSetup()));
    expect(json).toEqual({ type: 'stack', children: ['a', 'b'] });
    model.setActiveSetup(null);
    model.setActiveSetup(json);
    expect(model.getActiveSetup()).toEqual(json);
    model.dispose();
  });

  it('B-310 a disabled adapter in the setup is INVALID_CONFIG at setActiveSetup; disabling one later makes the next forward fail with the same code', () => {
    const model = modelWith(['a', 'b']);
    model.setEnabledAdapters('b', false);
    const e = thrown(() => model.setActiveSetup(Stack('a', 'b')));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain("'b'");
    expect(e.message).toContain('disabled');
    expect(model.getActiveSetup()).toBeNull();
    model.setEnabledAdapters('b', true);
    model.setActiveSetup(Stack('a', 'b'));
    model.setEnabledAdapters('b', false);
    expect(model.getActiveSetup()).toEqual(Stack('a', 'b')); // nothing cleared
    const x = input();
    const f = thrown(() => model.forward(x));
    expect(f.code).toBe('INVALID_CONFIG');
    expect(f.message).toContain("'b'");
    model.setEnabledAdapters('b', true);
    tf.tidy(() => model.forward(x));
    x.dispose();
    model.dispose();
  });
});
