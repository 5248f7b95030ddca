/** IA³ wrapper config and layer; the PEFT-managed model in `../lora/model.ts` handles both kinds. */
export { ia3ConfigSchema, parseIa3Config, type Ia3Config, type NormalizedIa3Config } from './config.js';
export { Ia3Linear, IA3_UNMERGE_EPS } from './layer.js';
