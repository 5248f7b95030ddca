import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import {
  littleEndianBytes,
  parseSafetensors,
  writeSafetensors,
  type SafetensorsDtype,
  type SafetensorsEntry,
} from '../../src/io/safetensors.js';
import { safetensorsFromTensors, tensorsFromSafetensors } from '../../src/io/safetensors-tf.js';
import { caseFile, thrown } from './safetensors-helpers.js';

const entry = (dtype: SafetensorsDtype, shape: number[], data: Uint8Array): SafetensorsEntry => ({
  dtype,
  shape,
  data,
});
const bitsOf = (values: Float32Array) => [
  ...new Uint32Array(values.buffer, values.byteOffset, values.length),
];

describe('TensorFlow.js conveniences', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('B-243 float32, int32 and bool tensors round-trip bitwise through safetensorsFromTensors/tensorsFromSafetensors', () => {
    const before = tf.memory().numTensors;
    const floats = new Float32Array([-0, NaN, Infinity, 1e-45, 0.1, -3]);
    const input = new Map<string, tf.Tensor>([
      ['f', tf.tensor(floats, [2, 3])],
      ['i', tf.tensor([-(2 ** 31), 7, 2 ** 31 - 1], [3], 'int32')],
      ['b', tf.tensor([true, false], [2], 'bool')],
      ['s', tf.scalar(2.5)],
    ]);
    const bytes = safetensorsFromTensors(input, { metadata: { format: 'pt' } });
    expect(parseSafetensors(bytes).metadata).toEqual({ format: 'pt' });
    const out = tensorsFromSafetensors(bytes);
    expect([...out.keys()]).toEqual(['f', 's', 'i', 'b']);
    expect(bitsOf(out.get('f')!.dataSync() as Float32Array)).toEqual(bitsOf(floats));
    expect([out.get('f')!.shape, out.get('s')!.shape]).toEqual([[2, 3], []]);
    expect([...out.get('i')!.dataSync()]).toEqual([-(2 ** 31), 7, 2 ** 31 - 1]);
    expect([out.get('b')!.dtype, [...out.get('b')!.dataSync()]]).toEqual(['bool', [1, 0]]);
    tf.dispose([...input.values(), ...out.values()]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('B-242 float16/bfloat16 writing rounds to nearest even; reading widens to float32', () => {
    const x = tf.tensor([0.1, 65520, 1 + 2 ** -11, -(2 ** -25)]);
    for (const [dtype, stored, want] of [
      ['float16', 'F16', [0.0999755859375, Infinity, 1, -0]],
      ['bfloat16', 'BF16', [0.10009765625, 65536, 1, -(2 ** -25)]],
    ] as const) {
      const bytes = safetensorsFromTensors([['x', x]], { dtype });
      expect(parseSafetensors(bytes).tensors.get('x')!.dtype).toBe(stored);
      const y = tensorsFromSafetensors(bytes).get('x')!;
      expect(y.dtype).toBe('float32');
      expect([...y.dataSync()]).toEqual(want);
      y.dispose();
    }
    x.dispose();
  });

  it('B-241 converts F64/integer/BOOL files to float32/int32/bool, and rejects integers beyond int32', () => {
    const before = tf.memory().numTensors;
    const golden = caseFile('h-valid-int-bool-f64'); // its I64 values reach ±(2^53 + 1)
    const err = thrown(() => tensorsFromSafetensors(golden, 'int-bool-f64'));
    expect([err.code, err.message]).toEqual([
      'CHECKPOINT_FORMAT',
      expect.stringContaining(
        'int-bool-f64: tensor "i64": I64 value -9007199254740993 at index 0 does not fit in int32',
      ),
    ]);
    expect(tf.memory().numTensors).toBe(before); // nothing was created before the failure
    const { tensors } = parseSafetensors(golden);
    tensors.set(
      'i64',
      entry('I64', [2], littleEndianBytes(new BigInt64Array([-(2n ** 31n), 2n ** 31n - 1n]))),
    );
    tensors.set('u32', entry('U32', [1], littleEndianBytes(new Uint32Array([2 ** 31 - 1]))));
    const out = tensorsFromSafetensors(writeSafetensors(tensors));
    expect(Object.fromEntries([...out].map(([n, t]) => [n, t.dtype]))).toEqual({
      i64: 'int32',
      f64: 'float32',
      u32: 'int32',
      i32: 'int32',
      i8: 'int32',
      u8: 'int32',
      mask: 'bool',
    });
    expect([...out.get('f64')!.dataSync()]).toEqual([Math.fround(0.1), -Infinity]);
    expect([...out.get('i64')!.dataSync()]).toEqual([-(2 ** 31), 2 ** 31 - 1]);
    expect([...out.get('u8')!.dataSync()]).toEqual([0, 1, 128, 255]);
    expect([...out.get('mask')!.dataSync()]).toEqual([1, 0, 1, 0, 0, 1]);
    tf.dispose([...out.values()]);
    tensors.set('u32', entry('U32', [1], littleEndianBytes(new Uint32Array([2 ** 31]))));
    expect(thrown(() => tensorsFromSafetensors(writeSafetensors(tensors))).message).toContain(
      'U32 value 2147483648',
    );
  });

  it('B-241 safetensorsFromTensors rejects a bad dtype option, disposed tensors and unsupported tensor dtypes', () => {
    const t = tf.ones([2]);
    const badOption = thrown(() => safetensorsFromTensors([['t', t]], { dtype: 'float64' as 'float32' }));
    expect([badOption.code, badOption.message]).toEqual([
      'INVALID_CONFIG',
      expect.stringContaining('float16'),
    ]);
    const c = tf.complex([1], [2]);
    expect(thrown(() => safetensorsFromTensors([['c', c]])).message).toContain('tensor dtype "complex64"');
    c.dispose();
    t.dispose();
    const disposed = thrown(() => safetensorsFromTensors([['t', t]]));
    expect([disposed.code, disposed.message]).toEqual([
      'CHECKPOINT_FORMAT',
      expect.stringContaining('disposed'),
    ]);
  });
});
