import { registerStrategyType } from '../registry.js';
import { declareRowwiseStrategy } from '../rowwise.js';
import {
  MhaResidualAddStrategy,
  ResidualAddStrategy,
  residualAddRowwise,
  residualAddSchema,
} from './residual-add.js';
import { ReturnResultStrategy, returnResultSchema } from './return-result.js';

registerStrategyType('residualAdd', { ctor: ResidualAddStrategy, schema: residualAddSchema });
registerStrategyType('mhaResidualAdd', { ctor: MhaResidualAddStrategy, schema: residualAddSchema });
registerStrategyType('returnResult', { ctor: ReturnResultStrategy, schema: returnResultSchema });
declareRowwiseStrategy(ResidualAddStrategy, residualAddRowwise);

export { MhaResidualAddStrategy, ResidualAddStrategy, ReturnResultStrategy };
export type { ResidualAddOptions } from './residual-add.js';
