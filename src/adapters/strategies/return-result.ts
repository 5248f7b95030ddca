import type { Tensor } from '../../backend/tf.js';
import type { Module } from '../../nn/module.js';
import { z } from 'zod';
import { configField } from '../config-schema.js';
import type { AdapterInput, AdapterStrategy } from '../types.js';

/** Fields of `returnResult`: none but `type`. */
export const returnResultSchema = z.strictObject({ type: configField.string() });

/**
 * Returns the adapter's result with no residual (what NeMo calls `ReturnResultAdapterStrategy`).
 * A tensor is passed as is, an array as positional arguments, a plain object as named arguments.
 */
export class ReturnResultStrategy implements AdapterStrategy {
  constructor(_options: Record<string, never> = {}) {}
  forward(input: AdapterInput, adapter: Module, _ctx?: { module: Module }): AdapterInput {
    return Array.isArray(input) ? adapter.forward(...(input as Tensor[])) : adapter.forward(input);
  }
}
