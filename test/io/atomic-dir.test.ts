/** Directory saves replaced as a whole, recovery after a writer died between its renames, and the sweep of dead writers' leftovers. */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readDirConsistent, writeDirAtomic } from '../../src/io/atomic-dir.js';
import { writeFileAtomic } from '../../src/io/atomic-file.js';
import { parseTempSibling } from '../../src/io/temp-siblings.js';

let place: string;
beforeEach(() => {
  place = mkdtempSync(join(tmpdir(), 'adapterkit-atomic-dir-'));
});
afterEach(() => rmSync(place, { recursive: true, force: true }));

/** A pid that belonged to a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

const set = (tag: string) =>
  new Map<string, string>([
    ['config.json', `{"tag":"${tag}"}`],
    ['weights.bin', tag.repeat(1000)],
    ['sub/extra.txt', `${tag}!`],
  ]);

function readSet(root: string): Record<string, string> {
  return Object.fromEntries(
    ['config.json', 'weights.bin', 'sub/extra.txt'].map((f) => [f, readFileSync(join(root, f), 'utf8')]),
  );
}

const temps = () => readdirSync(place).filter((n) => parseTempSibling(n) !== null);

describe('writeDirAtomic', () => {
  it('writes the set, replaces it as a whole, and keeps files it does not write (as PEFT does)', async () => {
    const dir = join(place, 'out');
    await writeDirAtomic(dir, set('a'));
    writeFileSync(join(dir, 'README.md'), 'mine');
    mkdirSync(join(dir, 'other'));
    writeFileSync(join(dir, 'other', 'x'), 'kept');
    await writeDirAtomic(dir, set('b'));
    expect(readSet(dir)).toEqual(Object.fromEntries(set('b')));
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('mine');
    expect(readFileSync(join(dir, 'other', 'x'), 'utf8')).toBe('kept');
    expect(temps()).toEqual([]);
  });

  it('a target that is a file → INVALID_INPUT naming it', async () => {
    writeFileSync(join(place, 'f'), 'x');
    const err = await writeDirAtomic(join(place, 'f'), set('a'), 'saveModelToDir').catch((e) => e);
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toContain(join(place, 'f'));
  });

  it('the working directory (or one holding it) cannot be replaced as a whole → INVALID_INPUT', async () => {
    for (const dir of [process.cwd(), join(process.cwd(), '..')]) {
      const err = await writeDirAtomic(dir, set('a')).catch((e) => e);
      expect(err.code).toBe('INVALID_INPUT');
      expect(err.message).toContain('working directory');
    }
  });

  it('a writer that died between its renames: loads read the complete new copy; the next save puts it back first and cleans up', async () => {
    const pid = deadPid();
    const old = join(place, `.out.${pid}.${Date.now() - 10}.k1.old`);
    const ready = join(place, `.out.${pid}.${Date.now() - 10}.k1.ready`);
    await writeDirAtomic(old, set('a'));
    await writeDirAtomic(ready, set('b'));
    expect(existsSync(join(place, 'out'))).toBe(false);
    expect(await readDirConsistent(join(place, 'out'), async (root) => readSet(root))).toEqual(
      Object.fromEntries(set('b')),
    );
    await writeDirAtomic(join(place, 'out'), new Map([['config.json', '{"tag":"c"}']]));
    // The recovered set was in place, so files this save does not write come from it.
    expect(readSet(join(place, 'out'))).toEqual({
      ...Object.fromEntries(set('b')),
      'config.json': '{"tag":"c"}',
    });
    expect(temps()).toEqual([]);
  });

  it('with only the moved-aside old copy left, that one is read', async () => {
    await writeDirAtomic(join(place, `.out.${deadPid()}.${Date.now()}.k2.old`), set('a'));
    expect(await readDirConsistent(join(place, 'out'), async (root) => readSet(root))).toEqual(
      Object.fromEntries(set('a')),
    );
  });

  it('concurrent saves to one directory leave one complete set and nothing else', async () => {
    const dir = join(place, 'out');
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((t) => writeDirAtomic(dir, set(t))));
    const tag = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).tag as string;
    expect(readSet(dir)).toEqual(Object.fromEntries(set(tag)));
    expect(temps()).toEqual([]);
  });

  it('a reader never sees a mix while another save swaps the directory', async () => {
    const dir = join(place, 'out');
    await writeDirAtomic(dir, set('a'));
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 30; i++) await writeDirAtomic(dir, set(i % 2 ? 'a' : 'b'));
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      const got = await readDirConsistent(dir, async (root) => {
        const cfg = readFileSync(join(root, 'config.json'), 'utf8');
        await new Promise((r) => setTimeout(r, 1)); // let the writer swap between the two reads
        return { cfg, weights: readFileSync(join(root, 'weights.bin'), 'utf8') };
      });
      const tag = JSON.parse(got.cfg).tag as string;
      expect(got.weights).toBe(tag.repeat(1000));
      reads++;
    }
    await writer;
    expect(reads).toBeGreaterThan(0);
  });
});

describe('dead writers leave nothing behind', () => {
  it("the next save into a directory removes dead writers' temporary files and directories, and keeps live ones", async () => {
    const dead = deadPid();
    const now = Date.now();
    const leftovers = [
      `.checkpoint-00000010.safetensors.${dead}.${now}.a1.tmp`, // another target in the same directory
      `.out.safetensors.${dead}.${now}.a2.tmp`,
      `.out.safetensors.${process.pid}.${now}.a3.tmp`, // this pid, but not a save in progress: a crashed predecessor
      `.peft.${dead}.${now}.a4.staging`,
    ];
    for (const n of leftovers) writeFileSync(join(place, n), 'partial');
    mkdirSync(join(place, 'peft'));
    mkdirSync(join(place, `.peft.${dead}.${now}.a5.old`));
    const live = `.other.${process.ppid}.${now}.b1.tmp`; // the test runner: alive
    writeFileSync(join(place, live), 'in progress');
    await writeFileAtomic(join(place, 'out.safetensors'), 'new');
    expect(temps()).toEqual([live]);
    expect(readFileSync(join(place, 'out.safetensors'), 'utf8')).toBe('new');
  });

  it("a dead writer's complete copy of a missing directory is kept by a sweep for another target", async () => {
    const ready = `.model.${deadPid()}.${Date.now()}.c1.ready`;
    mkdirSync(join(place, ready));
    await writeFileAtomic(join(place, 'x.json'), '{}');
    expect(temps()).toEqual([ready]);
  });
});
