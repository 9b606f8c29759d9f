// The promotion chain as a row (dev → qa → … → prod): the release in each, its age, the next
// candidate, deploys waiting for an approval, and Deploy / Promote / Rollback behind a
// confirmation that names exactly what changes; then the deploy's live log, smoke checks and
// verification.
import { useContext, useEffect, useMemo, useState } from "preact/hooks";
import {
  Deploy,
  Environment,
  MonitorStatus,
  PerfCheck,
  Release,
  Verification,
  api,
  finished,
} from "../api";
import { Badge, Confirm, ErrorBox, ProjectNav } from "../components";
import { debounced, useLiveEvents } from "../events";
import { EnvHealth, HealthDot, worst } from "../health";
import { ago, duration, when } from "../format";
import { LogView } from "../logview";
import { allowed, MeContext, readOnly } from "../session";

interface Action {
  title: string;
  text: string;
  label: string;
  path: string;
  body?: unknown;
}

export function EnvironmentsPage(props: { project: string; deploy?: number }) {
  const q = encodeURIComponent(props.project);
  const [envs, setEnvs] = useState<Environment[]>([]);
  const [newest, setNewest] = useState<string | null>(null);
  const [releases, setReleases] = useState<Release[]>([]);
  const [deploys, setDeploys] = useState<Deploy[]>([]);
  const [monitors, setMonitors] = useState<MonitorStatus[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [action, setAction] = useState<Action | null>(null);
  const [tick, setTick] = useState(0);
  const me = useContext(MeContext);
  const reload = useMemo(() => debounced(() => setTick((t) => t + 1), 200), []);
  useLiveEvents(props.project, (e) => {
    if (e.type !== "job") reload();
  });

  useEffect(() => {
    let alive = true;
    const load = async () => {
      try {
        const [e, r, d] = await Promise.all([
          api<{ environments: Environment[]; newest_release: string | null }>(
            `/api/projects/${q}/environments`,
          ),
          api<{ releases: Release[] }>(`/api/projects/${q}/releases?limit=20`),
          api<{ deploys: Deploy[] }>(`/api/projects/${q}/deploys`),
        ]);
        const m = await api<{ monitors: MonitorStatus[] }>(`/api/projects/${q}/monitors`).catch(
          () => ({
            monitors: [],
          }),
        );
        if (!alive) return;
        setEnvs(e.environments);
        setNewest(e.newest_release);
        setReleases(r.releases);
        setDeploys(d.deploys);
        setMonitors(m.monitors);
      } catch (err: any) {
        if (alive) setError(err.message);
      }
    };
    load();
    // The live events reload it; this moves "since 5 min" and the monitors' verdicts on.
    const timer = setInterval(load, 10000);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, [props.project, tick]);

  const run = async (a: Action) => {
    setAction(null);
    try {
      const d = await api<Deploy>(a.path, "POST", a.body);
      setError(null);
      location.hash = `#/projects/${q}/environments/deploys/${d.id}`;
      setTick((t) => t + 1);
    } catch (err: any) {
      setError(err.message);
    }
  };
  const waiting = deploys.filter((d) => d.state === "waiting");
  const shown = props.deploy ? deploys.find((d) => d.id === props.deploy) : undefined;

  return (
    <>
      <header class="page-head">
        <h1>{props.project}: environments</h1>
        <ProjectNav project={props.project} current="environments" />
        <p class="muted">Newest release: {newest ?? "none yet"}</p>
        {readOnly(me) && (
          <p class="note">{me!.name} (viewer) may only read: no deploys from here.</p>
        )}
        <ErrorBox error={error} />
      </header>
      <ol class="promotion" aria-label="promotion chain">
        {envs.map((e, i) => {
          const previous = i > 0 ? envs[i - 1] : null;
          const candidate =
            previous?.current?.version ?? (e.current?.version !== newest ? newest : null);
          // a deploy of it already asked for (waiting or queued) is not offered again
          const asked = (v: string | null) =>
            deploys.some((d) => d.env === e.name && d.version === v && !finished(d.state));
          const mayDeploy = !readOnly(me) && (e.deployers.length === 0 || allowed(me, e.deployers));
          return (
            <li class="card env" key={e.name} aria-label={`environment ${e.name}`}>
              <h2>
                {worst(monitors.filter((m) => m.env === e.name)) && (
                  <HealthDot state={worst(monitors.filter((m) => m.env === e.name))!} />
                )}{" "}
                {e.name}
              </h2>
              <p class="env-version">{e.current?.version ?? "nothing deployed"}</p>
              {e.current && (
                <p class="muted">
                  since {ago(e.current.since_ms)} by {e.current.by}
                  {e.current.releases_behind > 0 && ` · ${e.current.releases_behind} behind`}
                </p>
              )}
              <p class="rules muted">
                {[
                  e.auto && "auto",
                  e.after && `after ${e.after}`,
                  e.approval.length > 0 && `approval: ${e.approval.join(", ")}`,
                  e.four_eyes && "four eyes",
                  e.deployers.length > 0 && `deploys by ${e.deployers.join(", ")}`,
                  e.window && `window ${e.window}`,
                  e.perf &&
                    `${e.perf.metric} within +${Math.round(e.perf.max_regression * 100)}% (job ${e.perf.job})`,
                  e.blank && "blank (wiped before each deploy)",
                  e.schedule && e.schedule.length > 0 && `deployed at ${e.schedule.join(", ")}`,
                ]
                  .filter(Boolean)
                  .join(" · ") || "manual"}
              </p>
              <EnvHealth
                project={props.project}
                monitors={monitors.filter((m) => m.env === e.name)}
              />
              {e.last_deploy && (
                <p>
                  last deploy:{" "}
                  <a href={`#/projects/${q}/environments/deploys/${e.last_deploy.id}`}>
                    {e.last_deploy.version} <Badge state={e.last_deploy.state} />
                  </a>
                </p>
              )}
              <div class="actions">
                {!mayDeploy && !readOnly(me) && (
                  <span class="muted">only {e.deployers.join(", ")} may deploy here</span>
                )}
                {mayDeploy &&
                  candidate &&
                  candidate !== e.current?.version &&
                  !asked(candidate) && (
                    <button
                      type="button"
                      onClick={() =>
                        setAction(
                          previous?.current
                            ? {
                                title: `Promote to ${e.name}`,
                                text: `${props.project} ${candidate} (what ${previous.name} runs) goes to ${e.name}${
                                  e.current ? `, replacing ${e.current.version}` : ""
                                }.`,
                                label: `Promote ${candidate}`,
                                path: `/api/projects/${q}/promote`,
                                body: { from: previous.name, to: e.name },
                              }
                            : {
                                title: `Deploy to ${e.name}`,
                                text: `${props.project} ${candidate} goes to ${e.name}${
                                  e.current ? `, replacing ${e.current.version}` : ""
                                }.`,
                                label: `Deploy ${candidate}`,
                                path: `/api/projects/${q}/deploys`,
                                body: { version: candidate, env: e.name },
                              },
                        )
                      }
                    >
                      {previous?.current ? "Promote" : "Deploy"} {candidate}
                    </button>
                  )}
                {mayDeploy && (
                  <DeployOther
                    env={e}
                    releases={releases}
                    onPick={(v) =>
                      setAction({
                        title: `Deploy to ${e.name}`,
                        text: `${props.project} ${v} goes to ${e.name}${
                          e.current ? `, replacing ${e.current.version}` : ""
                        }.`,
                        label: `Deploy ${v}`,
                        path: `/api/projects/${q}/deploys`,
                        body: { version: v, env: e.name },
                      })
                    }
                  />
                )}
                {mayDeploy && e.current && (
                  <button
                    type="button"
                    onClick={() =>
                      setAction({
                        title: `Roll back ${e.name}`,
                        text: `${e.name} goes back from ${e.current!.version} to the release it ran before.`,
                        label: "Roll back",
                        path: `/api/projects/${q}/environments/${encodeURIComponent(e.name)}/rollback`,
                        body: {},
                      })
                    }
                  >
                    Roll back
                  </button>
                )}
              </div>
            </li>
          );
        })}
      </ol>
      {waiting.length > 0 && (
        <section class="card" aria-label="waiting for approval">
          <h2>Waiting for an approval</h2>
          <ul class="waiting">
            {waiting.map((d) => (
              <li key={d.id}>
                <Badge state={d.state} /> {d.version} to <strong>{d.env}</strong>, asked by{" "}
                {d.requested_by} {ago(d.requested_at_ms)}{" "}
                {readOnly(me) ||
                !allowed(me, envs.find((e) => e.name === d.env)?.approval ?? []) ? (
                  <span class="muted">
                    (approved by {envs.find((e) => e.name === d.env)?.approval.join(", ")}; not you)
                  </span>
                ) : (
                  <button
                    type="button"
                    class="primary"
                    onClick={() =>
                      setAction({
                        title: `Approve deploy ${d.id}`,
                        text: `${props.project} ${d.version} goes to ${d.env}${
                          d.from_version ? `, replacing ${d.from_version}` : ""
                        }, as ${d.requested_by} asked.`,
                        label: "Approve",
                        path: `/api/deploys/${d.id}/approve`,
                      })
                    }
                  >
                    Approve
                  </button>
                )}{" "}
                <button
                  type="button"
                  onClick={() =>
                    setAction({
                      title: `Reject deploy ${d.id}`,
                      text: `${d.version} will not go to ${d.env}.`,
                      label: "Reject",
                      path: `/api/deploys/${d.id}/cancel`,
                    })
                  }
                >
                  Reject
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      {shown && <DeployDetail d={shown} />}
      <section class="card" aria-label="deploys">
        <h2>Deploys</h2>
        <table>
          <tbody>
            {deploys.slice(0, 20).map((d) => (
              <tr key={d.id}>
                <td>
                  <a href={`#/projects/${q}/environments/deploys/${d.id}`}>#{d.id}</a>
                </td>
                <td>{d.env}</td>
                <td>
                  {d.version}
                  {d.rollback && " (rollback)"}
                  {d.dry_run && " (dry run)"}
                  {d.cause === "schedule" && " (scheduled)"}
                  {d.forced && " (forced)"}
                </td>
                <td>
                  <Badge state={d.state} />
                </td>
                <td class="muted">
                  {d.requested_by}, {when(d.requested_at_ms)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {action && (
        <Confirm
          title={action.title}
          confirmLabel={action.label}
          onConfirm={() => run(action)}
          onCancel={() => setAction(null)}
        >
          <p>{action.text}</p>
        </Confirm>
      )}
    </>
  );
}

function DeployOther(props: {
  env: Environment;
  releases: Release[];
  onPick: (v: string) => void;
}) {
  const [value, setValue] = useState("");
  const options = props.releases.filter((r) => r.version !== props.env.current?.version);
  if (options.length === 0) return null;
  return (
    <form
      class="inline"
      onSubmit={(e) => {
        e.preventDefault();
        if (value) props.onPick(value);
      }}
    >
      <select
        aria-label={`release to deploy to ${props.env.name}`}
        value={value}
        onChange={(e) => setValue((e.target as HTMLSelectElement).value)}
      >
        <option value="">version…</option>
        {options.map((r) => (
          <option key={r.version} value={r.version}>
            {r.version}
          </option>
        ))}
      </select>
      <button type="submit" disabled={!value}>
        Deploy
      </button>
    </form>
  );
}

// What the environment's `verify` watched after the smoke checks, probe by probe, with the
// verdicts that failed one.
function VerificationView({ v }: { v: Verification }) {
  const length = duration(v.started_at_ms, v.started_at_ms + v.for_ms);
  const watched = v.state === "running" ? `watching for ${length}` : `for ${length}`;
  return (
    <div class="verification" aria-label="verification">
      <h3>
        Verification <Badge state={v.state} /> <span class="muted">{watched}</span>
      </h3>
      <ul class="smoke">
        {v.probes.map((p) => (
          <li key={p.name + "@" + p.host}>
            {p.failed ? "✗" : p.passes > 0 ? "✓" : "…"} {p.name}
            {p.host && <span class="muted">@{p.host}</span>}{" "}
            <span class="muted">
              ({p.source === "check" ? "environment's check" : "monitor"}: {p.passes} passed,{" "}
              {p.failures} failed, {p.no_data} no data
              {p.last && !p.failed ? `; last ${p.last.detail}` : ""})
            </span>
            {p.failed && p.evidence.length > 0 && (
              <ul class="evidence">
                {p.evidence.map((e) => (
                  <li key={e.at_ms}>
                    <time>{new Date(e.at_ms).toLocaleTimeString()}</time> {e.verdict}: {e.detail}
                  </li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}

// The environment's performance check: the measuring run, the release compared with, and each
// figure's change.
function PerfView({ p }: { p: PerfCheck }) {
  const state = p.passed === undefined ? "running" : p.passed ? "passed" : "failed";
  const fmt = (v: number) =>
    p.figure === "rps"
      ? `${v.toFixed(1)}/s`
      : p.figure === "failures"
        ? v.toFixed(0)
        : v >= 1000
          ? `${(v / 1000).toFixed(2)} s`
          : `${v.toFixed(1)} ms`;
  return (
    <div class="perf-check" aria-label="performance check">
      <h3>
        Performance <Badge state={state} />{" "}
        <span class="muted">
          {p.interleave
            ? `${p.figure} by job ${p.job}, ${p.baseline_version} and this release in turns, ${p.interleave} rounds each`
            : `${p.figure} by job ${p.job} against ${p.against}`}
          {p.run_id !== null && p.interleave && (
            <>
              {" "}
              (<a href={`#/runs/${p.run_id}`}>run {p.run_id}</a>)
            </>
          )}
          {p.run_id !== null && !p.interleave && (
            <>
              {" "}
              (<a href={`#/runs/${p.run_id}/${encodeURIComponent(p.job)}`}>run {p.run_id}</a>)
            </>
          )}
          {p.baseline_run_id !== null && !p.interleave && (
            <>
              {" "}
              vs {p.baseline_version} (
              <a href={`#/runs/${p.baseline_run_id}/${encodeURIComponent(p.job)}`}>
                run {p.baseline_run_id}
              </a>
              )
            </>
          )}
        </span>
      </h3>
      {p.summary && p.passed && <p class="muted">{p.summary}</p>}
      {p.comparisons && p.comparisons.length > 0 && (
        <table class="perf-table">
          <thead>
            <tr>
              <th>Measurement</th>
              <th>{p.baseline_version || "baseline"}</th>
              <th>this release</th>
              <th>change</th>
              <th>Mann-Whitney p</th>
            </tr>
          </thead>
          <tbody>
            {p.comparisons.map((c) => (
              <tr key={c.name} class={c.regression ? "regression" : ""}>
                <td>{c.name}</td>
                <td>{fmt(c.baseline)}</td>
                <td>{fmt(c.candidate)}</td>
                <td>
                  {/* A change from nothing (a baseline of 0) has no percentage. */}
                  {c.change === null
                    ? "from 0"
                    : `${c.change >= 0 ? "+" : ""}${(c.change * 100).toFixed(0)}%`}
                  {c.regression && " ✗"}
                </td>
                <td class="muted">{c.p === null ? "—" : c.p.toPrecision(2)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p class="muted">
        limit {(p.max_regression * 100).toFixed(0)}% and {fmt(p.floor)}
      </p>
    </div>
  );
}

function DeployDetail({ d }: { d: Deploy }) {
  return (
    <section class="card" aria-label={`deploy ${d.id}`}>
      <h2>
        Deploy #{d.id}: {d.version} to {d.env} <Badge state={d.state} />
      </h2>
      {d.reason && <p class="muted">{d.reason}</p>}
      {d.cause === "schedule" && <p class="muted">Deployed by the environment's schedule.</p>}
      {d.forced && (
        <p class="forced" role="note">
          Forced past an irreversible migration: {d.forced}
        </p>
      )}
      {d.smoke.length > 0 && (
        <ul class="smoke">
          {d.smoke.map((s) => (
            <li key={s.check}>
              {s.ok ? "✓" : "✗"} {s.check} <span class="muted">({s.detail})</span>
            </li>
          ))}
        </ul>
      )}
      {d.perf && <PerfView p={d.perf} />}
      {d.verification && <VerificationView v={d.verification} />}
      {d.state !== "waiting" && (
        <LogView
          key={d.id}
          url={`/api/deploys/${d.id}/log?follow=1`}
          live={!finished(d.state)}
          linkBase={`#/projects/${encodeURIComponent(d.project)}/environments/deploys/${d.id}`}
        />
      )}
    </section>
  );
}
