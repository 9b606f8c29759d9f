// The SQLite schema, as numbered migrations.
#include "store/sqlite/sqlite_connection.h"

namespace boucle::store::sqlite {

namespace {

// Numbered migrations: index i brings the schema from version i to i+1. Never edit one that
// has shipped; add a new one.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE projects (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  url TEXT NOT NULL,
  branches TEXT NOT NULL,
  webhook_secret TEXT NOT NULL,
  poll_seconds INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
  number INTEGER NOT NULL,
  ref TEXT NOT NULL,
  branch TEXT NOT NULL,
  commit_sha TEXT NOT NULL,
  author TEXT NOT NULL,
  subject TEXT NOT NULL,
  trigger TEXT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL,
  queued_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  UNIQUE (project, number)
);
CREATE INDEX runs_by_state ON runs (state, id);
CREATE INDEX runs_by_project ON runs (project, id);
CREATE TABLE jobs (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  state TEXT NOT NULL,
  exit_code INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  reason TEXT NOT NULL,
  tests TEXT NOT NULL,
  artifacts TEXT NOT NULL,
  PRIMARY KEY (run_id, name)
);
CREATE TABLE tokens (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
)sql",
    R"sql(
ALTER TABLE runs ADD COLUMN event TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN broken_since INTEGER;
CREATE INDEX runs_by_branch ON runs (project, branch, id);
)sql",
    R"sql(
CREATE TABLE branch_heads (
  project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
  branch TEXT NOT NULL,
  commit_sha TEXT NOT NULL,
  PRIMARY KEY (project, branch)
);
)sql",
    R"sql(
CREATE TABLE deliveries (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  event TEXT NOT NULL,
  channel TEXT NOT NULL,
  target TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  sent_at INTEGER
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
)sql",
    R"sql(
ALTER TABLE runs ADD COLUMN only_jobs TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN rerun_of INTEGER;
)sql",
    R"sql(
CREATE TABLE schedules (
  project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
  branch TEXT NOT NULL,
  crons TEXT NOT NULL,
  next_at INTEGER NOT NULL,
  PRIMARY KEY (project, branch)
);
CREATE INDEX schedules_due ON schedules (next_at);
)sql",
    R"sql(
ALTER TABLE runs ADD COLUMN bisect_of INTEGER;
ALTER TABLE runs ADD COLUMN suspects INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN culprit_commit TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN culprit_author TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN culprit_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN bisect_state TEXT NOT NULL DEFAULT '';
CREATE TABLE bisections (
  run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  commits TEXT NOT NULL,
  good INTEGER NOT NULL,
  bad INTEGER NOT NULL,
  probe INTEGER NOT NULL,
  probe_run INTEGER,
  steps INTEGER NOT NULL
);
)sql",
    R"sql(
ALTER TABLE projects ADD COLUMN credential_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN credential_user TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN credential_sealed TEXT NOT NULL DEFAULT '';
)sql",
    R"sql(
ALTER TABLE projects ADD COLUMN requeue_interrupted INTEGER NOT NULL DEFAULT 0;
)sql",
    R"sql(
CREATE TABLE releases (
  id INTEGER PRIMARY KEY,
  project TEXT NOT NULL,
  version TEXT NOT NULL,
  run_id INTEGER NOT NULL,
  commit_sha TEXT NOT NULL,
  previous_version TEXT NOT NULL,
  notes TEXT NOT NULL,
  artifacts TEXT NOT NULL,
  changes TEXT NOT NULL,
  pipeline TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (project, version)
);
CREATE TABLE env_values (
  project TEXT NOT NULL,
  env TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  secret INTEGER NOT NULL,
  PRIMARY KEY (project, env, key)
);
CREATE TABLE deploys (
  id INTEGER PRIMARY KEY,
  project TEXT NOT NULL,
  env TEXT NOT NULL,
  version TEXT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL,
  from_version TEXT NOT NULL,
  rollback INTEGER NOT NULL,
  dry_run INTEGER NOT NULL,
  requested_by TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  approved_by TEXT NOT NULL,
  approved_at INTEGER,
  smoke TEXT NOT NULL
);
CREATE INDEX deploys_by_env ON deploys (project, env, id);
CREATE INDEX deploys_by_state ON deploys (state, id);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  project TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX audit_by_project ON audit (project, id);
)sql",
    R"sql(
ALTER TABLE projects ADD COLUMN allow_process_jobs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN release_branches TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
ALTER TABLE tokens ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
CREATE INDEX tokens_by_name ON tokens (name);
ALTER TABLE releases ADD COLUMN branch TEXT NOT NULL DEFAULT '';
ALTER TABLE releases ADD COLUMN prerelease INTEGER NOT NULL DEFAULT 0;
CREATE TABLE hook_deliveries (
  project TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (project, delivery_id)
);
CREATE INDEX hook_deliveries_by_age ON hook_deliveries (received_at);
)sql",
    R"sql(
CREATE TABLE incidents (
  id INTEGER PRIMARY KEY,
  project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
  env TEXT NOT NULL,
  source TEXT NOT NULL,
  monitor TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  title TEXT NOT NULL,
  state TEXT NOT NULL,
  release TEXT NOT NULL,
  deploy_id INTEGER,
  opened_by TEXT NOT NULL,
  opened_at INTEGER NOT NULL,
  resolved_by TEXT NOT NULL DEFAULT '',
  resolved_at INTEGER
);
CREATE INDEX incidents_by_env ON incidents (project, env, id);
CREATE INDEX incidents_open ON incidents (project, fingerprint, state);
CREATE TABLE incident_events (
  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  text TEXT NOT NULL
);
CREATE INDEX incident_events_by_incident ON incident_events (incident_id, at);
)sql",
    // One open incident per alert: two deliveries of it at once cannot open two.
    R"sql(
CREATE UNIQUE INDEX incidents_one_open ON incidents (project, fingerprint)
  WHERE state = 'open' AND fingerprint != '';
)sql",
    // Monitors: small rows keyed for the reads they serve. Samples by time (rolled up and
    // pruned a minute at a time, across series); rollups by series (a monitor's history).
    R"sql(
CREATE TABLE monitor_series (
  id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: samples and rollups name it
  project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
  env TEXT NOT NULL,
  monitor TEXT NOT NULL,
  host TEXT NOT NULL,
  release TEXT NOT NULL,
  UNIQUE (project, env, monitor, host, release)
);
CREATE TABLE monitor_samples (
  at INTEGER NOT NULL,
  series INTEGER NOT NULL,
  verdict INTEGER NOT NULL,
  latency INTEGER NOT NULL,
  PRIMARY KEY (at, series)
) WITHOUT ROWID;
CREATE TABLE monitor_rollups (
  series INTEGER NOT NULL,
  minute INTEGER NOT NULL,
  count INTEGER NOT NULL,
  failures INTEGER NOT NULL,
  no_data INTEGER NOT NULL,
  slow INTEGER NOT NULL,
  p50 INTEGER NOT NULL,
  p95 INTEGER NOT NULL,
  p99 INTEGER NOT NULL,
  PRIMARY KEY (series, minute)
) WITHOUT ROWID;
CREATE TABLE monitor_rollup_mark (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  done_until INTEGER NOT NULL
);
)sql",
    // A deploy's verification after its smoke checks: what was watched and what it saw.
    R"sql(
ALTER TABLE deploys ADD COLUMN verification TEXT NOT NULL DEFAULT '';
)sql",
    // Servers sharing the database, and which of them runs each run and deploy.
    R"sql(
CREATE TABLE servers (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  seen_at INTEGER NOT NULL
);
ALTER TABLE runs ADD COLUMN server TEXT NOT NULL DEFAULT '';
ALTER TABLE deploys ADD COLUMN server TEXT NOT NULL DEFAULT '';
)sql",
    // Remote agents and the jobs they claim, leased with an epoch.
    R"sql(
CREATE TABLE agent_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: an agent's stale report names it
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  project TEXT NOT NULL,
  job TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  labels TEXT NOT NULL,
  spec TEXT NOT NULL,
  log_path TEXT NOT NULL,
  state TEXT NOT NULL,
  agent TEXT NOT NULL DEFAULT '',
  epoch INTEGER NOT NULL DEFAULT 0,
  lease_until INTEGER NOT NULL DEFAULT 0,
  log_size INTEGER NOT NULL DEFAULT 0,
  cancel INTEGER NOT NULL DEFAULT 0,
  result TEXT NOT NULL DEFAULT '',
  uploads TEXT NOT NULL DEFAULT '',  -- blobs its agent uploaded for it, one hash a line
  queued_at INTEGER NOT NULL,
  started_at INTEGER NOT NULL DEFAULT 0,
  ended_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX agent_jobs_by_state ON agent_jobs (state, id);
CREATE INDEX agent_jobs_by_run ON agent_jobs (run_id, state);
-- A job's runs-on labels, one per row: a claim finds the oldest job whose labels the agent
-- has in one query, however many jobs wait for labels no agent has.
CREATE TABLE agent_job_labels (
  job_id INTEGER NOT NULL REFERENCES agent_jobs(id) ON DELETE CASCADE,
  label TEXT NOT NULL,
  PRIMARY KEY (job_id, label)
);
CREATE TABLE agents (
  name TEXT PRIMARY KEY,
  labels TEXT NOT NULL,
  version TEXT NOT NULL,
  host TEXT NOT NULL,
  capacity INTEGER NOT NULL,
  seen_at INTEGER NOT NULL,
  draining INTEGER NOT NULL DEFAULT 0
);
)sql",
    // An agent token's pins: the labels it may claim with and the projects it may claim for.
    R"sql(
ALTER TABLE tokens ADD COLUMN agent_labels TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN agent_projects TEXT NOT NULL DEFAULT '';
)sql",
    // What the leader's monitors said last, for the servers that do not probe (no revision
    // trigger: it changes every few seconds and no cached answer holds it).
    R"sql(
CREATE TABLE monitor_snapshot (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  body TEXT NOT NULL,
  at INTEGER NOT NULL
);
)sql",
    // Pull (merge) requests: what a run builds of one, and what a project builds of them; the
    // forge a project's commit statuses go to.
    R"sql(
ALTER TABLE runs ADD COLUMN pr_number INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN pr_title TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pr_author TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pr_source TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pr_target TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pr_head TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pr_ref TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pr_base TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pr_fork INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN pr_merge INTEGER NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN request_builds TEXT NOT NULL DEFAULT 'head';
ALTER TABLE projects ADD COLUMN forge TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN forge_api TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN forge_repo TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN forge_token_sealed TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN fork_secrets INTEGER NOT NULL DEFAULT 0;
)sql",
    // People: accounts with Argon2id password hashes, their sign-in sessions (only the
    // session's hash kept), and the tokens they made for themselves.
    R"sql(
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  roles TEXT NOT NULL,
  password_hash TEXT NOT NULL DEFAULT '',
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE sessions (
  hash TEXT PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  seen_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  address TEXT NOT NULL DEFAULT '',
  agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_by_user ON sessions (user_name);
ALTER TABLE tokens ADD COLUMN owner TEXT NOT NULL DEFAULT '';
)sql",
    // Every test case of every job's attempt: names once per project, each attempt's results
    // packed in one row (store/sql/packed_results.h), failures with their message; tests seen
    // to fail and pass on one commit; quarantines; a run's and a job's qualifier ("flaky",
    // "quarantined"); the project's answer to a red branch; jobs' performance measurements, runs
    // measuring a release for a deploy, and a deploy's performance check.
    R"sql(
CREATE TABLE test_cases (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
  suite TEXT NOT NULL,
  name TEXT NOT NULL,
  file TEXT NOT NULL DEFAULT '',
  first_seen INTEGER NOT NULL,
  UNIQUE (project, suite, name)
);
CREATE TABLE test_executions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  project TEXT NOT NULL,
  job TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  commit_sha TEXT NOT NULL,
  branch TEXT NOT NULL,
  agent TEXT NOT NULL DEFAULT '',
  at INTEGER NOT NULL,
  tests INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  skipped INTEGER NOT NULL,
  results TEXT NOT NULL,
  UNIQUE (run_id, job, attempt)
);
CREATE INDEX test_executions_by_project ON test_executions (project, id);
CREATE INDEX test_executions_by_commit ON test_executions (project, commit_sha);
CREATE TABLE test_failures (
  execution INTEGER NOT NULL REFERENCES test_executions(id) ON DELETE CASCADE,
  test INTEGER NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL,
  location TEXT NOT NULL,
  PRIMARY KEY (execution, test)
);
CREATE INDEX test_failures_by_test ON test_failures (test, execution);
CREATE TABLE test_flakes (
  project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
  test INTEGER NOT NULL,
  run_id INTEGER NOT NULL,
  commit_sha TEXT NOT NULL,
  how TEXT NOT NULL,
  agent TEXT NOT NULL DEFAULT '',
  at INTEGER NOT NULL,
  PRIMARY KEY (test, run_id)
);
CREATE INDEX test_flakes_by_project ON test_flakes (project, at);
CREATE TABLE test_quarantines (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
  test INTEGER NOT NULL REFERENCES test_cases(id) ON DELETE CASCADE,
  reason TEXT NOT NULL,
  owner TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  clean_needed INTEGER NOT NULL,
  clean_runs INTEGER NOT NULL DEFAULT 0,
  last_run INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'active',
  ended_at INTEGER,
  ended_by TEXT NOT NULL DEFAULT '',
  ended_why TEXT NOT NULL DEFAULT ''
);
CREATE INDEX test_quarantines_by_project ON test_quarantines (project, state);
ALTER TABLE runs ADD COLUMN qualifier TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN qualifier TEXT NOT NULL DEFAULT '';
CREATE TABLE benchmarks (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  project TEXT NOT NULL,
  job TEXT NOT NULL,
  name TEXT NOT NULL,
  commit_sha TEXT NOT NULL,
  source TEXT NOT NULL,
  figures TEXT NOT NULL,
  samples TEXT NOT NULL,
  PRIMARY KEY (run_id, job, name)
);
CREATE INDEX benchmarks_by_commit ON benchmarks (project, commit_sha);
ALTER TABLE runs ADD COLUMN perf_env TEXT NOT NULL DEFAULT '';
ALTER TABLE deploys ADD COLUMN perf TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN on_red TEXT NOT NULL DEFAULT '';
)sql",
    // A deploy's cause (a schedule) and the reason a rollback was forced past an
    // irreversible migration; an interleaved measuring run's rounds and releases; the
    // migrations applied in each environment.
    R"sql(
ALTER TABLE deploys ADD COLUMN cause TEXT NOT NULL DEFAULT '';
ALTER TABLE deploys ADD COLUMN forced TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN perf_ab TEXT NOT NULL DEFAULT '';
CREATE TABLE env_migrations (
  project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
  env TEXT NOT NULL,
  release_id INTEGER NOT NULL,
  version TEXT NOT NULL,
  applied_at INTEGER NOT NULL,
  PRIMARY KEY (project, env, release_id)
);
)sql",

};

}  // namespace

std::span<const char* const> migrations() {
  return kMigrations;
}

}  // namespace boucle::store::sqlite
