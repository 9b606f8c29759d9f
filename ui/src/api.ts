// The UI's only way to the server: the public REST API and its live streams, as the person
// signed in (a session cookie the page cannot read, and the CSRF token every change carries),
// or with an API token pasted instead (kept in this browser's localStorage).

const KEY = "boucle-token";

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

export function getToken(): string {
  return localStorage.getItem(KEY) ?? "";
}

export function setToken(token: string) {
  if (token) localStorage.setItem(KEY, token);
  else localStorage.removeItem(KEY);
}

// The signed-in person's CSRF token: given at sign-in and by GET /api/me, kept in memory only.
let csrf = "";
export function setCsrf(value: string) {
  csrf = value;
}

export function headers(extra?: HeadersInit): Headers {
  const h = new Headers(extra);
  const t = getToken();
  if (t) h.set("Authorization", `Bearer ${t}`);
  else if (csrf) h.set("X-CSRF-Token", csrf);
  return h;
}

// A JSON call; an answer that is not 2xx becomes an ApiError with the server's message.
export async function api<T>(path: string, method = "GET", body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: headers() };
  if (body !== undefined) {
    (init.headers as Headers).set("Content-Type", "application/json");
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const message = data?.error ?? `${res.status} ${res.statusText}`;
    if (res.status === 401)
      window.dispatchEvent(new CustomEvent("boucle-login", { detail: message }));
    throw new ApiError(res.status, message);
  }
  return data as T;
}

// A followed log: calls `onText` with each piece as it arrives, until the server ends it or
// `signal` aborts.
export async function follow(path: string, onText: (t: string) => void, signal: AbortSignal) {
  const res = await fetch(path, { headers: headers(), signal });
  if (!res.ok || !res.body) throw new ApiError(res.status, `${res.status} ${res.statusText}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    onText(decoder.decode(value, { stream: true }));
  }
}

// A blob saved by the browser (the API needs the token, so a plain link cannot fetch it).
export async function download(path: string, name: string) {
  const res = await fetch(path, { headers: headers() });
  if (!res.ok) throw new ApiError(res.status, `${res.status} ${res.statusText}`);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export interface Run {
  id: number;
  number: number;
  project: string;
  branch: string;
  ref: string;
  commit: string;
  subject: string;
  author: string;
  state: string;
  reason: string;
  trigger: string;
  queued_at_ms: number;
  started_at_ms: number | null;
  finished_at_ms: number | null;
  broken_since: { commit: string; author: string; subject: string; run: number } | null;
  culprit: { commit: string; author: string; subject: string } | null;
  pull_request?: PullRequest | null;
  qualifier?: string; // on a passed run: "flaky", "quarantined", both comma-separated, or ""
  jobs?: Job[];
}

// The pull (merge) request a run built: its head, or the head merged into the target.
export interface PullRequest {
  number: number;
  title: string;
  author: string;
  source: string;
  target: string;
  head: string;
  fork: boolean;
  merge: boolean;
  base: string;
}

export interface Job {
  name: string;
  state: string;
  reason: string;
  exit_code: number;
  attempts: number;
  qualifier?: string;
  started_at_ms: number | null;
  finished_at_ms: number | null;
  needs?: string[];
  artifacts?: { path: string; sha256: string; size: number }[];
  tests?: {
    tests: number;
    passed: number;
    failures: number;
    errors: number;
    skipped: number;
    failed: { suite: string; name: string; message: string; location: string }[];
    flaky?: string[]; // "suite › name": failed, then passed on the run's commit
    quarantined?: string[]; // failures that failed no job: the tests are quarantined
    retried?: { attempt: number; reason: string; agent: string; failed?: string[] }[];
  };
}

// An environment's performance check of a deploy, before anything was touched.
export interface PerfCheck {
  job: string;
  against: string;
  figure: string;
  max_regression: number;
  floor: number;
  run_id: number | null;
  baseline_version: string;
  baseline_run_id: number | null;
  interleave?: number;
  passed?: boolean;
  summary?: string;
  comparisons?: {
    name: string;
    baseline: number;
    candidate: number;
    change: number | null;
    p: number | null;
    regression: boolean;
    text: string;
  }[];
}

export interface Quarantine {
  id: number;
  test: string;
  reason: string;
  owner: string;
  created_at_ms: number;
  expires_at_ms: number;
  clean_runs: number;
  clean_needed: number;
  state: string;
  ended_at_ms: number | null;
  ended_by: string;
  ended_why: string;
}

// A test over the project's last runs (GET /api/projects/P/tests).
export interface TestSummary {
  id: number;
  suite: string;
  name: string;
  key: string;
  file: string;
  runs: number;
  passed: number;
  failed: number;
  skipped: number;
  flakes: number;
  last: string;
  last_run: number;
  median_ms: number;
  quarantine: Quarantine | null;
  cluster: { agent: string; text: string } | null;
}

export interface TestPoint {
  run_id: number;
  job: string;
  attempt: number;
  commit: string;
  branch: string;
  agent: string;
  at_ms: number;
  outcome: string;
  ms: number;
  message: string;
}

export interface Deploy {
  id: number;
  project: string;
  env: string;
  version: string;
  from_version: string | null;
  state: string;
  reason: string;
  rollback: boolean;
  dry_run: boolean;
  requested_by: string;
  requested_at_ms: number;
  started_at_ms: number | null;
  finished_at_ms: number | null;
  approved_by: string | null;
  smoke: { check: string; ok: boolean; detail: string; ms: number }[];
  verification: Verification | null;
  perf?: PerfCheck | null;
  cause?: string | null;
  forced?: string | null;
}

export interface ProbeVerdict {
  verdict: "pass" | "fail" | "no_data";
  at_ms: number;
  latency_ms: number;
  detail: string;
}

// The environment's `verify` after the smoke checks: what was watched and what it saw.
export interface Verification {
  state: "running" | "passed" | "failed" | "interrupted";
  for_ms: number;
  started_at_ms: number;
  ended_at_ms?: number;
  failure?: string;
  probes: {
    name: string;
    host: string;
    kind: string;
    source: "monitor" | "check";
    fail_after: number;
    passes: number;
    failures: number;
    no_data: number;
    failed: boolean;
    last: ProbeVerdict | null;
    evidence: ProbeVerdict[];
  }[];
}

export interface Environment {
  name: string;
  auto: boolean;
  after: string | null;
  approval: string[];
  four_eyes: boolean;
  blank?: boolean;
  schedule?: string[];
  perf?: {
    job: string;
    metric: string;
    max_regression: number;
    floor: number;
    name: string;
  } | null;
  deployers: string[];
  window: string | null;
  current: {
    version: string;
    since_ms: number;
    by: string;
    deploy: number;
    releases_behind: number;
  } | null;
  last_deploy?: Deploy;
}

export interface Release {
  version: string;
  commit: string;
  run: number;
  created_at_ms: number;
  created_by: string;
  previous_version: string | null;
  notes?: string;
  artifacts: { job: string; name: string; sha256: string; size: number }[];
}

export const finished = (state: string) => !["queued", "running", "waiting"].includes(state);

// GET /api/projects/P/monitors: each probe's state, last verdict, SLO and last hour.
export interface MonitorStatus {
  env: string;
  monitor: string;
  host: string;
  release: string;
  kind: string;
  every_ms: number;
  state: "up" | "failing" | "down" | "no_data" | "pending";
  verdict: string | null;
  at_ms: number | null;
  latency_ms: number | null;
  detail: string;
  streak: number;
  incident_id: number | null;
  slo: {
    availability: number | null;
    p95_ms: number | null;
    window_ms: number;
    measured_availability: number | null;
    measured_p95_ms: number | null;
    budget_left: number | null;
    samples: number;
    burn: "none" | "ticket" | "page";
  } | null;
  recent: {
    minute_ms: number;
    count: number;
    failures: number;
    p50_ms: number;
    p95_ms: number;
    p99_ms: number;
  }[];
}

export interface Incident {
  id: number;
  project: string;
  env: string;
  source: string;
  monitor: string | null;
  title: string;
  state: "open" | "resolved";
  release: string | null;
  deploy_id: number | null;
  opened_by: string;
  opened_at_ms: number;
  resolved_by: string | null;
  resolved_at_ms: number | null;
  timeline?: { at_ms: number; kind: string; actor: string; text: string }[];
}
