import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as core from '../../src/index.js';
import * as node from '../../src/node.js';

const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');

/** Every value exported by the Node entry, its namespaces, and the members of its classes. */
function knownNames(): Set<string> {
  const names = new Set<string>();
  const addClass = (v: unknown) => {
    if (typeof v !== 'function') return;
    for (
      let p = (v as { prototype?: object }).prototype;
      p && p !== Object.prototype;
      p = Object.getPrototypeOf(p)
    )
      for (const k of Object.getOwnPropertyNames(p)) names.add(k);
    for (const k of Object.getOwnPropertyNames(v)) names.add(k);
  };
  for (const [k, v] of Object.entries(node)) {
    names.add(k);
    addClass(v);
    if (k !== 'tf' && v && typeof v === 'object' && !Array.isArray(v))
      for (const [kk, vv] of Object.entries(v)) {
        names.add(kk);
        addClass(vv);
      }
  }
  // Config values the README names: registered adapter and strategy types.
  for (const t of [...node.adapters.listAdapterTypes(), ...node.adapters.listStrategyTypes()]) names.add(t);
  return names;
}

/** Names the README uses that are not runtime values: types, options and instance fields. */
const NOT_VALUES = new Set(['FileSink', 'FileSource', 'checkpointDir', 'adapterModuleNames', 'skipLibCheck']);

describe('what the README documents is exported', () => {
  it('every name imported in its code blocks comes from the entry it names', () => {
    const imports = [...readme.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(adapterkit(?:\/node)?)'/g)];
    expect(imports.length).toBeGreaterThan(1);
    for (const [, list, entry] of imports) {
      const mod: Record<string, unknown> = entry === 'adapterkit' ? core : node;
      for (const name of list!
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s && !s.startsWith('type ')))
        expect(mod[name], `${name} from '${entry}'`).toBeDefined();
    }
  });

  it('every function and class the API overview and the entry list name exists', () => {
    const section = ['## Install and import', '## API overview']
      .map((h) => readme.slice(readme.indexOf(h), readme.indexOf('\n## ', readme.indexOf(h) + 1)))
      .join('\n');
    const named = [...section.matchAll(/`([A-Za-z][A-Za-z0-9]*)(?:\(|`)/g)]
      .map((m) => m[1]!)
      .filter((n) => /^[A-Z][a-z]|^[a-z]+[A-Z]/.test(n)); // classes and camelCase functions, not plain words
    const known = knownNames();
    expect(named.length).toBeGreaterThan(30);
    expect(named.filter((n) => !known.has(n) && !NOT_VALUES.has(n))).toEqual([]);
  });
});
