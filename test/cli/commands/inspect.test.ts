import { describe, expect, it } from 'vitest';
import '../../../src/index.js';
import { describeAdapterFile, insertionPointLines } from '../../../src/cli/commands/inspect.js';
import { saveAdapters } from '../../../src/io/adapter-file.js';
import { CharLM } from '../../../src/models/char-lm.js';
import { manualSeed } from '../../../src/rng.js';

describe('inspect: describeAdapterFile', () => {
  it('lists each adapter with its type, state, parameter count, config and tensors', () => {
    manualSeed(1);
    const model = new CharLM({ vocabSize: 12, dModel: 8, numLayers: 1, nHead: 2, dFF: 16, maxLen: 8 });
    model.addAdapter('adapted', { type: 'linear', inFeatures: 8, dim: 2 });
    const bytes = saveAdapters(model);
    model.dispose();
    const lines = describeAdapterFile(bytes, 'runs/x/adapter.safetensors');
    expect(lines[0]).toMatch(
      /^runs\/x\/adapter\.safetensors: adapter file \(format \S+ v\d+\), [\d,]+ parameters$/,
    );
    const header = lines.find((l) => l.startsWith('adapter '))!;
    expect(header).toMatch(/^adapter \S*adapted: type linear, enabled, \d+ host\(s\), [\d,]+ parameters$/);
    // The file's total is the sum of its adapters' tensors (one adapter here).
    expect(lines[0]!.match(/([\d,]+) parameters$/)![1]).toBe(header.match(/([\d,]+) parameters$/)![1]);
    expect(lines.some((l) => l.startsWith('  config {') && l.includes('"type":"linear"'))).toBe(true);
    expect(lines.filter((l) => /^ {2}\S+ F32 \[\d+(, \d+)*\]$/.test(l)).length).toBeGreaterThan(0);
  });

  it('names the file when it is not an adapter file', () => {
    expect(() =>
      describeAdapterFile(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0x5b]), 'bad.safetensors'),
    ).toThrow('bad.safetensors');
  });
});

describe('inspect: insertion points', () => {
  it("an adapter file names an adapter's location; a model checkpoint lists its blocks' insertion points and where adapters run", () => {
    manualSeed(1);
    const model = new CharLM({ vocabSize: 12, dModel: 8, numLayers: 2, nHead: 2, dFF: 16, maxLen: 8 });
    model.addAdapter('gate', { type: 'linear', inFeatures: 8, dim: 2, location: 'ffnOutput' });
    const header = describeAdapterFile(saveAdapters(model), 'a.safetensors').find((l) =>
      l.startsWith('adapter '),
    )!;
    expect(header).toMatch(
      /^adapter \S*gate: type linear at ffnOutput, enabled, 2 host\(s\), [\d,]+ parameters$/,
    );
    expect(insertionPointLines({ model: 'char-lm', ...model.cfg })).toEqual([
      '  insertion points of decoder.layers.0, decoder.layers.1: input, attention, attentionOutput, mha, parallelFfn, ffnOutput, post (gate at ffnOutput)',
    ]);
    model.dispose();
  });
});
