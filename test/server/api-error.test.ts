import { describe, expect, it } from 'vitest';
import { AdapterError } from '../../src/errors.js';
import { ApiError, toApiError } from '../../src/server/api-error.js';

describe('ApiError', () => {
  it('serialises as an OpenAI-style error body; 5xx are server errors, 4xx invalid requests', () => {
    const e = new ApiError(400, 'invalid_request', 'max_tokens: too small', undefined, 'max_tokens');
    expect(e.type).toBe('invalid_request_error');
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      error: {
        message: 'max_tokens: too small',
        type: 'invalid_request_error',
        code: 'invalid_request',
        param: 'max_tokens',
      },
    });
    expect(new ApiError(503, 'busy', 'queue full').toJSON().error).toMatchObject({
      type: 'server_error',
      param: null,
    });
  });
});

describe('toApiError', () => {
  it('passes ApiErrors through unchanged', () => {
    const e = new ApiError(409, 'conflict', 'already loaded');
    expect(toApiError(e)).toBe(e);
  });

  it('maps an unknown adapter to 404 on the model parameter, bad input to 400', () => {
    const unknown = toApiError(new AdapterError('UNKNOWN_ADAPTER', "no adapter 'x'; known: a, b"));
    expect(unknown).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
    expect(unknown.message).toBe("no adapter 'x'; known: a, b");
    expect(toApiError(new AdapterError('INVALID_INPUT', 'prompt is empty'))).toMatchObject({
      status: 400,
      code: 'invalid_input',
      message: 'prompt is empty',
    });
  });

  it('maps other library errors (an invalid or mismatched stored adapter) to 422 with the code in the message', () => {
    const e = toApiError(new AdapterError('CHECKPOINT_MISMATCH', 'hash differs'));
    expect(e).toMatchObject({ status: 422, code: 'invalid_adapter', param: 'model' });
    expect(e.message).toBe('CHECKPOINT_MISMATCH: hash differs');
  });

  it('maps anything else to a 500 internal error that keeps the message', () => {
    expect(toApiError(new TypeError('x is undefined'))).toMatchObject({
      status: 500,
      code: 'internal_error',
      type: 'server_error',
      message: 'internal error: x is undefined',
    });
    expect(toApiError('boom').message).toBe('internal error: boom');
  });
});
