// Pieces every page uses: the state badge (an icon and a word, never colour alone), errors,
// and a confirmation dialog that names exactly what will change.
import { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { download, Run } from "./api";
import { bytes } from "./format";

const ICONS: Record<string, string> = {
  passed: "✓",
  succeeded: "✓",
  failed: "✗",
  error: "✗",
  active: "‖",
  released: "✓",
  expired: "○",
  rolled_back: "↶",
  cancelled: "⊘",
  interrupted: "⚠",
  running: "●",
  queued: "◌",
  waiting: "‖",
  skipped: "–",
  pending: "◌",
  open: "!",
  resolved: "✓",
  online: "●",
  draining: "‖",
  offline: "○",
};

export function Badge({ state, qualifier }: { state: string; qualifier?: string }) {
  // A pass that hides something says what: "passed (flaky)", "passed (quarantined)".
  const q = state === "passed" && qualifier ? qualifier.split(",").join(", ") : "";
  return (
    <span class={`badge s-${state}${q ? " qualified" : ""}`} data-state={state}>
      <span aria-hidden="true">{ICONS[state] ?? "•"}</span> {state.replace("_", " ")}
      {q && <span class="qualifier"> ({q})</span>}
    </span>
  );
}

// Where a run's commit came from: its branch, or the pull request it built (which, from
// where to where, and whether it is the merge or a fork's).
export function Source({ run }: { run: Run }) {
  const pr = run.pull_request;
  if (!pr) return <>{run.branch || run.ref}</>;
  return (
    <span class="pr" title={`${pr.title} — ${pr.author}`}>
      <span class="pr-tag">PR {pr.number}</span> {pr.source} → {pr.target}
      {pr.merge && <span class="muted"> (merge)</span>}
      {pr.fork && <span class="pr-fork"> fork</span>}
    </span>
  );
}

export function ErrorBox({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}

export function Confirm(props: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  return (
    <dialog ref={dialog} class="confirm" onClose={props.onCancel} aria-label={props.title}>
      <h2>{props.title}</h2>
      <div>{props.children}</div>
      <div class="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" class="primary" onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

// Artifacts with size and SHA-256, each downloaded through the API (with the token) on click.
export function Artifacts(props: {
  items: { name: string; sha256: string; size: number; url: string }[];
}) {
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <table class="artifacts">
        <tbody>
          {props.items.map((a) => (
            <tr key={a.url}>
              <td>
                <button
                  type="button"
                  class="link"
                  onClick={() =>
                    download(a.url, a.name.split("/").pop()!).catch((e) => setError(e.message))
                  }
                >
                  {a.name}
                </button>
              </td>
              <td>{bytes(a.size)}</td>
              <td>
                <code title={a.sha256}>sha256 {a.sha256.slice(0, 16)}…</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <ErrorBox error={error} />
    </>
  );
}

// A project's pages, the current one marked.
export function ProjectNav({ project, current }: { project: string; current: string }) {
  const q = encodeURIComponent(project);
  const pages: [string, string][] = [
    ["runs", "Runs"],
    ["environments", "Environments"],
    ["releases", "Releases"],
    ["incidents", "Incidents"],
    ["tests", "Tests"],
    ["dora", "DORA"],
  ];
  return (
    <nav class="links project-nav" aria-label={`${project}'s pages`}>
      {pages.map(([path, label]) => (
        <a
          key={path}
          href={`#/projects/${q}/${path}`}
          aria-current={path === current ? "page" : undefined}
        >
          {label}
        </a>
      ))}
      <a href={`#/audit?project=${q}`}>Audit</a>
    </nav>
  );
}
