/** Shared helpers for the safetensors tests: fixture access and hand-built containers. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { AdapterError } from '../../src/errors.js';
import type { SafetensorsCase } from '../../tools/golden/group-h.js';

/** The repository copy of the shared golden fixtures (tests never read ../shared). */
export const GOLDEN_DIR = fileURLToPath(new URL('../fixtures/golden/', import.meta.url));

/** A LoRA `adapter_model.safetensors` written by Hugging Face PEFT (copied from golden case g-peft-lora-plain). */
export const PEFT_FILE = fileURLToPath(
  new URL('./fixtures/peft-lora-adapter_model.safetensors', import.meta.url),
);

/** Sorted names of the group-H case folders whose name starts with `prefix`. */
export function goldenCases(prefix = 'h-'): string[] {
  return readdirSync(GOLDEN_DIR)
    .filter((name) => name.startsWith(prefix))
    .sort();
}

/** A case folder's `case.json`. */
export function caseJson(name: string): SafetensorsCase {
  return JSON.parse(readFileSync(join(GOLDEN_DIR, name, 'case.json'), 'utf8')) as SafetensorsCase;
}

/** A case folder's safetensors file. */
export function caseFile(name: string): Uint8Array {
  const file = String(caseJson(name).file ?? 'tensors.safetensors');
  return new Uint8Array(readFileSync(join(GOLDEN_DIR, name, file)));
}

/** Every valid safetensors file the tests hold: the `h-valid-*` fixtures and the PEFT file. */
export function validFiles(): [string, Uint8Array][] {
  return [
    ...goldenCases('h-valid-').map((name) => [name, caseFile(name)] as [string, Uint8Array]),
    ['peft-lora', new Uint8Array(readFileSync(PEFT_FILE))],
  ];
}

/**
 * A container from raw header text: `N` is the header's UTF-8 length unless `n` is given.
 * `header` may also be bytes (for invalid UTF-8).
 */
export function container(
  header: string | Uint8Array,
  data: Uint8Array = new Uint8Array(0),
  n?: bigint,
): Uint8Array {
  const headerBytes = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, n ?? BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.length);
  return out;
}

/** Calls `fn`, which must throw an AdapterError; returns it. */
export function thrown(fn: () => unknown): AdapterError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AdapterError);
    return e as AdapterError;
  }
  throw new Error('expected an AdapterError, but nothing was thrown');
}

/** The header length `N` of a container. */
export function headerLength(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
}

/** The header text of a container, padding included. */
export function headerText(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes.subarray(8, 8 + headerLength(bytes)));
}
