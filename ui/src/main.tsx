// The single-page application: a hash router (links work when shared, the server serves one
// page), the header, and a sign-in prompt whenever the API answers 401.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, getToken, setCsrf, setToken } from "./api";
import { AgentsPage } from "./pages/agents";
import { AuditPage } from "./pages/audit";
import { DoraPage } from "./pages/dora";
import { TestsPage } from "./pages/tests";
import { EnvironmentsPage } from "./pages/environments";
import { IncidentsPage } from "./pages/incidents";
import { AccountPage } from "./pages/account";
import { Login } from "./pages/login";
import { Overview } from "./pages/overview";
import { ReleasesPage } from "./pages/releases";
import { RunPage } from "./pages/run";
import { RunsPage } from "./pages/runs";
import { Me, MeContext } from "./session";
import "./style.css";

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return hash;
}

function Page({ hash }: { hash: string }) {
  const [path, query] = hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query ?? "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const lineOf = (s?: string) => (s && /^L\d+$/.test(s) ? Number(s.slice(1)) : undefined);
  if (parts[0] === "runs" && parts[1]) {
    const job = parts[2] && !lineOf(parts[2]) ? parts[2] : undefined;
    return <RunPage key={parts[1]} id={Number(parts[1])} job={job} line={lineOf(parts[3])} />;
  }
  if (parts[0] === "projects" && parts[1] && parts[2] === "environments") {
    return (
      <EnvironmentsPage
        project={parts[1]}
        deploy={parts[3] === "deploys" ? Number(parts[4]) : undefined}
      />
    );
  }
  if (parts[0] === "projects" && parts[1] && parts[2] === "runs") {
    return <RunsPage project={parts[1]} />;
  }
  if (parts[0] === "projects" && parts[1] && parts[2] === "releases") {
    return <ReleasesPage project={parts[1]} />;
  }
  if (parts[0] === "projects" && parts[1] && parts[2] === "incidents") {
    return <IncidentsPage project={parts[1]} id={parts[3] ? Number(parts[3]) : undefined} />;
  }
  if (parts[0] === "projects" && parts[1] && parts[2] === "tests") {
    return <TestsPage project={parts[1]} test={params.get("test") ?? undefined} />;
  }
  if (parts[0] === "projects" && parts[1] && parts[2] === "dora") {
    return (
      <DoraPage
        project={parts[1]}
        env={params.get("env") ?? undefined}
        since={params.get("since") ?? undefined}
      />
    );
  }
  if (parts[0] === "agents") return <AgentsPage />;
  if (parts[0] === "account") return <AccountPage />;
  if (parts[0] === "audit") return <AuditPage project={params.get("project") ?? undefined} />;
  return <Overview />;
}

function App() {
  const hash = useHash();
  // With a token, signed in; else a session cookie may say so: /api/me tells (and gives the
  // session's CSRF token after a reload).
  const [signedIn, setSignedIn] = useState<boolean | null>(getToken() !== "" ? true : null);
  const [message, setMessage] = useState<string | undefined>();
  const [me, setMe] = useState<Me | null>(null);
  useEffect(() => {
    if (signedIn === false) return setMe(null);
    fetch("/api/me", { headers: getToken() ? { Authorization: `Bearer ${getToken()}` } : {} })
      .then((r) => (r.ok ? r.json() : null))
      .then((m: Me | null) => {
        if (!m || !m.name) {
          setMe(null);
          setSignedIn(false);
          return;
        }
        if (m.csrf) setCsrf(m.csrf);
        setMe(m);
        setSignedIn(true);
      })
      .catch(() => setSignedIn(false));
  }, [signedIn]);
  useEffect(() => {
    const on = (e: Event) => {
      setMessage((e as CustomEvent).detail);
      setSignedIn(false);
    };
    window.addEventListener("boucle-login", on);
    return () => window.removeEventListener("boucle-login", on);
  }, []);
  return (
    <MeContext.Provider value={me}>
      <header class="top">
        <a href="#/" class="brand">
          ◎ boucle
        </a>
        <nav aria-label="main">
          <a href="#/">Overview</a>
          <a href="#/agents">Agents</a>
          <a href="#/audit">Audit</a>
        </nav>
        {me && (
          <a class="who" href="#/account">
            {me.name} ({me.roles.join(", ")})
          </a>
        )}
        {signedIn === true && (
          <button
            type="button"
            class="quiet"
            onClick={async () => {
              if (me?.session) await api("/api/session", "DELETE").catch(() => {});
              setToken("");
              setCsrf("");
              setMessage(undefined);
              setSignedIn(false);
            }}
          >
            Sign out
          </button>
        )}
      </header>
      <main>
        {signedIn === true && <Page hash={hash} />}
        {signedIn === false && (
          <Login
            message={message}
            onDone={() => {
              setMessage(undefined);
              setSignedIn(null); // asks /api/me who signed in
            }}
          />
        )}
      </main>
    </MeContext.Provider>
  );
}

render(<App />, document.getElementById("app")!);
