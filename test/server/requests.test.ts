import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/server/api-error.js';
import { adapterRequestSchema, completionRequestSchema, parseBody } from '../../src/server/requests.js';

/** The ApiError `fn` throws. */
function apiErrorOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error('expected an ApiError');
}

describe('completion requests', () => {
  it('fill in the defaults of the OpenAI fields', () => {
    expect(parseBody(completionRequestSchema, { model: 'base', prompt: 'Call me' }, 'completion')).toEqual({
      model: 'base',
      prompt: 'Call me',
      max_tokens: 16,
      temperature: 1,
      seed: 0,
      stream: false,
    });
    expect(
      parseBody(completionRequestSchema, { model: 'a', prompt: ['one'], n: 1 }, 'completion').prompt,
    ).toEqual(['one']);
  });

  it('a bad field is a 400 naming the field as param', () => {
    const e = apiErrorOf(() =>
      parseBody(completionRequestSchema, { model: 'a', prompt: 'x', max_tokens: 0 }, 'completion'),
    );
    expect(e.status).toBe(400);
    expect(e.code).toBe('invalid_request');
    expect(e.param).toBe('max_tokens');
    expect(e.message).toMatch(/^completion: max_tokens: /);
  });

  it('several bad fields are all named; a prompt array must hold exactly one string', () => {
    const e = apiErrorOf(() =>
      parseBody(completionRequestSchema, { model: '', prompt: ['a', 'b'], temperature: 3 }, 'completion'),
    );
    expect(e.message).toContain('model:');
    expect(e.message).toContain('prompt');
    expect(e.message).toContain('temperature:');
  });

  it('unknown fields are refused listing the supported ones, with no param', () => {
    const e = apiErrorOf(() =>
      parseBody(completionRequestSchema, { model: 'a', prompt: 'x', logprobs: 2 }, 'completion'),
    );
    expect(e.message).toContain("unsupported field(s) 'logprobs'; supported: model, prompt, max_tokens");
    expect(e.param).toBeNull();
  });
});

describe('adapter load/unload requests', () => {
  it('need a non-empty lora_name', () => {
    expect(parseBody(adapterRequestSchema, { lora_name: 'x' }, 'load')).toEqual({ lora_name: 'x' });
    const e = apiErrorOf(() => parseBody(adapterRequestSchema, {}, 'load'));
    expect(e.param).toBe('lora_name');
    expect(e.message).toMatch(/^load: lora_name: /);
    expect(apiErrorOf(() => parseBody(adapterRequestSchema, null, 'load')).message).toMatch(/^load: body: /);
  });
});
