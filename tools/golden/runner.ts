/**
 * The golden-fixture runner: finds case folders (a folder holding `case.json`, or a folder of such
 * folders), dispatches each case to the runner of its group, and reports one result per case.
 * A case whose group has no runner fails with that reason; nothing is skipped silently.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runAdapterCase, type AdapterCase } from './group-adapters.js';
import { runPeftCase, type PeftCase } from './group-g.js';
import { runSafetensorsCase, type SafetensorsCase } from './group-h.js';
import { runCompositionCase } from './group-p.js';
import { runTrainingCase, type TrainingCase } from './group-t.js';
import { runVeraCase, type VeraCase } from './group-v.js';
import { readCaseTensors } from './tensors.js';

/** The outcome of one case. */
export interface CaseOutcome {
  name: string;
  dir: string;
  group: string;
  ok: boolean;
  detail: string;
}

/**
 * Runs one case. `case.json` is data: each group's runner reads the fields of its own case type and
 * checks each value where it uses it.
 */
type GroupRunner = (dir: string, caseJson: CaseJson) => Promise<{ ok: boolean; detail: string }>;

/** A parsed `case.json` of any group. */
type CaseJson = AdapterCase & PeftCase & SafetensorsCase & TrainingCase & VeraCase;

const adapterRunner = async (): Promise<GroupRunner> => async (dir, c) =>
  runAdapterCase(dir, c, await readCaseTensors(join(dir, 'tensors.safetensors')));

const RUNNERS: Record<string, () => Promise<GroupRunner>> = {
  A: adapterRunner,
  B: adapterRunner,
  C: adapterRunner,
  D: adapterRunner,
  E: adapterRunner,
  F: adapterRunner,
  G: async () => runPeftCase,
  H: async () => runSafetensorsCase,
  P: async () => async (dir, c) =>
    runCompositionCase(dir, c, await readCaseTensors(join(dir, 'tensors.safetensors'))),
  T: async () => (dir, c) => runTrainingCase(dir, c, (file) => readCaseTensors(file)),
  V: async () => runVeraCase,
};

/** Registers (or replaces) the runner of a group; used as groups are added. */
export function registerGroupRunner(group: string, load: () => Promise<GroupRunner>): void {
  RUNNERS[group] = load;
}

/** Case folders under each path: the path itself when it holds `case.json`, else its sub-folders that do. */
export async function findCases(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const dir = resolve(p);
    const info = await stat(dir).catch(() => null);
    if (!info?.isDirectory()) throw new Error(`golden: ${p} is not a folder`);
    if (await stat(join(dir, 'case.json')).catch(() => null)) {
      out.push(dir);
      continue;
    }
    const children = (await readdir(dir, { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    const found = [];
    for (const c of children)
      if (await stat(join(dir, c, 'case.json')).catch(() => null)) found.push(join(dir, c));
    if (found.length === 0) throw new Error(`golden: ${p} holds no case folder (no case.json found)`);
    out.push(...found);
  }
  return out;
}

/** Runs one case folder. Never throws: every failure becomes a failed outcome with its reason. */
export async function runCase(dir: string): Promise<CaseOutcome> {
  let caseJson: CaseJson;
  try {
    caseJson = JSON.parse(await readFile(join(dir, 'case.json'), 'utf8')) as CaseJson;
  } catch (e) {
    return { name: dir, dir, group: '?', ok: false, detail: `case.json unreadable: ${(e as Error).message}` };
  }
  const name = String(caseJson?.name ?? dir);
  const group = String(caseJson?.group ?? '?');
  const load = RUNNERS[group];
  if (!load) {
    return {
      name,
      dir,
      group,
      ok: false,
      detail: `no runner for group ${group} (runners: ${Object.keys(RUNNERS).sort().join(', ')})`,
    };
  }
  try {
    const r = await (await load())(dir, caseJson);
    return { name, dir, group, ok: r.ok, detail: r.detail };
  } catch (e) {
    return { name, dir, group, ok: false, detail: `error: ${(e as Error).message}` };
  }
}

/** Runs every case under `paths`, in folder order. */
export async function runGolden(
  paths: readonly string[],
  onCase?: (o: CaseOutcome) => void,
): Promise<CaseOutcome[]> {
  const outcomes: CaseOutcome[] = [];
  for (const dir of await findCases(paths)) {
    const o = await runCase(dir);
    onCase?.(o);
    outcomes.push(o);
  }
  return outcomes;
}
