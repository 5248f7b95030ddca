import { registerStrategyType } from '../registry.js';
import { declareRowwiseStrategy } from '../rowwise.js';
import {
  MhaResidualAddStrategy,
  ResidualAddStrategy,
  residualAddRowwise,
  residualAddSchema,
} from './residual-add.js';
import { MultiplicativeStrategy, multiplicativeRowwise, multiplicativeSchema } from './multiplicative.js';
import { ReturnResultStrategy, returnResultSchema } from './return-result.js';

registerStrategyType('residualAdd', { ctor: ResidualAddStrategy, schema: residualAddSchema });
registerStrategyType('mhaResidualAdd', { ctor: MhaResidualAddStrategy, schema: residualAddSchema });
registerStrategyType('returnResult', { ctor: ReturnResultStrategy, schema: returnResultSchema });
registerStrategyType('multiplicative', { ctor: MultiplicativeStrategy, schema: multiplicativeSchema });
declareRowwiseStrategy(ResidualAddStrategy, residualAddRowwise);
declareRowwiseStrategy(MultiplicativeStrategy, multiplicativeRowwise);

export { MhaResidualAddStrategy, MultiplicativeStrategy, ResidualAddStrategy, ReturnResultStrategy };
export type { ResidualAddOptions } from './residual-add.js';
