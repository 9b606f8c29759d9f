// The remote agents: what each offers, what it runs, when it was last heard from. Admins drain
// one (it finishes what it runs and takes nothing new) or let it take jobs again.
import { useContext, useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { Badge, Confirm, ErrorBox } from "../components";
import { ago } from "../format";
import { MeContext } from "../session";

interface Agent {
  name: string;
  labels: string[];
  version: string;
  host: string;
  capacity: number;
  running: number;
  seen_at: number;
  state: "online" | "draining" | "offline";
}

// Agents call at least every 20 s: a look every 5 s keeps "last seen" honest without a stream.
const kRefreshMs = 5000;

export function AgentsPage() {
  const me = useContext(MeContext);
  const [agents, setAgents] = useState<Agent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [asked, setAsked] = useState<Agent | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    const load = () =>
      api<Agent[]>("/api/agents")
        .then((a) => live && (setAgents(a), setError(null)))
        .catch((e) => live && setError(e.message));
    load();
    const timer = window.setInterval(load, kRefreshMs);
    return () => {
      live = false;
      window.clearInterval(timer);
    };
  }, [tick]);
  const admin = !!me && me.roles.includes("admin");
  const drain = (a: Agent, on: boolean) =>
    api(`/api/agents/${encodeURIComponent(a.name)}/drain`, "POST", { drain: on })
      .then(() => setTick((t) => t + 1))
      .catch((e) => setError(e.message));
  const busy = (agents ?? [])
    .filter((a) => a.state === "online")
    .reduce((n, a) => n + a.running, 0);
  const room = (agents ?? [])
    .filter((a) => a.state === "online")
    .reduce((n, a) => n + a.capacity, 0);
  return (
    <>
      <header class="page-head">
        <h1>Agents</h1>
        {agents && agents.length > 0 && (
          <p class="muted">
            {busy} of {room} job slots busy on {agents.filter((a) => a.state === "online").length}{" "}
            online agent(s)
          </p>
        )}
        <ErrorBox error={error} />
      </header>
      {agents && agents.length === 0 && (
        <p class="note">
          No agent has called yet. On a build machine:{" "}
          <code>boucle agent --server URL --token-file FILE --labels linux</code> with a token made
          by <code>boucle token add NAME --role agent</code>.
        </p>
      )}
      {agents && agents.length > 0 && (
        <table class="agents">
          <thead>
            <tr>
              <th>Agent</th>
              <th>State</th>
              <th>Labels</th>
              <th>Jobs</th>
              <th>Version</th>
              <th>Host</th>
              <th>Last seen</th>
              {admin && <th />}
            </tr>
          </thead>
          <tbody>
            {agents.map((a) => (
              <tr key={a.name} data-agent={a.name}>
                <td>
                  <strong>{a.name}</strong>
                </td>
                <td>
                  <Badge state={a.state} />
                </td>
                <td>
                  {a.labels.length === 0 ? (
                    <span class="muted">none</span>
                  ) : (
                    a.labels.map((l) => (
                      <span class="label" key={l}>
                        {l}
                      </span>
                    ))
                  )}
                </td>
                <td>
                  <meter
                    min={0}
                    max={a.capacity}
                    value={a.running}
                    title={`${a.running} of ${a.capacity}`}
                  />{" "}
                  {a.running}/{a.capacity}
                </td>
                <td>{a.version}</td>
                <td>{a.host}</td>
                <td>{ago(a.seen_at)}</td>
                {admin && (
                  <td>
                    <button type="button" onClick={() => setAsked(a)}>
                      {a.state === "draining" ? "Take jobs again" : "Drain"}
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {asked && (
        <Confirm
          title={
            asked.state === "draining"
              ? `Let ${asked.name} take jobs again?`
              : `Drain ${asked.name}?`
          }
          confirmLabel={asked.state === "draining" ? "Take jobs again" : "Drain"}
          onCancel={() => setAsked(null)}
          onConfirm={() => {
            drain(asked, asked.state !== "draining");
            setAsked(null);
          }}
        >
          {asked.state === "draining"
            ? `${asked.name} will claim queued jobs again.`
            : `${asked.name} finishes the ${asked.running} job(s) it runs and takes nothing new, until you undo it.`}
        </Confirm>
      )}
    </>
  );
}
