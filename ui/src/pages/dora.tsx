// DORA's four keys for one environment (GET /api/projects/P/dora): each figure with its band,
// and a chart over the period (uPlot): each deploy a marker (green succeeded, red failed or
// rolled back), the lead time of what each deploy brought, and the spans the environment
// spent failing shaded. uPlot (50 KB) is loaded with this page only, not with the first one.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type uPlotType from "uplot";
import { api, Deploy, Environment } from "../api";
import { ErrorBox, ProjectNav } from "../components";
import { debounced, useLiveEvents } from "../events";

interface Dora {
  env: string;
  from_ms: number;
  to_ms: number;
  deployment_frequency: {
    deploys: number;
    per_day: number;
    per_week: number;
    reading: string;
    band: string | null;
  };
  lead_time: {
    median_ms: number | null;
    p90_ms: number | null;
    band: string | null;
    rows: { commit: string; deploy_id: number; from_author_ms: number }[];
  };
  change_failure_rate: {
    changes: number;
    failures: number;
    value: number | null;
    band: string | null;
    rows: {
      deploy_id: number;
      version: string;
      cause: string;
      at_ms: number;
      recovered_at_ms: number | null;
    }[];
  };
  recovery_time: { median_ms: number | null; band: string | null };
  rework_rate: { deploys: number; rework: number; value: number | null };
}

function span(ms: number | null): string {
  if (ms === null) return "—";
  const m = ms / 60000;
  if (m < 60) return `${Math.max(1, Math.round(m))} min`;
  const h = m / 60;
  if (h < 48) return `${h.toFixed(1)} h`;
  return `${(h / 24).toFixed(1)} d`;
}

function Tile(props: { title: string; value: string; detail: string; band: string | null }) {
  return (
    <div class="tile" aria-label={props.title}>
      <h3>{props.title}</h3>
      <p class="tile-value">{props.value}</p>
      <p class="muted">{props.detail}</p>
      {props.band && <span class={`band band-${props.band}`}>{props.band}</span>}
    </div>
  );
}

const FAILED = new Set(["failed", "rolled_back", "interrupted"]);

function Chart({ dora, deploys }: { dora: Dora; deploys: Deploy[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return;
    const inWindow = deploys.filter(
      (d) =>
        d.finished_at_ms &&
        d.finished_at_ms >= dora.from_ms &&
        d.finished_at_ms <= dora.to_ms &&
        !d.dry_run,
    );
    // Each succeeded deploy's lead time: the median of the commits it brought, in hours.
    const leads = new Map<number, number[]>();
    for (const r of dora.lead_time.rows)
      leads.set(r.deploy_id, [...(leads.get(r.deploy_id) ?? []), r.from_author_ms]);
    const points = inWindow
      .filter((d) => leads.has(d.id))
      .map((d) => {
        const v = leads.get(d.id)!.sort((a, b) => a - b);
        return [d.finished_at_ms! / 1000, v[Math.floor(v.length / 2)] / 3_600_000] as [
          number,
          number,
        ];
      })
      .sort((a, b) => a[0] - b[0]);
    const xs = [dora.from_ms / 1000, ...points.map((p) => p[0]), dora.to_ms / 1000];
    const ys = [null, ...points.map((p) => p[1]), null];
    const styles = getComputedStyle(document.documentElement);
    const ok = styles.getPropertyValue("--passed").trim() || "#1a7f37";
    const bad = styles.getPropertyValue("--failed").trim() || "#cf222e";
    let plot: uPlotType | null = null;
    let alive = true;
    const draw = async () => {
      const [{ default: uPlot }] = await Promise.all([
        import("uplot"),
        import("uplot/dist/uPlot.min.css"),
      ]);
      if (!alive || !box.current) return;
      plot = new uPlot(
        {
          width: Math.max(320, box.current.clientWidth),
          height: 260,
          scales: {
            x: { time: true },
            y: { range: (_u, _min, max) => [0, Math.max(1, (max ?? 1) * 1.15)] },
          },
          axes: [{}, { label: "lead time (h)", size: 60 }],
          series: [
            {},
            {
              label: "lead time of each deploy (h)",
              stroke: "#0969da",
              width: 1.5,
              points: { size: 7 },
              spanGaps: true,
            },
          ],
          hooks: {
            draw: [
              (u) => {
                const c = u.ctx;
                const top = u.bbox.top;
                const height = u.bbox.height;
                c.save();
                // The spans the environment spent failing, until it was healthy again.
                c.fillStyle = "rgba(207, 34, 46, 0.10)";
                for (const f of dora.change_failure_rate.rows) {
                  const from = u.valToPos(f.at_ms / 1000, "x", true);
                  const to = u.valToPos((f.recovered_at_ms ?? dora.to_ms) / 1000, "x", true);
                  c.fillRect(from, top, Math.max(2, to - from), height);
                }
                // A marker per deploy.
                c.lineWidth = 2 * devicePixelRatio;
                for (const d of inWindow) {
                  const x = u.valToPos(d.finished_at_ms! / 1000, "x", true);
                  c.strokeStyle = FAILED.has(d.state) ? bad : ok;
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
    };
    draw();
    return () => {
      alive = false;
      plot?.destroy();
    };
  }, [dora, deploys]);
  return (
    <div ref={box} class="chart" role="img" aria-label="deploys and lead time over the period" />
  );
}

export function DoraPage(props: { project: string; env?: string; since?: string }) {
  const q = encodeURIComponent(props.project);
  const [envs, setEnvs] = useState<Environment[]>([]);
  const [dora, setDora] = useState<Dora | null>(null);
  const [deploys, setDeploys] = useState<Deploy[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const since = props.since ?? "30d";
  const env = props.env ?? envs[envs.length - 1]?.name;
  const reload = useMemo(() => debounced(() => setTick((t) => t + 1), 500), []);
  useLiveEvents(props.project, (e) => {
    if (e.type === "deploy" || e.type === "incident") reload();
  });

  useEffect(() => {
    api<{ environments: Environment[] }>(`/api/projects/${q}/environments`).then(
      (r) => setEnvs(r.environments),
      (e) => setError(e.message),
    );
  }, [props.project]);
  useEffect(() => {
    if (!env) return;
    let alive = true;
    const e = encodeURIComponent(env);
    Promise.all([
      api<Dora>(`/api/projects/${q}/dora?env=${e}&since=${encodeURIComponent(since)}`),
      api<{ deploys: Deploy[] }>(`/api/projects/${q}/deploys?env=${e}`),
    ]).then(
      ([d, l]) => {
        if (!alive) return;
        setDora(d);
        setDeploys(l.deploys);
        setError(null);
      },
      (err) => alive && setError(err.message),
    );
    return () => {
      alive = false;
    };
  }, [props.project, env, since, tick]);

  const go = (e: string, s: string) =>
    (location.hash = `#/projects/${q}/dora?env=${encodeURIComponent(e)}&since=${encodeURIComponent(s)}`);
  return (
    <>
      <header class="page-head">
        <h1>{props.project}: the four keys</h1>
        <ProjectNav project={props.project} current="dora" />
        <ErrorBox error={error} />
      </header>
      {envs.length === 0 && !error && (
        <p class="muted">No environments yet: DORA's figures measure deploys.</p>
      )}
      {envs.length > 0 && env && (
        <form class="inline" aria-label="period">
          <select
            aria-label="environment"
            value={env}
            onChange={(e) => go((e.target as HTMLSelectElement).value, since)}
          >
            {envs.map((x) => (
              <option key={x.name} value={x.name}>
                {x.name}
              </option>
            ))}
          </select>
          <select
            aria-label="period"
            value={since}
            onChange={(e) => go(env, (e.target as HTMLSelectElement).value)}
          >
            {["7d", "30d", "90d", "365d"].map((s) => (
              <option key={s} value={s}>
                last {s.replace("d", " days")}
              </option>
            ))}
          </select>
        </form>
      )}
      {dora && (
        <>
          <section class="tiles" aria-label="the four keys">
            <Tile
              title="Deployment frequency"
              value={`${dora.deployment_frequency.per_day.toFixed(2)} / day`}
              detail={`${dora.deployment_frequency.deploys} deploys · ${dora.deployment_frequency.reading}`}
              band={dora.deployment_frequency.band}
            />
            <Tile
              title="Lead time for changes"
              value={span(dora.lead_time.median_ms)}
              detail={`median, commit to ${dora.env}; p90 ${span(dora.lead_time.p90_ms)}`}
              band={dora.lead_time.band}
            />
            <Tile
              title="Change failure rate"
              value={
                dora.change_failure_rate.value === null
                  ? "—"
                  : `${Math.round(dora.change_failure_rate.value * 100)}%`
              }
              detail={`${dora.change_failure_rate.failures} of ${dora.change_failure_rate.changes} changes failed`}
              band={dora.change_failure_rate.band}
            />
            <Tile
              title="Recovery time"
              value={span(dora.recovery_time.median_ms)}
              detail="median, failure to healthy again"
              band={dora.recovery_time.band}
            />
          </section>
          <section class="card">
            <h2>Deploys to {dora.env}</h2>
            <Chart dora={dora} deploys={deploys} />
            <p class="muted legend">
              <span class="mark ok" /> succeeded <span class="mark bad" /> failed or rolled back{" "}
              <span class="mark span" /> failing until recovered · rework:{" "}
              {dora.rework_rate.value === null
                ? "—"
                : `${Math.round(dora.rework_rate.value * 100)}%`}{" "}
              of deploys
            </p>
          </section>
          {dora.change_failure_rate.rows.length > 0 && (
            <section class="card" aria-label="failed changes">
              <h2>Failed changes</h2>
              <table>
                <tbody>
                  {dora.change_failure_rate.rows.map((f) => (
                    <tr key={f.deploy_id}>
                      <td>
                        <a href={`#/projects/${q}/environments/deploys/${f.deploy_id}`}>
                          {f.version}
                        </a>
                      </td>
                      <td>{f.cause.split("_").join(" ")}</td>
                      <td class="muted">
                        {new Date(f.at_ms).toLocaleString()}
                        {f.recovered_at_ms
                          ? `, recovered in ${span(f.recovered_at_ms - f.at_ms)}`
                          : ", not recovered yet"}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          )}
        </>
      )}
    </>
  );
}
