import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  nameList,
  nonEmptyText,
  nonNegativeInt,
  positiveInt,
  positiveNumber,
  probability,
  windowCount,
} from '../../src/cli/args.js';

describe('command-line value parsers', () => {
  it('positiveInt accepts whole numbers ≥ 1 and names the flag and the value otherwise', () => {
    const parse = positiveInt('--steps');
    expect(parse('3')).toBe(3);
    for (const bad of ['0', '-1', '1.5', 'x', '']) {
      expect(() => parse(bad)).toThrow(InvalidArgumentError);
    }
    expect(() => parse('1.5')).toThrow("--steps must be a whole number ≥ 1, got '1.5'");
  });

  it('nonNegativeInt accepts 0 and rejects negative or fractional values', () => {
    const parse = nonNegativeInt('--warmup');
    expect(parse('0')).toBe(0);
    expect(parse('7')).toBe(7);
    expect(() => parse('-1')).toThrow("--warmup must be a whole number ≥ 0, got '-1'");
    expect(() => parse('0.5')).toThrow(InvalidArgumentError);
  });

  it('positiveNumber accepts finite numbers > 0 only', () => {
    const parse = positiveNumber('--lr');
    expect(parse('0.01')).toBe(0.01);
    expect(parse('1e-3')).toBe(1e-3);
    for (const bad of ['0', '-0.1', 'Infinity', 'NaN', 'abc']) {
      expect(() => parse(bad)).toThrow(`--lr must be a number > 0, got '${bad}'`);
    }
  });

  it('probability accepts [0, 1] inclusive', () => {
    const parse = probability('--dropout');
    expect(parse('0')).toBe(0);
    expect(parse('1')).toBe(1);
    expect(parse('0.25')).toBe(0.25);
    expect(() => parse('1.01')).toThrow("--dropout must be a number in [0, 1], got '1.01'");
    expect(() => parse('-0.1')).toThrow(InvalidArgumentError);
  });

  it('nameList splits on commas, trims, and rejects empty names', () => {
    const parse = nameList('--methods');
    expect(parse('lora, linear ,parallel')).toEqual(['lora', 'linear', 'parallel']);
    expect(() => parse('lora,,linear')).toThrow(
      "--methods must be a comma-separated list of names, got 'lora,,linear'",
    );
    expect(() => parse('')).toThrow(InvalidArgumentError);
  });

  it("windowCount accepts 'all' or a whole number ≥ 1, naming both in its error", () => {
    const parse = windowCount('--eval-windows');
    expect(parse('all')).toBe('all');
    expect(parse('12')).toBe(12);
    expect(() => parse('0')).toThrow("--eval-windows must be a whole number ≥ 1 or 'all', got '0'");
    expect(() => parse('some')).toThrow(InvalidArgumentError);
  });

  it('nonEmptyText rejects the empty string, saying why', () => {
    const parse = nonEmptyText('--prompt', 'the model needs text to continue');
    expect(parse(' ')).toBe(' ');
    expect(parse('Call me')).toBe('Call me');
    expect(() => parse('')).toThrow('--prompt must not be empty (the model needs text to continue)');
  });
});
