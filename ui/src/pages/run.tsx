// One run: its jobs with state and duration updating live, a job's log (followed while it
// runs), test results (failures first), artifacts, and the cancel / retry / re-run buttons.
import { useContext, useEffect, useMemo, useState } from "preact/hooks";
import { api, finished, Job, Run } from "../api";
import { Artifacts, Badge, ErrorBox, Source } from "../components";
import { debounced, useLiveEvents } from "../events";
import { duration, short, when } from "../format";
import { JobGraph } from "../graph";
import { LogView } from "../logview";
import { MeContext, readOnly } from "../session";

export function RunPage(props: { id: number; job?: string; line?: number }) {
  const [run, setRun] = useState<Run | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const viewer = readOnly(useContext(MeContext));
  const reload = useMemo(() => debounced(() => setTick((t) => t + 1), 100), []);
  const project = run?.project ?? null;
  useLiveEvents(project, (e) => {
    const mine =
      (e.type === "run" && e.data.id === props.id) ||
      (e.type === "job" && e.data.run_id === props.id);
    if (mine || e.type === "connected" || e.type === "reset") reload();
  });

  useEffect(() => {
    let alive = true;
    let timer: number | undefined;
    const load = async () => {
      try {
        const r = await api<Run>(`/api/runs/${props.id}`);
        if (!alive) return;
        setRun(r);
        setError(null);
        // The live events reload it as it moves; this is for a stream that dropped.
        if (!finished(r.state)) timer = window.setTimeout(load, 10000);
      } catch (e: any) {
        if (!alive) return;
        // A run not recorded yet (a link followed early) or a server restarting: try again.
        setError(e.status === 404 ? `${e.message} (yet): waiting for it…` : e.message);
        if (e.status !== 401 && e.status !== 403) timer = window.setTimeout(load, 2000);
      }
    };
    load();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [props.id, tick]);

  if (!run) return error ? <ErrorBox error={error} /> : <p class="muted">Loading…</p>;
  const jobs = run.jobs ?? [];
  const selected = props.job ?? jobs.find((j) => j.state === "failed")?.name ?? jobs[0]?.name;
  const job = jobs.find((j) => j.name === selected);
  const act = async (path: string, then?: (r: any) => void) => {
    try {
      const r = await api<any>(path, "POST");
      setError(null);
      if (then) then(r);
      else setTick((t) => t + 1);
    } catch (e: any) {
      setError(e.message);
    }
  };
  return (
    <>
      <header class="page-head">
        <h1>
          {run.project} #{run.number} <Badge state={run.state} qualifier={run.qualifier} />
        </h1>
        <p>
          <code>{short(run.commit)}</code> {run.subject} — {run.author} · <Source run={run} /> ·{" "}
          {run.trigger} · queued {when(run.queued_at_ms)} ·{" "}
          {duration(run.started_at_ms, run.finished_at_ms)}
        </p>
        {run.pull_request && (
          <p class="request">
            Pull request {run.pull_request.number}: <strong>{run.pull_request.title}</strong> by{" "}
            {run.pull_request.author}
            {run.pull_request.merge && run.pull_request.base && (
              <>
                {" "}
                · head <code>{short(run.pull_request.head)}</code> merged into{" "}
                {run.pull_request.target} at <code>{short(run.pull_request.base)}</code>
              </>
            )}
            {run.pull_request.fork && <> · from a fork: no build secrets</>}
          </p>
        )}
        {run.reason && <p class="muted">{run.reason}</p>}
        {run.culprit && (
          <p class="broken-since">
            broken by <code>{short(run.culprit.commit)}</code> {run.culprit.subject} —{" "}
            {run.culprit.author}
          </p>
        )}
        <div class="actions" hidden={viewer}>
          {!finished(run.state) && (
            <button type="button" onClick={() => act(`/api/runs/${run.id}/cancel`)}>
              Cancel run
            </button>
          )}
          {finished(run.state) && (
            <button
              type="button"
              onClick={() =>
                act(`/api/runs/${run.id}/rerun`, (r) => (location.hash = `#/runs/${r.id}`))
              }
            >
              Re-run
            </button>
          )}
          {job && job.state === "failed" && finished(run.state) && (
            <button
              type="button"
              onClick={() =>
                act(
                  `/api/runs/${run.id}/jobs/${encodeURIComponent(job.name)}/retry`,
                  (r) => (location.hash = `#/runs/${r.id}`),
                )
              }
            >
              Retry {job.name}
            </button>
          )}
        </div>
        <ErrorBox error={error} />
      </header>
      {jobs.length > 1 && (
        <section class="card graph-box">
          <JobGraph
            jobs={jobs}
            selected={selected}
            hrefOf={(name) => `#/runs/${run.id}/${encodeURIComponent(name)}`}
          />
        </section>
      )}
      <div class="run-layout">
        <nav class="jobs" aria-label="jobs">
          <ol>
            {jobs.map((j) => (
              <li key={j.name} class={j.name === selected ? "current" : ""}>
                <a href={`#/runs/${run.id}/${encodeURIComponent(j.name)}`}>
                  <Badge state={j.state} qualifier={j.qualifier} />{" "}
                  <span class="job-name">{j.name}</span>
                  <span class="muted"> {duration(j.started_at_ms, j.finished_at_ms)}</span>
                </a>
              </li>
            ))}
            {jobs.length === 0 && <li class="muted">No jobs yet</li>}
          </ol>
        </nav>
        <div class="job-detail">{job && <JobDetail run={run} job={job} line={props.line} />}</div>
      </div>
    </>
  );
}

// A test's name, linking to its history.
function TestLink({ project, testKey }: { project: string; testKey: string }) {
  return (
    <a href={`#/projects/${encodeURIComponent(project)}/tests?test=${encodeURIComponent(testKey)}`}>
      {testKey}
    </a>
  );
}

function JobDetail({ run, job, line }: { run: Run; job: Job; line?: number }) {
  const base = `#/runs/${run.id}/${encodeURIComponent(job.name)}`;
  const live = !finished(job.state) && job.state !== "pending";
  // follow=1 also serves a finished job's whole log: one URL, so the view is not reloaded
  // when the run ends.
  const url = `/api/runs/${run.id}/jobs/${encodeURIComponent(job.name)}/log?follow=1`;
  return (
    <>
      <h2>
        {job.name} <Badge state={job.state} qualifier={job.qualifier} />
        {job.reason && <span class="muted"> {job.reason}</span>}
      </h2>
      {job.tests?.retried && job.tests.retried.length > 0 && (
        <section class="tests retried" aria-label="earlier attempts">
          <h3>Tried {job.tests.retried.length + 1} times</h3>
          <ul>
            {job.tests.retried.map((a) => (
              <li key={a.attempt}>
                attempt {a.attempt}: {a.reason}
                {a.agent && <span class="muted"> on {a.agent}</span>}
                {a.failed && a.failed.length > 0 && <> — {a.failed.join(", ")}</>}
              </li>
            ))}
          </ul>
        </section>
      )}
      {job.tests && (
        <section class="tests" aria-label="test results">
          <h3>
            Tests: {job.tests.passed} passed, {job.tests.failures + job.tests.errors} failed,{" "}
            {job.tests.skipped} skipped
          </h3>
          {job.tests.flaky && job.tests.flaky.length > 0 && (
            <p class="flaky-note">
              <span class="tag t-flaky">flaky</span> failed, then passed on this commit:{" "}
              {job.tests.flaky.map((k, i) => (
                <span key={k}>
                  {i > 0 && ", "}
                  <TestLink project={run.project} testKey={k} />
                </span>
              ))}
            </p>
          )}
          <ul>
            {job.tests.failed.map((f) => {
              const key = `${f.suite} › ${f.name}`;
              const excused = job.tests?.quarantined?.includes(key);
              return (
                <li key={key} class={excused ? "failure excused" : "failure"}>
                  <strong>
                    ✗ <TestLink project={run.project} testKey={key} />
                  </strong>
                  {excused && <span class="tag t-quarantined">quarantined</span>}
                  {f.location && <code class="muted"> {f.location}</code>}
                  {f.message && <pre>{f.message}</pre>}
                </li>
              );
            })}
          </ul>
        </section>
      )}
      {job.artifacts && job.artifacts.length > 0 && (
        <section aria-label="artifacts">
          <h3>Artifacts</h3>
          <Artifacts
            items={job.artifacts.map((a) => ({
              name: a.path,
              sha256: a.sha256,
              size: a.size,
              url: `/api/blobs/${a.sha256}`,
            }))}
          />
        </section>
      )}
      <LogView key={url} url={url} live={live} linkBase={base} line={line} />
    </>
  );
}
