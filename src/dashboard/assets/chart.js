// One uPlot chart of a field of the sampler's points, a line per revision.
import { html, useEffect, useRef } from './vendor/preact-htm.js';
import uPlot from './vendor/uplot.js';

export const fmt = {
  rps: (v) => (v == null ? '–' : v.toFixed(1)),
  pct: (v) => (v == null ? '–' : `${(v * 100).toFixed(1)}%`),
  ms: (v) => (v == null ? '–' : `${v} ms`),
};
const COLORS = ['#2451b8', '#d9730d', '#7b3fb5', '#1a7f37'];

export function Chart({ title, points, field, scale = 1 }) {
  const box = useRef(null);
  const plot = useRef(null);
  const revs = [...new Set(points.flatMap((p) => Object.keys(p.revisions)))].sort((a, b) => a - b);
  const key = revs.join(',');
  const data = [
    points.map((p) => p.t / 1000),
    ...revs.map((r) =>
      points.map((p) => {
        const v = p.revisions[r]?.[field];
        return v == null ? null : v * scale;
      }),
    ),
  ];
  useEffect(() => {
    const width = () => Math.max(200, box.current.clientWidth);
    plot.current?.destroy();
    plot.current = new uPlot(
      {
        width: width(),
        height: 150,
        title,
        series: [
          {},
          ...revs.map((r, i) => ({
            label: `rev ${r}`,
            stroke: COLORS[i % COLORS.length],
            width: 2,
            spanGaps: false,
          })),
        ],
        axes: [{}, { size: 50 }],
        scales: {
          y: { range: (_u, min, max) => [0, Math.max(max ?? 0, min ?? 0, field === 'errorRate' ? 1 : 1)] },
        },
        legend: { live: false },
      },
      data,
      box.current,
    );
    // The box's width comes from the layout, never from the chart (min-width: 0), so this cannot loop.
    const observer = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: 150 }));
    observer.observe(box.current);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [key]);
  useEffect(() => {
    plot.current?.setData(data);
  });
  return html`<div class="chart" ref=${box} data-chart=${field}></div>`;
}
