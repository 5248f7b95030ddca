import { describe, expect, it } from 'vitest';
import { AdapterError } from '../../src/errors.js';
import {
  checkPeftExportable,
  evaluateJobSchema,
  exportJobSchema,
  JOB_METHODS,
  parsePayload,
  trainJobSchema,
} from '../../src/jobs/payload.js';
import { ADAPT_METHODS } from '../../src/recipes/adapt.js';

/** The AdapterError `fn` throws. */
function errorOf(fn: () => unknown): AdapterError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AdapterError);
    return e as AdapterError;
  }
  throw new Error('expected an AdapterError');
}

const minimal = {
  name: 'moby-lora',
  base: '/models/base',
  data: 'mobydick',
  method: { kind: 'lora', r: 4 },
  training: { steps: 10 },
};

describe('training job payloads', () => {
  it('fill in defaults for the method and the training options', () => {
    const p = parsePayload(trainJobSchema, minimal, 'training job');
    expect(p.textField).toBe('text');
    expect(p.seed).toBe(0);
    expect(p.replace).toBe(false);
    expect(p.training).toEqual({ steps: 10, batch: 16, evalWindows: 32 });
    expect(p.method).toEqual({ kind: 'lora', r: 4, targetModules: ['q_proj', 'v_proj'] });
    const parallel = parsePayload(
      trainJobSchema,
      { ...minimal, method: { kind: 'parallel', dim: 8 } },
      'training job',
    );
    expect(parallel.method).toEqual({ kind: 'parallel', dim: 8, scaling: 4 });
  });

  it('a bad payload is INVALID_CONFIG naming every bad field by its dotted path', () => {
    const e = errorOf(() =>
      parsePayload(
        trainJobSchema,
        { ...minimal, name: '.hidden', training: { steps: 0 }, method: { kind: 'lora', r: 2.5 } },
        'training job',
      ),
    );
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toMatch(/^invalid training job: /);
    expect(e.message).toContain(
      "name: 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
    );
    expect(e.message).toContain('training.steps:');
    expect(e.message).toContain('method.r:');
    expect((e.details.issues as string[]).length).toBe(3);
  });

  it('refuses a method that produces no adapter, and unknown fields', () => {
    expect(
      errorOf(() => parsePayload(trainJobSchema, { ...minimal, method: { kind: 'full' } }, 'job')).message,
    ).toContain('method.kind:');
    expect(errorOf(() => parsePayload(trainJobSchema, { ...minimal, epochs: 3 }, 'job')).message).toContain(
      'epochs',
    );
    expect(errorOf(() => parsePayload(trainJobSchema, null, 'job')).message).toContain('(payload):');
  });
});

describe('every adapter method of adapterkit adapt', () => {
  const methodOf = (method: unknown) =>
    parsePayload(trainJobSchema, { ...minimal, method }, 'training job').method;

  it('job methods are exactly the adapt methods that produce an adapter', () => {
    expect([...JOB_METHODS].sort()).toEqual(ADAPT_METHODS.filter((m) => m !== 'full').sort());
  });

  it('vera, prefix and mam take their options with adapt’s defaults; every kind takes modulesToSave', () => {
    expect(methodOf({ kind: 'vera', r: 4 })).toEqual({
      kind: 'vera',
      r: 4,
      targetModules: ['q_proj', 'v_proj'],
    });
    expect(
      methodOf({ kind: 'vera', r: 4, targetModules: ['fc1'], dropout: 0.1, projectionPrngKey: 3 }),
    ).toEqual({ kind: 'vera', r: 4, targetModules: ['fc1'], dropout: 0.1, projectionPrngKey: 3 });
    expect(methodOf({ kind: 'prefix' })).toEqual({ kind: 'prefix', numVirtualTokens: 16 });
    expect(
      methodOf({ kind: 'prefix', numVirtualTokens: 4, prefixProjection: true, encoderHiddenSize: 8 }),
    ).toEqual({ kind: 'prefix', numVirtualTokens: 4, prefixProjection: true, encoderHiddenSize: 8 });
    expect(methodOf({ kind: 'mam', dim: 8 })).toEqual({
      kind: 'mam',
      dim: 8,
      scaling: 4,
      numVirtualTokens: 16,
    });
    const heads = { modulesToSave: ['lm_head', 'decoder.norm'] };
    for (const m of [
      { kind: 'lora', r: 2 },
      { kind: 'linear', dim: 4 },
      { kind: 'parallel', dim: 4 },
      { kind: 'vera', r: 2 },
      { kind: 'prefix' },
      { kind: 'mam', dim: 4 },
    ])
      expect(methodOf({ ...m, ...heads })).toMatchObject({ ...m, ...heads });
  });

  it('refuses unknown keys, bad values, and encoderHiddenSize without prefixProjection', () => {
    const bad: [unknown, string][] = [
      [{ kind: 'vera', r: 4, alpha: 8 }, 'alpha'],
      [{ kind: 'vera', r: 0 }, 'method.r:'],
      [{ kind: 'vera', r: 4, projectionPrngKey: 1.5 }, 'method.projectionPrngKey:'],
      [{ kind: 'prefix', numVirtualTokens: 0 }, 'method.numVirtualTokens:'],
      [{ kind: 'prefix', dim: 4 }, 'dim'],
      [
        { kind: 'prefix', encoderHiddenSize: 8 },
        'method.encoderHiddenSize: encoderHiddenSize is the width of the prefix MLP; set prefixProjection: true',
      ],
      [{ kind: 'mam', numVirtualTokens: 4 }, 'method.dim:'],
      [{ kind: 'mam', dim: 4, scaling: -1 }, 'method.scaling:'],
      [{ kind: 'mam', dim: 4, prefixProjection: false, encoderHiddenSize: 8 }, 'method.encoderHiddenSize:'],
      [{ kind: 'lora', r: 2, modulesToSave: [] }, 'method.modulesToSave:'],
      [{ kind: 'linear', dim: 4, modulesToSave: ['lm_head', ''] }, 'method.modulesToSave.1:'],
    ];
    for (const [method, part] of bad) {
      const e = errorOf(() => parsePayload(trainJobSchema, { ...minimal, method }, 'training job'));
      expect(e.code).toBe('INVALID_CONFIG');
      expect(e.message).toContain(part);
    }
  });

  it('an unknown method is refused naming every valid one', () => {
    const e = errorOf(() => parsePayload(trainJobSchema, { ...minimal, method: { kind: 'ia3' } }, 'job'));
    expect(e.message).toContain('method.kind:');
    for (const m of JOB_METHODS) expect(e.message).toContain(`'${m}'`);
  });

  it('only lora and vera adapters can be exported to PEFT; others are refused naming those that can', () => {
    for (const kind of ['lora', 'vera'])
      expect(() => checkPeftExportable({ name: 'a', method: { kind } })).not.toThrow();
    for (const kind of ['linear', 'parallel', 'prefix', 'mam']) {
      const e = errorOf(() => checkPeftExportable({ name: 'acme', method: { kind } }));
      expect(e.code).toBe('UNSUPPORTED_FEATURE');
      expect(e.message).toContain(`adapter 'acme': a ${kind} adapter has no PEFT form`);
      expect(e.message).toContain('methods that export to PEFT: lora, vera');
    }
  });
});

describe('flow step payloads', () => {
  it('evaluation and export payloads are validated with their own defaults', () => {
    expect(parsePayload(evaluateJobSchema, { name: 'a', base: 'b', data: 'sotu' }, 'evaluation job')).toEqual(
      { name: 'a', base: 'b', data: 'sotu', textField: 'text', evalWindows: 64, batch: 16 },
    );
    expect(parsePayload(exportJobSchema, { name: 'a', out: '/tmp/x' }, 'export job')).toEqual({
      name: 'a',
      out: '/tmp/x',
    });
    expect(errorOf(() => parsePayload(exportJobSchema, { name: 'a' }, 'export job')).message).toContain(
      'out:',
    );
  });
});
