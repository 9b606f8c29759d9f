// The Store over SQL: projects, runs, jobs, notifications and tokens.
#include "store/sql/sql_store.h"

#include <algorithm>
#include <chrono>
#include <mutex>

#include "core/clock.h"
#include "core/encoding.h"
#include "core/names.h"
#include "store/postgres/pg_connection.h"
#include "store/sqlite/sqlite_connection.h"

namespace boucle::store {

namespace {

std::string joinLines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

constexpr const char* kProjectColumns =
    "id, name, url, branches, webhook_secret, poll_seconds, created_at, credential_kind, "
    "credential_user, credential_sealed, requeue_interrupted, allow_process_jobs, "
    "release_branches, request_builds, fork_secrets, forge, forge_api, forge_repo, "
    "forge_token_sealed, on_red";

constexpr const char* kRunColumns =
    "id, project, number, ref, branch, commit_sha, author, subject, trigger, state, reason, "
    "queued_at, started_at, finished_at, event, broken_since, only_jobs, rerun_of, bisect_of, "
    "suspects, culprit_commit, culprit_author, culprit_subject, bisect_state, pr_number, "
    "pr_title, pr_author, pr_source, pr_target, pr_head, pr_ref, pr_base, pr_fork, pr_merge, "
    "qualifier, perf_env, perf_ab";

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
  r.pr.number = s.integer(24);
  r.pr.title = s.text(25);
  r.pr.author = s.text(26);
  r.pr.source = s.text(27);
  r.pr.target = s.text(28);
  r.pr.head = s.text(29);
  r.pr.ref = s.text(30);
  r.pr.base = s.text(31);
  r.pr.fork = s.integer(32) != 0;
  r.pr.merge = s.integer(33) != 0;
  r.qualifier = s.text(34);
  r.perfEnv = s.text(35);
  r.perfAb = s.text(36);
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
  j.qualifier = s.text(10);
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
  p.requestBuilds = s.text(13);
  p.forkSecrets = s.integer(14) != 0;
  p.forge = s.text(15);
  p.forgeApi = s.text(16);
  p.forgeRepo = s.text(17);
  p.forgeTokenSealed = s.text(18);
  p.onRed = s.text(19);
  return p;
}

}  // namespace

Status SqlStore::migrate() {
  std::lock_guard lock(mu_);
  return db_.migrate();
}

Result<Project> SqlStore::addProject(const Project& p) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO projects (name, url, branches, webhook_secret, poll_seconds, created_at, "
      "credential_kind, credential_user, credential_sealed, requeue_interrupted, "
      "allow_process_jobs, release_branches, request_builds, fork_secrets, forge, forge_api, "
      "forge_repo, forge_token_sealed, on_red) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
      "?, "
      "?, ?, ?, ?) RETURNING id");
  if (!s.ok()) return s.status();
  Project out = p;
  out.createdAt = nowMs();
  s->bind(1, p.name).bind(2, p.url).bind(3, joinLines(p.branches)).bind(4, p.webhookSecret);
  s->bind(5, static_cast<int64_t>(p.pollSeconds)).bind(6, out.createdAt);
  s->bind(7, p.credentialKind).bind(8, p.credentialUser).bind(9, p.credentialSealed);
  s->bind(10, static_cast<int64_t>(p.requeueInterrupted ? 1 : 0));
  s->bind(11, static_cast<int64_t>(p.allowProcessJobs ? 1 : 0));
  s->bind(12, joinLines(p.releaseBranches)).bind(13, p.requestBuilds);
  s->bind(14, static_cast<int64_t>(p.forkSecrets ? 1 : 0));
  s->bind(15, p.forge).bind(16, p.forgeApi).bind(17, p.forgeRepo).bind(18, p.forgeTokenSealed);
  s->bind(19, p.onRed);
  auto id = sql::insertedId(*s);
  if (!id.ok()) {
    if (id.status().code() == Code::kConflict)
      return Status::Conflict("project " + p.name + " exists");
    return id.status();
  }
  out.id = *id;
  return out;
}

Result<std::vector<Project>> SqlStore::listProjects() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kProjectColumns + " FROM projects ORDER BY name");
  if (!s.ok()) return s.status();
  return readAll(*s, readProject);
}

Result<Project> SqlStore::getProject(std::string_view name) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kProjectColumns + " FROM projects WHERE name = ?");
  if (!s.ok()) return s.status();
  s->bind(1, name);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no project named " + std::string(name));
  return readProject(*s);
}

Status SqlStore::removeProject(std::string_view name) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("DELETE FROM projects WHERE name = ?");
  if (!s.ok()) return s.status();
  s->bind(1, name);
  if (auto st = s->run(); !st.ok()) return st;
  if (db_.changes() == 0) return Status::NotFound("no project named " + std::string(name));
  return Status::Ok();
}

Status SqlStore::setProjectCredential(std::string_view name, std::string_view kind,
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

Status SqlStore::updateProjectSettings(const Project& p) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "UPDATE projects SET branches = ?, poll_seconds = ?, requeue_interrupted = ?, "
      "allow_process_jobs = ?, release_branches = ?, request_builds = ?, fork_secrets = ?, "
      "forge = ?, forge_api = ?, forge_repo = ?, forge_token_sealed = ?, on_red = ? WHERE name = "
      "?");
  if (!s.ok()) return s.status();
  s->bind(1, joinLines(p.branches)).bind(2, static_cast<int64_t>(p.pollSeconds));
  s->bind(3, static_cast<int64_t>(p.requeueInterrupted ? 1 : 0));
  s->bind(4, static_cast<int64_t>(p.allowProcessJobs ? 1 : 0));
  s->bind(5, joinLines(p.releaseBranches)).bind(6, p.requestBuilds);
  s->bind(7, static_cast<int64_t>(p.forkSecrets ? 1 : 0)).bind(8, p.forge);
  s->bind(9, p.forgeApi).bind(10, p.forgeRepo).bind(11, p.forgeTokenSealed).bind(12, p.onRed);
  s->bind(13, p.name);
  if (auto st = s->run(); !st.ok()) return st;
  if (db_.changes() == 0) return Status::NotFound("no project named " + p.name);
  return Status::Ok();
}

Result<std::optional<std::string>> SqlStore::lastSeenHead(std::string_view project,
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

Result<std::map<std::string, int64_t>> SqlStore::firstBuilds(std::string_view project) {
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

Result<bool> SqlStore::recordHookDelivery(std::string_view project, std::string_view deliveryId,
                                          int64_t atMs) {
  std::lock_guard lock(mu_);
  bool fresh = false;
  Status st = db_.transaction([&]() -> Status {
    fresh = false;  // a body PostgreSQL ran again starts afresh
    auto old = db_.prepare("DELETE FROM hook_deliveries WHERE received_at < ?");
    if (!old.ok()) return old.status();
    old->bind(1, atMs - 7LL * 24 * 3600 * 1000);
    if (auto e = old->run(); !e.ok()) return e;
    auto s = db_.prepare(
        "INSERT INTO hook_deliveries (project, delivery_id, received_at) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING");
    if (!s.ok()) return s.status();
    s->bind(1, project).bind(2, deliveryId).bind(3, atMs);
    if (auto e = s->run(); !e.ok()) return e;
    fresh = db_.changes() > 0;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return fresh;
}

Status SqlStore::forgetHookDelivery(std::string_view project, std::string_view deliveryId) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("DELETE FROM hook_deliveries WHERE project = ? AND delivery_id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, deliveryId);
  return s->run();
}

// Inserts `out` as a new queued run with the project's next number; mu_ held, in a transaction.
Status SqlStore::insertRun(Run& out) {
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
      "state, reason, queued_at, only_jobs, rerun_of, bisect_of, pr_number, pr_title, pr_author, "
      "pr_source, pr_target, pr_head, pr_ref, pr_base, pr_fork, pr_merge, perf_env, perf_ab) "
      "VALUES "
      "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING "
      "id");
  if (!s.ok()) return s.status();
  s->bind(1, out.project).bind(2, out.number).bind(3, out.ref).bind(4, out.branch);
  s->bind(5, out.commit).bind(6, out.author).bind(7, out.subject).bind(8, out.trigger);
  s->bind(9, toString(out.state)).bind(10, out.reason).bind(11, out.queuedAt);
  s->bind(12, joinLines(out.onlyJobs)).bind(13, out.rerunOf).bind(14, out.bisectOf);
  const RequestOf& pr = out.pr;
  s->bind(15, pr.number).bind(16, pr.title).bind(17, pr.author).bind(18, pr.source);
  s->bind(19, pr.target).bind(20, pr.head).bind(21, pr.ref).bind(22, pr.base);
  s->bind(23, int64_t{pr.fork ? 1 : 0}).bind(24, int64_t{pr.merge ? 1 : 0});
  s->bind(25, out.perfEnv).bind(26, out.perfAb);
  auto id = sql::insertedId(*s);
  if (!id.ok()) return id.status();
  out.id = *id;
  return Status::Ok();
}

Result<Run> SqlStore::createRun(const Run& r) {
  std::lock_guard lock(mu_);
  Run out = r;
  if (auto st = db_.transaction([&] { return insertRun(out); }); !st.ok()) return st;
  if (observer_) observer_->runChanged(out);
  return out;
}

Result<std::optional<Run>> SqlStore::createRunForNewHead(const Run& r) {
  std::lock_guard lock(mu_);
  std::optional<Run> out;
  Status st = db_.transaction([&]() -> Status {
    out.reset();  // a body PostgreSQL ran again starts afresh
    auto seen = db_.prepare("SELECT commit_sha FROM branch_heads WHERE project = ? AND branch = ?");
    if (!seen.ok()) return seen.status();
    seen->bind(1, r.project).bind(2, r.branch);
    auto row = seen->step();
    if (!row.ok()) return row.status();
    if (*row && seen->text(0) == r.ref) return Status::Ok();
    auto head = db_.prepare(
        "INSERT INTO branch_heads (project, branch, commit_sha) VALUES (?, ?, ?) ON CONFLICT "
        "(project, branch) DO UPDATE SET commit_sha = excluded.commit_sha");
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

Result<Run> SqlStore::getRun(int64_t id) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, id);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no run " + std::to_string(id));
  return readRun(*s);
}

Status SqlStore::updateRun(const Run& r) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "UPDATE runs SET branch = ?, commit_sha = ?, author = ?, subject = ?, state = ?, "
      "reason = ?, started_at = ?, finished_at = ?, event = ?, broken_since = ?, suspects = ?, "
      "culprit_commit = ?, culprit_author = ?, culprit_subject = ?, bisect_state = ?, "
      "pr_base = ?, pr_head = ?, qualifier = ? WHERE id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, r.branch).bind(2, r.commit).bind(3, r.author).bind(4, r.subject);
  s->bind(5, toString(r.state)).bind(6, r.reason).bind(7, r.startedAt).bind(8, r.finishedAt);
  s->bind(9, r.event).bind(10, r.brokenSince).bind(11, static_cast<int64_t>(r.suspects));
  s->bind(12, r.culpritCommit).bind(13, r.culpritAuthor).bind(14, r.culpritSubject);
  s->bind(15, r.bisectState).bind(16, r.pr.base).bind(17, r.pr.head).bind(18, r.qualifier);
  s->bind(19, r.id);
  if (auto st = s->run(); !st.ok()) return st;
  if (db_.changes() == 0) return Status::NotFound("no run " + std::to_string(r.id));
  if (observer_) observer_->runChanged(r);
  return Status::Ok();
}

Result<std::vector<Run>> SqlStore::listRuns(std::string_view project, int limit, int64_t beforeId) {
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kRunColumns +
                    " FROM runs WHERE (? = '' OR project = ?)" +
                    " AND (? = 0 OR id < ?) ORDER BY id DESC LIMIT ?";
  auto s = db_.prepare(sql);
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, project).bind(3, beforeId).bind(4, beforeId);
  s->bind(5, static_cast<int64_t>(limit));
  return readAll(*s, readRun);
}

Result<std::vector<Run>> SqlStore::unfinishedRuns(std::string_view project,
                                                  std::string_view branch) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kRunColumns +
                       " FROM runs WHERE project = ? AND branch = ? AND state IN ('queued', "
                       "'running') ORDER BY id");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, branch);
  return readAll(*s, readRun);
}

Result<std::optional<Run>> SqlStore::lastJudgedRun(std::string_view project,
                                                   std::string_view branch, int64_t beforeId) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kRunColumns +
                       " FROM runs WHERE project = ? AND branch = ? AND id < ? AND state IN "
                       "('passed', 'failed') AND only_jobs = '' AND bisect_of IS NULL "
                       "AND pr_number = 0 ORDER BY id DESC LIMIT 1");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, branch).bind(3, beforeId);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Run>();
  return std::optional<Run>(readRun(*s));
}

Result<std::optional<Run>> SqlStore::claimNextQueued(int64_t nowMs) {
  std::lock_guard lock(mu_);
  std::optional<Run> out;
  // A run asked for by tag or commit has no branch yet: its ref stands in for one.
  Status st = db_.transaction([&]() -> Status {
    out.reset();  // a body PostgreSQL ran again starts afresh
    auto s = db_.prepare(std::string("SELECT ") + kRunColumns +
                         " FROM runs q WHERE state = 'queued' AND NOT EXISTS (SELECT 1 FROM runs "
                         "r WHERE r.state = 'running' AND r.project = q.project AND r.branch = "
                         "(CASE WHEN q.branch = '' THEN q.ref ELSE q.branch END)) "
                         "ORDER BY id LIMIT 1" +
                         // Servers sharing the database pass over a run another one is taking.
                         (postgres() ? " FOR UPDATE SKIP LOCKED" : ""));
    if (!s.ok()) return s.status();
    auto row = s->step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
    Run r = readRun(*s);
    if (r.branch.empty()) r.branch = r.ref;
    r.state = RunState::kRunning;
    r.startedAt = nowMs;
    auto u = db_.prepare(
        "UPDATE runs SET state = 'running', started_at = ?, branch = ?, server = ? WHERE id = ?");
    if (!u.ok()) return u.status();
    u->bind(1, nowMs).bind(2, r.branch).bind(3, server_).bind(4, r.id);
    if (auto e = u->run(); !e.ok()) return e;
    out = std::move(r);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (out && observer_) observer_->runChanged(*out);
  return out;
}

Result<std::vector<Run>> SqlStore::runsOnAgents() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kRunColumns +
                       " FROM runs WHERE state = 'running' AND (server = ? OR server = '') AND id "
                       "IN (SELECT run_id FROM agent_jobs) ORDER BY id");
  if (!s.ok()) return s.status();
  s->bind(1, server_);
  return readAll(*s, readRun);
}

void SqlStore::bindOrphans(Statement& s, int first, const Orphans& which) {
  s.bind(first, int64_t{which.includeOwn ? 1 : 0}).bind(first + 1, server_);
  s.bind(first + 2, server_).bind(first + 3, which.staleBeforeMs);
}

Result<std::vector<Run>> SqlStore::interruptUnfinished(std::string_view reason,
                                                       const Orphans& which) {
  std::lock_guard lock(mu_);
  std::vector<Run> out;
  Status st = db_.transaction([&]() -> Status {
    // The ids kept are numbers: written into the statement as they are.
    std::string keep;
    for (int64_t id : which.keep) keep += (keep.empty() ? "" : ", ") + std::to_string(id);
    if (!keep.empty()) keep = " AND id NOT IN (" + keep + ")";
    auto s = db_.prepare(std::string("UPDATE runs SET state = 'interrupted', reason = ?, "
                                     "finished_at = ? WHERE ") +
                         kOrphaned + keep + " RETURNING " + kRunColumns);
    if (!s.ok()) return s.status();
    s->bind(1, reason).bind(2, nowMs());
    bindOrphans(*s, 3, which);
    auto rows = readAll(*s, readRun);
    if (!rows.ok()) return rows.status();
    out = std::move(*rows);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  std::sort(out.begin(), out.end(), [](const Run& a, const Run& b) { return a.id < b.id; });
  for (const auto& r : out) {
    if (observer_) observer_->runChanged(r);
  }
  return out;
}

Status SqlStore::heartbeat(const ServerRecord& sv) {
  std::lock_guard lock(mu_);
  // Kept out of revision(), as the monitors' writes are: a heartbeat changes no answer.
  return monitorWrite([&]() -> Status {
    auto s = db_.prepare(
        "INSERT INTO servers (id, host, pid, started_at, seen_at) VALUES (?, ?, ?, ?, ?) ON "
        "CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, started_at = "
        "excluded.started_at, seen_at = excluded.seen_at");
    if (!s.ok()) return s.status();
    s->bind(1, sv.id).bind(2, sv.host).bind(3, sv.pid).bind(4, sv.startedAt).bind(5, sv.seenAt);
    return s->run();
  });
}

Status SqlStore::forgetServer(std::string_view id) {
  std::lock_guard lock(mu_);
  return monitorWrite([&]() -> Status {
    auto s = db_.prepare("DELETE FROM servers WHERE id = ?");
    if (!s.ok()) return s.status();
    s->bind(1, id);
    return s->run();
  });
}

Result<std::vector<ServerRecord>> SqlStore::listServers() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT id, host, pid, started_at, seen_at FROM servers ORDER BY id");
  if (!s.ok()) return s.status();
  return readAll(*s, [](const Statement& r) {
    return ServerRecord{r.text(0), r.text(1), r.integer(2), r.integer(3), r.integer(4)};
  });
}

Status SqlStore::saveBisection(const Bisection& b) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO bisections (run_id, commits, good, bad, probe, probe_run, steps) VALUES (?, "
      "?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET commits = excluded.commits, good = "
      "excluded.good, bad = excluded.bad, probe = excluded.probe, probe_run = "
      "excluded.probe_run, steps = excluded.steps");
  if (!s.ok()) return s.status();
  s->bind(1, b.runId).bind(2, joinLines(b.commits)).bind(3, static_cast<int64_t>(b.good));
  s->bind(4, static_cast<int64_t>(b.bad)).bind(5, static_cast<int64_t>(b.probe));
  s->bind(6, b.probeRun).bind(7, static_cast<int64_t>(b.steps));
  return s->run();
}

Result<Bisection> SqlStore::getBisection(int64_t runId) {
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

Result<std::vector<Bisection>> SqlStore::activeBisections() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT b.run_id, b.commits, b.good, b.bad, b.probe, b.probe_run, b.steps FROM bisections b "
      "JOIN runs r ON r.id = b.run_id WHERE r.bisect_state = 'running' ORDER BY b.run_id");
  if (!s.ok()) return s.status();
  return readAll(*s, readBisection);
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

Status SqlStore::setSchedule(const Schedule& sc) {
  std::lock_guard lock(mu_);
  if (sc.crons.empty()) {
    auto s = db_.prepare("DELETE FROM schedules WHERE project = ? AND branch = ?");
    if (!s.ok()) return s.status();
    s->bind(1, sc.project).bind(2, sc.branch);
    return s->run();
  }
  auto s = db_.prepare(
      "INSERT INTO schedules (project, branch, crons, next_at) VALUES (?, ?, ?, ?) ON CONFLICT "
      "(project, branch) DO UPDATE SET crons = excluded.crons, next_at = excluded.next_at");
  if (!s.ok()) return s.status();
  s->bind(1, sc.project).bind(2, sc.branch).bind(3, joinLines(sc.crons)).bind(4, sc.nextAt);
  return s->run();
}

Result<std::vector<Schedule>> SqlStore::dueSchedules(int64_t nowMs) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT project, branch, crons, next_at FROM schedules WHERE next_at <= ? ORDER BY next_at");
  if (!s.ok()) return s.status();
  s->bind(1, nowMs);
  return readAll(*s, [](const Statement& st) {
    return Schedule{st.text(0), st.text(1), split(st.text(2), '\n'), st.integer(3)};
  });
}

Result<bool> SqlStore::takeSchedule(const Schedule& sc, std::optional<int64_t> nextAt) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(nextAt ? "UPDATE schedules SET next_at = ? WHERE project = ? AND branch = ? "
                                "AND next_at = ?"
                              : "DELETE FROM schedules WHERE ? = 0 AND project = ? AND branch = ? "
                                "AND next_at = ?");
  if (!s.ok()) return s.status();
  s->bind(1, nextAt.value_or(0)).bind(2, sc.project).bind(3, sc.branch).bind(4, sc.nextAt);
  if (auto st = s->run(); !st.ok()) return st;
  return db_.changes() > 0;
}

Result<int64_t> SqlStore::addDelivery(const Delivery& d) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO deliveries (run_id, event, channel, target, payload, state, attempts, "
      "last_error, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
  if (!s.ok()) return s.status();
  s->bind(1, d.runId).bind(2, d.event).bind(3, d.channel).bind(4, d.target).bind(5, d.payload);
  s->bind(6, d.state).bind(7, static_cast<int64_t>(d.attempts)).bind(8, d.lastError);
  s->bind(9, d.nextAttemptAt);
  return sql::insertedId(*s);
}

Result<std::vector<Delivery>> SqlStore::dueDeliveries(int64_t nowMs, int limit) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kDeliveryColumns +
                       " FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ? "
                       "ORDER BY next_attempt_at, id LIMIT ?");
  if (!s.ok()) return s.status();
  s->bind(1, nowMs).bind(2, static_cast<int64_t>(limit));
  return readAll(*s, readDelivery);
}

Status SqlStore::updateDelivery(const Delivery& d) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "UPDATE deliveries SET state = ?, attempts = ?, last_error = ?, next_attempt_at = ?, "
      "sent_at = ? WHERE id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, d.state).bind(2, static_cast<int64_t>(d.attempts)).bind(3, d.lastError);
  s->bind(4, d.nextAttemptAt).bind(5, d.sentAt).bind(6, d.id);
  return s->run();
}

Result<std::vector<Delivery>> SqlStore::listDeliveries(int64_t runId) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kDeliveryColumns +
                       " FROM deliveries WHERE run_id = ? ORDER BY id");
  if (!s.ok()) return s.status();
  s->bind(1, runId);
  return readAll(*s, readDelivery);
}

Status SqlStore::saveJob(const JobRecord& j) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO jobs (run_id, name, state, exit_code, attempts, started_at, finished_at, "
      "reason, tests, artifacts, qualifier) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
      "(run_id, name) DO UPDATE SET state = excluded.state, exit_code = excluded.exit_code, "
      "attempts = excluded.attempts, started_at = excluded.started_at, finished_at = "
      "excluded.finished_at, reason = excluded.reason, tests = excluded.tests, artifacts = "
      "excluded.artifacts, qualifier = excluded.qualifier");
  if (!s.ok()) return s.status();
  s->bind(1, j.runId).bind(2, j.name).bind(3, j.state).bind(4, static_cast<int64_t>(j.exitCode));
  s->bind(5, static_cast<int64_t>(j.attempts)).bind(6, j.startedAt).bind(7, j.finishedAt);
  s->bind(8, j.reason).bind(9, j.testsJson).bind(10, j.artifactsJson).bind(11, j.qualifier);
  if (auto st = s->run(); !st.ok()) return st;
  if (observer_) {
    auto p = db_.prepare("SELECT project FROM runs WHERE id = ?");
    if (!p.ok()) return Status::Ok();  // saved; only the event is lost
    p->bind(1, j.runId);
    if (auto row = p->step(); row.ok() && *row) observer_->jobChanged(p->text(0), j);
  }
  return Status::Ok();
}

Result<std::vector<JobRecord>> SqlStore::listJobs(int64_t runId) {
  std::lock_guard lock(mu_);
  // In the order the run first recorded them: the pipeline's.
  auto s =
      db_.prepare(std::string("SELECT run_id, name, state, exit_code, attempts, started_at, "
                              "finished_at, reason, tests, artifacts, qualifier FROM jobs WHERE "
                              "run_id = ? "
                              "ORDER BY ") +
                  (postgres() ? "seq" : "rowid"));
  if (!s.ok()) return s.status();
  s->bind(1, runId);
  return readAll(*s, readJob);
}

namespace {

constexpr const char* kTokenColumns =
    "id, name, role, created_at, expires_at, last_used_at, created_by, agent_labels, "
    "agent_projects, owner";

Token readToken(const Statement& s) {
  return Token{s.integer(0),          s.text(1),    s.text(2), s.integer(3),
               optInt(s, 4),          optInt(s, 5), s.text(6), splitNames(s.text(7)),
               splitNames(s.text(8)), s.text(9)};
}

}  // namespace

Result<Token> SqlStore::addToken(const Token& t, std::string_view hash) {
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
        "INSERT INTO tokens (name, role, hash, created_at, expires_at, created_by, agent_labels, "
        "agent_projects, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
    if (!s.ok()) return s.status();
    s->bind(1, t.name).bind(2, t.role).bind(3, hash).bind(4, out.createdAt);
    s->bind(5, t.expiresAt)
        .bind(6, t.createdBy)
        .bind(7, joinNames(t.agentLabels))
        .bind(8, joinNames(t.agentProjects))
        .bind(9, t.owner);
    auto id = sql::insertedId(*s);
    if (!id.ok()) return id.status();
    out.id = *id;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::optional<Token>> SqlStore::findToken(std::string_view hash) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE hash = ?");
  if (!s.ok()) return s.status();
  s->bind(1, hash);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Token>();
  return std::optional<Token>(readToken(*s));
}

Result<std::vector<Token>> SqlStore::listTokens() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kTokenColumns + " FROM tokens ORDER BY name, id");
  if (!s.ok()) return s.status();
  return readAll(*s, readToken);
}

Status SqlStore::revokeToken(std::string_view name) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("DELETE FROM tokens WHERE name = ?");
  if (!s.ok()) return s.status();
  s->bind(1, name);
  if (auto st = s->run(); !st.ok()) return st;
  if (db_.changes() == 0) return Status::NotFound("no token named " + std::string(name));
  return Status::Ok();
}

Status SqlStore::touchToken(int64_t id, int64_t atMs) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("UPDATE tokens SET last_used_at = ? WHERE id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, atMs).bind(2, id);
  return s->run();
}

Result<int> SqlStore::countTokens() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT COUNT(*) FROM tokens");
  if (!s.ok()) return s.status();
  auto row = s->step();
  if (!row.ok()) return row.status();
  return static_cast<int>(s->integer(0));
}

void SqlStore::releaseMemory() {
  std::lock_guard lock(mu_);
  db_.releaseMemory();
}

Result<std::string> SqlStore::integrityCheck() {
  std::lock_guard lock(mu_);
  return db_.integrityCheck();
}

Run runAgain(const Run& old, std::string trigger) {
  Run r;
  r.project = old.project;
  r.ref = old.commit.empty() ? old.ref : old.commit;
  r.branch = old.branch;
  r.author = old.author;
  r.subject = old.subject;
  r.trigger = std::move(trigger);
  r.rerunOf = old.id;
  if (old.isRequest()) {
    r.pr = old.pr;
    r.pr.base.clear();
    r.ref = old.pr.head;
  }
  return r;
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

namespace {

Result<std::unique_ptr<Store>> storeOver(Result<std::unique_ptr<sql::Connection>> db) {
  if (!db.ok()) return db.status();
  auto store = std::make_unique<SqlStore>(std::move(db).value());
  if (auto st = store->migrate(); !st.ok()) return st;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace

Result<std::unique_ptr<Store>> openSqliteStore(const std::string& path) {
  return storeOver(sqlite::open(path));
}

Result<std::unique_ptr<Store>> openPostgresStore(const std::string& url) {
  return storeOver(postgres::open(url));
}

std::string checkStoreSpec(const std::string& spec) {
  if (spec.starts_with("sqlite:")) {
    return spec.size() > 7 ? "" : "sqlite: needs a path (sqlite:DATA/boucle.db)";
  }
  if (postgres::isPostgresUrl(spec)) {
    auto st = postgres::checkUrl(spec);
    return st.ok() ? "" : st.message();
  }
  return "'" + postgres::redactedUrl(spec) + "' is neither sqlite:PATH nor a postgres:// URL";
}

Result<std::unique_ptr<Store>> openStore(const std::string& spec) {
  if (auto why = checkStoreSpec(spec); !why.empty()) return Status::Invalid(why);
  if (spec.starts_with("sqlite:")) return openSqliteStore(spec.substr(7));
  return openPostgresStore(spec);
}

}  // namespace boucle::store
