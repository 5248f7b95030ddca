import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import { Linear } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import { manualSeed } from '../../src/rng.js';
import { mseLoss } from '../../src/train/losses.js';
import { parseTrainerOptions, type TrainerOptions } from '../../src/train/trainer-options.js';
import { thrown } from '../helpers.js';

interface Batch {
  x: Tensor;
  y: Tensor;
}

manualSeed(3);
const model = new Linear({ inFeatures: 2, outFeatures: 1 });
const loss = (b: Batch, m: Module) => mseLoss(m.forward(b.x), b.y);
const parse = (extra: Partial<TrainerOptions<Batch>> = {}) =>
  parseTrainerOptions<Batch>({ model, loss, ...extra });

/** Reports a fixed auxiliary loss, and whether it was asked to reset. */
class AuxSource {
  resets: boolean[] = [];
  collectAuxiliaryLosses({ reset }: { reset: boolean }): { total: number } {
    this.resets.push(reset);
    return { total: 2.5 };
  }
}

describe('parseTrainerOptions', () => {
  it('fills in the defaults in a fresh object and keeps the caller’s values', () => {
    const input: TrainerOptions<Batch> = {
      model,
      loss,
      maxSteps: 5,
      earlyStopping: { patience: 2 },
      evalEvery: 1,
      evalFn: () => 0,
    };
    const o = parse(input);
    expect(o.model).toBe(model);
    expect(o.loss).toBe(loss);
    expect(o.maxSteps).toBe(5);
    expect(o.gradAccumulationSteps).toBe(1);
    expect(o.disposeBatches).toBe(false);
    expect(o.auxiliaryLosses).toBeNull();
    expect(o.earlyStopping).toEqual({ patience: 2, mode: 'min', minDelta: 0 });
    expect(input.earlyStopping).toEqual({ patience: 2 }); // the caller's object is not touched
    expect(parse({ maxGradNorm: Infinity }).maxGradNorm).toBe(Infinity); // report the norm, never clip
    expect(parse({ maxGradNorm: null }).maxGradNorm).toBeNull();
  });

  it('names each bad option, its value and what it must be', () => {
    const cases: Array<[Partial<TrainerOptions<Batch>>, string]> = [
      [{ gradAccumulationSteps: 0 }, 'Trainer: gradAccumulationSteps must be an integer ≥ 1, got 0'],
      [{ maxSteps: -1 }, 'Trainer: maxSteps must be an integer ≥ 0, got -1'],
      [{ maxGradNorm: 0 }, 'Trainer: maxGradNorm must be a number > 0 or null, got 0'],
      [{ seed: Number.NaN }, 'Trainer: seed must be a finite number, got null'],
      [{ keepLastCheckpoints: 1.5 }, 'Trainer: keepLastCheckpoints must be an integer ≥ 1, got 1.5'],
      [{ evalEvery: 2 }, 'Trainer: evalFn must be a function when evalEvery is set, got "undefined"'],
      [
        { checkpointEvery: 2 },
        'Trainer: checkpointDir must be a directory path when checkpointEvery is set, got undefined',
      ],
      [
        { evalEvery: 1, evalFn: () => 0, earlyStopping: { patience: 0 } },
        'Trainer: earlyStopping.patience must be an integer ≥ 1, got 0',
      ],
      [
        { evalEvery: 1, evalFn: () => 0, earlyStopping: { patience: 1, mode: 'up' as 'min' } },
        `Trainer: earlyStopping.mode must be 'min' or 'max', got "up"`,
      ],
      [
        { evalEvery: 1, evalFn: () => 0, earlyStopping: { patience: 1, minDelta: -1 } },
        'Trainer: earlyStopping.minDelta must be a finite number ≥ 0, got -1',
      ],
      [
        { earlyStopping: { patience: 1 } },
        'Trainer: evalEvery must be set when earlyStopping is used, got undefined',
      ],
      [
        { loss: undefined as unknown as typeof loss },
        'Trainer: loss must be a function (batch, model) => scalar, got "undefined"',
      ],
      [
        { auxiliaryLosses: 5 as unknown as boolean },
        'Trainer: auxiliaryLosses must be true, false, a function () => loss or an object with collectAuxiliaryLosses, got 5',
      ],
      [
        { auxiliaryLosses: true },
        'Trainer: auxiliaryLosses must be true only for a model with collectAuxiliaryLosses, got true',
      ],
    ];
    for (const [opts, message] of cases) {
      const err = thrown(() => parse(opts));
      expect(err.code).toBe('INVALID_CONFIG');
      expect(err.message).toBe(message);
      expect(message).toContain(String(err.details.field));
    }
  });

  it('reports every bad option in one error, the first in details', () => {
    const err = thrown(() => parse({ maxSteps: -1, gradAccumulationSteps: 0 }));
    expect(err.message).toContain('gradAccumulationSteps must be an integer ≥ 1, got 0');
    expect(err.message).toContain('maxSteps must be an integer ≥ 0, got -1');
    expect(err.details.field).toBe('gradAccumulationSteps');
    expect(err.details.value).toBe(0);
    expect((err.details.issues as unknown[]).length).toBe(2);
  });

  it('a missing or non-Module model, or no options at all, is "model must be a Module"', () => {
    for (const opts of [{ loss }, { model: {}, loss }, null, 3]) {
      const err = thrown(() => parseTrainerOptions(opts as unknown as TrainerOptions<Batch>));
      expect(err.code).toBe('INVALID_CONFIG');
      expect(err.message).toBe('Trainer: model must be a Module');
      expect(err.details.field).toBe('model');
    }
  });

  it('auxiliaryLosses becomes one function: a source is collected with reset, a function is kept', () => {
    const source = new AuxSource();
    const fromSource = parse({ auxiliaryLosses: source }).auxiliaryLosses!;
    expect(fromSource()).toBe(2.5);
    expect(source.resets).toEqual([true]);
    const fn = () => tf.scalar(1);
    expect(parse({ auxiliaryLosses: fn }).auxiliaryLosses).toBe(fn);
    expect(parse({ auxiliaryLosses: false }).auxiliaryLosses).toBeNull();
    class AuxModel extends Module {
      static override readonly typeName = 'AuxModel';
      collectAuxiliaryLosses(): { total: 0 } {
        return { total: 0 };
      }
    }
    const own = new AuxModel();
    expect(parseTrainerOptions({ model: own, loss, auxiliaryLosses: true }).auxiliaryLosses!()).toBe(0);
  });
});
