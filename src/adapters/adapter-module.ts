import { AdapterError, describeValue, isPlainObject } from '../errors.js';
import { Module } from '../nn/module.js';
import type { Rng } from '../rng.js';
import { withAccess } from './access.js';
import { buildStrategy } from './registry.js';
import type { AdapterStrategy, StrategyConfig } from './types.js';

/** Options every adapter constructor accepts besides its own. */
export interface AdapterModuleOptions {
  /** A strategy config, a strategy object, or null/undefined for the type's default. */
  adapterStrategy?: StrategyConfig | AdapterStrategy | null;
  /** Random source for this adapter's initialisation and draws (not persisted). */
  rng?: Rng;
}

/**
 * Base class of every adapter network: a Module with the auxiliary-tensor registry, an
 * `adapterStrategy`, and the `adapterUnfreeze()` hook.
 */
export class AdapterModule extends withAccess(Module) {
  static override readonly typeName: string = 'AdapterModule';
  /** The strategy config used when none is given. Subclasses override. */
  static readonly defaultStrategy: StrategyConfig = { type: 'residualAdd' };

  /** How this adapter's output is combined with its input. */
  adapterStrategy: AdapterStrategy | undefined;
  /** Random source for draws made on behalf of this adapter (stochastic depth), if injected. */
  readonly rng: Rng | undefined;

  constructor(options: AdapterModuleOptions = {}) {
    super();
    this.rng = options.rng;
  }

  /** The type's default strategy config. */
  defaultStrategyConfig(): StrategyConfig {
    return structuredClone((this.constructor as typeof AdapterModule).defaultStrategy);
  }

  /**
   * Installs the strategy: `undefined`/`null` → the type's default; a config object → built through
   * the registry; an object with a `forward` function → used as is; anything else → `INVALID_STRATEGY`.
   */
  setupAdapterStrategy(strategy: StrategyConfig | AdapterStrategy | null | undefined): void {
    if (strategy === undefined || strategy === null) {
      this.adapterStrategy = buildStrategy(this.defaultStrategyConfig());
    } else if (typeof (strategy as AdapterStrategy).forward === 'function' && !(strategy instanceof Module)) {
      this.adapterStrategy = strategy as AdapterStrategy;
    } else if (isPlainObject(strategy)) {
      this.adapterStrategy = buildStrategy(strategy as StrategyConfig);
    } else {
      throw new AdapterError(
        'INVALID_STRATEGY',
        `${this.typeName}: adapterStrategy must be a strategy config object, an object with forward(), or null; got ${describeValue(strategy)}`,
      );
    }
  }

  /** Hook run by `unfreezeEnabledAdapters()`: makes every parameter of this adapter trainable. */
  adapterUnfreeze(): void {
    for (const p of this.parameters()) p.trainable = true;
  }
}
