import { describe, expect, it } from 'vitest';
import { AdapterError } from '../../src/errors.js';
import { evaluateJobSchema, exportJobSchema, parsePayload, trainJobSchema } from '../../src/jobs/payload.js';

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
