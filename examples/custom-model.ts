import { initBackend, Module, nn, withAdapters, registerAdapter, makeAdapterModel, tf } from '../src/index.js';

await initBackend();

class Block extends Module {
  static override readonly typeName: string = 'Block';
  constructor(width: number) {
    super();
    this.registerModule('fc', new nn.Linear({ inFeatures: width, outFeatures: width }));
  }
  override forward(x: tf.Tensor): tf.Tensor {
    return tf.relu(this.getChild('fc')!.forward(x));
  }
}
class BlockWithAdapters extends withAdapters(Block) {
  static override readonly typeName: string = 'BlockWithAdapters';
  override forward(x: tf.Tensor): tf.Tensor {
    return this.forwardEnabledAdapters(super.forward(x));
  }
}
registerAdapter(Block, BlockWithAdapters); // replaceAdapterCompatibleModules() upgrades models in place

// Your model, written as usual; makeAdapterModel makes it an adapter model in one step.
class Classifier extends Module {
  static override readonly typeName: string = 'Classifier';
  constructor() {
    super();
    this.registerModule('encoder', new Block(16));
    this.registerModule('head', new nn.Linear({ inFeatures: 16, outFeatures: 3 }));
  }
  override forward(x: tf.Tensor): tf.Tensor {
    return this.getChild('head')!.forward(this.getChild('encoder')!.forward(x));
  }
}
const AdaptableClassifier = makeAdapterModel(Classifier, {
  moduleNames: ['encoder'],
  defaultModuleName: 'encoder',
});

const clf = new AdaptableClassifier(); // Classifier's constructor, then the adapter set-up
clf.addAdapter('task', { type: 'linear', inFeatures: 16, dim: 4 }); // no 'module:' → 'encoder'
const file = clf.saveAdapters('task'); // adapter file: the adapter's tensors and config
const { loaded } = new AdaptableClassifier().loadAdapters(file);
console.log(`loaded: ${loaded.join(', ')}`);
// loaded: task
