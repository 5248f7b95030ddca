/**
 * The text a job trains and evaluates on: a built-in corpus (its train and held-out splits) or a
 * `.txt` / `.jsonl` file the worker can read (the last tenth is held out). Node only.
 */
import { readFile } from 'node:fs/promises';
import { TEXT_CORPUS_NAMES, loadTextCorpus, type TextCorpusName } from '../data/datasets.js';
import { normalizeText } from '../data/normalize.js';
import { AdapterError } from '../errors.js';

/** Fraction of a file's text held out for evaluation. */
const FILE_HELD_OUT_FRACTION = 0.1;

/** Train and held-out text of a job's data reference. */
export async function loadJobText(
  data: string,
  textField: string,
): Promise<{ train: string; heldOut: string }> {
  if ((TEXT_CORPUS_NAMES as readonly string[]).includes(data)) return loadTextCorpus(data as TextCorpusName);
  let raw: string;
  try {
    raw = await readFile(data, 'utf8');
  } catch (e) {
    throw new AdapterError(
      'INVALID_CONFIG',
      `data ${JSON.stringify(data)} is neither a built-in dataset (${TEXT_CORPUS_NAMES.join(', ')}) nor a readable .txt or .jsonl file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      { data, valid: [...TEXT_CORPUS_NAMES] },
    );
  }
  const text = normalizeText(data.endsWith('.jsonl') ? jsonlText(raw, data, textField) : raw);
  const cut = Math.floor(text.length * (1 - FILE_HELD_OUT_FRACTION));
  return { train: text.slice(0, cut), heldOut: text.slice(cut) };
}

/** The `textField` strings of every non-empty JSONL line, one per line. */
function jsonlText(raw: string, file: string, textField: string): string {
  const out: string[] = [];
  raw.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new AdapterError(
        'INVALID_CONFIG',
        `${file} line ${i + 1} is not valid JSON (${(e as Error).message})`,
        { file, line: i + 1 },
      );
    }
    const value = (row as Record<string, unknown> | null)?.[textField];
    if (typeof value !== 'string') {
      throw new AdapterError(
        'INVALID_CONFIG',
        `${file} line ${i + 1} has no string field '${textField}' (set textField to the field holding the text)`,
        { file, line: i + 1 },
      );
    }
    out.push(value);
  });
  return out.join('\n');
}
