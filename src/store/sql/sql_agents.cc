// The Store over SQL: remote agents and the jobs they claim. Every write here goes through
// monitorWrite: leases are renewed and logs grow many times a second with many agents, and none
// of it changes an answer the API caches (a job's state reaches the jobs table through its run).

#include "core/names.h"
#include "store/sql/sql_store.h"

namespace boucle::store {

namespace {

constexpr const char* kAgentJobColumns =
    "id, run_id, project, job, attempt, labels, spec, log_path, state, agent, epoch, "
    "lease_until, log_size, cancel, result, queued_at, started_at, ended_at, uploads";

AgentJob readAgentJob(const Statement& s) {
  AgentJob j;
  j.id = s.integer(0);
  j.runId = s.integer(1);
  j.project = s.text(2);
  j.job = s.text(3);
  j.attempt = static_cast<int>(s.integer(4));
  j.labels = splitNames(s.text(5));
  j.spec = s.text(6);
  j.logPath = s.text(7);
  j.state = s.text(8);
  j.agent = s.text(9);
  j.epoch = s.integer(10);
  j.leaseUntil = s.integer(11);
  j.logSize = s.integer(12);
  j.cancel = s.integer(13) != 0;
  j.result = s.text(14);
  j.queuedAt = s.integer(15);
  j.startedAt = s.integer(16);
  j.endedAt = s.integer(17);
  std::string uploads = s.text(18);
  for (size_t at = 0; at < uploads.size();) {
    size_t nl = uploads.find('\n', at);
    if (nl == std::string::npos) nl = uploads.size();
    if (nl > at) j.uploads.push_back(uploads.substr(at, nl - at));
    at = nl + 1;
  }
  return j;
}

}  // namespace

Result<AgentJob> SqlStore::queueAgentJob(const AgentJob& j) {
  std::lock_guard lock(mu_);
  AgentJob out = j;
  out.state = "queued";
  Status st = monitorWrite([&]() -> Status {
    auto s = db_.prepare(
        "INSERT INTO agent_jobs (run_id, project, job, attempt, labels, spec, log_path, state, "
        "queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?) RETURNING id");
    if (!s.ok()) return s.status();
    s->bind(1, j.runId).bind(2, j.project).bind(3, j.job).bind(4, int64_t{j.attempt});
    s->bind(5, joinNames(j.labels)).bind(6, j.spec).bind(7, j.logPath).bind(8, j.queuedAt);
    auto id = sql::insertedId(*s);
    if (!id.ok()) return id.status();
    out.id = *id;
    for (const auto& label : j.labels) {
      auto l = db_.prepare(
          "INSERT INTO agent_job_labels (job_id, label) VALUES (?, ?) ON CONFLICT DO NOTHING");
      if (!l.ok()) return l.status();
      l->bind(1, out.id).bind(2, label);
      if (auto e = l->run(); !e.ok()) return e;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<AgentJob> SqlStore::getAgentJob(int64_t id) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kAgentJobColumns + " FROM agent_jobs WHERE id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, id);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no agent job " + std::to_string(id));
  return readAgentJob(*s);
}

Result<std::optional<AgentJob>> SqlStore::claimAgentJob(std::string_view agent,
                                                        const std::vector<std::string>& labels,
                                                        const std::vector<std::string>& projects,
                                                        bool labelledOnly, int64_t nowMs,
                                                        int64_t leaseUntil) {
  std::lock_guard lock(mu_);
  std::optional<AgentJob> out;
  Status st = monitorWrite([&]() -> Status {
    out.reset();  // a body PostgreSQL ran again starts afresh
    auto d = db_.prepare("SELECT draining FROM agents WHERE name = ?");
    if (!d.ok()) return d.status();
    d->bind(1, agent);
    auto known = d->step();
    if (!known.ok()) return known.status();
    if (*known && d->integer(0) != 0) return Status::Ok();  // drained: takes nothing
    // The oldest queued job none of whose labels the agent lacks.
    std::string lacking = "SELECT 1 FROM agent_job_labels l WHERE l.job_id = j.id";
    if (!labels.empty()) {
      lacking += " AND l.label NOT IN (";
      for (size_t i = 0; i < labels.size(); ++i) lacking += i ? ", ?" : "?";
      lacking += ")";
    }
    std::string ofProjects =
        labelledOnly ? " AND EXISTS (SELECT 1 FROM agent_job_labels n WHERE n.job_id = j.id)" : "";
    if (!projects.empty()) {
      ofProjects += " AND project IN (";
      for (size_t i = 0; i < projects.size(); ++i) ofProjects += i ? ", ?" : "?";
      ofProjects += ")";
    }
    auto s = db_.prepare("SELECT id FROM agent_jobs j WHERE state = 'queued' AND NOT EXISTS (" +
                         lacking + ")" + ofProjects + " ORDER BY id LIMIT 1" +
                         (postgres() ? " FOR UPDATE SKIP LOCKED" : ""));
    if (!s.ok()) return s.status();
    int n = 0;
    for (const auto& l : labels) s->bind(++n, l);
    for (const auto& p : projects) s->bind(++n, p);
    auto row = s->step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
    int64_t id = s->integer(0);
    auto u = db_.prepare(std::string("UPDATE agent_jobs SET state = 'running', agent = ?, epoch = "
                                     "epoch + 1, lease_until = ?, started_at = ?, log_size = 0 "
                                     "WHERE id = ? AND state = 'queued' RETURNING ") +
                         kAgentJobColumns);
    if (!u.ok()) return u.status();
    u->bind(1, agent).bind(2, leaseUntil).bind(3, nowMs).bind(4, id);
    auto claimed = readAll(*u, readAgentJob);
    if (!claimed.ok()) return claimed.status();
    if (!claimed->empty()) out = std::move(claimed->front());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<AgentJob>> SqlStore::renewAgentLeases(
    std::string_view agent, const std::vector<std::pair<int64_t, int64_t>>& held,
    int64_t leaseUntil) {
  std::lock_guard lock(mu_);
  std::vector<AgentJob> out;
  Status st = monitorWrite([&]() -> Status {
    out.clear();
    for (const auto& [id, epoch] : held) {
      auto s =
          db_.prepare(std::string("SELECT ") + kAgentJobColumns + " FROM agent_jobs WHERE id = ?");
      if (!s.ok()) return s.status();
      s->bind(1, id);
      auto row = s->step();
      if (!row.ok()) return row.status();
      AgentJob j;
      if (*row) j = readAgentJob(*s);
      if (!*row || j.state != "running" || j.epoch != epoch || j.agent != agent) {
        // Not this agent's any more: reported with what the store knows (none: state "").
        if (!*row) {
          j = AgentJob();
          j.id = id;
          j.state = "";
        }
        out.push_back(std::move(j));
        continue;
      }
      auto u = db_.prepare("UPDATE agent_jobs SET lease_until = ? WHERE id = ?");
      if (!u.ok()) return u.status();
      u->bind(1, leaseUntil).bind(2, id);
      if (auto e = u->run(); !e.ok()) return e;
      if (j.cancel) out.push_back(std::move(j));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Status SqlStore::growAgentLog(int64_t id, int64_t epoch, int64_t from, int64_t size) {
  std::lock_guard lock(mu_);
  return monitorWrite([&]() -> Status {
    auto u = db_.prepare(
        "UPDATE agent_jobs SET log_size = ? WHERE id = ? AND epoch = ? AND state = 'running' "
        "AND log_size = ?");
    if (!u.ok()) return u.status();
    u->bind(1, size).bind(2, id).bind(3, epoch).bind(4, from);
    if (auto e = u->run(); !e.ok()) return e;
    if (db_.changes() == 1) return Status::Ok();
    auto s = db_.prepare("SELECT epoch, state, log_size FROM agent_jobs WHERE id = ?");
    if (!s.ok()) return s.status();
    s->bind(1, id);
    auto row = s->step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Conflict("job " + std::to_string(id) + " is no longer running");
    if (s->integer(0) != epoch || s->text(1) != "running")
      return Status::Conflict("job " + std::to_string(id) + " is no longer yours");
    return Status::Conflict("log_size " + std::to_string(s->integer(2)));
  });
}

Status SqlStore::endAgentJob(int64_t id, int64_t epoch, std::string_view result, int64_t nowMs) {
  std::lock_guard lock(mu_);
  return monitorWrite([&]() -> Status {
    auto u = db_.prepare(
        "UPDATE agent_jobs SET state = 'done', result = ?, ended_at = ? WHERE id = ? AND epoch "
        "= ? AND state = 'running'");
    if (!u.ok()) return u.status();
    u->bind(1, result).bind(2, nowMs).bind(3, id).bind(4, epoch);
    if (auto e = u->run(); !e.ok()) return e;
    if (db_.changes() != 1)
      return Status::Conflict("job " + std::to_string(id) + " is no longer yours");
    return Status::Ok();
  });
}

Status SqlStore::noteAgentUpload(int64_t id, int64_t epoch, std::string_view sha256) {
  std::lock_guard lock(mu_);
  return monitorWrite([&]() -> Status {
    auto u = db_.prepare(
        "UPDATE agent_jobs SET uploads = uploads || ? WHERE id = ? AND epoch = ? AND state = "
        "'running'");
    if (!u.ok()) return u.status();
    u->bind(1, std::string(sha256) + "\n").bind(2, id).bind(3, epoch);
    if (auto e = u->run(); !e.ok()) return e;
    if (db_.changes() != 1)
      return Status::Conflict("job " + std::to_string(id) + " is no longer yours");
    return Status::Ok();
  });
}

Result<std::vector<AgentJob>> SqlStore::sweepAgentJobs(int64_t nowMs) {
  std::lock_guard lock(mu_);
  std::vector<AgentJob> out;
  Status st = monitorWrite([&]() -> Status {
    auto s = db_.prepare(
        std::string("UPDATE agent_jobs SET state = 'lost', ended_at = ? WHERE state = 'running' "
                    "AND lease_until < ? RETURNING ") +
        kAgentJobColumns);
    if (!s.ok()) return s.status();
    s->bind(1, nowMs).bind(2, nowMs);
    auto rows = readAll(*s, readAgentJob);
    if (!rows.ok()) return rows.status();
    out = std::move(rows).value();
    constexpr const char* kEndedRun =
        "run_id IN (SELECT id FROM runs WHERE state NOT IN ('queued', 'running'))";
    auto stop = db_.prepare(std::string("UPDATE agent_jobs SET cancel = 1 WHERE state = "
                                        "'running' AND cancel = 0 AND ") +
                            kEndedRun);
    if (!stop.ok()) return stop.status();
    if (auto e = stop->run(); !e.ok()) return e;
    auto gone = db_.prepare(std::string("DELETE FROM agent_jobs WHERE state <> 'running' AND ") +
                            kEndedRun);
    if (!gone.ok()) return gone.status();
    return gone->run();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<AgentJob>> SqlStore::startedAgentJobs(int64_t runId) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kAgentJobColumns +
                       " FROM agent_jobs WHERE run_id = ? AND state IN ('running', 'done', "
                       "'lost', 'cancelled') ORDER BY id");
  if (!s.ok()) return s.status();
  s->bind(1, runId);
  return readAll(*s, readAgentJob);
}

Result<std::vector<AgentJob>> SqlStore::agentJobsOfRun(int64_t runId) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kAgentJobColumns +
                       " FROM agent_jobs WHERE run_id = ? ORDER BY id");
  if (!s.ok()) return s.status();
  s->bind(1, runId);
  return readAll(*s, readAgentJob);
}

Status SqlStore::forgetAgentJob(int64_t id) {
  std::lock_guard lock(mu_);
  return monitorWrite([&]() -> Status {
    auto s = db_.prepare("DELETE FROM agent_jobs WHERE id = ?");
    if (!s.ok()) return s.status();
    s->bind(1, id);
    return s->run();
  });
}

Status SqlStore::cancelAgentJobs(int64_t runId) {
  std::lock_guard lock(mu_);
  return monitorWrite([&]() -> Status {
    auto q = db_.prepare(
        "UPDATE agent_jobs SET state = 'cancelled' WHERE run_id = ? AND state = 'queued'");
    if (!q.ok()) return q.status();
    q->bind(1, runId);
    if (auto e = q->run(); !e.ok()) return e;
    auto r = db_.prepare("UPDATE agent_jobs SET cancel = 1 WHERE run_id = ? AND state = 'running'");
    if (!r.ok()) return r.status();
    r->bind(1, runId);
    return r->run();
  });
}

Result<bool> SqlStore::agentSeen(const AgentRecord& a) {
  std::lock_guard lock(mu_);
  bool draining = false;
  Status st = monitorWrite([&]() -> Status {
    auto s = db_.prepare(
        "INSERT INTO agents (name, labels, version, host, capacity, seen_at) VALUES (?, ?, ?, ?, "
        "?, ?) ON CONFLICT (name) DO UPDATE SET labels = excluded.labels, version = "
        "excluded.version, host = excluded.host, capacity = excluded.capacity, seen_at = "
        "excluded.seen_at RETURNING draining");
    if (!s.ok()) return s.status();
    s->bind(1, a.name).bind(2, joinNames(a.labels)).bind(3, a.version).bind(4, a.host);
    s->bind(5, a.capacity).bind(6, a.seenAt);
    auto row = s->step();
    if (!row.ok()) return row.status();
    draining = *row && s->integer(0) != 0;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return draining;
}

Result<std::vector<AgentRecord>> SqlStore::listAgents() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT name, labels, version, host, capacity, seen_at, draining, (SELECT COUNT(*) FROM "
      "agent_jobs j WHERE j.agent = a.name AND j.state = 'running') FROM agents a ORDER BY name");
  if (!s.ok()) return s.status();
  return readAll(*s, [](const Statement& r) {
    AgentRecord a;
    a.name = r.text(0);
    a.labels = splitNames(r.text(1));
    a.version = r.text(2);
    a.host = r.text(3);
    a.capacity = r.integer(4);
    a.seenAt = r.integer(5);
    a.draining = r.integer(6) != 0;
    a.running = r.integer(7);
    return a;
  });
}

Status SqlStore::setAgentDraining(std::string_view name, bool draining) {
  std::lock_guard lock(mu_);
  return monitorWrite([&]() -> Status {
    auto s = db_.prepare("UPDATE agents SET draining = ? WHERE name = ?");
    if (!s.ok()) return s.status();
    s->bind(1, int64_t{draining ? 1 : 0}).bind(2, name);
    if (auto e = s->run(); !e.ok()) return e;
    if (db_.changes() != 1) return Status::NotFound("no agent '" + std::string(name) + "'");
    return Status::Ok();
  });
}

}  // namespace boucle::store
