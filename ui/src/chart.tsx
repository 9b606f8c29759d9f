// A time chart drawn by uPlot (loaded with the first page that shows one, not with the app):
// one series over time, with deploy markers along the bottom (green succeeded, red failed or
// rolled back) and shaded spans (an environment failing until it recovered).
import { useEffect, useRef } from "preact/hooks";
import type uPlotType from "uplot";

export interface Marker {
  at_ms: number;
  failed: boolean;
}
export interface Span {
  from_ms: number;
  to_ms: number;
}

export function TimeChart(props: {
  label: string; // the series, with its unit: "lead time (h)"
  at_ms: number[];
  values: (number | null)[];
  from_ms: number;
  to_ms: number;
  markers?: Marker[];
  spans?: Span[];
  height?: number;
  bars?: boolean;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let plot: uPlotType | null = null;
    let alive = true;
    (async () => {
      const [{ default: uPlot }] = await Promise.all([
        import("uplot"),
        import("uplot/dist/uPlot.min.css"),
      ]);
      if (!alive || !box.current) return;
      const xs = [props.from_ms / 1000, ...props.at_ms.map((t) => t / 1000), props.to_ms / 1000];
      const ys = [null, ...props.values, null];
      const small = (props.height ?? 240) < 180;
      plot = new uPlot(
        {
          width: Math.max(small ? 200 : 320, box.current.clientWidth),
          height: props.height ?? 240,
          legend: { show: !small },
          scales: {
            x: { time: true, range: [props.from_ms / 1000, props.to_ms / 1000] },
            y: { range: (_u, _min, max) => [0, Math.max(1e-9, (max ?? 1) * 1.15) || 1] },
          },
          axes: [
            { size: small ? 30 : 50 },
            { label: small ? undefined : props.label, size: small ? 50 : 60 },
          ],
          series: [
            {},
            {
              label: props.label,
              stroke: "#0969da",
              fill: props.bars ? "rgba(9, 105, 218, 0.25)" : undefined,
              width: 1.5,
              points: { size: small ? 5 : 7 },
              spanGaps: true,
              paths: props.bars ? uPlot.paths.bars!({ size: [0.6, 40] }) : undefined,
            },
          ],
          hooks: {
            draw: [
              (u) => {
                const c = u.ctx;
                const top = u.bbox.top;
                const height = u.bbox.height;
                c.save();
                c.fillStyle = "rgba(207, 34, 46, 0.10)";
                for (const s of props.spans ?? []) {
                  const from = u.valToPos(s.from_ms / 1000, "x", true);
                  const to = u.valToPos(s.to_ms / 1000, "x", true);
                  c.fillRect(from, top, Math.max(2, to - from), height);
                }
                c.lineWidth = 2 * devicePixelRatio;
                for (const m of props.markers ?? []) {
                  const x = u.valToPos(m.at_ms / 1000, "x", true);
                  c.strokeStyle = m.failed ? "#cf222e" : "#1a7f37";
                  c.beginPath();
                  c.moveTo(x, top + height);
                  c.lineTo(x, top + height - 14 * devicePixelRatio);
                  c.stroke();
                }
                c.restore();
              },
            ],
          },
        },
        [xs, ys],
        box.current,
      );
    })();
    return () => {
      alive = false;
      plot?.destroy();
    };
  }, [
    props.label,
    props.at_ms,
    props.values,
    props.from_ms,
    props.to_ms,
    props.markers,
    props.spans,
  ]);
  return <div ref={box} class="chart" role="img" aria-label={props.label} />;
}
