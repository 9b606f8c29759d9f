// Releases: versions with their notes, artifacts (size, hash) and where each one runs; each
// performance measurement's figures over them.
import { useEffect, useState } from "preact/hooks";
import { api, Environment, Release } from "../api";
import { Artifacts, ErrorBox, ProjectNav } from "../components";
import { short, when } from "../format";

interface Series {
  job: string;
  name: string;
  source: string;
  points: {
    version: string;
    created_at_ms: number;
    run_id: number;
    figures: Record<string, number>;
  }[];
}

const FIGURES = ["p95", "p99", "p90", "median", "mean", "max", "rps", "failures"];

// One measurement's figure release by release: a bar each, its value above, its version below.
function PerfOverReleases({ series }: { series: Series[] }) {
  const [picked, setPicked] = useState(0);
  const s = series[Math.min(picked, series.length - 1)];
  const offered = FIGURES.filter((f) => s.points.some((p) => p.figures[f] !== undefined));
  const [figure, setFigure] = useState(offered[0] ?? "mean");
  const f = offered.includes(figure) ? figure : (offered[0] ?? "mean");
  const points = s.points.filter((p) => p.figures[f] !== undefined);
  const top = Math.max(1e-9, ...points.map((p) => p.figures[f]));
  const unit = f === "rps" ? "/s" : f === "failures" ? "" : " ms";
  const w = 56;
  const h = 140;
  return (
    <section class="card" aria-label="performance over releases">
      <h2>Performance over releases</h2>
      <div class="perf-select">
        <select
          aria-label="measurement"
          value={String(picked)}
          onChange={(e) => setPicked(Number((e.target as HTMLSelectElement).value))}
        >
          {series.map((x, i) => (
            <option key={i} value={String(i)}>
              {x.job} › {x.name} ({x.source})
            </option>
          ))}
        </select>
        <select
          aria-label="figure"
          value={f}
          onChange={(e) => setFigure((e.target as HTMLSelectElement).value)}
        >
          {offered.map((x) => (
            <option key={x} value={x}>
              {x}
            </option>
          ))}
        </select>
      </div>
      <svg
        class="perf-bars"
        width={Math.max(200, points.length * w)}
        height={h + 40}
        role="img"
        aria-label={`${f} of ${s.name} by release`}
      >
        {points.map((p, i) => {
          const v = p.figures[f];
          const bh = Math.max(2, (v / top) * h);
          return (
            <g key={p.version}>
              <a href={`#/runs/${p.run_id}/${encodeURIComponent(s.job)}`}>
                <rect x={i * w + 8} y={h - bh + 16} width={w - 16} height={bh} class="bar" />
              </a>
              <text x={i * w + w / 2} y={h - bh + 12} text-anchor="middle" class="value">
                {v >= 100 ? v.toFixed(0) : v.toFixed(1)}
                {unit}
              </text>
              <text x={i * w + w / 2} y={h + 32} text-anchor="middle" class="version">
                {p.version}
              </text>
            </g>
          );
        })}
      </svg>
    </section>
  );
}

export function ReleasesPage(props: { project: string }) {
  const q = encodeURIComponent(props.project);
  const [releases, setReleases] = useState<Release[] | null>(null);
  const [envs, setEnvs] = useState<Environment[]>([]);
  const [notes, setNotes] = useState<Record<string, string>>({});
  const [series, setSeries] = useState<Series[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    Promise.all([
      api<{ releases: Release[] }>(`/api/projects/${q}/releases?limit=100`),
      api<{ environments: Environment[] }>(`/api/projects/${q}/environments`),
      api<{ series: Series[] }>(`/api/projects/${q}/benchmarks`),
    ])
      .then(([r, e, b]) => {
        setReleases(r.releases);
        setEnvs(e.environments);
        setSeries(b.series.filter((s) => s.points.length > 0));
      })
      .catch((e) => setError(e.message));
  }, [props.project]);
  const showNotes = async (v: string) => {
    try {
      const r = await api<Release>(`/api/projects/${q}/releases/${encodeURIComponent(v)}`);
      setNotes((n) => ({ ...n, [v]: r.notes ?? "" }));
    } catch (e: any) {
      setError(e.message);
    }
  };
  if (!releases) return error ? <ErrorBox error={error} /> : <p class="muted">Loading…</p>;
  return (
    <>
      <header class="page-head">
        <h1>{props.project}: releases</h1>
        <ProjectNav project={props.project} current="releases" />
        <ErrorBox error={error} />
      </header>
      {releases.length === 0 && <p class="muted">No release yet: boucle release {props.project}</p>}
      {series.length > 0 && <PerfOverReleases series={series} />}
      {releases.map((r) => {
        const where = envs.filter((e) => e.current?.version === r.version).map((e) => e.name);
        return (
          <article class="card release" key={r.version} aria-label={`release ${r.version}`}>
            <header class="card-head">
              <h2>{r.version}</h2>
              <span class="muted">
                <code>{short(r.commit)}</code> · <a href={`#/runs/${r.run}`}>run {r.run}</a> ·{" "}
                {r.created_by} · {when(r.created_at_ms)}
              </span>
            </header>
            <p>
              {where.length ? (
                <>
                  runs in <strong>{where.join(", ")}</strong>
                </>
              ) : (
                <span class="muted">not running anywhere</span>
              )}
            </p>
            <Artifacts
              items={r.artifacts.map((a) => ({
                ...a,
                url: `/api/projects/${q}/releases/${r.version}/artifacts/${encodeURIComponent(a.name)}`,
              }))}
            />
            {notes[r.version] === undefined ? (
              <button type="button" onClick={() => showNotes(r.version)}>
                Release notes
              </button>
            ) : (
              <pre class="notes">{notes[r.version]}</pre>
            )}
          </article>
        );
      })}
    </>
  );
}
