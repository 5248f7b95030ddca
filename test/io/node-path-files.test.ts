import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodePathFiles } from '../../src/io/node-path-files.js';
import { requirePathFiles } from '../../src/io/path-files.js';

let place: string;
beforeAll(() => {
  place = mkdtempSync(join(tmpdir(), 'adapterkit-node-path-files-'));
});
afterAll(() => rmSync(place, { recursive: true, force: true }));

describe('nodePathFiles', () => {
  it('is installed when imported', () => {
    expect(requirePathFiles('test')).toBe(nodePathFiles);
  });

  it('writes files creating parent directories, reads them back, lists, and removes; missing paths are null, not errors', async () => {
    const f = nodePathFiles.join(place, 'a', 'b', 'c.json');
    expect(f).toBe(join(place, 'a', 'b', 'c.json'));
    expect(await nodePathFiles.kind(f)).toBeNull();
    expect(await nodePathFiles.readFile(f)).toBeNull();
    expect(await nodePathFiles.readdir(join(place, 'a'))).toBeNull();
    await nodePathFiles.writeFile(f, '{"x":1}');
    expect(readFileSync(f, 'utf8')).toBe('{"x":1}');
    expect(await nodePathFiles.kind(f)).toBe('file');
    expect(await nodePathFiles.kind(join(place, 'a'))).toBe('directory');
    expect(new TextDecoder().decode((await nodePathFiles.readFile(f))!)).toBe('{"x":1}');
    // A directory, or a path through a file, is not a file to read.
    expect(await nodePathFiles.readFile(join(place, 'a'))).toBeNull();
    expect(await nodePathFiles.readFile(join(f, 'inside'))).toBeNull();
    expect(await nodePathFiles.readdir(join(place, 'a', 'b'))).toEqual(['c.json']);
    await nodePathFiles.remove(f);
    await nodePathFiles.remove(f); // already gone: not an error
    expect(await nodePathFiles.kind(f)).toBeNull();
  });

  it.runIf(process.platform !== 'win32')(
    "kind is 'other' for what is neither a file nor a directory (a device)",
    async () => {
      expect(await nodePathFiles.kind('/dev/null')).toBe('other');
    },
  );

  it('writeDirectory replaces a directory as a whole and readDirectory reads it', async () => {
    const dir = join(place, 'ckpt');
    await nodePathFiles.writeDirectory(
      dir,
      new Map<string, Uint8Array | string>([
        ['config.json', '{}'],
        ['w.bin', new Uint8Array([1, 2])],
      ]),
      'test',
    );
    const got = await nodePathFiles.readDirectory(dir, async (root) =>
      (await nodePathFiles.readdir(root))!.sort(),
    );
    expect(got).toEqual(['config.json', 'w.bin']);
  });
});
