#!/usr/bin/env node
/* global process, console -- a Node script */
/**
 * Lists source files under src/ that hold behaviour but have no test file at the mirrored path
 * (`src/nn/module.ts` → `test/nn/module.test.ts`), as tfjs-core keeps `dropout_test.ts` beside `dropout.ts`.
 *
 * A file holds behaviour when it declares a function or a class, or a constant whose value is a
 * function. Files of only types, re-exports, constant data or registration calls do not.
 *
 * Usage: `node scripts/check-test-files.mjs [--strict]`; with `--strict` (what `npm run check` runs) it exits 1 when a file is missing
 * its test file.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(import.meta.dirname, '..');
const strict = process.argv.includes('--strict');

/** Every `.ts` file under `dir` (declaration files excluded), sorted. */
function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sourceFiles(full));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

const isFunctionValue = (node) =>
  node !== undefined &&
  (ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isClassExpression(node));

/** True when the file's top level declares a function, a class, or a function-valued constant. */
function holdsBehaviour(file) {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  return sf.statements.some(
    (s) =>
      (ts.isFunctionDeclaration(s) && s.body !== undefined) ||
      ts.isClassDeclaration(s) ||
      (ts.isVariableStatement(s) &&
        s.declarationList.declarations.some((d) => isFunctionValue(d.initializer))),
  );
}

const missing = [];
let behavioural = 0;
for (const file of sourceFiles(path.join(root, 'src'))) {
  if (!holdsBehaviour(file)) continue;
  behavioural++;
  const rel = path.relative(path.join(root, 'src'), file);
  const testFile = path.join('test', rel.replace(/\.ts$/, '.test.ts'));
  if (!existsSync(path.join(root, testFile))) missing.push([path.join('src', rel), testFile]);
}

for (const [src, test] of missing) console.log(`${src}  (no ${test})`);
console.log(
  `${missing.length} of ${behavioural} source files that hold behaviour have no test file at the mirrored path`,
);
if (strict && missing.length > 0) process.exit(1);
