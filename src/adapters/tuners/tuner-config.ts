/**
 * The fields of a normalised tuner config that the core reads (target matching, modules to save,
 * layer filtering), inferred from the shared schemas in `config.ts`. Every method's normalised
 * config has them; a method adds its own.
 */
import type { z } from 'zod';
import type { TargetSpec, tunerConfigBase, tunerConfigOptionalFields } from './config.js';

/** A list of module names (suffix match at `.` boundaries) or one full-match regex. */
export type TargetPatterns = TargetSpec;

/**
 * What the core reads from every normalised tuner config: `type`, `targetModules`,
 * `excludeModules`, `modulesToSave`, and, when the method has them, `fanInFanOut`,
 * `layersToTransform`, `layersPattern`.
 */
export type BaseTunerConfig = z.output<typeof tunerConfigBase> &
  Partial<z.output<typeof tunerConfigOptionalFields>>;
