// A live time-series chart (uPlot): one line per series over shared timestamps. The parent appends samples; the
// chart redraws with `setData` and is rebuilt only when the set of series changes.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef } from 'preact/hooks';

export const PALETTE = ['#2b6cb0', '#dd6b20', '#38a169', '#805ad5', '#d53f8c', '#319795', '#b7791f', '#e53e3e'];

export interface Series {
  label: string;
  /** One value per timestamp; `null` where there was none. */
  values: (number | null)[];
}

interface Props {
  title: string;
  unit: string;
  /** Unix seconds. */
  times: number[];
  series: Series[];
  height?: number;
  testId?: string;
}

export function Chart({ title, unit, times, series, height = 180, testId }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labels = series.map((s) => s.label).join('\u0000');

  useEffect(() => {
    const el = host.current!;
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 280),
      height,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(max ?? 0, unit === '%' ? 0.1 : 1) * 1.15] } },
      axes: [
        { stroke: '#667', grid: { stroke: '#eef0f4' } },
        { stroke: '#667', grid: { stroke: '#eef0f4' }, size: 48, values: (_u, ticks) => ticks.map((t) => fmt(t, unit === '%' ? '%' : '')) },
      ],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          spanGaps: true,
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? 'n/a' : fmt(v, unit)),
        })),
      ],
    };
    const p = new uPlot(opts, [times, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    plot.current = p;
    const resize = new ResizeObserver(() => p.setSize({ width: Math.max(el.clientWidth, 280), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      p.destroy();
      plot.current = null;
    };
  }, [labels, height, unit]);

  useEffect(() => {
    plot.current?.setData([times, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [times, series]);

  const last = series.map((s) => s.values[s.values.length - 1]);
  return (
    <figure class="chart" data-testid={testId} data-points={times.length} data-last={JSON.stringify(last)} aria-label={title}>
      <figcaption>
        {title} <span class="muted">({unit})</span>
      </figcaption>
      <div ref={host} />
    </figure>
  );
}

export function fmt(v: number, unit: string): string {
  if (unit === '%') return `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`;
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${v.toFixed(digits)}${unit ? ` ${unit}` : ''}`;
}
