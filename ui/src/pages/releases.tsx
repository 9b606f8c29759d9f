// Releases: versions with their notes, artifacts (size, hash) and where each one runs.
import { useEffect, useState } from "preact/hooks";
import { api, Environment, Release } from "../api";
import { Artifacts, ErrorBox, ProjectNav } from "../components";
import { short, when } from "../format";

export function ReleasesPage(props: { project: string }) {
  const q = encodeURIComponent(props.project);
  const [releases, setReleases] = useState<Release[] | null>(null);
  const [envs, setEnvs] = useState<Environment[]>([]);
  const [notes, setNotes] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    Promise.all([
      api<{ releases: Release[] }>(`/api/projects/${q}/releases?limit=100`),
      api<{ environments: Environment[] }>(`/api/projects/${q}/environments`),
    ])
      .then(([r, e]) => {
        setReleases(r.releases);
        setEnvs(e.environments);
      })
      .catch((e) => setError(e.message));
  }, [props.project]);
  const showNotes = async (v: string) => {
    try {
      const r = await api<Release>(`/api/projects/${q}/releases/${encodeURIComponent(v)}`);
      setNotes((n) => ({ ...n, [v]: r.notes ?? "" }));
    } catch (e: any) {
      setError(e.message);
    }
  };
  if (!releases) return error ? <ErrorBox error={error} /> : <p class="muted">Loading…</p>;
  return (
    <>
      <header class="page-head">
        <h1>{props.project}: releases</h1>
        <ProjectNav project={props.project} current="releases" />
        <ErrorBox error={error} />
      </header>
      {releases.length === 0 && <p class="muted">No release yet: boucle release {props.project}</p>}
      {releases.map((r) => {
        const where = envs.filter((e) => e.current?.version === r.version).map((e) => e.name);
        return (
          <article class="card release" key={r.version} aria-label={`release ${r.version}`}>
            <header class="card-head">
              <h2>{r.version}</h2>
              <span class="muted">
                <code>{short(r.commit)}</code> · <a href={`#/runs/${r.run}`}>run {r.run}</a> ·{" "}
                {r.created_by} · {when(r.created_at_ms)}
              </span>
            </header>
            <p>
              {where.length ? (
                <>
                  runs in <strong>{where.join(", ")}</strong>
                </>
              ) : (
                <span class="muted">not running anywhere</span>
              )}
            </p>
            <Artifacts
              items={r.artifacts.map((a) => ({
                ...a,
                url: `/api/projects/${q}/releases/${r.version}/artifacts/${encodeURIComponent(a.name)}`,
              }))}
            />
            {notes[r.version] === undefined ? (
              <button type="button" onClick={() => showNotes(r.version)}>
                Release notes
              </button>
            ) : (
              <pre class="notes">{notes[r.version]}</pre>
            )}
          </article>
        );
      })}
    </>
  );
}
