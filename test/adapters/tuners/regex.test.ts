/** Module-key patterns on the linear-time engine: PEFT's semantics, Python syntax, clear refusals. */
import { describe, expect, it } from 'vitest';
import { compilePattern, pythonRegexToRe2 } from '../../../src/adapters/tuners/regex.js';
import { thrown } from '../../helpers.js';

const KEY = 'model.layers.0.self_attn.q_proj';
const suffix = (p: string) => compilePattern(p, 'rankPattern', (q) => `^(.*\\.)?(?:${q})$`);

describe('linear-time module patterns', () => {
  it('full match for target_modules strings (re.fullmatch), suffix match for rank/alpha pattern keys', () => {
    expect(compilePattern('.*q_proj', 'targetModules').test(KEY)).toBe(true);
    expect(compilePattern('q_proj', 'targetModules').test(KEY)).toBe(false);
    expect(compilePattern('.*self_attn', 'targetModules').test(KEY)).toBe(false);
    expect(suffix('q_proj').test(KEY)).toBe(true);
    expect(suffix('self_attn.q_proj').test(KEY)).toBe(true);
    expect(suffix('attn.q_proj').test(KEY)).toBe(false); // must start at a '.' boundary
    expect(suffix('layers\\.0\\..*').test(KEY)).toBe(true);
    expect(suffix('self_attn').test(KEY)).toBe(false);
  });

  it("reads Python syntax: (?P<name>…), \\Z, inline flags; JavaScript's (?<name>…) and lookbehinds too", () => {
    expect(pythonRegexToRe2('a\\Z')).toBe('a\\z');
    expect(pythonRegexToRe2('a\\\\Z')).toBe('a\\\\Z');
    expect(compilePattern('.*\\.(?P<p>q)_proj\\Z', 'targetModules').test(KEY)).toBe(true);
    expect(compilePattern('.*\\.(?<p>q)_proj', 'targetModules').test(KEY)).toBe(true);
    expect(compilePattern('(?i).*Q_PROJ', 'targetModules').test(KEY)).toBe(true);
    expect(compilePattern('.*(?<!self_attn\\.)q_proj', 'targetModules').test(KEY)).toBe(false);
    expect(compilePattern('.*(?<=self_attn\\.)q_proj', 'targetModules').test(KEY)).toBe(true);
    const layer = compilePattern('layers', 'layersPattern', (q) => `^.*?\\.(?:${q})\\.(\\d+)\\.`).exec(KEY);
    expect(layer?.at(-1)).toBe('0');
  });

  it.each([
    ['(?P<x>a)(?P=x)', 'named backreference'],
    ['(a)\\1', 'backreference'],
    ['^(?!.*vision).*q_proj', 'lookahead'],
    ['.*(?=q_proj)q_proj', 'lookahead'],
    ['(?>a+)b', 'atomic group'],
    ['a++', 'possessive'],
  ])('refuses %s (needs backtracking) with INVALID_CONFIG naming it and the construct', (p, what) => {
    const err = thrown(() => compilePattern(p, 'targetModules'));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain(JSON.stringify(p));
    expect(err.message).toContain(what);
    expect(err.message).toContain('targetModules');
  });

  it('escaped or bracketed look-alikes are not refused: \\(?=, [(?!], \\\\1 as text', () => {
    expect(compilePattern('a\\(\\?=', 'targetModules').test('a(?=')).toBe(true);
    expect(compilePattern('[(?!]+', 'targetModules').test('(?!')).toBe(true);
  });

  it('a pattern that does not compile names itself and the engine', () => {
    const err = thrown(() => compilePattern('a{2000}', 'alphaPattern'));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('"a{2000}"');
    expect(err.message).toContain('RE2 syntax');
  });
});
