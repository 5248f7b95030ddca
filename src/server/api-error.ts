/** Errors the server returns as OpenAI-style JSON: `{"error": {"message", "type", "code"}}`. */
import { AdapterError } from '../errors.js';

/** An error with the HTTP status it is answered with. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: string = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly param: string | null = null,
  ) {
    super(message);
  }

  /** The response body. */
  toJSON(): { error: { message: string; type: string; code: string; param: string | null } } {
    return { error: { message: this.message, type: this.type, code: this.code, param: this.param } };
  }
}

/** Maps a thrown value to an {@link ApiError}: library errors about adapters are 4xx, the rest 500. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof AdapterError) {
    if (e.code === 'UNKNOWN_ADAPTER')
      return new ApiError(404, 'model_not_found', e.message, 'invalid_request_error', 'model');
    if (e.code === 'INVALID_INPUT') return new ApiError(400, 'invalid_input', e.message);
    // A stored adapter that fails validation, or does not fit the base model.
    return new ApiError(422, 'invalid_adapter', `${e.code}: ${e.message}`, 'invalid_request_error', 'model');
  }
  return new ApiError(500, 'internal_error', `internal error: ${(e as Error)?.message ?? String(e)}`);
}
