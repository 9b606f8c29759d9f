// A project's runs, newest first, a page at a time (the server pages them: ?before=ID), so
// a project with 100,000 runs opens as fast as one with ten.
import { useEffect, useState } from "preact/hooks";
import { api, Run } from "../api";
import { Badge, ErrorBox, ProjectNav, Source } from "../components";
import { duration, short, when } from "../format";

const PAGE = 50;

export function RunsPage(props: { project: string }) {
  const [runs, setRuns] = useState<Run[]>([]);
  const [more, setMore] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const load = async (before?: number) => {
    try {
      const q = `project=${encodeURIComponent(props.project)}&limit=${PAGE}${before ? `&before=${before}` : ""}`;
      const r = await api<{ runs: Run[] }>(`/api/runs?${q}`);
      setRuns((old) => (before ? [...old, ...r.runs] : r.runs));
      setMore(r.runs.length === PAGE);
    } catch (e: any) {
      setError(e.message);
    }
  };
  useEffect(() => {
    load();
  }, [props.project]);
  return (
    <>
      <header class="page-head">
        <h1>{props.project}: runs</h1>
        <ProjectNav project={props.project} current="runs" />
        <ErrorBox error={error} />
      </header>
      <table class="runs">
        <thead>
          <tr>
            <th>Run</th>
            <th>Branch</th>
            <th>Commit</th>
            <th>Queued</th>
            <th>Duration</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id}>
              <td>
                <a href={`#/runs/${r.id}`}>
                  <Badge state={r.state} qualifier={r.qualifier} /> #{r.number}
                </a>
              </td>
              <td>
                <Source run={r} />
              </td>
              <td>
                <code>{short(r.commit)}</code> {r.subject} <span class="muted">— {r.author}</span>
              </td>
              <td class="muted">{when(r.queued_at_ms)}</td>
              <td>{duration(r.started_at_ms, r.finished_at_ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {more && runs.length > 0 && (
        <p>
          <button type="button" onClick={() => load(runs[runs.length - 1].id)}>
            Older runs
          </button>
        </p>
      )}
    </>
  );
}
