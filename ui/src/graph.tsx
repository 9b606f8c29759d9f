// The run's job graph: the pipeline's `needs` drawn left to right, a column per depth, each
// job a box with its state (icon and word) and duration, edges from what it needs.
import { Job } from "./api";
import { Badge } from "./components";
import { duration } from "./format";

const W = 215; // column width
const H = 46; // row height
const BOX_W = 185;
const BOX_H = 34;

export function JobGraph(props: {
  jobs: Job[];
  selected?: string;
  hrefOf: (job: string) => string;
}) {
  const byName = new Map(props.jobs.map((j) => [j.name, j]));
  const level = new Map<string, number>();
  const depth = (name: string, seen = new Set<string>()): number => {
    if (level.has(name)) return level.get(name)!;
    if (seen.has(name)) return 0; // a cycle cannot pass the parser; stay safe anyway
    seen.add(name);
    const needs = (byName.get(name)?.needs ?? []).filter((n) => byName.has(n));
    const d = needs.length ? 1 + Math.max(...needs.map((n) => depth(n, seen))) : 0;
    level.set(name, d);
    return d;
  };
  const columns: string[][] = [];
  for (const j of props.jobs) {
    const d = depth(j.name);
    (columns[d] ??= []).push(j.name);
  }
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((col, c) => col.forEach((name, r) => pos.set(name, { x: c * W, y: r * H })));
  const width = columns.length * W;
  const height = Math.max(...columns.map((c) => c.length)) * H;
  return (
    <div
      class="graph"
      style={{ width: `${width}px`, height: `${height}px` }}
      aria-label="job graph"
    >
      <svg width={width} height={height} aria-hidden="true">
        {props.jobs.flatMap((j) =>
          (j.needs ?? [])
            .filter((n) => pos.has(n))
            .map((n) => {
              const a = pos.get(n)!;
              const b = pos.get(j.name)!;
              const x1 = a.x + BOX_W;
              const y1 = a.y + BOX_H / 2;
              const x2 = b.x;
              const y2 = b.y + BOX_H / 2;
              const mid = (x1 + x2) / 2;
              return (
                <path
                  key={`${n}-${j.name}`}
                  d={`M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`}
                  class="edge"
                />
              );
            }),
        )}
      </svg>
      {props.jobs.map((j) => {
        const p = pos.get(j.name)!;
        return (
          <a
            key={j.name}
            href={props.hrefOf(j.name)}
            class={`node${j.name === props.selected ? " current" : ""}`}
            style={{ left: `${p.x}px`, top: `${p.y}px`, width: `${BOX_W}px`, height: `${BOX_H}px` }}
            title={`${j.name}: ${j.state}`}
          >
            <Badge state={j.state} /> <span class="job-name">{j.name}</span>
            <span class="muted"> {duration(j.started_at_ms, j.finished_at_ms)}</span>
          </a>
        );
      })}
    </div>
  );
}
