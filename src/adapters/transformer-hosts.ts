/**
 * Adapter-capable versions of the library's transformer blocks and stacks, registered with the
 * adapter class registry: build a model from the plain classes, then
 * `replaceAdapterCompatibleModules()` upgrades them in place (what NeMo's `register_adapter` does).
 * Blocks are attention hosts with the insertion points of `TRANSFORMER_INSERTION_POINTS`
 * (without a `location`: linear adapters at `'post'`, transformer attention adapters at `'mha'`,
 * parallel adapters beside the FFN); stacks fan an adapter out to every block.
 */
import type { Tensor } from '../backend/tf.js';
import {
  TransformerDecoder,
  TransformerDecoderBlock,
  TransformerEncoder,
  TransformerEncoderBlock,
  type TransformerBlock,
  type TransformerStack,
  type AdapterLocation,
  type AdapterPointContext,
  type TransformerDecoderOptions,
  type TransformerStackOptions as TransformerEncoderOptions,
} from '../nn/transformer.js';
import { withAttentionAdapters } from './attention-host.js';
import { registerAdapter, updateModuleClassWithAdapterClass } from './class-registry.js';
import type { AdapterHostModule } from './host.js';
import { withLayeredAdapters } from './layered-host.js';
import { withBlockPrefixes, withStackPrefixes } from './prefix/hosts.js';

/** A {@link TransformerEncoderBlock} that runs each adapter at the insertion point its config names. */
export class TransformerEncoderBlockAdapter extends withBlockPrefixes(
  withAttentionAdapters(TransformerEncoderBlock, { kind: 'transformer' }),
) {
  static override readonly typeName: string = 'TransformerEncoderBlockAdapter';
  protected override adapterPoint(loc: AdapterLocation, x: Tensor, ctx: AdapterPointContext): Tensor {
    return this.adapterHookInUse(loc) ? this.runAdapterPoint(loc, x, ctx) : x;
  }
}

/** A {@link TransformerDecoderBlock} that runs each adapter at the insertion point its config names. */
export class TransformerDecoderBlockAdapter extends withBlockPrefixes(
  withAttentionAdapters(TransformerDecoderBlock, { kind: 'transformer' }),
) {
  static override readonly typeName: string = 'TransformerDecoderBlockAdapter';
  protected override adapterPoint(loc: AdapterLocation, x: Tensor, ctx: AdapterPointContext): Tensor {
    return this.adapterHookInUse(loc) ? this.runAdapterPoint(loc, x, ctx) : x;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's base constructor must take `any[]` (TS2545)
type StackCtor = new (...args: any[]) => TransformerStack<TransformerBlock>;

/**
 * A transformer stack whose adapters go to every block, sized to `dModel`. Built directly (not
 * upgraded in place), its blocks become adapter hosts too.
 */
function withStackAdapters<TBase extends StackCtor>(Base: TBase) {
  // Prefix tuning and MAM are held by the stack itself (prefix/hosts.ts); other kinds fan out.
  abstract class StackWithAdapters extends withStackPrefixes(withLayeredAdapters(Base)) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's constructor forwards its base's arguments
    constructor(...args: any[]) {
      super(...args);
      for (const b of this.blocks()) updateModuleClassWithAdapterClass(b);
    }
    override adapterLayers(): AdapterHostModule[] {
      return this.blocks() as unknown as AdapterHostModule[];
    }
    override get adapterInputDim(): number {
      return this.dModel;
    }
  }
  return StackWithAdapters;
}

/** A {@link TransformerEncoder} whose adapters go to every block, sized to `dModel`. */
export class TransformerEncoderAdapter extends withStackAdapters(TransformerEncoder) {
  static override readonly typeName: string = 'TransformerEncoderAdapter';
  constructor(options: TransformerEncoderOptions) {
    super(options);
  }
}

/** A {@link TransformerDecoder} whose adapters go to every block, sized to `dModel`. */
export class TransformerDecoderAdapter extends withStackAdapters(TransformerDecoder) {
  static override readonly typeName: string = 'TransformerDecoderAdapter';
  constructor(options: TransformerDecoderOptions) {
    super(options);
  }
}

registerAdapter(TransformerEncoderBlock, TransformerEncoderBlockAdapter);
registerAdapter(TransformerDecoderBlock, TransformerDecoderBlockAdapter);
registerAdapter(TransformerEncoder, TransformerEncoderAdapter);
registerAdapter(TransformerDecoder, TransformerDecoderAdapter);
