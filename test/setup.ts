import { initBackend } from '../src/backend/backend.js';
import { setLogger } from '../src/logger.js';

// Every test file runs on the library's default Node backend (wasm, with native kernels when they
// are built) unless it switches. The library's once-per-process note about missing native kernels
// is silenced here: test/backend/native.test.ts prints the suite's one line about it.
const previous = setLogger({ warn: () => {} });
await initBackend();
setLogger(previous);
