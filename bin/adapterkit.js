#!/usr/bin/env node
// The `adapterkit` command: runs the compiled CLI in dist/, which `npm run build` writes (the `prepare`
// script runs it on `npm ci`, `npm install` from a checkout, and `npm pack`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(compiled))) {
  console.error(
    `adapterkit: the compiled CLI ${fileURLToPath(compiled)} is missing; run \`npm run build\` in ${fileURLToPath(new URL('..', import.meta.url))}`,
  );
  process.exit(1);
}
const { main } = await import(compiled.href);
process.exitCode = await main(process.argv);
