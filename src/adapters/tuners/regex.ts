/**
 * Module-key patterns for target matching (SPEC §4.2). Patterns come from callers and from
 * `adapter_config.json` files, so they run on a linear-time engine (RE2, via `re2js`): no pattern can
 * make matching hang, whatever it nests (`(.+)+X` backtracks for minutes in `RegExp`, not here). The
 * syntax is Python's `re` minus what needs backtracking (backreferences, lookahead, atomic groups,
 * possessive quantifiers), which is refused with `INVALID_CONFIG` naming the pattern and the feature.
 * Python's `\Z` is read as `\z`; JavaScript's `(?<name>…)` and lookbehinds are accepted too.
 */
import { RE2JS } from 're2js';
import { AdapterError } from '../../errors.js';

/**
 * Rewrites Python `re` syntax that JavaScript lacks: `(?P<name>…)` → `(?<name>…)`,
 * `(?P=name)` → `\k<name>`, `\Z` → `$`. Escaped text (`\\Z`, `\(?P<`) is left alone. For callers
 * that want a JavaScript `RegExp`; the library itself matches with {@link compilePattern}.
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

/**
 * Rewrites Python `re` syntax for RE2: `\Z` → `\z` (end of text). Escaped text (`\\Z`) is left alone.
 *
 * @example
 * ```ts
 * pythonRegexToRe2('(?P<x>q)_proj\\Z'); // '(?P<x>q)_proj\\z'
 * ```
 */
export function pythonRegexToRe2(pattern: string): string {
  return pattern.replace(/\\(.)/gs, (m, c: string) => (c === 'Z' ? '\\z' : m));
}

/** Backtracking-only constructs, named for the error message (checked outside character classes). */
const UNSUPPORTED: ReadonlyArray<[RegExp, string]> = [
  [/\(\?P=/, 'a named backreference (?P=…)'],
  [/\\k</, 'a named backreference \\k<…>'],
  [/\\[1-9]/, 'a backreference (\\1 … \\9)'],
  [/\(\?[=!]/, 'a lookahead (?=…) / (?!…)'],
  [/\(\?>/, 'an atomic group (?>…)'],
  [/\(\?\(/, 'a conditional group (?(…)…)'],
  [/[*+?}]\+/, 'a possessive quantifier (*+, ++, ?+)'],
];

/** `pattern` with escapes and character classes blanked, so feature checks see only real syntax. */
function syntaxOnly(pattern: string): string {
  return pattern.replace(/\\[^1-9k]|\[(?:\\.|[^\]\\])*\]/gs, '_');
}

/** A compiled pattern: `test` (is there a match) and `exec` (the match and its groups), in linear time. */
export type LinearPattern = Pick<RE2JS, 'test' | 'exec'>;

const cache = new Map<string, LinearPattern>();

/**
 * Compiles a pattern for the linear-time engine. `wrap` receives the rewritten pattern and returns the
 * full source (default `^(?:p)$`, a full match as Python's `re.fullmatch`). A pattern that does not
 * compile, or uses a construct that needs backtracking → `INVALID_CONFIG` naming it and `field`.
 */
export function compilePattern(
  pattern: string,
  field: string,
  wrap: (p: string) => string = (p) => `^(?:${p})$`,
): LinearPattern {
  const source = wrap(pythonRegexToRe2(pattern));
  let re = cache.get(source);
  if (!re) {
    const unsupported = UNSUPPORTED.find(([probe]) => probe.test(syntaxOnly(pattern)));
    if (unsupported) {
      throw new AdapterError(
        'INVALID_CONFIG',
        `${field}: the pattern ${JSON.stringify(pattern)} uses ${unsupported[1]}, which patterns cannot use: they run on a linear-time engine (RE2 syntax) so that no pattern can hang the process; rewrite it without that construct`,
        { field, value: pattern },
      );
    }
    try {
      re = RE2JS.compile(source, RE2JS.LOOKBEHINDS);
    } catch (e) {
      throw new AdapterError(
        'INVALID_CONFIG',
        `${field}: the pattern ${JSON.stringify(pattern)} is not a valid regular expression for the linear-time engine (RE2 syntax: ${(e as Error).message})`,
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
