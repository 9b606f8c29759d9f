// The SQLite backend of the Store: the embedded default.
#include "store/sqlite/sqlite_store.h"

#include <chrono>
#include <mutex>

#include "core/clock.h"
#include "core/encoding.h"

namespace boucle::store {

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
};

std::string joinLines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

constexpr const char* kProjectColumns =
    "id, name, url, branches, webhook_secret, poll_seconds, created_at, credential_kind, "
    "credential_user, credential_sealed, requeue_interrupted, allow_process_jobs, "
    "release_branches";

constexpr const char* kRunColumns =
    "id, project, number, ref, branch, commit_sha, author, subject, trigger, state, reason, "
    "queued_at, started_at, finished_at, event, broken_since, only_jobs, rerun_of, bisect_of, "
    "suspects, culprit_commit, culprit_author, culprit_subject, bisect_state";

Run readRun(const Statement& s) {
  Run r;
  r.id = s.integer(0);
  r.project = s.text(1);
  r.number = s.integer(2);
  r.ref = s.text(3);
  r.branch = s.text(4);
  r.commit = s.text(5);
  r.author = s.text(6);
  r.subject = s.text(7);
  r.trigger = s.text(8);
  r.state = parseRunState(s.text(9)).value_or(RunState::kInterrupted);
  r.reason = s.text(10);
  r.queuedAt = s.integer(11);
  r.startedAt = optInt(s, 12);
  r.finishedAt = optInt(s, 13);
  r.event = s.text(14);
  r.brokenSince = optInt(s, 15);
  r.onlyJobs = split(s.text(16), '\n');
  r.rerunOf = optInt(s, 17);
  r.bisectOf = optInt(s, 18);
  r.suspects = static_cast<int>(s.integer(19));
  r.culpritCommit = s.text(20);
  r.culpritAuthor = s.text(21);
  r.culpritSubject = s.text(22);
  r.bisectState = s.text(23);
  return r;
}

JobRecord readJob(const Statement& s) {
  JobRecord j;
  j.runId = s.integer(0);
  j.name = s.text(1);
  j.state = s.text(2);
  j.exitCode = static_cast<int>(s.integer(3));
  j.attempts = static_cast<int>(s.integer(4));
  j.startedAt = optInt(s, 5);
  j.finishedAt = optInt(s, 6);
  j.reason = s.text(7);
  j.testsJson = s.text(8);
  j.artifactsJson = s.text(9);
  return j;
}

Bisection readBisection(const Statement& s) {
  Bisection b;
  b.runId = s.integer(0);
  b.commits = split(s.text(1), '\n');
  b.good = static_cast<int>(s.integer(2));
  b.bad = static_cast<int>(s.integer(3));
  b.probe = static_cast<int>(s.integer(4));
  b.probeRun = optInt(s, 5);
  b.steps = static_cast<int>(s.integer(6));
  return b;
}

Project readProject(const Statement& s) {
  Project p;
  p.id = s.integer(0);
  p.name = s.text(1);
  p.url = s.text(2);
  p.branches = split(s.text(3), '\n');
  p.webhookSecret = s.text(4);
  p.pollSeconds = static_cast<int>(s.integer(5));
  p.createdAt = s.integer(6);
  p.credentialKind = s.text(7);
  p.credentialUser = s.text(8);
  p.credentialSealed = s.text(9);
  p.requeueInterrupted = s.integer(10) != 0;
  p.allowProcessJobs = s.integer(11) != 0;
  p.releaseBranches = split(s.text(12), '\n');
  return p;
}

}  // namespace

Status SqliteStore::migrate() {
  std::lock_guard lock(mu_);
  auto q = db_.prepare("PRAGMA user_version");
  if (!q.ok()) return q.status();
  auto row = q->step();
  if (!row.ok()) return row.status();
  int64_t version = q->integer(0);
  int64_t target = std::size(kMigrations);
  if (version > target) {
    return Status::Invalid("the database's schema (version " + std::to_string(version) +
                           ") is newer than this boucle knows (" + std::to_string(target) +
                           "): upgrade boucle");
  }
  for (int64_t v = version; v < target; ++v) {
    Status st = db_.transaction([&] {
      if (auto s = db_.exec(kMigrations[v]); !s.ok()) return s;
      return db_.exec("PRAGMA user_version = " + std::to_string(v + 1));
    });
    if (!st.ok())
      return Status::Internal("migration " + std::to_string(v + 1) + ": " + st.message());
  }
  return Status::Ok();
}

Result<Project> SqliteStore::addProject(const Project& p) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO projects (name, url, branches, webhook_secret, poll_seconds, created_at, "
      "credential_kind, credential_user, credential_sealed, requeue_interrupted, "
      "allow_process_jobs, release_branches) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  Project out = p;
  out.createdAt = nowMs();
  s->bind(1, p.name).bind(2, p.url).bind(3, joinLines(p.branches)).bind(4, p.webhookSecret);
  s->bind(5, static_cast<int64_t>(p.pollSeconds)).bind(6, out.createdAt);
  s->bind(7, p.credentialKind).bind(8, p.credentialUser).bind(9, p.credentialSealed);
  s->bind(10, static_cast<int64_t>(p.requeueInterrupted ? 1 : 0));
  s->bind(11, static_cast<int64_t>(p.allowProcessJobs ? 1 : 0));
  s->bind(12, joinLines(p.releaseBranches));
  if (auto st = s->run(); !st.ok()) {
    if (st.code() == Code::kConflict) return Status::Conflict("project " + p.name + " exists");
    return st;
  }
  out.id = db_.lastInsertId();
  return out;
}

Result<std::vector<Project>> SqliteStore::listProjects() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kProjectColumns + " FROM projects ORDER BY name");
  if (!s.ok()) return s.status();
  return sqlite::readAll(*s, readProject);
}

Result<Project> SqliteStore::getProject(std::string_view name) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kProjectColumns + " FROM projects WHERE name = ?");
  if (!s.ok()) return s.status();
  s->bind(1, name);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no project named " + std::string(name));
  return readProject(*s);
}

Status SqliteStore::removeProject(std::string_view name) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("DELETE FROM projects WHERE name = ?");
  if (!s.ok()) return s.status();
  s->bind(1, name);
  if (auto st = s->run(); !st.ok()) return st;
  if (db_.changes() == 0) return Status::NotFound("no project named " + std::string(name));
  return Status::Ok();
}

Status SqliteStore::setProjectCredential(std::string_view name, std::string_view kind,
                                         std::string_view user, std::string_view sealed) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "UPDATE projects SET credential_kind = ?, credential_user = ?, credential_sealed = ? "
      "WHERE name = ?");
  if (!s.ok()) return s.status();
  s->bind(1, kind).bind(2, user).bind(3, sealed).bind(4, name);
  if (auto st = s->run(); !st.ok()) return st;
  if (db_.changes() == 0) return Status::NotFound("no project named " + std::string(name));
  return Status::Ok();
}

Status SqliteStore::updateProjectSettings(const Project& p) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "UPDATE projects SET branches = ?, poll_seconds = ?, requeue_interrupted = ?, "
      "allow_process_jobs = ?, release_branches = ? WHERE name = ?");
  if (!s.ok()) return s.status();
  s->bind(1, joinLines(p.branches)).bind(2, static_cast<int64_t>(p.pollSeconds));
  s->bind(3, static_cast<int64_t>(p.requeueInterrupted ? 1 : 0));
  s->bind(4, static_cast<int64_t>(p.allowProcessJobs ? 1 : 0));
  s->bind(5, joinLines(p.releaseBranches)).bind(6, p.name);
  if (auto st = s->run(); !st.ok()) return st;
  if (db_.changes() == 0) return Status::NotFound("no project named " + p.name);
  return Status::Ok();
}

Result<std::optional<std::string>> SqliteStore::lastSeenHead(std::string_view project,
                                                             std::string_view branch) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT commit_sha FROM branch_heads WHERE project = ? AND branch = ?");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, branch);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(s->text(0));
}

Result<std::map<std::string, int64_t>> SqliteStore::firstBuilds(std::string_view project) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT commit_sha, MIN(started_at) FROM runs WHERE project = ? AND commit_sha != '' AND "
      "started_at IS NOT NULL GROUP BY commit_sha");
  if (!s.ok()) return s.status();
  s->bind(1, project);
  std::map<std::string, int64_t> out;
  for (;;) {
    auto row = s->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out[s->text(0)] = s->integer(1);
  }
  return out;
}

Result<bool> SqliteStore::recordHookDelivery(std::string_view project, std::string_view deliveryId,
                                             int64_t atMs) {
  std::lock_guard lock(mu_);
  bool fresh = false;
  Status st = db_.transaction([&]() -> Status {
    auto old = db_.prepare("DELETE FROM hook_deliveries WHERE received_at < ?");
    if (!old.ok()) return old.status();
    old->bind(1, atMs - 7LL * 24 * 3600 * 1000);
    if (auto e = old->run(); !e.ok()) return e;
    auto s = db_.prepare(
        "INSERT OR IGNORE INTO hook_deliveries (project, delivery_id, received_at) "
        "VALUES (?, ?, ?)");
    if (!s.ok()) return s.status();
    s->bind(1, project).bind(2, deliveryId).bind(3, atMs);
    if (auto e = s->run(); !e.ok()) return e;
    fresh = db_.changes() > 0;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return fresh;
}

Status SqliteStore::forgetHookDelivery(std::string_view project, std::string_view deliveryId) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("DELETE FROM hook_deliveries WHERE project = ? AND delivery_id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, deliveryId);
  return s->run();
}

// Inserts `out` as a new queued run with the project's next number; mu_ held, in a transaction.
Status SqliteStore::insertRun(Run& out) {
  out.queuedAt = nowMs();
  out.state = RunState::kQueued;
  auto n = db_.prepare("SELECT COALESCE(MAX(number), 0) + 1 FROM runs WHERE project = ?");
  if (!n.ok()) return n.status();
  n->bind(1, out.project);
  auto row = n->step();
  if (!row.ok()) return row.status();
  out.number = n->integer(0);
  auto s = db_.prepare(
      "INSERT INTO runs (project, number, ref, branch, commit_sha, author, subject, trigger, "
      "state, reason, queued_at, only_jobs, rerun_of, bisect_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
      "?, ?, ?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  s->bind(1, out.project).bind(2, out.number).bind(3, out.ref).bind(4, out.branch);
  s->bind(5, out.commit).bind(6, out.author).bind(7, out.subject).bind(8, out.trigger);
  s->bind(9, toString(out.state)).bind(10, out.reason).bind(11, out.queuedAt);
  s->bind(12, joinLines(out.onlyJobs)).bind(13, out.rerunOf).bind(14, out.bisectOf);
  if (auto e = s->run(); !e.ok()) return e;
  out.id = db_.lastInsertId();
  return Status::Ok();
}

Result<Run> SqliteStore::createRun(const Run& r) {
  std::lock_guard lock(mu_);
  Run out = r;
  if (auto st = db_.transaction([&] { return insertRun(out); }); !st.ok()) return st;
  if (observer_) observer_->runChanged(out);
  return out;
}

Result<std::optional<Run>> SqliteStore::createRunForNewHead(const Run& r) {
  std::lock_guard lock(mu_);
  std::optional<Run> out;
  Status st = db_.transaction([&]() -> Status {
    auto seen = db_.prepare("SELECT commit_sha FROM branch_heads WHERE project = ? AND branch = ?");
    if (!seen.ok()) return seen.status();
    seen->bind(1, r.project).bind(2, r.branch);
    auto row = seen->step();
    if (!row.ok()) return row.status();
    if (*row && seen->text(0) == r.ref) return Status::Ok();
    auto head = db_.prepare(
        "INSERT OR REPLACE INTO branch_heads (project, branch, commit_sha) VALUES (?, ?, ?)");
    if (!head.ok()) return head.status();
    head->bind(1, r.project).bind(2, r.branch).bind(3, r.ref);
    if (auto e = head->run(); !e.ok()) return e;
    Run run = r;
    if (auto e = insertRun(run); !e.ok()) return e;
    out = std::move(run);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (out && observer_) observer_->runChanged(*out);
  return out;
}

Result<Run> SqliteStore::getRun(int64_t id) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, id);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no run " + std::to_string(id));
  return readRun(*s);
}

Status SqliteStore::updateRun(const Run& r) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "UPDATE runs SET branch = ?, commit_sha = ?, author = ?, subject = ?, state = ?, "
      "reason = ?, started_at = ?, finished_at = ?, event = ?, broken_since = ?, suspects = ?, "
      "culprit_commit = ?, culprit_author = ?, culprit_subject = ?, bisect_state = ? WHERE id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, r.branch).bind(2, r.commit).bind(3, r.author).bind(4, r.subject);
  s->bind(5, toString(r.state)).bind(6, r.reason).bind(7, r.startedAt).bind(8, r.finishedAt);
  s->bind(9, r.event).bind(10, r.brokenSince).bind(11, static_cast<int64_t>(r.suspects));
  s->bind(12, r.culpritCommit).bind(13, r.culpritAuthor).bind(14, r.culpritSubject);
  s->bind(15, r.bisectState).bind(16, r.id);
  if (auto st = s->run(); !st.ok()) return st;
  if (db_.changes() == 0) return Status::NotFound("no run " + std::to_string(r.id));
  if (observer_) observer_->runChanged(r);
  return Status::Ok();
}

Result<std::vector<Run>> SqliteStore::listRuns(std::string_view project, int limit,
                                               int64_t beforeId) {
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kRunColumns +
                    " FROM runs WHERE (? = '' OR project = ?)" +
                    " AND (? = 0 OR id < ?) ORDER BY id DESC LIMIT ?";
  auto s = db_.prepare(sql);
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, project).bind(3, beforeId).bind(4, beforeId);
  s->bind(5, static_cast<int64_t>(limit));
  return sqlite::readAll(*s, readRun);
}

Result<std::optional<Run>> SqliteStore::lastJudgedRun(std::string_view project,
                                                      std::string_view branch, int64_t beforeId) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kRunColumns +
                       " FROM runs WHERE project = ? AND branch = ? AND id < ? AND state IN "
                       "('passed', 'failed') AND only_jobs = '' AND bisect_of IS NULL "
                       "ORDER BY id DESC LIMIT 1");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, branch).bind(3, beforeId);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Run>();
  return std::optional<Run>(readRun(*s));
}

Result<std::optional<Run>> SqliteStore::claimNextQueued(int64_t nowMs) {
  std::lock_guard lock(mu_);
  std::optional<Run> out;
  // A run asked for by tag or commit has no branch yet: its ref stands in for one.
  Status st = db_.transaction([&]() -> Status {
    auto s = db_.prepare(std::string("SELECT ") + kRunColumns +
                         " FROM runs q WHERE state = 'queued' AND NOT EXISTS (SELECT 1 FROM runs "
                         "r WHERE r.state = 'running' AND r.project = q.project AND r.branch = "
                         "(CASE WHEN q.branch = '' THEN q.ref ELSE q.branch END)) "
                         "ORDER BY id LIMIT 1");
    if (!s.ok()) return s.status();
    auto row = s->step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
    Run r = readRun(*s);
    if (r.branch.empty()) r.branch = r.ref;
    r.state = RunState::kRunning;
    r.startedAt = nowMs;
    auto u =
        db_.prepare("UPDATE runs SET state = 'running', started_at = ?, branch = ? WHERE id = ?");
    if (!u.ok()) return u.status();
    u->bind(1, nowMs).bind(2, r.branch).bind(3, r.id);
    if (auto e = u->run(); !e.ok()) return e;
    out = std::move(r);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (out && observer_) observer_->runChanged(*out);
  return out;
}

Result<std::vector<Run>> SqliteStore::interruptUnfinished(std::string_view reason) {
  std::lock_guard lock(mu_);
  std::vector<Run> out;
  Status st = db_.transaction([&]() -> Status {
    auto q = db_.prepare(std::string("SELECT ") + kRunColumns +
                         " FROM runs WHERE state = 'running' ORDER BY id");
    if (!q.ok()) return q.status();
    auto rows = sqlite::readAll(*q, readRun);
    if (!rows.ok()) return rows.status();
    out = std::move(*rows);
    int64_t now = nowMs();
    auto s = db_.prepare(
        "UPDATE runs SET state = 'interrupted', reason = ?, finished_at = ? WHERE state = "
        "'running'");
    if (!s.ok()) return s.status();
    s->bind(1, reason).bind(2, now);
    if (auto e = s->run(); !e.ok()) return e;
    for (auto& r : out) {
      r.state = RunState::kInterrupted;
      r.reason = std::string(reason);
      r.finishedAt = now;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  for (const auto& r : out) {
    if (observer_) observer_->runChanged(r);
  }
  return out;
}

Status SqliteStore::saveBisection(const Bisection& b) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT OR REPLACE INTO bisections (run_id, commits, good, bad, probe, probe_run, steps) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  s->bind(1, b.runId).bind(2, joinLines(b.commits)).bind(3, static_cast<int64_t>(b.good));
  s->bind(4, static_cast<int64_t>(b.bad)).bind(5, static_cast<int64_t>(b.probe));
  s->bind(6, b.probeRun).bind(7, static_cast<int64_t>(b.steps));
  return s->run();
}

Result<Bisection> SqliteStore::getBisection(int64_t runId) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT run_id, commits, good, bad, probe, probe_run, steps FROM bisections WHERE run_id = "
      "?");
  if (!s.ok()) return s.status();
  s->bind(1, runId);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no bisection for run " + std::to_string(runId));
  return readBisection(*s);
}

Result<std::vector<Bisection>> SqliteStore::activeBisections() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT b.run_id, b.commits, b.good, b.bad, b.probe, b.probe_run, b.steps FROM bisections b "
      "JOIN runs r ON r.id = b.run_id WHERE r.bisect_state = 'running' ORDER BY b.run_id");
  if (!s.ok()) return s.status();
  return sqlite::readAll(*s, readBisection);
}

constexpr const char* kDeliveryColumns =
    "id, run_id, event, channel, target, payload, state, attempts, last_error, next_attempt_at, "
    "sent_at";

Delivery readDelivery(const Statement& s) {
  Delivery d;
  d.id = s.integer(0);
  d.runId = s.integer(1);
  d.event = s.text(2);
  d.channel = s.text(3);
  d.target = s.text(4);
  d.payload = s.text(5);
  d.state = s.text(6);
  d.attempts = static_cast<int>(s.integer(7));
  d.lastError = s.text(8);
  d.nextAttemptAt = s.integer(9);
  d.sentAt = optInt(s, 10);
  return d;
}

Status SqliteStore::setSchedule(const Schedule& sc) {
  std::lock_guard lock(mu_);
  if (sc.crons.empty()) {
    auto s = db_.prepare("DELETE FROM schedules WHERE project = ? AND branch = ?");
    if (!s.ok()) return s.status();
    s->bind(1, sc.project).bind(2, sc.branch);
    return s->run();
  }
  auto s = db_.prepare(
      "INSERT OR REPLACE INTO schedules (project, branch, crons, next_at) VALUES (?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  s->bind(1, sc.project).bind(2, sc.branch).bind(3, joinLines(sc.crons)).bind(4, sc.nextAt);
  return s->run();
}

Result<std::vector<Schedule>> SqliteStore::dueSchedules(int64_t nowMs) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT project, branch, crons, next_at FROM schedules WHERE next_at <= ? ORDER BY next_at");
  if (!s.ok()) return s.status();
  s->bind(1, nowMs);
  return sqlite::readAll(*s, [](const Statement& st) {
    return Schedule{st.text(0), st.text(1), split(st.text(2), '\n'), st.integer(3)};
  });
}

Result<int64_t> SqliteStore::addDelivery(const Delivery& d) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO deliveries (run_id, event, channel, target, payload, state, attempts, "
      "last_error, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  s->bind(1, d.runId).bind(2, d.event).bind(3, d.channel).bind(4, d.target).bind(5, d.payload);
  s->bind(6, d.state).bind(7, static_cast<int64_t>(d.attempts)).bind(8, d.lastError);
  s->bind(9, d.nextAttemptAt);
  if (auto st = s->run(); !st.ok()) return st;
  return db_.lastInsertId();
}

Result<std::vector<Delivery>> SqliteStore::dueDeliveries(int64_t nowMs, int limit) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kDeliveryColumns +
                       " FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ? "
                       "ORDER BY next_attempt_at LIMIT ?");
  if (!s.ok()) return s.status();
  s->bind(1, nowMs).bind(2, static_cast<int64_t>(limit));
  return sqlite::readAll(*s, readDelivery);
}

Status SqliteStore::updateDelivery(const Delivery& d) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "UPDATE deliveries SET state = ?, attempts = ?, last_error = ?, next_attempt_at = ?, "
      "sent_at = ? WHERE id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, d.state).bind(2, static_cast<int64_t>(d.attempts)).bind(3, d.lastError);
  s->bind(4, d.nextAttemptAt).bind(5, d.sentAt).bind(6, d.id);
  return s->run();
}

Result<std::vector<Delivery>> SqliteStore::listDeliveries(int64_t runId) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kDeliveryColumns +
                       " FROM deliveries WHERE run_id = ? ORDER BY id");
  if (!s.ok()) return s.status();
  s->bind(1, runId);
  return sqlite::readAll(*s, readDelivery);
}

Status SqliteStore::saveJob(const JobRecord& j) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT OR REPLACE INTO jobs (run_id, name, state, exit_code, attempts, started_at, "
      "finished_at, reason, tests, artifacts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  s->bind(1, j.runId).bind(2, j.name).bind(3, j.state).bind(4, static_cast<int64_t>(j.exitCode));
  s->bind(5, static_cast<int64_t>(j.attempts)).bind(6, j.startedAt).bind(7, j.finishedAt);
  s->bind(8, j.reason).bind(9, j.testsJson).bind(10, j.artifactsJson);
  if (auto st = s->run(); !st.ok()) return st;
  if (observer_) {
    auto p = db_.prepare("SELECT project FROM runs WHERE id = ?");
    if (!p.ok()) return Status::Ok();  // saved; only the event is lost
    p->bind(1, j.runId);
    if (auto row = p->step(); row.ok() && *row) observer_->jobChanged(p->text(0), j);
  }
  return Status::Ok();
}

Result<std::vector<JobRecord>> SqliteStore::listJobs(int64_t runId) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT run_id, name, state, exit_code, attempts, started_at, finished_at, reason, tests, "
      "artifacts FROM jobs WHERE run_id = ? ORDER BY rowid");
  if (!s.ok()) return s.status();
  s->bind(1, runId);
  return sqlite::readAll(*s, readJob);
}

namespace {

constexpr const char* kTokenColumns =
    "id, name, role, created_at, expires_at, last_used_at, created_by";

Token readToken(const Statement& s) {
  return Token{s.integer(0), s.text(1),    s.text(2), s.integer(3),
               optInt(s, 4), optInt(s, 5), s.text(6)};
}

}  // namespace

Result<Token> SqliteStore::addToken(const Token& t, std::string_view hash) {
  std::lock_guard lock(mu_);
  Token out = t;
  out.createdAt = nowMs();
  Status st = db_.transaction([&]() -> Status {
    auto exists = db_.prepare("SELECT 1 FROM tokens WHERE name = ?");
    if (!exists.ok()) return exists.status();
    exists->bind(1, t.name);
    auto row = exists->step();
    if (!row.ok()) return row.status();
    if (*row) return Status::Conflict("a token named '" + t.name + "' exists");
    auto s = db_.prepare(
        "INSERT INTO tokens (name, role, hash, created_at, expires_at, created_by) "
        "VALUES (?, ?, ?, ?, ?, ?)");
    if (!s.ok()) return s.status();
    s->bind(1, t.name).bind(2, t.role).bind(3, hash).bind(4, out.createdAt);
    s->bind(5, t.expiresAt).bind(6, t.createdBy);
    if (auto e = s->run(); !e.ok()) return e;
    out.id = db_.lastInsertId();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::optional<Token>> SqliteStore::findToken(std::string_view hash) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE hash = ?");
  if (!s.ok()) return s.status();
  s->bind(1, hash);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Token>();
  return std::optional<Token>(readToken(*s));
}

Result<std::vector<Token>> SqliteStore::listTokens() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kTokenColumns + " FROM tokens ORDER BY name, id");
  if (!s.ok()) return s.status();
  return sqlite::readAll(*s, readToken);
}

Status SqliteStore::revokeToken(std::string_view name) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("DELETE FROM tokens WHERE name = ?");
  if (!s.ok()) return s.status();
  s->bind(1, name);
  if (auto st = s->run(); !st.ok()) return st;
  if (db_.changes() == 0) return Status::NotFound("no token named " + std::string(name));
  return Status::Ok();
}

Status SqliteStore::touchToken(int64_t id, int64_t atMs) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("UPDATE tokens SET last_used_at = ? WHERE id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, atMs).bind(2, id);
  return s->run();
}

Result<int> SqliteStore::countTokens() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT COUNT(*) FROM tokens");
  if (!s.ok()) return s.status();
  auto row = s->step();
  if (!row.ok()) return row.status();
  return static_cast<int>(s->integer(0));
}

void SqliteStore::releaseMemory() {
  std::lock_guard lock(mu_);
  sqlite3_db_release_memory(db_.handle());
}

Result<std::string> SqliteStore::integrityCheck() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("PRAGMA integrity_check");
  if (!s.ok()) return s.status();
  std::string out;
  for (;;) {
    auto row = s->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (!out.empty()) out += "\n";
    out += s->text(0);
  }
  return out;
}

std::string_view toString(RunState s) {
  switch (s) {
    case RunState::kQueued:
      return "queued";
    case RunState::kRunning:
      return "running";
    case RunState::kPassed:
      return "passed";
    case RunState::kFailed:
      return "failed";
    case RunState::kCancelled:
      return "cancelled";
    case RunState::kInterrupted:
      return "interrupted";
  }
  return "queued";
}

std::optional<RunState> parseRunState(std::string_view s) {
  for (auto st : {RunState::kQueued, RunState::kRunning, RunState::kPassed, RunState::kFailed,
                  RunState::kCancelled, RunState::kInterrupted}) {
    if (toString(st) == s) return st;
  }
  return std::nullopt;
}

bool isFinished(RunState s) {
  return s != RunState::kQueued && s != RunState::kRunning;
}

Result<std::unique_ptr<Store>> openSqliteStore(const std::string& path) {
  auto db = Database::open(path);
  if (!db.ok()) return db.status();
  auto store = std::make_unique<SqliteStore>(std::move(db).value(), path);
  if (auto st = store->migrate(); !st.ok()) return st;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace boucle::store
