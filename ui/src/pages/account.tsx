// The person signed in: their sessions (this one marked), which they may end, and their own
// API tokens for the CLI and scripts, which they may revoke.
import { useContext, useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { ErrorBox } from "../components";
import { ago } from "../format";
import { MeContext } from "../session";

interface Session {
  id: string;
  created_at_ms: number;
  seen_at_ms: number;
  address: string;
  agent: string;
  current: boolean;
}

interface Token {
  name: string;
  roles: string[];
  created_at_ms: number;
  last_used_at_ms: number | null;
}

export function AccountPage() {
  const me = useContext(MeContext);
  const [sessions, setSessions] = useState<Session[]>([]);
  const [tokens, setTokens] = useState<Token[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    api<{ sessions: Session[] }>("/api/sessions")
      .then((r) => setSessions(r.sessions))
      .catch((e) => setError(e.message));
    api<{ tokens: Token[] }>("/api/tokens")
      .then((r) => setTokens(r.tokens))
      .catch(() => setTokens([]));
  }, [tick]);
  const act = (path: string) =>
    api(path, "DELETE")
      .then(() => setTick((t) => t + 1))
      .catch((e) => setError(e.message));
  return (
    <>
      <header class="page-head">
        <h1>{me?.name ?? "You"}</h1>
        <p class="muted">{me?.roles.join(", ")}</p>
        <ErrorBox error={error} />
      </header>
      <section class="card">
        <h2>Sessions</h2>
        <table aria-label="sessions">
          <thead>
            <tr>
              <th>Signed in</th>
              <th>Last seen</th>
              <th>From</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.id} data-session={s.id}>
                <td>{ago(s.created_at_ms)}</td>
                <td>{ago(s.seen_at_ms)}</td>
                <td>
                  {s.address} <span class="muted">{s.agent}</span>
                </td>
                <td>
                  {s.current ? (
                    <span class="muted">this one</span>
                  ) : (
                    <button type="button" onClick={() => act(`/api/sessions/${s.id}`)}>
                      End
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section class="card">
        <h2>Your tokens</h2>
        <p class="muted">
          Make one with <code>boucle token add NAME</code>: it acts as you, with at most your roles.
        </p>
        <table aria-label="tokens">
          <tbody>
            {tokens.map((t) => (
              <tr key={t.name}>
                <td>{t.name}</td>
                <td class="muted">{t.roles.join(", ")}</td>
                <td class="muted">
                  {t.last_used_at_ms ? `used ${ago(t.last_used_at_ms)}` : "never used"}
                </td>
                <td>
                  <button
                    type="button"
                    onClick={() => act(`/api/tokens/${encodeURIComponent(t.name)}`)}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
