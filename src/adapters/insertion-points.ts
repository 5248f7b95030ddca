/**
 * The insertion-point report: for every adapter host of a model, the points an adapter config's
 * `location` may name there, which adapter types can go to each, and where the held adapters run.
 */
import type { Module } from '../nn/module.js';
import { attentionHostKindOfType, defaultInsertionPoint, type InsertionPoint } from './attention-host.js';
import { isAdapterHost } from './host-brand.js';
import type { AdapterHostModule } from './host.js';
import type { NormalizedAdapterConfig } from './types.js';

/** One insertion point of a host, as {@link inspectInsertionPoints} reports it. */
export interface InsertionPointInfo {
  /** The name an adapter config's `location` uses. */
  name: string;
  /** Where it sits in the block. */
  where: string;
  /** The host's accepted adapter types that can run here. */
  types: string[];
  /** The accepted types that run here when their config names no `location`. */
  defaultFor: string[];
}

/** One host of a model, as {@link inspectInsertionPoints} reports it. */
export interface HostInsertionPoints {
  /** The host's module path in the model (`''` for the root). */
  path: string;
  /** The host's type name. */
  host: string;
  /** Its insertion points in forward order; `[]` for a host that runs its adapters on its output. */
  points: InsertionPointInfo[];
  /** The adapters it holds, in registration order, with the point each runs at (null: none here). */
  adapters: Array<{ name: string; type: string; location: string | null; enabled: boolean }>;
}

/** What {@link inspectInsertionPoints} returns. */
export interface InsertionPointReport {
  hosts: HostInsertionPoints[];
}

interface PointHost extends AdapterHostModule {
  insertionPoints?(): readonly InsertionPoint[];
  adapterLocation?(name: string): string | null;
  adapterLayers?(): unknown[];
  checkValidModelWithAdapterSupport?(): void;
}

/**
 * Lists the insertion points of every adapter host in `model` (containers that fan adapters out to
 * their layers, and the model itself, are left out: their layers are listed), with the adapter
 * types each point takes and where every held adapter runs. The model is not changed.
 *
 * @example
 * ```ts
 * const r = inspectInsertionPoints(lm);
 * r.hosts[0]!.points.map((p) => p.name);
 * // ['input', 'attention', 'attentionOutput', 'mha', 'parallelFfn', 'ffnOutput', 'post']
 * lm.addAdapter('ffn', { type: 'linear', inFeatures: 128, dim: 16, location: 'ffnOutput' });
 * ```
 */
export function inspectInsertionPoints(model: Module): InsertionPointReport {
  const hosts: HostInsertionPoints[] = [];
  for (const [path, m] of model.namedModules()) {
    if (!isAdapterHost(m)) continue;
    const host = m as PointHost;
    if (typeof host.checkValidModelWithAdapterSupport === 'function') continue;
    if (typeof host.adapterLayers === 'function' && host.adapterLayers().length > 0) continue;
    const points = host.insertionPoints?.() ?? [];
    const accepted = [...host.getAcceptedAdapterTypes()];
    hosts.push({
      path,
      host: host.typeName,
      points: points.map((p) => ({
        name: p.name,
        where: p.where,
        types: accepted.filter((t) => p.kinds.includes(attentionHostKindOfType(t))),
        defaultFor: accepted.filter((t) => defaultInsertionPoint(t, points) === p.name),
      })),
      adapters: host.heldAdapterNames().map((name) => {
        const cfg = host.adapterCfg[name] as NormalizedAdapterConfig | undefined;
        return {
          name,
          type: cfg?.type ?? host.getAdapterModule(name)!.typeName,
          location: host.adapterLocation ? host.adapterLocation(name) : null,
          enabled: host.getEnabledAdapters().includes(name),
        };
      }),
    });
  }
  return { hosts };
}
