/** The option schemas of savePretrained / loadPretrained / loadAdapter and their errors. */
import { describe, expect, it } from 'vitest';
import {
  loadAdapterOptionsSchema,
  loadPretrainedOptionsSchema,
  parsePeftOptions,
  savePretrainedOptionsSchema,
} from '../../src/io/peft-options.js';
import { thrown } from '../helpers.js';

const save = (opts: unknown) => parsePeftOptions(savePretrainedOptionsSchema, opts, 'savePretrained');
const load = (opts: unknown) => parsePeftOptions(loadPretrainedOptionsSchema, opts, 'loadPretrained');

describe('PEFT directory options', () => {
  it('fill in the documented defaults and keep what was given', () => {
    expect(save(undefined)).toEqual({ dtype: 'float32' });
    expect(
      save({ dtype: 'bfloat16', taskType: null, autoMapping: { baseModelClass: 'M', parentLibrary: 'x' } }),
    ).toEqual({
      dtype: 'bfloat16',
      taskType: null,
      autoMapping: { baseModelClass: 'M', parentLibrary: 'x' },
    });
    expect(load({})).toEqual({ isTrainable: false, strict: true, allowPartialMatch: true });
    expect(load({ adapterName: 'x', strict: false })).toMatchObject({ adapterName: 'x', strict: false });
  });

  it('a bad value is INVALID_CONFIG naming the option, the value and the valid choices', () => {
    const dtype = thrown(() => save({ dtype: 'float64' }));
    expect(dtype.code).toBe('INVALID_CONFIG');
    expect(dtype.message).toBe('savePretrained: dtype "float64" is not one of: float32, float16, bfloat16');
    expect(dtype.details).toMatchObject({ field: 'dtype', value: 'float64' });
    expect(thrown(() => save({ taskType: 'LM' })).message).toContain('taskType "LM" is not one of: SEQ_CLS');
    expect(thrown(() => save({ autoMapping: { baseModelClass: 1 } })).message).toContain(
      'autoMapping must be',
    );
    expect(thrown(() => save({ selectedAdapters: 'a' })).message).toContain(
      'selectedAdapters must be a list',
    );
    expect(thrown(() => load({ isTrainable: 'yes' })).message).toMatch(
      /^loadPretrained: option 'isTrainable' must be true or false, got .*"yes"/,
    );
    expect(thrown(() => save(null)).message).toContain('options must be an object, got null');
  });

  it('every bad option is reported in one error; an unknown option lists the valid ones', () => {
    const err = thrown(() => save({ dtype: 'x', peftVersion: 3, dtyp: 'float16' }));
    expect(err.details.fields).toEqual(expect.arrayContaining(['dtype', 'peftVersion', 'dtyp']));
    expect(err.message).toContain('dtype "x"');
    expect(err.message).toContain('peftVersion must be a string');
    expect(err.message).toContain('option "dtyp" is not one of: selectedAdapters, dtype,');
    const adapterName = thrown(() =>
      parsePeftOptions(loadAdapterOptionsSchema, { adapterName: 'x' }, 'loadAdapter'),
    );
    expect(adapterName.code).toBe('INVALID_CONFIG');
    expect(adapterName.message).toContain('option "adapterName" is not one of: subfolder,');
  });
});
