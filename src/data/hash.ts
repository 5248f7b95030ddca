/**
 * A small, stable string hash for deterministic data splits and vocabulary fingerprints. Internal to
 * `src/data`; not a cryptographic hash.
 */

/**
 * 32-bit FNV-1a over the UTF-16 code units of `s`.
 *
 * @param s - The string to hash.
 * @returns An unsigned 32-bit integer, identical on every platform and run.
 */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
