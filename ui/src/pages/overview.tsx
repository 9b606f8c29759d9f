// Every project: its branches with their last run, what is broken since which commit, and
// which release each environment runs. Reloaded when the server's live events say a run or a
// deploy moved.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, Environment, MonitorStatus, Run } from "../api";
import { Badge, ErrorBox, Source } from "../components";
import { debounced, useLiveEvents } from "../events";
import { HealthDot, worst } from "../health";
import { ago, duration, short } from "../format";

interface Project {
  name: string;
  url: string;
  branches: string[];
}
interface ProjectView {
  project: Project;
  runs: Run[];
  envs: Environment[];
  monitors: MonitorStatus[];
}

export function Overview() {
  const [views, setViews] = useState<ProjectView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const reload = useMemo(() => debounced(() => setTick((t) => t + 1), 300), []);
  useLiveEvents(null, (e) => {
    if (e.type !== "job") reload();
  });
  useEffect(() => {
    let alive = true;
    const load = async () => {
      try {
        const { projects } = await api<{ projects: Project[] }>("/api/projects");
        const out = await Promise.all(
          projects.map(async (project) => {
            const q = encodeURIComponent(project.name);
            const [runs, envs, monitors] = await Promise.all([
              api<{ runs: Run[] }>(`/api/runs?project=${q}&limit=30`),
              api<{ environments: Environment[] }>(`/api/projects/${q}/environments`).catch(() => ({
                environments: [],
              })),
              api<{ monitors: MonitorStatus[] }>(`/api/projects/${q}/monitors`).catch(() => ({
                monitors: [],
              })),
            ]);
            return {
              project,
              runs: runs.runs,
              envs: envs.environments,
              monitors: monitors.monitors,
            };
          }),
        );
        if (alive) {
          setViews(out);
          setError(null);
        }
      } catch (e: any) {
        if (alive) setError(e.message);
      }
    };
    load();
    // Now and then anyway: "5 min ago" moves on, and a dropped stream costs little.
    const timer = setInterval(load, 30000);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, [tick]);

  if (!views) return <>{error ? <ErrorBox error={error} /> : <p class="muted">Loading…</p>}</>;
  if (views.length === 0) {
    return (
      <section class="empty">
        <h1>No projects yet</h1>
        <p>
          Add one with <code>boucle project add NAME GIT_URL</code>; its pushes are built here.
        </p>
      </section>
    );
  }
  return (
    <>
      <ErrorBox error={error} />
      {views.map(({ project, runs, envs, monitors }) => (
        <section class="card project" key={project.name} aria-label={`project ${project.name}`}>
          <header class="card-head">
            <h2>{project.name}</h2>
            <nav class="links">
              <a href={`#/projects/${encodeURIComponent(project.name)}/runs`}>Runs</a>
              <a href={`#/projects/${encodeURIComponent(project.name)}/environments`}>
                Environments
              </a>
              <a href={`#/projects/${encodeURIComponent(project.name)}/releases`}>Releases</a>
              <a href={`#/projects/${encodeURIComponent(project.name)}/incidents`}>Incidents</a>
              <a href={`#/projects/${encodeURIComponent(project.name)}/dora`}>DORA</a>
              <a href={`#/audit?project=${encodeURIComponent(project.name)}`}>Audit</a>
            </nav>
          </header>
          <table class="branches">
            <thead>
              <tr>
                <th>Branch</th>
                <th>Last run</th>
                <th>Commit</th>
                <th>Duration</th>
              </tr>
            </thead>
            <tbody>
              {latestPerBranch(runs.filter((r) => !r.pull_request)).map((r) => (
                <tr key={r.branch} class={r.broken_since && r.state !== "passed" ? "broken" : ""}>
                  <td>{r.branch || r.ref}</td>
                  <td>
                    <a href={`#/runs/${r.id}`}>
                      <Badge state={r.state} qualifier={r.qualifier} /> #{r.number}
                    </a>{" "}
                    <span class="muted">{ago(r.finished_at_ms ?? r.queued_at_ms)}</span>
                    {r.broken_since && r.state !== "passed" && (
                      <div class="broken-since">
                        broken since{" "}
                        <a href={`#/runs/${r.broken_since.run}`}>
                          <code>{short(r.broken_since.commit)}</code>
                        </a>{" "}
                        by {r.broken_since.author} ({r.broken_since.subject})
                      </div>
                    )}
                  </td>
                  <td>
                    <code>{short(r.commit)}</code> {r.subject}{" "}
                    <span class="muted">— {r.author}</span>
                  </td>
                  <td>{duration(r.started_at_ms, r.finished_at_ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {runs.some((r) => r.pull_request) && (
            <table class="requests" aria-label="pull requests">
              <thead>
                <tr>
                  <th>Pull request</th>
                  <th>Last run</th>
                  <th>Title</th>
                </tr>
              </thead>
              <tbody>
                {latestPerBranch(runs.filter((r) => r.pull_request)).map((r) => (
                  <tr key={r.branch}>
                    <td>
                      <Source run={r} />
                    </td>
                    <td>
                      <a href={`#/runs/${r.id}`}>
                        <Badge state={r.state} qualifier={r.qualifier} /> #{r.number}
                      </a>{" "}
                      <span class="muted">{ago(r.finished_at_ms ?? r.queued_at_ms)}</span>
                    </td>
                    <td>
                      {r.pull_request!.title} <span class="muted">— {r.pull_request!.author}</span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {envs.length > 0 && (
            <ol class="chain" aria-label="environments">
              {envs.map((e) => (
                <li key={e.name}>
                  <span class="env-name">
                    {worst(monitors.filter((m) => m.env === e.name)) && (
                      <HealthDot state={worst(monitors.filter((m) => m.env === e.name))!} />
                    )}{" "}
                    {e.name}
                  </span>
                  <span class="env-version">{e.current?.version ?? "nothing yet"}</span>
                </li>
              ))}
            </ol>
          )}
        </section>
      ))}
    </>
  );
}

function latestPerBranch(runs: Run[]): Run[] {
  const seen = new Map<string, Run>();
  for (const r of runs) {
    // A deploy's measuring run builds no branch: it is shown with the deploy.
    if (r.trigger === "perf") continue;
    const key = r.branch || r.ref;
    if (!seen.has(key)) seen.set(key, r);
  }
  return [...seen.values()];
}
