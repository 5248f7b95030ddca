/**
 * The registry of PEFT formats: for each tuner method the library reads and writes as a PEFT
 * directory, its `peft_type` and how its `adapter_config.json` keys map to the method's config.
 * The PEFT reader and writer (`peft-config.ts`) ask the registry and never name a method, so
 * supporting a new method's PEFT directories is one {@link registerPeftFormat} call.
 */
import type { NormalizedWrapperConfig, WrapperConfig } from '../adapters/tuners/registry.js';
import { AdapterError } from '../errors.js';

/** How one tuner method's config is written to and read from PEFT's `adapter_config.json`. */
export interface PeftFormat {
  /** PEFT's `peft_type` (`'LORA'`). Unique. */
  readonly peftType: string;
  /** The tuner method's config `type` (`'lora'`). Unique. */
  readonly method: string;
  /** The method's options: PEFT key → library field (`lora_alpha` → `loraAlpha`). */
  readonly optionKeys: Readonly<Record<string, string>>;
  /**
   * Option keys PEFT stores as sets, so their lists are written sorted (besides `target_modules`,
   * `exclude_modules` and `modules_to_save`, which every format sorts).
   */
  readonly setKeys: readonly string[];
  /** The model property whose default targets stand in for a missing `target_modules`. */
  readonly defaultTargetsHint: string;
  /**
   * Keys of features the library cannot honour, with PEFT's defaults: a file holding another value
   * is refused (`UNSUPPORTED_FEATURE`); they are written at these defaults.
   */
  readonly unsupportedDefaults?: Readonly<Record<string, unknown>>;
  /**
   * Keys with no effect once the weights come from a file, with PEFT's defaults: read values are
   * kept and written back for the same adapter.
   */
  readonly inertDefaults?: Readonly<Record<string, unknown>>;
  /** Method-specific refusals of a file's options (`UNSUPPORTED_FEATURE`), after the shared ones. */
  checkFile?(json: Readonly<Record<string, unknown>>, where: string): void;
  /** A read option value as the library config takes it (e.g. PEFT's null pattern map → `{}`). */
  readOption?(key: string, value: unknown): unknown;
  /**
   * Adjusts the written options of `cfg` (a config of this format's method) where the library has
   * values PEFT has no name for.
   */
  writeOptions?(cfg: NormalizedWrapperConfig, out: Record<string, unknown>): void;
  /** The library config for the options read from a file (method fields, PEFT defaults left out). */
  toConfig(options: Record<string, unknown>): WrapperConfig;
}

const byPeftType = new Map<string, PeftFormat>();
const byMethod = new Map<string, PeftFormat>();

/**
 * Registers how tuner method `format.method` is stored as a PEFT directory. A `peftType` or method
 * already registered → `REGISTRY_CONFLICT`.
 *
 * @example
 * ```ts
 * registerPeftFormat({ peftType: 'IA3', method: 'ia3', optionKeys: { target_modules: 'targetModules', … }, … });
 * ```
 */
export function registerPeftFormat(format: PeftFormat): void {
  const clash = byPeftType.has(format.peftType)
    ? `peft_type '${format.peftType}'`
    : byMethod.has(format.method)
      ? `tuner method '${format.method}'`
      : null;
  if (clash !== null) {
    throw new AdapterError(
      'REGISTRY_CONFLICT',
      `registerPeftFormat('${format.peftType}'): a PEFT format for ${clash} is already registered`,
      { type: format.peftType },
    );
  }
  byPeftType.set(format.peftType, format);
  byMethod.set(format.method, format);
}

/** The registered `peft_type` values, in registration order. */
export function listPeftTypes(): string[] {
  return [...byPeftType.keys()];
}

/** Every registered format, in registration order. */
export function listPeftFormats(): PeftFormat[] {
  return [...byPeftType.values()];
}

/** The format for `peftType`, or undefined when none is registered. */
export function peftFormatForType(peftType: unknown): PeftFormat | undefined {
  return typeof peftType === 'string' ? byPeftType.get(peftType) : undefined;
}

/**
 * The format for the method of `cfg`; a method without a PEFT format → `UNSUPPORTED_FEATURE`
 * listing the methods that have one.
 */
export function peftFormatForConfig(cfg: NormalizedWrapperConfig): PeftFormat {
  const format = byMethod.get(cfg.type);
  if (format === undefined) {
    throw new AdapterError(
      'UNSUPPORTED_FEATURE',
      `'${cfg.type}' adapters cannot be saved as a PEFT directory; methods with a PEFT format: ${[...byMethod.keys()].join(', ')}`,
      { type: cfg.type, valid: [...byMethod.keys()] },
    );
  }
  return format;
}
