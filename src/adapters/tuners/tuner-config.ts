/**
 * The fields of a normalised tuner config that the core reads (target matching, modules to save,
 * layer filtering). Every method's normalised config has them; a method adds its own.
 */

/** A list of module names (suffix match at `.` boundaries) or one full-match regex. */
export type TargetPatterns = string | string[];

/** What the core reads from every normalised tuner config. */
export interface BaseTunerConfig {
  /** The method's registered name. */
  type: string;
  /** Targets (`'all-linear'` allowed), null until model defaults are filled in. */
  targetModules: TargetPatterns | null;
  excludeModules: TargetPatterns | null;
  modulesToSave: string[] | null;
  /** The wrapped weight is stored `[in, out]` (methods wrapping linears). */
  fanInFanOut?: boolean;
  /** Layer indices to keep (methods that support it). */
  layersToTransform?: number | number[] | null;
  layersPattern?: string | string[] | null;
}
