import { describe, expect, it } from 'vitest';
import { AdapterError } from '../../src/errors.js';
import {
  checkAdapterName,
  checkRelativePath,
  contentHashOf,
  parseManifest,
  sha256,
} from '../../src/store/manifest.js';

const HASH_A = sha256('a');
const HASH_B = sha256('b');

const manifest = {
  name: 'moby-lora',
  jobId: null,
  kind: 'lora',
  format: 'peft',
  base: { name: 'base', config: { dModel: 16 } },
  config: { r: 4 },
  metrics: { bpc: 2.1 },
  files: { 'peft/adapter_model.safetensors': HASH_A, 'peft/adapter_config.json': HASH_B },
  contentHash: contentHashOf({
    'peft/adapter_model.safetensors': HASH_A,
    'peft/adapter_config.json': HASH_B,
  }),
  createdAt: '2026-01-01T00:00:00.000Z',
};

/** The AdapterError `fn` throws. */
function errorOf(fn: () => unknown): AdapterError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AdapterError);
    return e as AdapterError;
  }
  throw new Error('expected an AdapterError');
}

describe('manifest hashes', () => {
  it('sha256 is the lowercase hex digest', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256(new TextEncoder().encode('abc'))).toBe(sha256('abc'));
  });

  it('the content hash depends on paths and digests, not on the order they are listed', () => {
    const h = contentHashOf({ x: HASH_A, y: HASH_B });
    expect(contentHashOf({ y: HASH_B, x: HASH_A })).toBe(h);
    expect(contentHashOf({ x: HASH_B, y: HASH_A })).not.toBe(h);
    expect(contentHashOf({ x: HASH_A, z: HASH_B })).not.toBe(h);
  });
});

describe('adapter names and file paths', () => {
  it('names start with a letter or digit and hold at most 128 letters, digits, ., _ or -', () => {
    for (const ok of ['a', 'moby-lora_v1.2', '7', 'x'.repeat(128)])
      expect(() => checkAdapterName(ok)).not.toThrow();
    for (const bad of ['', '.tmp', '-a', 'a/b', 'a b', 'x'.repeat(129), 42]) {
      expect(errorOf(() => checkAdapterName(bad)).code).toBe('INVALID_ADAPTER_NAME');
    }
  });

  it('file paths must stay inside the adapter directory and not be the manifest', () => {
    expect(() => checkRelativePath('peft/adapter_config.json')).not.toThrow();
    for (const bad of ['../x', '/etc/passwd', 'peft//x', '.hidden', 'a\\b', 'manifest.json', 'peft/']) {
      expect(errorOf(() => checkRelativePath(bad)).code).toBe('INVALID_INPUT');
    }
  });
});

describe('parseManifest', () => {
  it('reads a valid manifest and keeps unknown keys', () => {
    const m = parseManifest(JSON.stringify({ ...manifest, note: 'newer writer' }), 'm.json');
    expect(m.name).toBe('moby-lora');
    expect((m as Record<string, unknown>).note).toBe('newer writer');
  });

  it('names the source and every bad field', () => {
    const e = errorOf(() =>
      parseManifest(JSON.stringify({ ...manifest, format: 'zip', contentHash: 'ABC' }), 'store/m.json'),
    );
    expect(e.code).toBe('CHECKPOINT_FORMAT');
    expect(e.message).toContain('store/m.json is not a valid adapter manifest');
    expect(e.message).toContain('format:');
    expect(e.message).toContain('contentHash: a lowercase sha256 hex digest');
    expect(errorOf(() => parseManifest('{', 'store/m.json')).message).toMatch(
      /^store\/m.json is not valid JSON/,
    );
  });

  it('refuses file paths that leave the adapter directory', () => {
    const text = JSON.stringify({ ...manifest, files: { '../escape': HASH_A } });
    expect(errorOf(() => parseManifest(text, 'm.json')).code).toBe('INVALID_INPUT');
  });
});
