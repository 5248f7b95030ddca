/**
 * Composition setups (SPEC §5.1, AdapterHub's `composition.py`): how the input flows through several
 * adapters of one model. A setup is a tree of blocks whose leaves are adapter names; its in-memory
 * form is its JSON form, so parsing, validation and round-trips are one code path.
 *
 * JSON form: an adapter name is a string; a block is
 * `{"type": "stack" | "parallel" | "batchSplit" | "average" | "fuse", "children": [...]}` plus
 * `batchSizes` (batchSplit), `weights` and `normalizeWeights` (average).
 */
import { AdapterError, describeValue, isPlainObject } from '../../errors.js';

/** The block types, as written in the JSON form. */
export const BLOCK_TYPES = ['stack', 'parallel', 'batchSplit', 'average', 'fuse'] as const;
/** A block type. */
export type BlockType = (typeof BLOCK_TYPES)[number];

/** A child of a block: an adapter name or a nested block. */
export type SetupChild = string | SetupBlock;

/** `Stack(a, b, …)`: children applied in order. */
export interface StackBlock {
  readonly type: 'stack';
  readonly children: readonly SetupChild[];
}
/** `Parallel(a, b, …)`: every child sees the input; the batch grows to `n·B` rows. */
export interface ParallelBlock {
  readonly type: 'parallel';
  readonly children: readonly SetupChild[];
}
/** `BatchSplit(a, b, …, {batchSizes})`: rows `[0, b₀)` to child 0, the next `b₁` rows to child 1, … */
export interface BatchSplitBlock {
  readonly type: 'batchSplit';
  readonly children: readonly SetupChild[];
  readonly batchSizes: readonly number[];
}
/** `Average(a, b, …, {weights?, normalizeWeights = true})`: `Σ wᵢ·yᵢ`. */
export interface AverageBlock {
  readonly type: 'average';
  readonly children: readonly SetupChild[];
  readonly weights?: readonly number[];
  readonly normalizeWeights?: boolean;
}
/** `Fuse(a, b, …)`: AdapterFusion over the children's outputs (needs `model.addFusion([a, b, …])`). */
export interface FuseBlock {
  readonly type: 'fuse';
  readonly children: readonly SetupChild[];
}

/** A composition block (JSON form). */
export type SetupBlock = StackBlock | ParallelBlock | BatchSplitBlock | AverageBlock | FuseBlock;

/**
 * What `setActiveSetup` accepts: a block, a bare adapter name (`Stack(name)`), or AdapterHub's list
 * shorthand (a list is a Stack at depth 0 and a Fuse at depth 1: `['a', ['b', 'c']]` is
 * `Stack('a', Fuse('b', 'c'))`).
 */
export type SetupInput = string | SetupBlock | readonly SetupInput[];

/** Options of {@link BatchSplit}. */
export interface BatchSplitOptions {
  batchSizes: number[];
}
/** Options of {@link Average}. */
export interface AverageOptions {
  weights?: number[];
  normalizeWeights?: boolean;
}

/** The display name of a block type, as AdapterHub spells its class. */
const CLASS_NAMES: Record<BlockType, string> = {
  stack: 'Stack',
  parallel: 'Parallel',
  batchSplit: 'BatchSplit',
  average: 'Average',
  fuse: 'Fuse',
};

/** AdapterHub's `ALLOWED_NESTINGS` ('name' = an adapter name). */
export const ALLOWED_NESTINGS: Readonly<Record<BlockType, ReadonlyArray<BlockType | 'name'>>> = {
  stack: ['name', 'fuse', 'parallel', 'batchSplit', 'average'],
  fuse: ['name', 'stack'],
  parallel: ['name', 'stack', 'batchSplit', 'average'],
  batchSplit: ['name', 'stack', 'batchSplit', 'average'],
  average: ['name', 'stack', 'batchSplit'],
};

function invalid(msg: string, details?: Record<string, unknown>): never {
  throw new AdapterError('INVALID_CONFIG', msg, details);
}

/** Children given to a block constructor: arrays inside a block are Stacks (AdapterHub's rule). */
function childOf(c: SetupInput, where: string): SetupChild {
  if (typeof c === 'string') return c;
  if (Array.isArray(c))
    return { type: 'stack', children: (c as readonly SetupInput[]).map((x) => childOf(x, where)) };
  if (isPlainObject(c) && typeof c.type === 'string') return c as SetupBlock;
  return invalid(`${where}: a child must be an adapter name or a block, got ${describeValue(c)}`);
}

function splitOptions<O extends object>(args: ReadonlyArray<SetupInput | O>): [SetupInput[], O | undefined] {
  const last = args[args.length - 1];
  if (isPlainObject(last) && !('type' in last)) return [args.slice(0, -1) as SetupInput[], last as O];
  return [args as SetupInput[], undefined];
}

/** `Stack(a, b, …)`: children applied in order, each child's output the next child's input. */
export function Stack(...children: SetupInput[]): StackBlock {
  return { type: 'stack', children: children.map((c) => childOf(c, 'Stack')) };
}

/** `Parallel(a, b, …)`: every child sees the input; outputs are concatenated along dim 0 (batch `B` → `n·B`). */
export function Parallel(...children: SetupInput[]): ParallelBlock {
  return { type: 'parallel', children: children.map((c) => childOf(c, 'Parallel')) };
}

/**
 * `BatchSplit(a, b, …, {batchSizes})`: rows `[0, b₀)` go to child 0, the next `b₁` rows to child 1, …
 *
 * @example
 * ```ts
 * model.setActiveSetup(BatchSplit('a', 'b', { batchSizes: [1, 2] }));
 * ```
 */
export function BatchSplit(...args: Array<SetupInput | BatchSplitOptions>): BatchSplitBlock {
  const [children, opts] = splitOptions<BatchSplitOptions>(args);
  if (!opts)
    invalid('BatchSplit needs its options last: BatchSplit(a, b, …, {batchSizes: [...]})', {
      field: 'batchSizes',
    });
  return {
    type: 'batchSplit',
    children: children.map((c) => childOf(c, 'BatchSplit')),
    batchSizes: opts.batchSizes,
  };
}

/**
 * `Average(a, b, …, {weights?, normalizeWeights = true})`: the weighted sum `Σ wᵢ·yᵢ` of the children's
 * outputs; weights default to `1/n` and are divided by their sum unless `normalizeWeights` is false.
 */
export function Average(...args: Array<SetupInput | AverageOptions>): AverageBlock {
  const [children, opts] = splitOptions<AverageOptions>(args);
  return {
    type: 'average',
    children: children.map((c) => childOf(c, 'Average')),
    ...(opts?.weights !== undefined ? { weights: opts.weights } : {}),
    ...(opts?.normalizeWeights !== undefined ? { normalizeWeights: opts.normalizeWeights } : {}),
  };
}

/** `Fuse(a, b, …)`: AdapterFusion over the children (add the fusion layer with `model.addFusion`). */
export function Fuse(...children: SetupInput[]): FuseBlock {
  return { type: 'fuse', children: children.map((c) => childOf(c, 'Fuse')) };
}

/** AdapterHub's display form: `Stack[a, Fuse[b, c]]`. */
export function describeSetup(s: SetupChild): string {
  if (typeof s === 'string') return s;
  return `${CLASS_NAMES[s.type]}[${s.children.map(describeSetup).join(', ')}]`;
}

const kindOf = (c: SetupChild): BlockType | 'name' => (typeof c === 'string' ? 'name' : c.type);
const labelOf = (k: BlockType | 'name'): string => (k === 'name' ? 'an adapter name' : CLASS_NAMES[k]);

/**
 * Checks one JSON block's own fields (type, children, options), converting shorthand children.
 * `path` is where the block sits, for messages (`setup.children[1]`).
 */
function parseBlockJson(raw: Record<string, unknown>, path: string, depth: number): SetupBlock {
  const type = raw.type;
  if (!(BLOCK_TYPES as readonly unknown[]).includes(type)) {
    invalid(
      `${path}.type ${JSON.stringify(type)} is not a block type; valid types: ${BLOCK_TYPES.join(', ')}`,
      {
        field: `${path}.type`,
        valid: [...BLOCK_TYPES],
      },
    );
  }
  const t = type as BlockType;
  const allowedKeys = [
    'type',
    'children',
    ...(t === 'batchSplit' ? ['batchSizes'] : t === 'average' ? ['weights', 'normalizeWeights'] : []),
  ];
  const extra = Object.keys(raw).filter((k) => !allowedKeys.includes(k));
  if (extra.length) {
    invalid(
      `${path}: ${CLASS_NAMES[t]} does not take ${extra.join(', ')}; its fields are: ${allowedKeys.join(', ')}`,
      {
        field: path,
        valid: allowedKeys,
      },
    );
  }
  const children = raw.children;
  if (!Array.isArray(children) || children.length === 0) {
    invalid(
      `${path}.children of ${CLASS_NAMES[t]} must be a non-empty list of adapter names or blocks, got ${describeValue(children)}`,
      {
        field: `${path}.children`,
      },
    );
  }
  const parsedChildren = (children as unknown[]).map((c, i) =>
    parseNode(c, `${path}.children[${i}]`, depth + 1, false),
  );
  const n = parsedChildren.length;
  const numbers = (field: string, v: unknown, ok: (x: number) => boolean, what: string): number[] => {
    if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === 'number' && ok(x))) {
      invalid(
        `${path}.${field} of ${CLASS_NAMES[t]} must be a list of ${n} ${what} (one per child), got ${JSON.stringify(v)}`,
        {
          field: `${path}.${field}`,
        },
      );
    }
    return [...(v as number[])];
  };
  switch (t) {
    case 'batchSplit':
      return {
        type: t,
        children: parsedChildren,
        batchSizes: numbers(
          'batchSizes',
          raw.batchSizes,
          (x) => Number.isInteger(x) && x >= 0,
          'non-negative integers',
        ),
      };
    case 'average': {
      const out: AverageBlock = { type: t, children: parsedChildren };
      const weights =
        raw.weights === undefined
          ? undefined
          : numbers('weights', raw.weights, Number.isFinite, 'finite numbers');
      if (raw.normalizeWeights !== undefined && typeof raw.normalizeWeights !== 'boolean') {
        invalid(
          `${path}.normalizeWeights must be true or false, got ${JSON.stringify(raw.normalizeWeights)}`,
          {
            field: `${path}.normalizeWeights`,
          },
        );
      }
      if (weights && (raw.normalizeWeights ?? true) && weights.reduce((a, b) => a + b, 0) === 0) {
        invalid(
          `${path}.weights sum to 0, so they cannot be normalised; give other weights or normalizeWeights: false`,
          {
            field: `${path}.weights`,
          },
        );
      }
      return {
        ...out,
        ...(weights ? { weights } : {}),
        ...(raw.normalizeWeights !== undefined ? { normalizeWeights: raw.normalizeWeights as boolean } : {}),
      };
    }
    default:
      return { type: t, children: parsedChildren } as SetupBlock;
  }
}

/** Parses a node; `shorthand` applies AdapterHub's list rule (only along the top-level lists). */
function parseNode(raw: unknown, path: string, depth: number, shorthand: boolean): SetupChild {
  if (typeof raw === 'string') {
    if (raw.length === 0) invalid(`${path}: an adapter name must be non-empty`, { field: path });
    return raw;
  }
  if (Array.isArray(raw)) {
    const type: BlockType = shorthand && depth === 1 ? 'fuse' : 'stack';
    const children = raw.map((c, i) => parseNode(c, `${path}[${i}]`, depth + 1, shorthand));
    if (children.length === 0) invalid(`${path}: an empty list is not a setup`, { field: path });
    return { type, children };
  }
  if (isPlainObject(raw)) return parseBlockJson(raw, path, depth);
  return invalid(`${path}: expected an adapter name, a block or a list, got ${describeValue(raw)}`, {
    field: path,
  });
}

/**
 * Checks AdapterHub's nesting rules: each child's kind must be in `ALLOWED_NESTINGS` of its parent;
 * below depth 1 only Stack blocks or names (a Stack below depth 0 holds names only).
 */
function validateNesting(block: SetupBlock, depth: number): void {
  for (const child of block.children) {
    const kind = kindOf(child);
    if (kind !== 'name' && block.type === 'stack' && depth >= 1) {
      invalid(
        `${describeSetup(child)} cannot sit inside ${CLASS_NAMES[block.type]} at depth ${depth + 1}: the setup is too deep; below depth 1 only Stack blocks and adapter names are allowed, and a nested Stack holds adapter names only`,
        { parent: block.type, child: kind },
      );
    }
    if (!ALLOWED_NESTINGS[block.type].includes(kind)) {
      invalid(
        `${labelOf(kind)} cannot be nested in ${CLASS_NAMES[block.type]} (${describeSetup(child)} in ${describeSetup(block)}); ${CLASS_NAMES[block.type]} may hold: ${ALLOWED_NESTINGS[block.type].map(labelOf).join(', ')}`,
        { parent: block.type, child: kind, valid: [...ALLOWED_NESTINGS[block.type]] },
      );
    }
    if (kind !== 'name' && depth + 1 > 1 && kind !== 'stack') {
      invalid(
        `${CLASS_NAMES[kind as BlockType]} cannot sit at depth ${depth + 1} (inside ${CLASS_NAMES[block.type]}): below depth 1 only Stack blocks and adapter names are allowed`,
        { parent: block.type, child: kind },
      );
    }
    if (typeof child !== 'string') validateNesting(child, depth + 1);
  }
}

/**
 * Parses and validates a setup: a block (built with {@link Stack} & co. or read from JSON), a bare
 * name (`Stack(name)`) or AdapterHub's list shorthand. Returns the setup in its JSON form, always a
 * block at the top. Errors: `INVALID_CONFIG` naming the field, or the parent and child block of a
 * nesting AdapterHub does not allow.
 *
 * @example
 * ```ts
 * parseSetup(['a', ['b', 'c']]); // {type: 'stack', children: ['a', {type: 'fuse', children: ['b', 'c']}]}
 * ```
 */
export function parseSetup(input: unknown): SetupBlock {
  let node = parseNode(input, 'setup', 0, true);
  if (typeof node === 'string') node = { type: 'stack', children: [node] };
  validateNesting(node, 0);
  return node;
}

/** The setup's JSON form (a plain, JSON-serialisable copy). */
export function setupToJson(setup: SetupBlock): SetupBlock {
  return structuredClone(setup) as SetupBlock;
}

/** Every adapter name the setup mentions, in first-appearance order. */
export function setupAdapterNames(s: SetupChild): string[] {
  if (typeof s === 'string') return [s];
  const out: string[] = [];
  for (const c of s.children) for (const n of setupAdapterNames(c)) if (!out.includes(n)) out.push(n);
  return out;
}

/** The last adapter of a child (AdapterHub's `last()`): what a Fuse names a Stack child by. */
export function lastAdapter(s: SetupChild): string {
  return typeof s === 'string' ? s : lastAdapter(s.children[s.children.length - 1]!);
}

/** The name of a Fuse block's fusion layer: its children (a Stack child by its last adapter) joined by `,`. */
export function fusionNameOf(block: FuseBlock): string {
  return block.children.map(lastAdapter).join(',');
}

/** Every Fuse block in the setup. */
export function fuseBlocks(s: SetupChild): FuseBlock[] {
  if (typeof s === 'string') return [];
  return [...(s.type === 'fuse' ? [s] : []), ...s.children.flatMap(fuseBlocks)];
}
