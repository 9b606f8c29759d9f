// Signing in: a person with their name and password (a session cookie the page cannot read),
// or anyone with an API token pasted (kept in localStorage), as scripts and the CLI use.
import { useState } from "preact/hooks";
import { api, setCsrf, setToken } from "../api";
import { ErrorBox } from "../components";

export function Login(props: { message?: string; onDone: () => void }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(props.message ?? null);
  const signIn = async (e: Event) => {
    e.preventDefault();
    setToken("");
    // The server checks one password at a time: one arriving meanwhile is asked to come back
    // in a second, which this does for the person, a few times.
    for (let attempt = 0; ; ++attempt) {
      try {
        const r = await api<{ csrf: string }>("/api/session", "POST", { name, password });
        setCsrf(r.csrf);
        setPassword("");
        props.onDone();
        return;
      } catch (err: any) {
        if (err.status === 429 && /at once/.test(err.message) && attempt < 5) {
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
        setError(err.status === 401 ? "Wrong name or password." : err.message);
        return;
      }
    }
  };
  const useToken = async (e: Event) => {
    e.preventDefault();
    setToken(value.trim());
    try {
      await api("/api/projects");
      props.onDone();
    } catch (err: any) {
      setToken("");
      setError(err.status === 401 ? "This token is unknown or revoked." : err.message);
    }
  };
  return (
    <section class="card login">
      <h1>Sign in to boucle</h1>
      <ErrorBox error={error} />
      <form onSubmit={signIn}>
        <label for="name">Name</label>
        <input
          id="name"
          autocomplete="username"
          value={name}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
          required
        />
        <label for="password">Password</label>
        <input
          id="password"
          type="password"
          autocomplete="current-password"
          value={password}
          onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
          required
        />
        <button class="primary" type="submit">
          Sign in
        </button>
      </form>
      <details class="token-login">
        <summary>Or use an API token</summary>
        <p class="muted">
          The first one is in <code>DATA/initial-admin-token</code>; an admin adds people with{" "}
          <code>boucle user add NAME --role developer</code>.
        </p>
        <form onSubmit={useToken}>
          <label for="token">API token</label>
          <input
            id="token"
            type="password"
            autocomplete="off"
            value={value}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
            required
          />
          <button type="submit">Use this token</button>
        </form>
      </details>
    </section>
  );
}
