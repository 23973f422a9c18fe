/**
 * A small time-series chart (uPlot: canvas, ~50 KiB, no dependencies). The data arrive as arrays
 * that grow with each live sample; the chart is made once and fed with setData, and follows its
 * container's width.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
}

interface Props {
  title: string;
  /** Sample times, in seconds since the epoch (uPlot's x scale). */
  times: number[];
  series: ChartSeries[];
  /** Formats an axis or legend value. */
  format: (v: number) => string;
  /** Fixed y range (e.g. 0..100 for percentages); default: from the data, starting at 0. */
  yRange?: [number, number];
  height?: number;
}

/** A titled line chart of one or more series over the run. */
export function TimeSeriesChart({ title, times, series, format, yRange, height = 150 }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join('|');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: false }, // the latest values are in the caption
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: yRange ? () => yRange : (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: '#6b7280', grid: { stroke: '#eef0f3', width: 1 }, ticks: { stroke: '#e5e7eb', width: 1 }, font: '11px system-ui' },
        {
          stroke: '#6b7280',
          grid: { stroke: '#eef0f3', width: 1 },
          ticks: { stroke: '#e5e7eb', width: 1 },
          font: '11px system-ui',
          size: 64,
          values: (_u, vals) => vals.map((v) => format(v)),
        },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          fill: `${s.color}1a`,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => (v == null ? '—' : format(v)),
        })),
      ],
    };
    const u = new uPlot(opts, [[], ...series.map(() => [])] as uPlot.AlignedData, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // The chart is rebuilt only when its series change; data go through setData below.
  }, [shape, height]);

  useEffect(() => {
    plot.current?.setData([times, ...series.map((s) => s.values)] as uPlot.AlignedData);
  });

  const latest = series.map((s) => s.values[s.values.length - 1]);
  return (
    <figure className="chart" aria-label={`${title} chart`}>
      <figcaption>
        <span className="chart-title">{title}</span>
        <span className="chart-latest">{latest.map((v, i) => (v == null ? null : <span key={i}>{format(v)}</span>))}</span>
      </figcaption>
      <div ref={box} className="chart-plot" />
    </figure>
  );
}
