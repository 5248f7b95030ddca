/** Loss curves as SVG, rendered with Vega-Lite in Node (no browser). */
import * as vega from 'vega';
import * as vl from 'vega-lite';

/** One point of a loss curve. */
export interface CurvePoint {
  method: string;
  step: number;
  loss: number;
}

/** An SVG line chart of training loss per step, one line per method. */
export async function lossCurvesSvg(points: CurvePoint[], title: string): Promise<string> {
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
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
