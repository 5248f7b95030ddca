import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  listTempSiblings,
  newToken,
  parseTempSibling,
  sweepDeadWriters,
  tempSiblingName,
  withInFlight,
  writerMayBeAlive,
} from '../../src/io/temp-siblings.js';

let place: string;
beforeEach(() => {
  place = mkdtempSync(join(tmpdir(), 'adapterkit-temp-siblings-'));
});
afterEach(() => rmSync(place, { recursive: true, force: true }));

/** A pid that belonged to a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

describe('temporary sibling names', () => {
  it('tempSiblingName and parseTempSibling round-trip target, pid, time and kind; other names parse to null', () => {
    const token = newToken();
    expect(token).toMatch(new RegExp(`^${process.pid}\\.\\d+\\.[0-9a-z]+$`));
    const name = tempSiblingName('model.safetensors', 'staging', token);
    expect(name).toBe(`.model.safetensors.${token}.staging`);
    const parsed = parseTempSibling(name)!;
    expect(parsed).toMatchObject({ name, target: 'model.safetensors', pid: process.pid, kind: 'staging' });
    expect(parsed.ms).toBe(Number(token.split('.')[1]));
    for (const other of [
      'model.safetensors',
      '.model.safetensors.12.34.ab.swp',
      '.x.1.2.UPPER.tmp',
      '.x.1.2.ab',
    ])
      expect(parseTempSibling(other)).toBeNull();
  });
});

describe('sweepDeadWriters', () => {
  it("removes a dead writer's partial files and directories, keeps complete ones whose target is missing, and keeps live work", async () => {
    const dead = `${deadPid()}.${Date.now()}.abc`;
    writeFileSync(join(place, 'a.json'), '{}');
    writeFileSync(join(place, tempSiblingName('a.json', 'tmp', dead)), 'partial');
    mkdirSync(join(place, tempSiblingName('dir', 'staging', dead)));
    mkdirSync(join(place, 'done'));
    mkdirSync(join(place, tempSiblingName('done', 'old', dead)));
    // The only complete copy of `gone` (its writer died between the two renames): kept for recovery.
    mkdirSync(join(place, tempSiblingName('gone', 'ready', dead)));
    // This process's own save in progress is left alone; the same pid not in flight is a dead predecessor.
    const mine = tempSiblingName('b.json', 'tmp');
    const stale = tempSiblingName('c.json', 'tmp');
    writeFileSync(join(place, mine), 'writing');
    writeFileSync(join(place, stale), 'left over');
    expect(await writerMayBeAlive(place, parseTempSibling(mine)!)).toBe(false);
    await withInFlight([join(place, mine)], async () => {
      expect(await writerMayBeAlive(place, parseTempSibling(mine)!)).toBe(true);
      await sweepDeadWriters(place);
    });
    expect(readdirSync(place).sort()).toEqual(
      ['a.json', 'done', mine, tempSiblingName('gone', 'ready', dead)].sort(),
    );
    expect((await listTempSiblings(place)).map((t) => t.target).sort()).toEqual(['b.json', 'gone']);
  });

  it('a directory that cannot be listed has no siblings and sweeps to nothing', async () => {
    expect(await listTempSiblings(join(place, 'missing'))).toEqual([]);
    await expect(sweepDeadWriters(join(place, 'missing'))).resolves.toBeUndefined();
  });
});
