/** A small SVG line chart of the training loss, redrawn after every step. */
export function drawLossChart(svg: SVGSVGElement, losses: readonly number[], totalSteps: number): void {
  const w = 500;
  const h = 150;
  const pad = { left: 40, right: 10, top: 10, bottom: 20 };
  const ns = 'http://www.w3.org/2000/svg';
  svg.replaceChildren();
  const el = (tag: string, attrs: Record<string, string | number>, text?: string) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  };
  el('rect', {
    x: pad.left,
    y: pad.top,
    width: w - pad.left - pad.right,
    height: h - pad.top - pad.bottom,
    fill: '#fafbfc',
    stroke: '#dde1e7',
  });
  if (losses.length === 0) return;
  const lo = Math.min(...losses);
  const hi = Math.max(...losses);
  const span = hi - lo || 1;
  const x = (i: number) => pad.left + ((w - pad.left - pad.right) * i) / Math.max(1, totalSteps - 1);
  const y = (v: number) => pad.top + (h - pad.top - pad.bottom) * (1 - (v - lo) / span);
  el('polyline', {
    points: losses.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' '),
    fill: 'none',
    stroke: '#2563eb',
    'stroke-width': 1.6,
  });
  el('text', { x: 2, y: pad.top + 8 }, hi.toFixed(2));
  el('text', { x: 2, y: h - pad.bottom }, lo.toFixed(2));
  el('text', { x: pad.left, y: h - 5 }, 'step 1');
  el('text', { x: w - pad.right - 50, y: h - 5 }, `step ${totalSteps}`);
  el('text', { x: pad.left + 6, y: pad.top + 12 }, 'loss (nats/char)');
}
