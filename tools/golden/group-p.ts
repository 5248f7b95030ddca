/**
 * Golden runner for group P (composition of adapters at one host, SPEC §5.1; see the golden
 * fixtures' README). Everything comes from the case's data, never from its name:
 * - `config.adapters` (a list, built in `config.order`) are planned as in group C (adapter type,
 *   options, strategy, parameter names by `paramDocs`) and added to a tiny model whose only host
 *   passes its input (the host's output before adapters) to its adapters;
 * - `config.fusions` (`[{children, config}]`) become fusion layers (`model.addFusion`), their
 *   parameters `fusion.<children joined by ','>.<query|key|value>.<weight|bias>` loaded into them;
 * - `config.setup` (the setup's JSON form) becomes the active setup; `config.training` the mode;
 * - the input is the tensor named `input` (or `x`);
 * - expected tensors: `expected.output` (the host's output with the setup applied; rows grow under
 *   `parallel`) and `expected.fusion_regularization` (the sum over the fusion layers of AdapterHub's
 *   `0.01 · Σ (I − W_v)²`). Any other name fails the case, naming it.
 */
import { tf, type Tensor } from '../../src/backend/tf.js';
import '../../src/index.js';
import { resetRegistry } from '../../src/adapters/access.js';
import { withAdapters } from '../../src/adapters/host.js';
import type { AdapterModelConfig } from '../../src/adapters/model.js';
import { withAdapterModel } from '../../src/io/adapter-model.js';
import type { AdapterInput } from '../../src/adapters/types.js';
import type { SetupInput } from '../../src/adapters/composition/setup.js';
import { Module } from '../../src/nn/module.js';
import {
  compare,
  planAdapter,
  stateKeyFor,
  toTensor,
  type AdapterCase,
  type AdapterPlan,
  type FixtureTensor,
  type GoldenResult,
} from './group-adapters.js';

/** The host: its forward runs the adapters (or the setup) on its input. */
class CompositionHost extends withAdapters(Module) {
  static override readonly typeName: string = 'GoldenCompositionHost';
  override forward(x: AdapterInput): AdapterInput {
    return this.forwardEnabledAdapters(x);
  }
}

class CompositionModelBase extends Module {
  static override readonly typeName: string = 'GoldenCompositionModelBase';
  constructor(public cfg: AdapterModelConfig) {
    super();
    this.registerModule('host', new CompositionHost());
  }
}

class CompositionModel extends withAdapterModel(CompositionModelBase) {
  static override readonly typeName: string = 'GoldenCompositionModel';
  constructor() {
    super({});
    this.adapterModuleNames = ['', 'host'];
    this.defaultAdapterModuleName = 'host';
    this.setupAdapters();
  }
  override forward(x: Tensor): Tensor {
    return this.getChild('host')!.forward(x) as Tensor;
  }
}

class CaseError extends Error {}
function fail(msg: string): never {
  throw new CaseError(msg);
}

/** Runs one group P case. */
export async function runCompositionCase(
  caseDir: string,
  caseJson: AdapterCase,
  tensors: Map<string, FixtureTensor>,
): Promise<GoldenResult> {
  const label = `${caseJson?.name ?? caseDir}`;
  const created: Tensor[] = [];
  let model: CompositionModel | undefined;
  try {
    const config = caseJson?.config;
    if (!config || typeof config !== 'object') fail('case has no config object');
    if (!Array.isArray(config.adapters)) fail('config.adapters must be a list of adapters');
    const ignored: string[] = [];
    const entries = config.adapters as Record<string, unknown>[];
    const byName = new Map(entries.map((e, i) => [String(e.name ?? `adapter_${i}`), e]));
    const order: string[] = Array.isArray(config.order) ? config.order.map(String) : [...byName.keys()];
    const plans: AdapterPlan[] = order.map((n) =>
      planAdapter(
        byName.get(n) ?? fail(`config.order names '${n}', which config.adapters does not define`),
        n,
        ignored,
      ),
    );
    for (const n of byName.keys())
      if (!order.includes(n)) fail(`adapter '${n}' is missing from config.order`);
    const fusions = (config.fusions ?? []) as Array<{ children?: unknown; config?: unknown }>;
    if (!Array.isArray(fusions)) fail('config.fusions must be a list');
    if (config.setup === undefined) fail('config.setup is missing');
    const tol = { atol: Number(caseJson.tolerance?.atol ?? 0), rtol: Number(caseJson.tolerance?.rtol ?? 0) };

    const declared = (caseJson.tensors ?? []) as Array<{ name: string; role: string; doc?: string }>;
    for (const d of declared)
      if (!tensors.has(d.name)) fail(`tensor '${d.name}' is declared but not in the file`);
    const unknownRoles = declared.filter((d) => !['param', 'input', 'expected'].includes(d.role));
    if (unknownRoles.length)
      fail(`unknown tensor role(s): ${unknownRoles.map((d) => `${d.name} (${d.role})`).join(', ')}`);
    const inputs = declared.filter((d) => d.role === 'input');
    const expected = declared.filter((d) => d.role === 'expected');
    if (expected.length === 0) fail('the case has no expected tensors');
    if (inputs.length !== 1 || !['input', 'x'].includes(inputs[0]!.name)) {
      fail(
        `group P needs one input tensor named 'input' (or 'x'); the case has: ${inputs.map((d) => d.name).join(', ') || '(none)'}`,
      );
    }

    const m = (model = new CompositionModel());
    for (const p of plans) m.addAdapter(p.name, p.cfg);
    const fusionNames = fusions.map((f, i) => {
      if (!Array.isArray(f.children)) fail(`config.fusions[${i}].children must be a list of adapter names`);
      return m.addFusion(f.children as string[], (f.config ?? 'dynamic') as never);
    });

    // Parameters: adapter ones by adapter-name prefix, fusion ones by `fusion.<name>.` prefix.
    const adapterSd = new Map(plans.map((p) => [p.name, new Map<string, Tensor>()]));
    const fusionSd = new Map(fusionNames.map((n) => [n, new Map<string, Tensor>()]));
    for (const d of declared.filter((t) => t.role === 'param')) {
      const t = toTensor(tensors.get(d.name)!, d.name);
      created.push(t);
      const fusion = fusionNames.find((n) => d.name.startsWith(`fusion.${n}.`));
      if (fusion) {
        fusionSd.get(fusion)!.set(d.name.slice(`fusion.${fusion}.`.length), t);
        continue;
      }
      const plan = plans.find((p) => d.name.startsWith(`${p.name}.`));
      if (!plan)
        fail(
          `parameter '${d.name}' names no adapter (${plans.map((p) => p.name).join(', ')}) and no fusion (${fusionNames.join(' | ') || 'none'})`,
        );
      adapterSd.get(plan!.name)!.set(stateKeyFor(d.name.slice(plan!.name.length + 1), d.doc, plan!), t);
    }
    for (const p of plans) m.getAdapterModule(p.name)!.loadStateDict(adapterSd.get(p.name)!);
    for (const n of fusionNames)
      for (const layer of m.getFusionLayers(n)) layer.loadStateDict(fusionSd.get(n)!);

    m.setActiveSetup(config.setup as SetupInput);
    m.train(Boolean(config.training ?? false));
    const x = toTensor(tensors.get(inputs[0]!.name)!, inputs[0]!.name);
    created.push(x);

    const lines: string[] = [];
    let ok = true;
    for (const d of expected) {
      const what = d.name.startsWith('expected.') ? d.name.slice('expected.'.length) : d.name;
      let got: Tensor;
      if (what === 'output') {
        got = m.forward(x);
      } else if (what === 'fusion_regularization') {
        const terms = fusionNames
          .flatMap((n) => m.getFusionLayers(n))
          .map((l) => l.regularizationLoss())
          .filter((t): t is Tensor => t !== null);
        if (terms.length === 0) fail(`'${d.name}': the case has no fusion layer with a value matrix`);
        got = terms.length === 1 ? terms[0]! : tf.addN(terms);
        if (terms.length > 1) tf.dispose(terms);
      } else {
        got = fail(
          `don't know how to compute expected tensor '${d.name}'; group P defines expected.output and expected.fusion_regularization`,
        );
      }
      created.push(got);
      const c = compare(d.name, got, tensors.get(d.name)!, tol.atol, tol.rtol);
      ok &&= c.ok;
      lines.push(c.line);
    }
    if (ignored.length) lines.push(`ignored descriptive keys: ${ignored.join(', ')}`);
    return { ok, detail: `${label}: ${lines.join('; ')}` };
  } catch (e) {
    return {
      ok: false,
      detail: `${label}: ${e instanceof CaseError ? e.message : `${(e as Error)?.name}: ${(e as Error)?.message}`}`,
    };
  } finally {
    if (model) {
      resetRegistry(model);
      model.dispose();
    }
    for (const t of created) if (!t.isDisposed) t.dispose();
  }
}
