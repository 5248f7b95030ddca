/**
 * Module-key patterns for target matching (SPEC §4.2). Patterns are JavaScript regular expressions;
 * Python-only syntax found in PEFT configs is rewritten first, so the same pattern string behaves the
 * same whether it came from a caller or from an `adapter_config.json`.
 */
import { AdapterError } from '../../errors.js';

/**
 * Rewrites Python `re` syntax that JavaScript lacks: `(?P<name>…)` → `(?<name>…)`,
 * `(?P=name)` → `\k<name>`, `\Z` → `$`. Escaped text (`\\Z`, `\(?P<`) is left alone.
 *
 * @example
 * ```ts
 * pythonRegexToJs('(?P<x>q)_proj\\Z'); // '(?<x>q)_proj$'
 * ```
 */
export function pythonRegexToJs(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === 'Z') out += '$';
      else if (next !== undefined) out += c + next;
      else out += c;
      i++;
      continue;
    }
    if (pattern.startsWith('(?P<', i)) {
      out += '(?<';
      i += 3;
      continue;
    }
    if (pattern.startsWith('(?P=', i)) {
      const end = pattern.indexOf(')', i);
      if (end > 0) {
        out += `\\k<${pattern.slice(i + 4, end)}>`;
        i = end;
        continue;
      }
    }
    out += c;
  }
  return out;
}

const cache = new Map<string, RegExp>();

/**
 * Compiles `^(?:<pattern>)$`-style anchored expressions. `wrap` receives the rewritten pattern and
 * returns the full source. A pattern that does not compile → `INVALID_CONFIG` naming it and `field`.
 */
export function compilePattern(pattern: string, field: string, wrap: (p: string) => string = (p) => `^(?:${p})$`): RegExp {
  const source = wrap(pythonRegexToJs(pattern));
  let re = cache.get(source);
  if (!re) {
    try {
      re = new RegExp(source);
    } catch (e) {
      throw new AdapterError(
        'INVALID_CONFIG',
        `${field}: the pattern ${JSON.stringify(pattern)} is not a valid regular expression (${(e as Error).message})`,
        { field, value: pattern },
      );
    }
    cache.set(source, re);
  }
  return re;
}

/** True when the whole `key` matches `pattern` (Python's `re.fullmatch`). */
export function fullMatch(pattern: string, key: string, field: string): boolean {
  return compilePattern(pattern, field).test(key);
}

/** Escapes a plain string for use inside a regular expression. */
export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
