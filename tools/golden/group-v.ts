/**
 * Golden runner for group V (PEFT VeRA directories on group G's tiny base model, SPEC §5.4; see the
 * golden fixtures' README). It runs every check of group G (`group-g.ts`: load with
 * `loadPretrained`, outputs active and disabled, `savePretrained` byte for byte, merged weights) and
 * adds, from the case's data only:
 * - `config.resolvedModules` `{in, out}`: each listed module is a VeRA layer of that input and
 *   output size;
 * - `config.projectionPrngKey`, `config.r`, `config.projectionShapes` (when given): the loaded
 *   adapter's config and projections agree with them;
 * - `expected.vera_A` / `expected.vera_B`: bit for bit, both the projections the loaded adapter
 *   holds (read from the file, or regenerated when it saved none) and a fresh generation from the
 *   adapter's `projectionPrngKey` at the largest wrapped sizes.
 */
import type { PeftModel } from '../../src/adapters/tuners/peft-model.js';
import { VeraLinear } from '../../src/adapters/vera/layer.js';
import { generateVeraProjections, VeraProjectionPair } from '../../src/adapters/vera/projection.js';
import {
  compareValues,
  runPeftCase,
  type Comparison,
  type PeftCase,
  type PeftCaseExtension,
} from './group-g.js';

/** A group V `case.json`: group G's fields plus the VeRA ones, each checked where it is used. */
export interface VeraCase extends PeftCase {
  config?: PeftCase['config'] & {
    r?: unknown;
    projectionPrngKey?: unknown;
    projectionShapes?: Record<string, unknown>;
  };
}

/** The VeRA layers of `peft` by path. */
function veraLayers(peft: PeftModel): Map<string, VeraLinear> {
  return new Map(
    peft.model
      .namedModules()
      .filter(([, m]) => m instanceof VeraLinear)
      .map(([p, m]) => [p, m as VeraLinear]),
  );
}

const checkVera: PeftCaseExtension = ({ peft, adapterName, config, expected, record }) => {
  const handled: string[] = [];
  const layers = veraLayers(peft);
  const cfg = peft.peftConfigFor(adapterName);
  if (cfg.type !== 'vera') {
    record({ ok: false, text: `the loaded adapter is ${cfg.type}, not vera` });
    return handled;
  }

  // Layer sizes.
  const resolved = (config.resolvedModules ?? {}) as Record<string, { in?: unknown; out?: unknown }>;
  for (const [path, want] of Object.entries(resolved)) {
    const layer = layers.get(path);
    if (!layer) {
      record({
        ok: false,
        text: `'${path}' is not a VeRA layer (VeRA layers: ${[...layers.keys()].join(', ')})`,
      });
      continue;
    }
    const diffs: string[] = [];
    if (want.in !== undefined && layer.inFeatures !== want.in)
      diffs.push(`in ${layer.inFeatures} (want ${String(want.in)})`);
    if (want.out !== undefined && layer.outFeatures !== want.out)
      diffs.push(`out ${layer.outFeatures} (want ${String(want.out)})`);
    record({
      ok: diffs.length === 0,
      text: `VeRA layer '${path}': ${diffs.length ? diffs.join(', ') : 'sizes ok'}`,
    });
  }

  // Config values the case states.
  for (const [field, got] of [
    ['r', cfg.r],
    ['projectionPrngKey', cfg.projectionPrngKey],
  ] as const) {
    if (config[field] !== undefined && config[field] !== got)
      record({ ok: false, text: `${field}: loaded ${got}, case says ${String(config[field])}` });
  }

  // Projections: the ones the adapter holds, and a fresh generation from its key.
  const shared = peft.adapterRecord(adapterName).shared;
  if (!(shared instanceof VeraProjectionPair)) {
    record({ ok: false, text: 'the loaded VeRA adapter holds no shared projections' });
    return handled;
  }
  let maxIn = 0;
  let maxOut = 0;
  for (const l of layers.values()) {
    maxIn = Math.max(maxIn, l.inFeatures);
    maxOut = Math.max(maxOut, l.outFeatures);
  }
  const fresh = generateVeraProjections(cfg.projectionPrngKey, cfg.r, maxIn, maxOut);
  const shapes = config.projectionShapes as Record<string, unknown> | undefined;
  for (const [name, held, generated, shape] of [
    ['vera_A', shared.a, fresh.a, [cfg.r, maxIn]],
    ['vera_B', shared.b, fresh.b, [maxOut, cfg.r]],
  ] as const) {
    const stated = shapes?.[name];
    if (stated !== undefined && JSON.stringify(stated) !== JSON.stringify(shape))
      record({
        ok: false,
        text: `projectionShapes.${name}: ${JSON.stringify(stated)}, generated [${shape.join(', ')}]`,
      });
    const want = expected.get(`expected.${name}`);
    if (!want) continue;
    handled.push(`expected.${name}`);
    const held_: Comparison = compareValues(
      `expected.${name} (held)`,
      held.shape,
      held.dataSync() as Float32Array,
      want,
      0,
      0,
    );
    record(held_);
    record(
      compareValues(
        `expected.${name} (generated from key ${cfg.projectionPrngKey})`,
        shape,
        generated,
        want,
        0,
        0,
      ),
    );
  }
  return handled;
};

/**
 * Runs one group-V case (see the module comment).
 *
 * @param dir - The case folder.
 * @param caseJson - The parsed `case.json`.
 */
export function runVeraCase(dir: string, caseJson: VeraCase) {
  return runPeftCase(dir, caseJson, checkVera);
}
