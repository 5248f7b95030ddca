/**
 * `npm run demo:web [-- --port N]`: serves the web demo on 127.0.0.1 and prints its URL.
 * The port comes from `--port`, else the PORT environment variable, else 8080 (0 picks a free one).
 */
import { parseArgs } from 'node:util';
import { startDemoServer } from './server.js';

const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string' } } });
const raw = values.port ?? process.env['PORT'] ?? '8080';
const port = Number(raw);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`demo:web: --port must be an integer from 0 to 65535, got '${raw}'`);
  process.exit(2);
}
const demo = await startDemoServer({ port, host: values.host ?? '127.0.0.1' });
console.log(`adapterkit web demo: ${demo.url}  (Ctrl-C stops it)`);
