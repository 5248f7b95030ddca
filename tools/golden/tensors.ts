/** Reads a golden case's tensor file into plain typed arrays (no TensorFlow.js tensors). */
import { readFile } from 'node:fs/promises';
import { decodeElements, parseSafetensors } from '../../src/io/safetensors.js';

/** A golden tensor: dtype as stored, shape, and values widened to float32 / int32 / uint8. */
export interface CaseTensor {
  dtype: string;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

/** Every tensor of a safetensors file by name. Floats become float32, integers int32, BOOL uint8. */
export async function readCaseTensors(file: string): Promise<Map<string, CaseTensor>> {
  const parsed = parseSafetensors(new Uint8Array(await readFile(file)), file);
  const out = new Map<string, CaseTensor>();
  for (const [name, entry] of parsed.tensors) {
    const raw = decodeElements(entry);
    let data: Float32Array | Int32Array | Uint8Array;
    if (entry.dtype === 'BOOL' || entry.dtype === 'U8') data = Uint8Array.from(raw as Uint8Array);
    else if (entry.dtype.startsWith('F') || entry.dtype === 'BF16')
      data = Float32Array.from(raw as ArrayLike<number>);
    else data = Int32Array.from(Array.from(raw as ArrayLike<number | bigint>, (v) => Number(v)));
    out.set(name, { dtype: entry.dtype, shape: entry.shape, data });
  }
  return out;
}
