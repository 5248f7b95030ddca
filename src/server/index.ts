/** The multi-adapter server (Node only): `AdapterServer` and the pieces it is built from. */
export { AdapterServer, type AdapterServerOptions } from './adapter-server.js';
export { AdapterPool, type AdapterPoolOptions } from './adapter-pool.js';
export { ApiError } from './api-error.js';
export {
  DecodeEngine,
  type DecodeEngineOptions,
  type GenerationRequest,
  type RoutedForward,
} from './decode-engine.js';
export { ServerMetrics } from './metrics.js';
