import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRng } from '../../src/rng.js';
import {
  DTYPE_SIZES,
  SAFETENSORS_DTYPES,
  decodeToFloat32,
  encodeFloat32,
  littleEndianBytes,
  parseSafetensors,
  writeSafetensors,
  type SafetensorsDtype,
  type SafetensorsEntry,
} from '../../src/io/safetensors.js';
import { runSafetensorsCase, type SafetensorsCase } from '../../tools/golden/group-h.js';
import {
  GOLDEN_DIR,
  PEFT_FILE,
  caseFile,
  caseJson,
  container,
  goldenCases,
  headerLength,
  headerText,
  thrown,
  validFiles,
} from './safetensors-helpers.js';

const SOURCE = 'test.safetensors';
const f32 = (...values: number[]) => encodeFloat32(new Float32Array(values));
const entry = (dtype: SafetensorsDtype, shape: number[], data: Uint8Array): SafetensorsEntry => ({
  dtype,
  shape,
  data,
});
const bitsOf = (values: Float32Array) => [
  ...new Uint32Array(values.buffer, values.byteOffset, values.length),
];

/** A one-tensor header for `a` with the given entry fields (JSON text). */
const oneTensor = (fields: string) => `{"a":{${fields}}}`;

/** Parses `bytes` expecting rejection; checks the code, the source label and every substring. */
function rejects(bytes: Uint8Array, ...substrings: string[]): string {
  const err = thrown(() => parseSafetensors(bytes, SOURCE));
  expect(err.code).toBe('CHECKPOINT_FORMAT');
  expect(err.message.startsWith(`${SOURCE}: `)).toBe(true);
  for (const s of substrings) expect(err.message).toContain(s);
  return err.message;
}

describe('B-240 writer layout', () => {
  it('B-240 every written file has 8 + N ≡ 0 (mod 8), a header starting with "{" and space padding', () => {
    for (let len = 0; len < 24; len++) {
      for (const metadata of [null, { format: 'pt' }]) {
        const bytes = writeSafetensors([['x'.repeat(len), entry('F32', [1], f32(len))]], metadata);
        const n = headerLength(bytes);
        expect((8 + n) % 8).toBe(0);
        expect(bytes[8]).toBe(0x7b);
        const text = headerText(bytes);
        const json = text.trimEnd();
        expect(text.slice(json.length)).toMatch(/^ {0,7}$/);
        expect(json.endsWith('}')).toBe(true);
        expect(bytes.length).toBe(8 + n + 4);
        expect(parseSafetensors(bytes).tensors.get('x'.repeat(len))!.data).toEqual(f32(len));
      }
    }
  });

  it('B-240 an empty file is "{}" padded to N = 8', () => {
    const bytes = writeSafetensors([]);
    expect(headerLength(bytes)).toBe(8);
    expect(headerText(bytes)).toBe('{}      ');
    expect(bytes).toEqual(caseFile('h-valid-no-tensors'));
  });
});

describe('B-241 reader validation', () => {
  it('B-241 rejects a file shorter than 8 bytes', () => {
    for (let len = 0; len < 8; len++) rejects(new Uint8Array(len), `${len} bytes`, 'shorter than the 8-byte');
    rejects(caseFile('h-bad-too-short'), 'shorter than the 8-byte');
  });

  it('B-241 rejects a header length above 100,000,000 or past the end of the file', () => {
    const header = '{}      ';
    rejects(
      container(header, undefined, 100_000_001n),
      'header length 100000001',
      'exceeds the limit of 100000000',
    );
    rejects(container(header, undefined, 2n ** 40n), 'header length 1099511627776', 'exceeds the limit');
    rejects(
      container(header, undefined, 2n ** 64n - 1n),
      'header length 18446744073709551615',
      'exceeds the limit',
    );
    rejects(
      container(header, undefined, 100_000_000n),
      'header length 100000000',
      'past the end of the file',
    );
    rejects(container(header, undefined, 9n), 'header length 9', 'past the end of the file (16 bytes');
    rejects(caseFile('h-bad-header-too-large'), 'exceeds the limit');
    rejects(caseFile('h-bad-header-len-past-eof'), 'past the end of the file');
  });

  it('B-241 rejects header bytes that are not UTF-8', () => {
    rejects(caseFile('h-bad-invalid-utf8-header'), 'not valid UTF-8');
    const withBytes = (...mid: number[]) =>
      new Uint8Array([...new TextEncoder().encode('{"'), ...mid, 0x22, 0x3a, 0x31, 0x7d]);
    rejects(container(withBytes(0xc0, 0xaf)), 'not valid UTF-8'); // overlong "/"
    rejects(container(withBytes(0xed, 0xa0, 0x80)), 'not valid UTF-8'); // encoded surrogate
    rejects(container(withBytes(0xe2, 0x9c)), 'not valid UTF-8'); // truncated sequence
  });

  it('B-241 rejects header bytes that are not JSON', () => {
    rejects(caseFile('h-bad-non-json-header'), 'starting with "{"');
    rejects(container('{not json}'), 'header is not valid JSON');
    rejects(container('{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}'), 'not valid JSON');
    rejects(container('{"a":1}}'), 'not valid JSON');
    rejects(container('{} x'), 'not valid JSON');
  });

  it('B-241 rejects a header that is not a JSON object (first byte must be "{")', () => {
    rejects(caseFile('h-bad-header-not-object'), 'JSON object starting with "{"', '0x5b');
    rejects(container(' {}'), 'starting with "{"', '0x20');
    rejects(container('"{}"'), 'starting with "{"');
    rejects(container('\ufeff{}'), 'starting with "{"', '0xef'); // a byte-order mark is not allowed either
    rejects(container(''), 'starting with "{"', 'empty');
  });

  it('B-241 rejects negative, non-integer or malformed data_offsets, naming the tensor', () => {
    rejects(caseFile('h-bad-negative-offset'), 'tensor "a"', 'data_offsets', '[-16, 0]');
    const bad = ['[0.5,4]', '["0","4"]', '[0]', '[0,4,8]', 'null', '{"0":0,"1":4}', '[0,1e300]', '[-0.5,4]'];
    for (const offsets of bad) {
      rejects(
        container(oneTensor(`"dtype":"F32","shape":[1],"data_offsets":${offsets}`), f32(1)),
        'tensor "a"',
        'data_offsets',
      );
    }
    rejects(
      container(oneTensor('"dtype":"F32","shape":[1]'), f32(1)),
      'tensor "a"',
      'data_offsets must be [begin, end]',
    );
    rejects(
      container(oneTensor('"dtype":"F32","shape":[1],"data_offsets":[4,0]'), f32(1)),
      'tensor "a"',
      'end before they begin',
    );
  });

  it('B-241 rejects an offset past the data buffer', () => {
    rejects(caseFile('h-bad-offsets-past-end'), 'tensor "a"', 'run past the end of the 16-byte data buffer');
    const header = oneTensor('"dtype":"F32","shape":[1],"data_offsets":[9007199254740987,9007199254740991]');
    rejects(container(header, f32(1)), 'tensor "a"', 'run past the end');
  });

  it('B-241 rejects a gap or an overlap between tensors, naming both', () => {
    rejects(caseFile('h-bad-gap-between-tensors'), 'tensor "b"', 'gap of 4 unused bytes', 'tensor "a"');
    rejects(caseFile('h-bad-overlapping-offsets'), 'tensor "b"', 'overlaps tensor "a"');
    const leadingGap = oneTensor('"dtype":"F32","shape":[1],"data_offsets":[4,8]');
    rejects(container(leadingGap, f32(0, 1)), 'tensor "a"', 'gap of 4', 'start of the data buffer');
    const same =
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    rejects(container(same, f32(1)), 'overlaps tensor');
    // a zero-element tensor strictly inside another tensor's bytes is an overlap, not a shared boundary
    const inside =
      '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}';
    rejects(container(inside, f32(1, 2)), 'tensor "e"', 'overlaps tensor "a"');
  });

  it('B-241 rejects bytes after the last tensor', () => {
    rejects(caseFile('h-bad-trailing-bytes'), '4 trailing bytes after the last tensor');
    rejects(container('{}', new Uint8Array(1)), '1 trailing bytes');
  });

  it('B-241 rejects a byte length that disagrees with shape × dtype size, and malformed shapes', () => {
    rejects(
      caseFile('h-bad-size-mismatch'),
      'tensor "a"',
      'byte length 16',
      'shape [3] × F32 (4 bytes) = 12',
    );
    rejects(
      container(oneTensor('"dtype":"F16","shape":[2,2],"data_offsets":[0,4]'), f32(1)),
      'tensor "a"',
      '= 8',
    );
    for (const shape of ['[-1]', '[1.5]', '"4"', 'null', '[[1]]', '[1e300]']) {
      rejects(
        container(oneTensor(`"dtype":"U8","shape":${shape},"data_offsets":[0,1]`), new Uint8Array(1)),
        'tensor "a"',
        'shape',
      );
    }
    const huge = oneTensor('"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]');
    rejects(container(huge, f32(1)), 'tensor "a"', 'more elements than can be addressed');
  });

  it('B-241 rejects unknown dtypes, naming the dtype and the tensor', () => {
    rejects(caseFile('h-bad-unknown-dtype'), 'tensor "a"', '"F33"', 'supported dtypes');
    for (const dtype of [
      '"F8_E4M3"',
      '"F8_E5M2"',
      '"F4"',
      '"f32"',
      '"float32"',
      '"__proto__"',
      '"toString"',
      '7',
      'null',
    ]) {
      const name = dtype.replaceAll('"', '');
      const msg = rejects(
        container(oneTensor(`"dtype":${dtype},"shape":[1],"data_offsets":[0,1]`), new Uint8Array(1)),
        'tensor "a"',
        name,
      );
      expect(msg).toContain('U64, I64, F64, F32');
    }
    rejects(
      container(oneTensor('"shape":[1],"data_offsets":[0,1]'), new Uint8Array(1)),
      'tensor "a"',
      'unsupported dtype',
    );
  });

  it('B-241 rejects a duplicated tensor name, also when spelled with escapes', () => {
    rejects(caseFile('h-bad-duplicate-key'), 'duplicate tensor name "a"');
    const t = (name: string, begin: number) =>
      `${name}:{"dtype":"U8","shape":[1],"data_offsets":[${begin},${begin + 1}]}`;
    const two = (a: string, b: string) => container(`{${t(a, 0)},${t(b, 1)}}`, new Uint8Array(2));
    rejects(two('"a\\"b"', '"a\\u0022b"'), 'duplicate tensor name "a\\"b"');
    rejects(two('"é"', '"\\u00e9"'), 'duplicate tensor name "é"');
    rejects(two('"\\\\"', '"\\u005c"'), 'duplicate tensor name "\\\\"');
    // Distinct names that a naive scan would confuse: escaped quotes, backslashes, brackets and commas inside names.
    for (const [a, b] of [
      ['"a\\""', '"a"'],
      ['"a\\\\"', '"a"'],
      ['"{\\"a\\":1},"', '"a"'],
      ['"[a,"', '"a"'],
    ]) {
      expect([...parseSafetensors(two(a!, b!)).tensors.keys()]).toEqual([JSON.parse(a!), JSON.parse(b!)]);
    }
  });

  it('B-241 rejects duplicated keys inside a header entry or inside __metadata__', () => {
    const dupDtype = oneTensor('"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]');
    rejects(container(dupDtype, new Uint8Array(1)), 'tensor "a"', 'duplicate key "dtype"');
    rejects(container('{"__metadata__":{"k":"1","k":"2"}}'), 'duplicate key "k" in __metadata__');
    rejects(container('{"__metadata__":{},"__metadata__":{}}'), 'duplicate key "__metadata__" in the header');
  });

  it('B-241 rejects a non-string metadata value or a __metadata__ that is not an object', () => {
    rejects(
      caseFile('h-bad-metadata-not-string'),
      '__metadata__ value for key "format" must be a string, got 1',
    );
    for (const value of ['{"a":null}', '{"a":{}}', '{"a":["x"]}', '{"a":true}']) {
      rejects(container(`{"__metadata__":${value}}`), '__metadata__ value for key "a"');
    }
    for (const value of ['"pt"', '[]', '1'])
      rejects(container(`{"__metadata__":${value}}`), '__metadata__ must be an object');
  });

  it('B-241 rejects a header entry that is not an object', () => {
    for (const value of ['[]', '"F32"', '1', 'null'])
      rejects(container(`{"a":${value}}`), 'tensor "a"', 'header entry must be an object');
  });

  it('B-241 accepts zero-element tensors, 0-d tensors, no tensors and mixed dtypes', () => {
    const empty = parseSafetensors(caseFile('h-valid-empty-shapes'));
    expect([...empty.tensors].map(([n, e]) => [n, e.shape, e.data.length])).toEqual([
      ['a', [2], 8],
      ['empty_0', [0], 0],
      ['empty_0x3', [0, 3], 0],
    ]);
    expect(parseSafetensors(caseFile('h-valid-scalar-0d')).tensors.get('scalar')!.shape).toEqual([]);
    expect(parseSafetensors(caseFile('h-valid-no-tensors'))).toEqual({ metadata: null, tensors: new Map() });
    expect(
      [...parseSafetensors(caseFile('h-valid-int-bool-f64')).tensors.values()].map((e) => e.dtype),
    ).toEqual(['I64', 'F64', 'I32', 'I8', 'U8', 'BOOL']);
    // Zero-element tensors at the very start and at the very end share offsets with their neighbours.
    const edges =
      '{"z0":{"dtype":"I64","shape":[0,5],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
      '"z1":{"dtype":"BOOL","shape":[3,0],"data_offsets":[4,4]},"z2":{"dtype":"F16","shape":[0],"data_offsets":[4,4]}}';
    const parsed = parseSafetensors(container(edges, f32(1)));
    expect([...parsed.tensors.keys()]).toEqual(['z0', 'a', 'z2', 'z1']); // ties in writer order: F16 before BOOL
    expect(decodeToFloat32(parsed.tensors.get('z1')!)).toEqual(new Float32Array(0));
  });

  it('B-241 accepts whitespace inside the header and null metadata', () => {
    const header =
      '{ "__metadata__" : null ,\n "a" : { "dtype" : "F32", "shape" : [ 1 ], "data_offsets" : [0, 4] } }  ';
    const parsed = parseSafetensors(container(header, f32(2)));
    expect(parsed.metadata).toBeNull();
    expect(decodeToFloat32(parsed.tensors.get('a')!)).toEqual(new Float32Array([2]));
  });

  it('B-241 an entry holds exactly dtype, shape and data_offsets: an extra key names the file, tensor and key; a missing one is rejected too', () => {
    const entry = (extra: string) => `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]${extra}}}`;
    const msg = rejects(
      container(entry(',"extra":{}'), f32(1, 2)),
      'tensor "a"',
      '"extra"',
      'dtype, shape, data_offsets',
    );
    expect(msg.startsWith(`${SOURCE}: tensor "a": unexpected key "extra"`)).toBe(true);
    rejects(container(entry(',"__proto__":1'), f32(1, 2)), 'tensor "a"', '"__proto__"');
    rejects(container(entry(',"dtype2":"F32"'), f32(1, 2)), '"dtype2"');
    rejects(container('{"a":{"dtype":"F32","shape":[2]}}', f32(1, 2)), 'tensor "a"', 'data_offsets must be');
    rejects(
      container('{"a":{"shape":[2],"data_offsets":[0,8]}}', f32(1, 2)),
      'tensor "a"',
      'unsupported dtype',
    );
    const err = thrown(() =>
      parseSafetensors(container(entry(',"x":0'), f32(1, 2)), '/models/x.safetensors'),
    );
    expect(err.details).toEqual({ source: '/models/x.safetensors', tensor: 'a' });
  });

  it('B-241 every rejection names its source; the default label is "safetensors data"', () => {
    expect(thrown(() => parseSafetensors(new Uint8Array(3))).message).toMatch(/^safetensors data: /);
    const err = thrown(() => parseSafetensors(caseFile('h-bad-size-mismatch'), '/tmp/x.safetensors'));
    expect(err.message).toMatch(/^\/tmp\/x\.safetensors: tensor "a": /);
    expect(err.details).toEqual({ source: '/tmp/x.safetensors', tensor: 'a' });
    rejects('not bytes' as unknown as Uint8Array, 'expected a Uint8Array');
  });

  it('B-241 hostile headers fail fast: no big allocation, no deep recursion', () => {
    const start = performance.now();
    rejects(
      container(oneTensor('"dtype":"F64","shape":[1000000000000],"data_offsets":[0,8000000000000]')),
      'run past the end',
    );
    const deep = `{"a":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    rejects(container(deep), 'tensor "a"', 'header entry must be an object');
    rejects(
      container(
        `{"a":{"dtype":"F32","shape":${'['.repeat(200_000)}${']'.repeat(200_000)},"data_offsets":[0,0]}}`,
      ),
      'shape',
    );
    const longName = 'n'.repeat(1_000_000);
    const msg = rejects(container(`{"${longName}":{"dtype":"F99","shape":[],"data_offsets":[0,0]}}`), 'F99');
    expect(msg.length).toBeLessThan(500);
    expect(performance.now() - start).toBeLessThan(5000);
  });

  it('B-241 the writer rejects what the reader would reject', () => {
    const ok = entry('F32', [1], f32(1));
    const cases: [() => unknown, string][] = [
      [
        () =>
          writeSafetensors([
            ['a', ok],
            ['a', ok],
          ]),
        'duplicate tensor name',
      ],
      [() => writeSafetensors([['__metadata__', ok]]), 'reserved'],
      [
        () => writeSafetensors([['a', entry('F8_E4M3' as SafetensorsDtype, [1], new Uint8Array(1))]]),
        'F8_E4M3',
      ],
      [() => writeSafetensors([['a', entry('F32', [2], f32(1))]]), 'byte length 4 disagrees with shape [2]'],
      [() => writeSafetensors([['a', entry('F32', [-1], f32(1))]]), 'shape'],
      [() => writeSafetensors([['a', { ...ok, data: [0, 0, 0, 0] as unknown as Uint8Array }]]), 'Uint8Array'],
      [
        () => writeSafetensors([['a', ok]], { format: 1 as unknown as string }),
        '__metadata__ value for key "format"',
      ],
      [
        () => writeSafetensors([['a', ok]], [] as unknown as Record<string, string>),
        'metadata must be a plain object',
      ],
    ];
    for (const [write, substring] of cases) {
      const err = thrown(write);
      expect(err.code).toBe('CHECKPOINT_FORMAT');
      expect(err.message).toContain(substring);
    }
  });
});

describe('B-242 float16 / bfloat16 widening and narrowing', () => {
  it('B-242 F16 → F32 is exact for all 65,536 bit patterns (subnormals, ±0, ±∞, NaN payloads)', () => {
    const bytes = new Uint8Array(new Uint16Array(65536).map((_, i) => i).buffer);
    const got = decodeToFloat32(entry('F16', [65536], bytes));
    const gotBits = bitsOf(got);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const e = (h >> 10) & 0x1f;
      const f = h & 0x3ff;
      if (e === 31 && f !== 0) {
        expect(Number.isNaN(got[h])).toBe(true);
        expect(gotBits[h]).toBe((((h & 0x8000) << 16) | 0x7f800000 | (f << 13)) >>> 0); // payload kept
        continue;
      }
      const want =
        e === 31 ? sign * Infinity : e === 0 ? sign * f * 2 ** -24 : sign * (1 + f / 1024) * 2 ** (e - 15);
      if (!Object.is(got[h], want)) expect.fail(`0x${h.toString(16)}: got ${got[h]}, want ${want}`);
    }
  });

  it('B-242 BF16 → F32 puts the 16 bits in the high half, for all 65,536 bit patterns', () => {
    const bytes = new Uint8Array(new Uint16Array(65536).map((_, i) => i).buffer);
    const gotBits = bitsOf(decodeToFloat32(entry('BF16', [65536], bytes)));
    expect(gotBits.every((bits, b) => bits === b * 65536)).toBe(true);
  });

  it('B-242 the golden F16/BF16 tensors decode bitwise to the float32 copies stored next to them', () => {
    const { tensors } = parseSafetensors(caseFile('h-valid-f16-bf16'));
    for (const name of ['half', 'bhalf']) {
      expect(bitsOf(decodeToFloat32(tensors.get(name)!))).toEqual(
        bitsOf(decodeToFloat32(tensors.get(`${name}.as_f32`)!)),
      );
    }
    const half = decodeToFloat32(tensors.get('half')!);
    expect(Object.is(half[1], -0)).toBe(true);
    expect(half[6]).toBe(2 ** -24); // smallest subnormal
    expect(half[7]).toBe(Infinity);
  });

  it('B-242 F64 and integers round once to the nearest float32', () => {
    const f64 = entry(
      'F64',
      [4],
      littleEndianBytes(new Float64Array([0.1, -1e300, 1 + 2 ** -24, 1 + 2 ** -24 + 2 ** -40])),
    );
    expect([...decodeToFloat32(f64)]).toEqual([Math.fround(0.1), -Infinity, 1, 1 + 2 ** -23]);
    // 2^60 + 2^36 + 1 lies just above a float32 tie; rounding through a double first would land on the tie.
    const i64 = entry(
      'I64',
      [3],
      littleEndianBytes(new BigInt64Array([2n ** 60n + 2n ** 36n + 1n, -(2n ** 60n + 2n ** 36n), -1n])),
    );
    expect([...decodeToFloat32(i64)]).toEqual([2 ** 60 + 2 ** 37, -(2 ** 60), -1]);
    const u64 = entry('U64', [1], littleEndianBytes(new BigUint64Array([2n ** 64n - 1n])));
    expect([...decodeToFloat32(u64)]).toEqual([2 ** 64]);
  });
});

describe('B-243 deterministic writer, bitwise round trip', () => {
  const everyDtype = (): [string, SafetensorsEntry][] => {
    const rng = createRng(243);
    return SAFETENSORS_DTYPES.map((dtype, i) => {
      const data = new Uint8Array(3 * DTYPE_SIZES[dtype]).map(() => Math.floor(rng.next() * 256));
      if (dtype === 'BOOL') data.set([1, 0, 1]);
      return [`t${12 - i}`, entry(dtype, [3], data)];
    });
  };

  it('B-243 identical input produces byte-identical files, whatever the insertion order', () => {
    const tensors = everyDtype();
    const a = writeSafetensors(tensors, { z: '1', a: '2', '10': '3' });
    const b = writeSafetensors([...tensors].reverse(), { '10': '3', a: '2', z: '1' });
    expect(b).toEqual(a);
    expect(writeSafetensors(new Map(tensors), { z: '1', a: '2', '10': '3' })).toEqual(a);
    expect(headerText(a)).toMatch(/^\{"__metadata__":\{"10":"3","a":"2","z":"1"\},"t12":/);
  });

  it('B-243 lays tensors out by descending dtype, then by name in UTF-8 byte order', () => {
    const order = [...parseSafetensors(writeSafetensors(everyDtype())).tensors.values()].map((e) => e.dtype);
    expect(order).toEqual([...SAFETENSORS_DTYPES]);
    const names = ['b', 'a', 'B', 'é', '\u{1F600}', '\uFFFD', 'a.b', 'a0', '', 'ab'];
    const written = writeSafetensors(names.map((n) => [n, entry('U8', [1], new Uint8Array([1]))]));
    const byBytes = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...parseSafetensors(written).tensors.keys()]).toEqual(byBytes);
    expect(byBytes.indexOf('\uFFFD')).toBeLessThan(byBytes.indexOf('\u{1F600}')); // differs from UTF-16 order
  });

  it('B-243 writes the header JSON byte for byte as the reference writer (serde_json) does', () => {
    const name = 'a"b\\c\u0001\n\t é✓/';
    const bytes = writeSafetensors(
      [
        [name, entry('F16', [2, 0], new Uint8Array(0))],
        ['w', entry('F32', [], f32(1))],
      ],
      {
        format: 'pt',
      },
    );
    expect(headerText(bytes).trimEnd()).toBe(
      '{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[],"data_offsets":[0,4]},' +
        '"a\\"b\\\\c\\u0001\\n\\t é✓/":{"dtype":"F16","shape":[2,0],"data_offsets":[4,4]}}',
    );
  });

  it('B-243 a file written by the library is read back bitwise, for every dtype', () => {
    const tensors = everyDtype();
    const parsed = parseSafetensors(writeSafetensors(tensors));
    for (const [name, want] of tensors) {
      const got = parsed.tensors.get(name)!;
      expect([got.dtype, got.shape]).toEqual([want.dtype, want.shape]);
      expect(new Uint8Array(got.data)).toEqual(want.data);
    }
    const specials = new Float32Array([-0, 0, NaN, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, -1.5]);
    const written = writeSafetensors([['s', entry('F32', [8], encodeFloat32(specials))]]);
    // a Node Buffer view at an odd offset into a larger allocation: decoding must not assume alignment or a fresh buffer
    const unaligned = Buffer.concat([Buffer.alloc(3, 7), Buffer.from(written), Buffer.alloc(5, 7)]).subarray(
      3,
      3 + written.length,
    );
    expect(unaligned.byteOffset % 4).not.toBe(0);
    expect(bitsOf(decodeToFloat32(parseSafetensors(unaligned).tensors.get('s')!))).toEqual(bitsOf(specials));
    const back = decodeToFloat32(parseSafetensors(written).tensors.get('s')!);
    expect(bitsOf(back)).toEqual(bitsOf(specials));
  });

  it('B-243 re-writing each valid golden file (and the PEFT file) from its parsed contents reproduces it byte for byte', () => {
    const files = validFiles();
    expect(files.length).toBeGreaterThanOrEqual(7);
    for (const [name, bytes] of files) {
      const { metadata, tensors } = parseSafetensors(bytes, name);
      expect(writeSafetensors(tensors, metadata), name).toEqual(bytes);
    }
  });
});

describe('B-244 files written by PEFT', () => {
  afterEach(() => vi.restoreAllMocks());

  it('B-244 a PEFT-produced file with header padding and {"format": "pt"} metadata is read without warnings', () => {
    const spies = [
      vi.spyOn(console, 'warn'),
      vi.spyOn(console, 'error'),
      vi.spyOn(console, 'log'),
      vi.spyOn(process, 'emitWarning'),
    ];
    const bytes = new Uint8Array(readFileSync(PEFT_FILE));
    expect(bytes[8 + headerLength(bytes) - 1]).toBe(0x20); // the header is padded
    const { metadata, tensors } = parseSafetensors(bytes, PEFT_FILE);
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.size).toBe(8);
    expect(tensors.get('base_model.model.layers.0.q_proj.lora_A.weight')).toMatchObject({
      dtype: 'F32',
      shape: [4, 8],
    });
    expect(tensors.get('base_model.model.layers.1.v_proj.lora_B.weight')).toMatchObject({
      dtype: 'F32',
      shape: [8, 4],
    });
    const golden = parseSafetensors(caseFile('h-valid-metadata'));
    expect(golden.metadata).toEqual({ format: 'pt', note: 'golden fixture', unicode: 'héllo ✓' });
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });
});

describe('golden group H', () => {
  it.each(goldenCases())('%s passes runSafetensorsCase', async (name) => {
    const result = await runSafetensorsCase(join(GOLDEN_DIR, name), caseJson(name));
    expect(result.detail).not.toBe('');
    expect(result, result.detail).toMatchObject({ ok: true });
  });

  it('the runner fails wrong expectations (it is not vacuous)', async () => {
    const run = (name: string, edit: (c: SafetensorsCase) => void) => {
      const json = caseJson(name);
      edit(json);
      return runSafetensorsCase(join(GOLDEN_DIR, name), json);
    };
    const failures = await Promise.all([
      run('h-bad-trailing-bytes', (c) => (c.expect = 'ok')),
      run('h-valid-metadata', (c) => (c.expect = 'error')),
      run('h-valid-metadata', (c) => (c.expectedMetadata!.format = 'tf')),
      run('h-valid-metadata', (c) => (c.expectedTensors!.a!.values![2] = -0)), // -0 ≠ 0
      run('h-valid-f16-bf16', (c) => (c.expectedTensors!.half!.valuesAsF32![7] = 'nan')),
      run('h-valid-f16-bf16', (c) => (c.expectedTensors!.half!.valuesAsF32![8] = 0.1)), // 0.1 is not an F16 value
      run('h-valid-f16-bf16', (c) => (c.expectedHeaderOrder as string[]).reverse()),
      run('h-valid-int-bool-f64', (c) => ((c.i64AsStrings as string[])[3] = '9007199254740992')),
      run('h-valid-int-bool-f64', (c) => (c.expectedTensors!.i8!.dtype = 'U8')),
      run('h-valid-scalar-0d', (c) => (c.expectedTensors!.scalar!.shape = [1])),
      run('h-valid-scalar-0d', (c) => (c.expectedTensors!.missing = { dtype: 'F32', shape: [] })),
      run('h-valid-scalar-0d', (c) => (c.file = 'absent.safetensors')),
    ]);
    for (const result of failures) expect(result.ok, result.detail).toBe(false);
  });
});
