/**
 * A time-series chart (uPlot), coloured from the theme's CSS variables (read with
 * getComputedStyle, so a switch between light and dark redraws in the other palette) and sized to
 * its container (a ResizeObserver). What it drew is kept in `window.__modelgate_charts[id]`
 * (`{x, series: [{label, values}]}`, the arrays handed to uPlot): the browser tests compare it
 * with `/usage`, and it is how anyone can check a chart from the console.
 */
import uPlot from 'uplot';
import { useEffect, useRef } from 'preact/hooks';
import { html } from '../../lib/html.ts';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
}

export interface DrawnChart {
  x: number[];
  series: ChartSeries[];
}

declare global {
  interface Window {
    __modelgate_charts?: Record<string, DrawnChart>;
  }
}

export interface ChartProps {
  id: string;
  title: string;
  x: number[];
  series: ChartSeries[];
  /** How the y axis and the legend write a value. */
  format: (v: number) => string;
  height?: number;
  /** Called once the chart has drawn its data. */
  onDrawn?: (id: string) => void;
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function options(p: ChartProps, width: number): uPlot.Options {
  const text = cssVar('--muted');
  const grid = cssVar('--border');
  const axis = (values: uPlot.Axis['values']): uPlot.Axis => ({ stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, values });
  return {
    width,
    height: p.height ?? 200,
    series: [
      {},
      ...p.series.map((s, i) => ({
        label: s.label,
        stroke: cssVar(`--series-${(i % 8) + 1}`),
        width: 1.5,
        spanGaps: false,
        value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : p.format(v)),
      })),
    ],
    axes: [axis(undefined), { ...axis((_u: uPlot, ticks: number[]) => ticks.map((t) => p.format(t))), size: 70 }],
    scales: { y: { range: (_u: uPlot, min: number, max: number) => [Math.min(0, min), max > 0 ? max * 1.05 : 1] } },
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    hooks: { draw: [() => p.onDrawn?.(p.id)] },
  };
}

export function Chart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // the latest props, for callbacks made after a render (resize, a theme change)
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const el = box.current!;
    const build = () => {
      plot.current?.destroy();
      const p = latest.current;
      const data: uPlot.AlignedData = [p.x, ...p.series.map((s) => s.values)];
      (window.__modelgate_charts ??= {})[p.id] = { x: p.x, series: p.series.map((s) => ({ label: s.label, values: s.values })) };
      plot.current = new uPlot(options(p, Math.max(200, el.clientWidth)), data, el);
    };
    build();
    const resize = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (plot.current && plot.current.width !== w) plot.current.setSize({ width: w, height: latest.current.height ?? 200 });
    });
    resize.observe(el);
    const scheme = matchMedia('(prefers-color-scheme: dark)');
    scheme.addEventListener('change', build);
    return () => {
      resize.disconnect();
      scheme.removeEventListener('change', build);
      plot.current?.destroy();
      plot.current = null;
    };
    // a new series set (other data, other labels) builds a new chart
  }, [props.x, props.series]);

  return html`<figure class="chart" data-chart=${props.id}>
    <figcaption>${props.title}</figcaption>
    <div class="chart-plot" ref=${box} role="img" aria-label=${`${props.title}: ${props.series.map((s) => s.label).join(', ')} over time`}></div>
  </figure>`;
}
