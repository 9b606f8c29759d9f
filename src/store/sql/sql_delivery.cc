// The Store over SQL: releases, environment values, deploys and audit log.
#include <algorithm>

#include "core/clock.h"
#include "store/sql/sql_store.h"

namespace boucle::store {

namespace {

constexpr const char* kReleaseColumns =
    "id, project, version, run_id, commit_sha, previous_version, notes, artifacts, changes, "
    "pipeline, created_by, created_at, branch, prerelease";

Release readRelease(const Statement& s) {
  Release r;
  r.id = s.integer(0);
  r.project = s.text(1);
  r.version = s.text(2);
  r.runId = s.integer(3);
  r.commit = s.text(4);
  r.previousVersion = s.text(5);
  r.notes = s.text(6);
  r.artifactsJson = s.text(7);
  r.changesJson = s.text(8);
  r.pipeline = s.text(9);
  r.createdBy = s.text(10);
  r.createdAt = s.integer(11);
  r.branch = s.text(12);
  r.prerelease = s.integer(13) != 0;
  return r;
}

constexpr const char* kDeployColumns =
    "id, project, env, version, state, reason, from_version, rollback, dry_run, requested_by, "
    "requested_at, started_at, finished_at, approved_by, approved_at, smoke, "
    "verification, perf, cause, forced";

Deploy readDeploy(const Statement& s) {
  Deploy d;
  d.id = s.integer(0);
  d.project = s.text(1);
  d.env = s.text(2);
  d.version = s.text(3);
  d.state = parseDeployState(s.text(4)).value_or(DeployState::kInterrupted);
  d.reason = s.text(5);
  d.fromVersion = s.text(6);
  d.rollback = s.integer(7) != 0;
  d.dryRun = s.integer(8) != 0;
  d.requestedBy = s.text(9);
  d.requestedAt = s.integer(10);
  d.startedAt = optInt(s, 11);
  d.finishedAt = optInt(s, 12);
  d.approvedBy = s.text(13);
  d.approvedAt = optInt(s, 14);
  d.smokeJson = s.text(15);
  d.verifyJson = s.text(16);
  d.perfJson = s.text(17);
  d.cause = s.text(18);
  d.forced = s.text(19);
  return d;
}

// Binds every column but id, from 1.
void bindDeploy(Statement& s, const Deploy& d) {
  s.bind(1, d.project)
      .bind(2, d.env)
      .bind(3, d.version)
      .bind(4, toString(d.state))
      .bind(5, d.reason)
      .bind(6, d.fromVersion)
      .bind(7, int64_t{d.rollback})
      .bind(8, int64_t{d.dryRun})
      .bind(9, d.requestedBy)
      .bind(10, d.requestedAt)
      .bind(11, d.startedAt)
      .bind(12, d.finishedAt)
      .bind(13, d.approvedBy)
      .bind(14, d.approvedAt)
      .bind(15, d.smokeJson)
      .bind(16, d.verifyJson)
      .bind(17, d.perfJson)
      .bind(18, d.cause)
      .bind(19, d.forced);
}

}  // namespace

std::string_view toString(DeployState s) {
  switch (s) {
    case DeployState::kQueued:
      return "queued";
    case DeployState::kWaiting:
      return "waiting";
    case DeployState::kRunning:
      return "running";
    case DeployState::kSucceeded:
      return "succeeded";
    case DeployState::kFailed:
      return "failed";
    case DeployState::kRolledBack:
      return "rolled_back";
    case DeployState::kCancelled:
      return "cancelled";
    case DeployState::kInterrupted:
      return "interrupted";
  }
  return "queued";
}

std::optional<DeployState> parseDeployState(std::string_view s) {
  for (auto st : {DeployState::kQueued, DeployState::kWaiting, DeployState::kRunning,
                  DeployState::kSucceeded, DeployState::kFailed, DeployState::kRolledBack,
                  DeployState::kCancelled, DeployState::kInterrupted}) {
    if (toString(st) == s) return st;
  }
  return std::nullopt;
}

bool isFinished(DeployState s) {
  return s != DeployState::kQueued && s != DeployState::kWaiting && s != DeployState::kRunning;
}

Result<Release> SqlStore::addRelease(const Release& r) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO releases (project, version, run_id, commit_sha, previous_version, notes, "
      "artifacts, changes, pipeline, created_by, created_at, branch, prerelease) VALUES (?, ?, "
      "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
  if (!s.ok()) return s.status();
  s->bind(1, r.project)
      .bind(2, r.version)
      .bind(3, r.runId)
      .bind(4, r.commit)
      .bind(5, r.previousVersion)
      .bind(6, r.notes)
      .bind(7, r.artifactsJson)
      .bind(8, r.changesJson)
      .bind(9, r.pipeline)
      .bind(10, r.createdBy)
      .bind(11, r.createdAt)
      .bind(12, r.branch)
      .bind(13, static_cast<int64_t>(r.prerelease ? 1 : 0));
  auto id = sql::insertedId(*s);
  if (!id.ok()) {
    if (id.status().code() == Code::kConflict) {
      return Status::Conflict(r.project + " already has a release " + r.version +
                              " (releases never change)");
    }
    return id.status();
  }
  Release out = r;
  out.id = *id;
  return out;
}

Result<Release> SqlStore::getRelease(std::string_view project, std::string_view version) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kReleaseColumns +
                       " FROM releases WHERE project = ? AND version = ?");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, version);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) {
    return Status::NotFound(std::string(project) + " has no release " + std::string(version));
  }
  return readRelease(*s);
}

Result<std::vector<Release>> SqlStore::listReleases(std::string_view project, int limit) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kReleaseColumns +
                       " FROM releases WHERE project = ? ORDER BY id DESC LIMIT ?");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, int64_t{limit});
  return readAll(*s, readRelease);
}

Status SqlStore::setEnvValue(const EnvValue& v) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO env_values (project, env, key, value, secret) VALUES (?, ?, ?, ?, ?) ON "
      "CONFLICT (project, env, key) DO UPDATE SET value = excluded.value, secret = "
      "excluded.secret");
  if (!s.ok()) return s.status();
  s->bind(1, v.project).bind(2, v.env).bind(3, v.key).bind(4, v.value).bind(5, int64_t{v.secret});
  return s->run();
}

Status SqlStore::removeEnvValue(std::string_view project, std::string_view env,
                                std::string_view key) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("DELETE FROM env_values WHERE project = ? AND env = ? AND key = ?");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, env).bind(3, key);
  if (auto st = s->run(); !st.ok()) return st;
  if (db_.changes() == 0) {
    return Status::NotFound(std::string(env) + " has no value " + std::string(key));
  }
  return Status::Ok();
}

Result<std::vector<EnvValue>> SqlStore::listEnvValues(std::string_view project,
                                                      std::string_view env) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT project, env, key, value, secret FROM env_values WHERE project = ? AND "
      "(? = '' OR env = ?) ORDER BY env, key");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, env).bind(3, env);
  return readAll(*s, [](const Statement& st) {
    return EnvValue{st.text(0), st.text(1), st.text(2), st.text(3), st.integer(4) != 0};
  });
}

Result<Deploy> SqlStore::createDeploy(const Deploy& d) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO deploys (project, env, version, state, reason, from_version, rollback, "
      "dry_run, requested_by, requested_at, started_at, finished_at, approved_by, approved_at, "
      "smoke, verification, perf, cause, forced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
      "?, ?, ?, ?, ?) "
      "RETURNING id");
  if (!s.ok()) return s.status();
  bindDeploy(*s, d);
  auto id = sql::insertedId(*s);
  if (!id.ok()) return id.status();
  Deploy out = d;
  out.id = *id;
  if (observer_) observer_->deployChanged(out);
  return out;
}

Result<Deploy> SqlStore::getDeploy(int64_t id) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kDeployColumns + " FROM deploys WHERE id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, id);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no deploy " + std::to_string(id));
  return readDeploy(*s);
}

Status SqlStore::updateDeploy(const Deploy& d) {
  return writeDeploy(d, std::nullopt);
}

Status SqlStore::updateDeployFrom(const Deploy& d, DeployState from) {
  return writeDeploy(d, from);
}

Status SqlStore::writeDeploy(const Deploy& d, std::optional<DeployState> from) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "UPDATE deploys SET project = ?, env = ?, version = ?, state = ?, reason = ?, "
      "from_version = ?, rollback = ?, dry_run = ?, requested_by = ?, requested_at = ?, "
      "started_at = ?, finished_at = ?, approved_by = ?, approved_at = ?, smoke = ?, verification "
      "= ?, perf = ?, cause = ?, forced = ? "
      "WHERE id = ? "
      "AND (? = '' OR state = ?)");
  if (!s.ok()) return s.status();
  bindDeploy(*s, d);
  std::string_view expected = from ? toString(*from) : "";
  s->bind(20, d.id).bind(21, expected).bind(22, expected);
  if (auto st = s->run(); !st.ok()) return st;
  if (db_.changes() > 0) {
    if (observer_) observer_->deployChanged(d);
    return Status::Ok();
  }
  if (!from) return Status::NotFound("no deploy " + std::to_string(d.id));
  return Status::Conflict("deploy " + std::to_string(d.id) + " is no longer " +
                          std::string(expected));
}

Result<std::vector<AppliedMigration>> SqlStore::appliedMigrations(std::string_view project,
                                                                  std::string_view env) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT release_id, version, applied_at FROM env_migrations WHERE project = ? AND env = ? "
      "ORDER BY release_id");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, env);
  return readAll(*s, [](const Statement& st) {
    return AppliedMigration{st.integer(0), st.text(1), st.integer(2)};
  });
}

Status SqlStore::setMigrationApplied(std::string_view project, std::string_view env,
                                     const AppliedMigration& m, bool applied) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(applied ? "INSERT INTO env_migrations (project, env, release_id, version, "
                                 "applied_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (project, env, "
                                 "release_id) DO UPDATE SET applied_at = excluded.applied_at"
                               : "DELETE FROM env_migrations WHERE project = ? AND env = ? AND "
                                 "release_id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, env).bind(3, m.releaseId);
  if (applied) s->bind(4, m.version).bind(5, m.appliedAt);
  return s->run();
}

Result<std::vector<Deploy>> SqlStore::listDeploys(std::string_view project, std::string_view env,
                                                  int limit) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kDeployColumns +
                       " FROM deploys WHERE project = ? AND (? = '' OR env = ?) ORDER BY id "
                       "DESC LIMIT ?");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, env).bind(3, env).bind(4, int64_t{limit});
  return readAll(*s, readDeploy);
}

Result<std::optional<Deploy>> SqlStore::claimNextDeploy(int64_t nowMs) {
  std::lock_guard lock(mu_);
  std::optional<Deploy> out;
  Status st = db_.transaction([&]() -> Status {
    out.reset();  // a body PostgreSQL ran again starts afresh
    auto s = db_.prepare(std::string("SELECT ") + kDeployColumns +
                         " FROM deploys q WHERE state = 'queued' AND NOT EXISTS (SELECT 1 FROM "
                         "deploys r WHERE r.state = 'running' AND r.project = q.project AND "
                         "r.env = q.env) ORDER BY id LIMIT 1" +
                         (postgres() ? " FOR UPDATE SKIP LOCKED" : ""));
    if (!s.ok()) return s.status();
    auto row = s->step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
    Deploy d = readDeploy(*s);
    d.state = DeployState::kRunning;
    d.startedAt = nowMs;
    auto u = db_.prepare(
        "UPDATE deploys SET state = 'running', started_at = ?, server = ? WHERE id = ?");
    if (!u.ok()) return u.status();
    u->bind(1, nowMs).bind(2, server_).bind(3, d.id);
    if (auto e = u->run(); !e.ok()) return e;
    out = std::move(d);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (out && observer_) observer_->deployChanged(*out);
  return out;
}

Result<std::vector<Deploy>> SqlStore::interruptDeploys(std::string_view reason,
                                                       const Orphans& which) {
  std::lock_guard lock(mu_);
  std::vector<Deploy> out;
  Status st = db_.transaction([&]() -> Status {
    auto u = db_.prepare(std::string("UPDATE deploys SET state = 'interrupted', reason = ?, "
                                     "finished_at = ? WHERE ") +
                         kOrphaned + " RETURNING " + kDeployColumns);
    if (!u.ok()) return u.status();
    u->bind(1, reason).bind(2, nowMs());
    bindOrphans(*u, 3, which);
    auto rows = readAll(*u, readDeploy);
    if (!rows.ok()) return rows.status();
    out = std::move(*rows);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  std::sort(out.begin(), out.end(), [](const Deploy& a, const Deploy& b) { return a.id < b.id; });
  for (const auto& d : out) {
    if (observer_) observer_->deployChanged(d);
  }
  return out;
}

Result<std::vector<std::string>> SqlStore::recentArtifactManifests(int64_t sinceMs) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT j.artifacts FROM jobs j JOIN runs r ON r.id = j.run_id WHERE j.artifacts != '' "
      "AND (r.finished_at IS NULL OR r.finished_at >= ?)");
  if (!s.ok()) return s.status();
  s->bind(1, sinceMs);
  return readAll(*s, [](const Statement& st) { return st.text(0); });
}

Result<std::vector<std::string>> SqlStore::releasedArtifactManifests() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT artifacts FROM releases");
  if (!s.ok()) return s.status();
  return readAll(*s, [](const Statement& st) { return st.text(0); });
}

Status SqlStore::addAudit(const AuditEntry& e) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO audit (at, actor, action, project, target, detail) VALUES (?, ?, ?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  s->bind(1, e.at)
      .bind(2, e.actor)
      .bind(3, e.action)
      .bind(4, e.project)
      .bind(5, e.target)
      .bind(6, e.detail);
  return s->run();
}

Result<std::vector<AuditEntry>> SqlStore::listAudit(std::string_view project, int limit) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT id, at, actor, action, project, target, detail FROM audit WHERE (? = '' OR "
      "project = ?) ORDER BY id DESC LIMIT ?");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, project).bind(3, int64_t{limit});
  return readAll(*s, [](const Statement& st) {
    return AuditEntry{st.integer(0), st.integer(1), st.text(2), st.text(3),
                      st.text(4),    st.text(5),    st.text(6)};
  });
}

}  // namespace boucle::store
