/**
 * The `--setup` flag of `eval` and `generate`: a composition setup (SPEC §5.1) over the loaded adapters,
 * written as text (`stack(a, b)`, `average(a, b, weights=[1, 3])`, `stack(lang, fuse(x, y))`) or as the
 * path of a JSON file holding the setup's JSON form (or AdapterHub's list shorthand).
 *
 * Text form: a block is its type (any letter case: `stack`, `Stack`, `batchSplit`) with its children in
 * parentheses; a child is an adapter name or a block; a block's options come after its children as
 * `name=value` with a JSON value (`batchSizes=[1, 2]`, `normalizeWeights=false`). A bare name `a` is
 * `stack(a)`. The result is checked by the library's own parser (`parseSetup`: nesting rules, options).
 */
import { readFile } from 'node:fs/promises';
import {
  BLOCK_TYPES,
  describeSetup,
  parseSetup,
  setupAdapterNames,
  type SetupBlock,
  type SetupChild,
} from '../adapters/composition/setup.js';
import { AdapterError } from '../errors.js';
import { UsageError } from './user-error.js';

/** A value of `--setup` that names a JSON file rather than a setup: it ends in `.json`. */
export function isSetupFile(value: string): boolean {
  return /\.json$/i.test(value.trim());
}

/** Characters that end an adapter name or block type in the text form. */
const DELIMITERS = new Set(['(', ')', ',', '=', '[', ']']);

/** A recursive-descent reader of the text form; positions in messages count from 1. */
class SetupText {
  private pos = 0;
  constructor(private readonly text: string) {}

  private fail(what: string): never {
    const at = this.pos < this.text.length ? `at character ${this.pos + 1}` : 'at the end';
    throw new UsageError(`--setup '${this.text}': ${what} ${at}`);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  private peek(): string | undefined {
    this.skipSpace();
    return this.text[this.pos];
  }

  private word(what: string): string {
    this.skipSpace();
    const start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (DELIMITERS.has(c) || /\s/.test(c)) break;
      this.pos++;
    }
    if (this.pos === start) this.fail(`expected ${what}`);
    return this.text.slice(start, this.pos);
  }

  /** The whole text as one node. */
  parse(): SetupChild {
    const node = this.node();
    if (this.peek() !== undefined) this.fail(`unexpected '${this.text[this.pos]}'`);
    return node;
  }

  private node(): SetupChild {
    const start = this.pos;
    const name = this.word('an adapter name or a block such as stack(a, b)');
    if (this.peek() !== '(') return name;
    const type = BLOCK_TYPES.find((t) => t.toLowerCase() === name.toLowerCase());
    if (type === undefined) {
      this.pos = start;
      this.skipSpace();
      this.fail(`'${name}' is not a block; blocks: ${BLOCK_TYPES.join(', ')}`);
    }
    this.pos++; // '('
    const children: SetupChild[] = [];
    const options: Record<string, unknown> = {};
    for (;;) {
      if (this.peek() === ')' && children.length === 0 && Object.keys(options).length === 0) break;
      const before = this.pos;
      const word = this.word('an adapter name, a block or an option name=value');
      if (this.peek() === '=') {
        this.pos++;
        options[word] = this.value(word);
      } else {
        if (Object.keys(options).length > 0) this.fail(`'${word}': children come before the options`);
        this.pos = before;
        children.push(this.node());
      }
      const next = this.peek();
      if (next === ',') {
        this.pos++;
        continue;
      }
      if (next === ')') break;
      this.fail(`expected ',' or ')' in ${type}(…)`);
    }
    this.pos++; // ')'
    return { type, children, ...options } as SetupBlock;
  }

  /** A JSON value after `name=`: a number, true/false, or a list in brackets. */
  private value(option: string): unknown {
    this.skipSpace();
    const start = this.pos;
    if (this.text[this.pos] === '[') {
      const end = this.text.indexOf(']', this.pos);
      if (end < 0) this.fail(`the list of ${option} has no closing ']'`);
      this.pos = end + 1;
    } else {
      this.word(`a value for ${option}`);
    }
    const raw = this.text.slice(start, this.pos);
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      this.pos = start;
      return this.fail(`${option}=${raw} is not a JSON value (a number, true, false or a list like [1, 2])`);
    }
  }
}

/**
 * Parses the text form (see the module comment) and checks it with `parseSetup`. Errors: `INVALID_INPUT`
 * (exit code 2) naming what was wrong and where; `INVALID_CONFIG` for a setup the library refuses
 * (an option the block does not take, a nesting AdapterHub does not allow).
 */
export function parseSetupText(text: string): SetupBlock {
  if (text.trim() === '')
    throw new UsageError("--setup is empty; give a setup such as 'stack(a, b)' or a JSON file");
  return withSetupContext(`--setup '${text}'`, () => parseSetup(new SetupText(text).parse()));
}

/** Reads a setup's JSON form (or AdapterHub's list shorthand) from a file. Errors name the path. */
export async function readSetupFile(path: string): Promise<SetupBlock> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new AdapterError('INVALID_INPUT', `--setup: cannot read the setup file ${path}: ${why}`, { path });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new AdapterError(
      'INVALID_INPUT',
      `--setup: ${path} is not valid JSON (${(e as Error).message}); it should hold a setup such as {"type": "stack", "children": ["a", "b"]}`,
      { path },
    );
  }
  return withSetupContext(`--setup ${path}`, () => parseSetup(json));
}

/** `--setup`'s value as a setup: a JSON file when it ends in `.json`, else the text form. */
export async function readSetupFlag(value: string): Promise<SetupBlock> {
  return isSetupFile(value) ? readSetupFile(value) : parseSetupText(value);
}

/** Prefixes the library's setup errors with where the setup came from. */
function withSetupContext(where: string, parse: () => SetupBlock): SetupBlock {
  try {
    return parse();
  } catch (e) {
    if (e instanceof AdapterError && !(e instanceof UsageError))
      throw new AdapterError(e.code, `${where}: ${e.message}`, e.details);
    throw e;
  }
}

/** A model the setup is applied to: the loaded adapter model. */
interface ComposableAdapterModel {
  adapterNames(): string[];
  setActiveSetup(setup: SetupBlock | null): void;
}

/**
 * Makes `setup` the model's active setup, after checking that every adapter it names was loaded
 * (`NOT_FOUND` listing the loaded ones) and that it holds no `Parallel` block, whose `n·B` output rows
 * `eval` and `generate` cannot read (`INVALID_INPUT`). Fusion layers come from the adapter files.
 */
export function activateSetup(model: ComposableAdapterModel, setup: SetupBlock): void {
  const loaded = model.adapterNames();
  for (const name of setupAdapterNames(setup)) {
    if (!loaded.includes(name)) {
      throw new AdapterError(
        'NOT_FOUND',
        `--setup ${describeSetup(setup)} names '${name}', which is not a loaded adapter; loaded adapters: ${loaded.join(', ') || '(none: give --adapter)'}`,
        { name, valid: loaded },
      );
    }
  }
  if (hasParallel(setup)) {
    throw new UsageError(
      `--setup ${describeSetup(setup)}: a Parallel block gives one output per child (the batch grows to n·B rows), which eval and generate do not read; use stack, average, fuse or batchSplit`,
    );
  }
  model.setActiveSetup(setup);
}

function hasParallel(s: SetupChild): boolean {
  return typeof s !== 'string' && (s.type === 'parallel' || s.children.some(hasParallel));
}
