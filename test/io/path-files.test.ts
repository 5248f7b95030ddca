import { afterEach, describe, expect, it } from 'vitest';
import { requirePathFiles, setPathFiles, type PathFiles } from '../../src/io/path-files.js';
import { thrown } from '../helpers.js';

afterEach(() => setPathFiles(null));

describe('path file access', () => {
  it('without an installed implementation, requirePathFiles names the caller and the two ways out (UNSUPPORTED_FEATURE)', () => {
    setPathFiles(null);
    const e = thrown(() => requirePathFiles('savePretrained'));
    expect(e.code).toBe('UNSUPPORTED_FEATURE');
    expect(e.message.startsWith('savePretrained: ')).toBe(true);
    expect(e.message).toContain("import from 'adapterkit/node'");
    expect(e.message).toContain('in-memory storage');
  });

  it('returns the implementation installed with setPathFiles, until it is removed', () => {
    const files = { join: (...p: string[]) => p.join('|') } as unknown as PathFiles;
    setPathFiles(files);
    expect(requirePathFiles('x')).toBe(files);
    expect(requirePathFiles('x').join('a', 'b')).toBe('a|b');
    setPathFiles(null);
    expect(() => requirePathFiles('x')).toThrow(/x: file paths need/);
  });
});
