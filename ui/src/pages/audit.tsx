// Who did what, when.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { ErrorBox } from "../components";
import { when } from "../format";

interface Entry {
  id: number;
  at_ms: number;
  actor: string;
  action: string;
  project: string;
  target: string;
  detail: string;
}

export function AuditPage(props: { project?: string }) {
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const query = props.project ? `&project=${encodeURIComponent(props.project)}` : "";
    api<{ entries: Entry[] }>(`/api/audit?limit=200${query}`)
      .then((r) => setEntries(r.entries))
      .catch((e) => setError(e.message));
  }, [props.project]);
  return (
    <>
      <header class="page-head">
        <h1>Audit log{props.project ? `: ${props.project}` : ""}</h1>
        <ErrorBox error={error} />
      </header>
      <table class="audit">
        <thead>
          <tr>
            <th>When</th>
            <th>Who</th>
            <th>What</th>
            <th>Where</th>
            <th>Detail</th>
          </tr>
        </thead>
        <tbody>
          {(entries ?? []).map((e) => (
            <tr key={e.id}>
              <td>{when(e.at_ms)}</td>
              <td>{e.actor}</td>
              <td>{e.action}</td>
              <td>
                {e.project} {e.target}
              </td>
              <td>{e.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
