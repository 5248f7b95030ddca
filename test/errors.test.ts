/** The library's error type and the helpers that build its messages. */
import { describe, expect, it } from 'vitest';
import { AdapterError, check, describeValue, isPlainObject, notOneOf } from '../src/errors.js';
import { Module } from '../src/nn/module.js';

describe('AdapterError', () => {
  it('carries a stable code, the message and details; its name is AdapterError', () => {
    const e = new AdapterError('INVALID_CONFIG', 'dim must be positive', { field: 'dim' });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('AdapterError');
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toBe('dim must be positive');
    expect(e.details).toEqual({ field: 'dim' });
    expect(new AdapterError('UNKNOWN_TYPE', 'x').details).toEqual({});
  });
});

describe('check', () => {
  it('throws the code, message and details only when the condition fails, building the message only then', () => {
    let built = 0;
    const msg = () => {
      built++;
      return 'bad';
    };
    check(true, 'INVALID_INPUT', msg);
    check(1, 'INVALID_INPUT', msg);
    expect(built).toBe(0);
    try {
      check(0, 'INVALID_INPUT', msg, () => ({ got: 0 }));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(AdapterError);
      expect(e).toMatchObject({ code: 'INVALID_INPUT', message: 'bad', details: { got: 0 } });
    }
    expect(built).toBe(1);
  });
});

describe('message helpers', () => {
  it('notOneOf names the value and every valid choice', () => {
    expect(notOneOf('activation', 'swishh', ['relu', 'swish'])).toBe(
      'activation "swishh" is not one of: relu, swish',
    );
    expect(notOneOf('adapter', 'a', [])).toBe('adapter "a" is not one of: (none)');
  });

  it('describeValue says what a value is in words', () => {
    class Thing {}
    expect(describeValue(null)).toBe('null');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(Thing)).toBe('a class or function (Thing)');
    expect(describeValue([1])).toBe('an array');
    expect(describeValue({})).toBe('a plain object');
    expect(describeValue(new Thing())).toBe('an instance of Thing');
    expect(describeValue(new Module())).toBe('an instance of Module');
    expect(describeValue('x')).toBe('the string "x"');
    expect(describeValue(42)).toBe('the number 42');
  });

  it('isPlainObject accepts {} and null-prototype objects only', () => {
    expect(isPlainObject({ a: 1 })).toBe(true);
    expect(isPlainObject(Object.create(null))).toBe(true);
    expect(isPlainObject([])).toBe(false);
    expect(isPlainObject(null)).toBe(false);
    expect(isPlainObject(new Module())).toBe(false);
    expect(isPlainObject('x')).toBe(false);
  });
});
