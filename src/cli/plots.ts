/**
 * Loss curves as SVG, rendered with Vega-Lite in Node (no browser). `vega` and `vega-lite` are optional
 * peer dependencies of the package (about 25 MB that library users do not need): without them there is
 * no chart, and the caller says so.
 */
import type * as vl from 'vega-lite';

/** The one line printed when the chart cannot be drawn. */
export const PLOT_PACKAGES_MISSING =
  'loss-curves.svg not drawn: the optional packages vega and vega-lite are not installed (npm install vega vega-lite)';

async function loadVega(): Promise<{ vega: typeof import('vega'); vl: typeof vl } | null> {
  try {
    return { vega: await import('vega'), vl: await import('vega-lite') };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return null;
    throw e;
  }
}

/** One point of a loss curve. */
export interface CurvePoint {
  method: string;
  step: number;
  loss: number;
}

/** An SVG line chart of training loss per step, one line per method; null when vega is not installed. */
export async function lossCurvesSvg(points: CurvePoint[], title: string): Promise<string | null> {
  const libs = await loadVega();
  if (!libs) return null;
  const { vega, vl: vegaLite } = libs;
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 560,
    height: 320,
    data: { values: points },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'loss', type: 'quantitative', title: 'training loss (nats/char)', scale: { zero: false } },
      color: { field: 'method', type: 'nominal', title: 'method' },
    },
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
