/** PeftModel's PEFT directory methods (SPEC §4.3). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../src/io/node-path-files.js'; // paths in savePretrained / loadPretrained
import { PeftModel, loadPretrained, savePretrained } from '../../src/io/index.js';
import * as root from '../../src/index.js';
import { TinyLM } from '../fixtures/lora-models.js';
import { lora, savedAdapter } from './peft-fixtures.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'adapterkit-peft-model-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('§4.3 reading PEFT directories', () => {
  it('B-239 PeftModel.loadPretrained(model, dir, {adapterName: "x"}) registers x, frozen unless isTrainable', async () => {
    const { dir } = await savedAdapter(lora({ targetModules: ['q_proj'], bias: 'lora_only' }));
    const out = join(tmp, 'b239');
    const src = await loadPretrained(new TinyLM(), dir, { isTrainable: true });
    await src.savePretrained(out);
    const frozen = await PeftModel.loadPretrained(new TinyLM(), out, { adapterName: 'x' });
    expect(frozen.adapterNames()).toEqual(['x']);
    expect(frozen.getEnabledAdapters()).toEqual(['x']);
    expect(frozen.model.trainableParameters()).toHaveLength(0);
    expect(frozen.training).toBe(false);
    const trainable = await PeftModel.loadPretrained(new TinyLM(), out, {
      adapterName: 'x',
      isTrainable: true,
    });
    const names = trainable.model
      .namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([k]) => k)
      .sort();
    expect(names).toEqual(
      [0, 1]
        .flatMap((i) =>
          ['lora_A.x.weight', 'lora_B.x.weight', 'bias'].map(
            (s) => `model.layers.${i}.self_attn.q_proj.${s}`,
          ),
        )
        .sort(),
    );
    expect(frozen).toBeInstanceOf(root.PeftModel); // the package's PeftModel, with the file methods
    expect(root.PeftModel).toBe(PeftModel);
    expect(root.loadPretrained).toBe(loadPretrained);
    expect(root.savePretrained).toBe(savePretrained);
  });
});
