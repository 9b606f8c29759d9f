// An environment's health from its monitors (GET /api/projects/P/monitors): a line per probe
// with its state, the last hour's failures and p95 latency as a sparkline, its SLO's error
// budget left and a burn-rate alert, and the incident it opened.
import { MonitorStatus } from "./api";

const STATE_LABEL: Record<string, string> = {
  up: "up",
  failing: "failing",
  down: "down",
  no_data: "no data",
  pending: "pending",
};

// The worst state among an environment's probes: what a one-word summary says.
export function worst(monitors: MonitorStatus[]): MonitorStatus["state"] | null {
  if (monitors.length === 0) return null;
  for (const s of ["down", "no_data", "failing", "pending"] as const) {
    if (monitors.some((m) => m.state === s)) return s;
  }
  return "up";
}

export function HealthDot({ state }: { state: string }) {
  return (
    <span
      class={`dot h-${state}`}
      title={STATE_LABEL[state] ?? state}
      aria-label={STATE_LABEL[state] ?? state}
    />
  );
}

// The last hour, a minute a column: p95 latency as a line, minutes with failures in red.
function Sparkline({ recent }: { recent: MonitorStatus["recent"] }) {
  const W = 120;
  const H = 24;
  if (recent.length === 0) return <svg class="spark" width={W} height={H} aria-hidden="true" />;
  const first = recent[0].minute_ms;
  const span = Math.max(60_000, recent[recent.length - 1].minute_ms - first);
  const top = Math.max(1, ...recent.map((r) => r.p95_ms));
  const x = (t: number) => ((t - first) / span) * (W - 4) + 2;
  const y = (v: number) => H - 2 - (v / top) * (H - 4);
  const line = recent
    .map((r) => `${x(r.minute_ms).toFixed(1)},${y(r.p95_ms).toFixed(1)}`)
    .join(" ");
  return (
    <svg
      class="spark"
      width={W}
      height={H}
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label="last hour: p95 latency and failures"
    >
      {recent
        .filter((r) => r.failures > 0)
        .map((r) => (
          <rect
            key={r.minute_ms}
            x={x(r.minute_ms) - 1.5}
            y={0}
            width={3}
            height={H}
            class="spark-fail"
          />
        ))}
      <polyline points={line} class="spark-line" />
    </svg>
  );
}

function Budget({ slo }: { slo: NonNullable<MonitorStatus["slo"]> }) {
  if (slo.budget_left === null) return <span class="muted">SLO: no samples yet</span>;
  const left = Math.max(0, Math.min(1, slo.budget_left));
  const pct = Math.round(slo.budget_left * 100);
  const cls = left > 0.5 ? "ok" : left > 0.1 ? "warn" : "bad";
  return (
    <span
      class="budget"
      title={`error budget left over ${Math.round(slo.window_ms / 86_400_000)} d`}
    >
      <span class={`budget-bar ${cls}`}>
        <span style={{ width: `${left * 100}%` }} />
      </span>
      {pct}% budget
      {slo.burn !== "none" && (
        <strong class={`burn burn-${slo.burn}`}> burning ({slo.burn})</strong>
      )}
    </span>
  );
}

export function EnvHealth({ project, monitors }: { project: string; monitors: MonitorStatus[] }) {
  if (monitors.length === 0) return null;
  const q = encodeURIComponent(project);
  return (
    <ul class="health" aria-label="monitors">
      {monitors.map((m) => (
        <li key={m.monitor + "@" + m.host}>
          <HealthDot state={m.state} />
          <span class="health-name">
            {m.monitor}
            {m.host && <span class="muted">@{m.host}</span>}
          </span>
          <Sparkline recent={m.recent} />
          <span class="health-detail muted">
            {m.latency_ms !== null && `${m.latency_ms} ms`}
            {m.state !== "up" && m.detail && ` · ${m.detail}`}
          </span>
          {m.slo && <Budget slo={m.slo} />}
          {m.incident_id !== null && (
            <a href={`#/projects/${q}/incidents/${m.incident_id}`} class="incident-link">
              incident #{m.incident_id}
            </a>
          )}
        </li>
      ))}
    </ul>
  );
}
