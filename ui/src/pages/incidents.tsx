// A project's incidents, open ones first: where, since when, which release and deploy were
// live when it began; one incident's timeline (first failure, notifications, deploys and
// rollbacks during it, recovery), with a note or a resolve for those who may change things.
import { useContext, useEffect, useMemo, useState } from "preact/hooks";
import { api, Incident } from "../api";
import { Badge, Confirm, ErrorBox, ProjectNav } from "../components";
import { debounced, useLiveEvents } from "../events";
import { ago, duration, when } from "../format";
import { MeContext, readOnly } from "../session";

export function IncidentsPage(props: { project: string; id?: number }) {
  const q = encodeURIComponent(props.project);
  const [incidents, setIncidents] = useState<Incident[] | null>(null);
  const [shown, setShown] = useState<Incident | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const [resolving, setResolving] = useState(false);
  const [note, setNote] = useState("");
  const me = useContext(MeContext);
  const reload = useMemo(() => debounced(() => setTick((t) => t + 1), 200), []);
  useLiveEvents(props.project, (e) => {
    if (e.type === "incident" || e.type === "connected" || e.type === "reset") reload();
  });

  useEffect(() => {
    let alive = true;
    (async () => {
      try {
        const list = await api<{ incidents: Incident[] }>(`/api/projects/${q}/incidents`);
        const one = props.id ? await api<Incident>(`/api/incidents/${props.id}`) : null;
        if (!alive) return;
        setIncidents(list.incidents);
        setShown(one);
        setError(null);
      } catch (e: any) {
        if (alive) setError(e.message);
      }
    })();
    return () => {
      alive = false;
    };
  }, [props.project, props.id, tick]);

  const act = async (path: string, body: unknown) => {
    try {
      await api(path, "POST", body);
      setNote("");
      setTick((t) => t + 1);
    } catch (e: any) {
      setError(e.message);
    }
  };

  const open = (incidents ?? []).filter((i) => i.state === "open");
  const resolved = (incidents ?? []).filter((i) => i.state !== "open");
  const row = (i: Incident) => (
    <tr key={i.id} class={i.id === props.id ? "selected" : ""}>
      <td>
        <a href={`#/projects/${q}/incidents/${i.id}`}>#{i.id}</a>
      </td>
      <td>
        <Badge state={i.state} />
      </td>
      <td>{i.env}</td>
      <td>{i.title}</td>
      <td class="muted">
        {i.release ?? "—"}
        {i.deploy_id !== null && (
          <>
            {" "}
            (
            <a href={`#/projects/${q}/environments/deploys/${i.deploy_id}`}>
              deploy #{i.deploy_id}
            </a>
            )
          </>
        )}
      </td>
      <td class="muted">
        {ago(i.opened_at_ms)}
        {i.resolved_at_ms && `, lasted ${duration(i.opened_at_ms, i.resolved_at_ms)}`}
      </td>
    </tr>
  );
  return (
    <>
      <header class="page-head">
        <h1>{props.project}: incidents</h1>
        <ProjectNav project={props.project} current="incidents" />
        <ErrorBox error={error} />
      </header>
      {shown && (
        <section class="card" aria-label={`incident ${shown.id}`}>
          <h2>
            Incident #{shown.id}: {shown.title} <Badge state={shown.state} />
          </h2>
          <p class="muted">
            {shown.env} · {shown.source}
            {shown.monitor && ` · monitor ${shown.monitor}`} · release {shown.release ?? "none"}
            {shown.deploy_id !== null && (
              <>
                {" "}
                brought by{" "}
                <a href={`#/projects/${q}/environments/deploys/${shown.deploy_id}`}>
                  deploy #{shown.deploy_id}
                </a>
              </>
            )}{" "}
            · opened {when(shown.opened_at_ms)} by {shown.opened_by}
            {shown.resolved_at_ms &&
              ` · resolved by ${shown.resolved_by} after ${duration(shown.opened_at_ms, shown.resolved_at_ms)}`}
          </p>
          <ol class="timeline" aria-label="timeline">
            {(shown.timeline ?? []).map((e, n) => (
              <li key={n} class={`t-${e.kind}`}>
                <time>{when(e.at_ms)}</time>
                <strong>{e.kind}</strong> <span class="muted">{e.actor}</span> {e.text}
              </li>
            ))}
          </ol>
          {!readOnly(me) && shown.state === "open" && (
            <form
              class="inline"
              onSubmit={(e) => {
                e.preventDefault();
                if (note.trim()) act(`/api/incidents/${shown.id}/notes`, { text: note });
              }}
            >
              <input
                aria-label="note"
                placeholder="A note for the timeline"
                value={note}
                onInput={(e) => setNote((e.target as HTMLInputElement).value)}
              />
              <button type="submit" disabled={!note.trim()}>
                Add note
              </button>
              <button type="button" onClick={() => setResolving(true)}>
                Resolve
              </button>
            </form>
          )}
          {resolving && (
            <Confirm
              title={`Resolve incident #${shown.id}`}
              confirmLabel="Resolve"
              onCancel={() => setResolving(false)}
              onConfirm={() => {
                setResolving(false);
                act(`/api/incidents/${shown.id}/resolve`, { text: note || "resolved by hand" });
              }}
            >
              <p>
                {shown.title} ({shown.env}) is marked resolved in your name.
              </p>
            </Confirm>
          )}
        </section>
      )}
      {incidents === null && !error && <p class="muted">Loading…</p>}
      {incidents !== null && incidents.length === 0 && (
        <p class="empty">No incidents: nothing has failed here yet.</p>
      )}
      {[
        ["Open", open],
        ["Resolved", resolved],
      ].map(([title, list]) =>
        (list as Incident[]).length > 0 ? (
          <section class="card" key={title as string} aria-label={`${title} incidents`}>
            <h2>{title as string}</h2>
            <table class="incidents">
              <tbody>{(list as Incident[]).map(row)}</tbody>
            </table>
          </section>
        ) : null,
      )}
    </>
  );
}
