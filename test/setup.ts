import { initBackend } from '../src/backend/backend.js';

// Every test file runs on the library's default Node backend (wasm) unless it switches.
await initBackend();
