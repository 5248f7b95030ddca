/**
 * Adapter-owned heads (SPEC §5.2): `modulesToSave` copies and `extendOutput` rows that an adapter
 * owns, switched in while it is active.
 */
export { HEAD_FIELDS, splitHeadsConfig, type HeadsConfig, type HeadsConfigInput } from './config.js';
export { AdapterHeadsWrapper, type HeadsContext } from './heads-wrapper.js';
export { adapterHeadsState, baseOutputLabels, outputLabels, type HeadsPlan } from './model-heads.js';
export { OutputExtension } from './output-extension.js';
