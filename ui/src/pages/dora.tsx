// DORA's four keys for one environment (GET /api/projects/P/dora): each figure with its band
// and its trend week by week, and charts over the period (uPlot): each deploy a marker (green
// succeeded, red failed or rolled back), the lead time of what each deploy brought, the spans
// the environment spent failing shaded; and each monitor's p95 latency over the last hour
// with the deploys that happened in it.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, Deploy, Environment, MonitorStatus } from "../api";
import { Marker, Span, TimeChart } from "../chart";
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

function Tile(props: {
  title: string;
  value: string;
  detail: string;
  band: string | null;
  trend: { label: string; at: number[]; values: (number | null)[]; from: number; to: number };
}) {
  return (
    <div class="tile" aria-label={props.title}>
      <h3>{props.title}</h3>
      <p class="tile-value">{props.value}</p>
      <p class="muted">{props.detail}</p>
      {props.band && <span class={`band band-${props.band}`}>{props.band}</span>}
      <TimeChart
        label={`${props.trend.label}, week by week`}
        at_ms={props.trend.at}
        values={props.trend.values}
        from_ms={props.trend.from}
        to_ms={props.trend.to}
        height={110}
        bars
      />
    </div>
  );
}

const FAILED = new Set(["failed", "rolled_back", "interrupted"]);
const WEEK = 7 * 86_400_000;

const median = (v: number[]) => {
  if (v.length === 0) return null;
  const s = [...v].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};

// The period week by week (the last week ends now), each figure computed from the rows the
// API gave: the same definitions, one week at a time.
function weekly(dora: Dora, deploys: Deploy[]) {
  const weeks: number[] = [];
  for (let end = dora.to_ms; end > dora.from_ms; end -= WEEK)
    weeks.unshift(Math.max(dora.from_ms, end - WEEK));
  const weekOf = (t: number) =>
    weeks.findIndex((w, i) => t >= w && t < (weeks[i + 1] ?? dora.to_ms + 1));
  const changes = deploys.filter(
    (d) => d.finished_at_ms && !d.dry_run && !d.rollback && d.state !== "cancelled",
  );
  const deployAt = new Map(deploys.map((d) => [d.id, d.finished_at_ms ?? 0]));
  const out = weeks.map(() => ({
    deploys: 0,
    changes: 0,
    failures: 0,
    leads: [] as number[],
    recoveries: [] as number[],
  }));
  for (const d of changes) {
    const w = weekOf(d.finished_at_ms!);
    if (w < 0) continue;
    out[w].changes++;
    if (d.state === "succeeded") out[w].deploys++;
  }
  for (const r of dora.lead_time.rows) {
    const w = weekOf(deployAt.get(r.deploy_id) ?? -1);
    if (w >= 0) out[w].leads.push(r.from_author_ms);
  }
  for (const f of dora.change_failure_rate.rows) {
    const w = weekOf(f.at_ms);
    if (w < 0) continue;
    out[w].failures++;
    if (f.recovered_at_ms) out[w].recoveries.push(f.recovered_at_ms - f.at_ms);
  }
  const mid = weeks.map((w, i) => (w + (weeks[i + 1] ?? dora.to_ms)) / 2);
  return {
    at: mid,
    perDay: out.map((o, i) => o.deploys / (((weeks[i + 1] ?? dora.to_ms) - weeks[i]) / 86_400_000)),
    leadH: out.map((o) => (median(o.leads) === null ? null : median(o.leads)! / 3_600_000)),
    failureRate: out.map((o) => (o.changes ? (100 * o.failures) / o.changes : null)),
    recoveryH: out.map((o) =>
      median(o.recoveries) === null ? null : median(o.recoveries)! / 3_600_000,
    ),
  };
}

export function DoraPage(props: { project: string; env?: string; since?: string }) {
  const q = encodeURIComponent(props.project);
  const [envs, setEnvs] = useState<Environment[]>([]);
  const [dora, setDora] = useState<Dora | null>(null);
  const [deploys, setDeploys] = useState<Deploy[]>([]);
  const [monitors, setMonitors] = useState<MonitorStatus[]>([]);
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
      api<{ monitors: MonitorStatus[] }>(`/api/projects/${q}/monitors?env=${e}`).catch(() => ({
        monitors: [],
      })),
    ]).then(
      ([d, l, m]) => {
        if (!alive) return;
        setDora(d);
        setDeploys(l.deploys);
        setMonitors(m.monitors);
        setError(null);
      },
      (err) => alive && setError(err.message),
    );
    return () => {
      alive = false;
    };
  }, [props.project, env, since, tick]);

  // What the charts share: the period's deploys as markers, its failing spans, its weeks.
  const charts = useMemo(() => {
    if (!dora) return null;
    const markers: Marker[] = deploys
      .filter((d) => d.finished_at_ms && !d.dry_run && d.state !== "cancelled")
      .map((d) => ({ at_ms: d.finished_at_ms!, failed: FAILED.has(d.state) }));
    const spans: Span[] = dora.change_failure_rate.rows.map((f) => ({
      from_ms: f.at_ms,
      to_ms: f.recovered_at_ms ?? dora.to_ms,
    }));
    const leads = new Map<number, number[]>();
    for (const r of dora.lead_time.rows)
      leads.set(r.deploy_id, [...(leads.get(r.deploy_id) ?? []), r.from_author_ms]);
    const each = deploys
      .filter((d) => leads.has(d.id) && d.finished_at_ms)
      .sort((a, b) => a.finished_at_ms! - b.finished_at_ms!);
    return {
      markers,
      spans,
      weeks: weekly(dora, deploys),
      leadAt: each.map((d) => d.finished_at_ms!),
      lead: each.map((d) => median(leads.get(d.id)!)! / 3_600_000),
    };
  }, [dora, deploys]);

  // A key's week-by-week chart, over the period.
  const trend = (label: string, values: (number | null)[]) => ({
    label,
    at: charts!.weeks.at,
    values,
    from: dora!.from_ms,
    to: dora!.to_ms,
  });

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
              trend={trend("deploys a day", charts!.weeks.perDay)}
            />
            <Tile
              title="Lead time for changes"
              value={span(dora.lead_time.median_ms)}
              detail={`median, commit to ${dora.env}; p90 ${span(dora.lead_time.p90_ms)}`}
              band={dora.lead_time.band}
              trend={trend("median lead time (h)", charts!.weeks.leadH)}
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
              trend={trend("change failure rate (%)", charts!.weeks.failureRate)}
            />
            <Tile
              title="Recovery time"
              value={span(dora.recovery_time.median_ms)}
              detail="median, failure to healthy again"
              band={dora.recovery_time.band}
              trend={trend("median recovery (h)", charts!.weeks.recoveryH)}
            />
          </section>
          <section class="card">
            <h2>Deploys to {dora.env}</h2>
            <TimeChart
              label="lead time of each deploy (h)"
              at_ms={charts!.leadAt}
              values={charts!.lead}
              from_ms={dora.from_ms}
              to_ms={dora.to_ms}
              markers={charts!.markers}
              spans={charts!.spans}
            />
            <p class="muted legend">
              <span class="mark ok" /> succeeded <span class="mark bad" /> failed or rolled back{" "}
              <span class="mark span" /> failing until recovered · rework:{" "}
              {dora.rework_rate.value === null
                ? "—"
                : `${Math.round(dora.rework_rate.value * 100)}%`}{" "}
              of deploys
            </p>
          </section>
          {monitors.length > 0 && (
            <section class="card" aria-label="monitors' latency">
              <h2>Monitors in {dora.env}: p95 latency, the last hour</h2>
              {monitors.map((m) => {
                const hourAgo = Date.now() - 3_600_000;
                return (
                  <div key={m.monitor + "@" + m.host}>
                    <h3 class="chart-title">
                      {m.monitor}
                      {m.host && ` @${m.host}`} <span class="muted">({m.state})</span>
                    </h3>
                    <TimeChart
                      label={`${m.monitor} p95 (ms)`}
                      at_ms={m.recent.map((r) => r.minute_ms)}
                      values={m.recent.map((r) => r.p95_ms)}
                      from_ms={hourAgo}
                      to_ms={Date.now()}
                      markers={charts!.markers.filter((k) => k.at_ms >= hourAgo)}
                      height={160}
                    />
                  </div>
                );
              })}
            </section>
          )}
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
