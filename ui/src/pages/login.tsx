// The API token this browser uses (later: users). Kept in localStorage, checked at once.
import { useState } from "preact/hooks";
import { api, setToken } from "../api";
import { ErrorBox } from "../components";

export function Login(props: { message?: string; onDone: () => void }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(props.message ?? null);
  const submit = async (e: Event) => {
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
      <p class="muted">
        Paste an API token: the first one is in <code>DATA/initial-admin-token</code>; more with{" "}
        <code>boucle token add NAME --role developer</code>.
      </p>
      <ErrorBox error={error} />
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <input
          id="token"
          type="password"
          autocomplete="off"
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          required
        />
        <button class="primary" type="submit">
          Sign in
        </button>
      </form>
    </section>
  );
}
