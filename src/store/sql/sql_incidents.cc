// The Store over SQL: incidents and their timelines.
#include "store/sql/sql_store.h"

namespace boucle::store {

namespace {

constexpr const char* kIncidentColumns =
    "id, project, env, source, monitor, fingerprint, title, state, release, deploy_id, "
    "opened_by, opened_at, resolved_by, resolved_at";

Incident readIncident(const Statement& s) {
  Incident i;
  i.id = s.integer(0);
  i.project = s.text(1);
  i.env = s.text(2);
  i.source = s.text(3);
  i.monitor = s.text(4);
  i.fingerprint = s.text(5);
  i.title = s.text(6);
  i.state = s.text(7);
  i.release = s.text(8);
  if (!s.isNull(9)) i.deployId = s.integer(9);
  i.openedBy = s.text(10);
  i.openedAt = s.integer(11);
  i.resolvedBy = s.text(12);
  if (!s.isNull(13)) i.resolvedAt = s.integer(13);
  return i;
}

}  // namespace

Result<Incident> SqlStore::openIncident(const Incident& i) {
  std::lock_guard lock(mu_);
  Incident out = i;
  out.state = "open";
  Status st = db_.transaction([&]() -> Status {
    auto s = db_.prepare(
        "INSERT INTO incidents (project, env, source, monitor, fingerprint, title, state, "
        "release, deploy_id, opened_by, opened_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?) "
        "RETURNING id");
    if (!s.ok()) return s.status();
    s->bind(1, i.project)
        .bind(2, i.env)
        .bind(3, i.source)
        .bind(4, i.monitor)
        .bind(5, i.fingerprint)
        .bind(6, i.title)
        .bind(7, i.release)
        .bind(8, i.deployId)
        .bind(9, i.openedBy)
        .bind(10, i.openedAt);
    auto id = sql::insertedId(*s);
    if (!id.ok()) return id.status();
    out.id = *id;
    auto ev = db_.prepare(
        "INSERT INTO incident_events (incident_id, at, kind, actor, text) VALUES (?, ?, "
        "'opened', ?, ?)");
    if (!ev.ok()) return ev.status();
    ev->bind(1, out.id).bind(2, i.openedAt).bind(3, i.openedBy).bind(4, i.title);
    return ev->run();
  });
  if (!st.ok()) return st;
  if (observer_) observer_->incidentChanged(out);
  return out;
}

Result<Incident> SqlStore::getIncident(int64_t id) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kIncidentColumns + " FROM incidents WHERE id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, id);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no incident " + std::to_string(id));
  return readIncident(*s);
}

Result<std::vector<Incident>> SqlStore::listIncidents(std::string_view project,
                                                      std::string_view env, int limit) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kIncidentColumns +
                       " FROM incidents WHERE project = ? AND (? = '' OR env = ?) ORDER BY id "
                       "DESC LIMIT ?");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, env).bind(3, env).bind(4, int64_t{limit});
  return readAll(*s, readIncident);
}

Result<std::vector<Incident>> SqlStore::listOpenIncidents(std::string_view project,
                                                          std::string_view env) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kIncidentColumns +
                       " FROM incidents WHERE project = ? AND env = ? AND state = 'open' ORDER BY "
                       "id DESC");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, env);
  return readAll(*s, readIncident);
}

Result<std::optional<Incident>> SqlStore::openIncidentWith(std::string_view project,
                                                           std::string_view fingerprint) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kIncidentColumns +
                       " FROM incidents WHERE project = ? AND fingerprint = ? AND state = 'open' "
                       "ORDER BY id DESC LIMIT 1");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, fingerprint);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Incident>();
  return std::optional<Incident>(readIncident(*s));
}

Status SqlStore::resolveIncident(int64_t id, std::string_view by, int64_t atMs,
                                 std::string_view text) {
  std::lock_guard lock(mu_);
  Status st = db_.transaction([&]() -> Status {
    auto s = db_.prepare(
        "UPDATE incidents SET state = 'resolved', resolved_by = ?, resolved_at = ? WHERE id = ? "
        "AND state = 'open'");
    if (!s.ok()) return s.status();
    s->bind(1, by).bind(2, atMs).bind(3, id);
    if (auto e = s->run(); !e.ok()) return e;
    if (db_.changes() == 0)
      return Status::Conflict("incident " + std::to_string(id) +
                              " is not open (or does not exist)");
    auto ev = db_.prepare(
        "INSERT INTO incident_events (incident_id, at, kind, actor, text) VALUES (?, ?, "
        "'resolved', ?, ?)");
    if (!ev.ok()) return ev.status();
    ev->bind(1, id).bind(2, atMs).bind(3, by).bind(4, text);
    return ev->run();
  });
  if (st.ok()) tellIncident(id);
  return st;
}

Status SqlStore::addIncidentEvent(const IncidentEvent& e) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO incident_events (incident_id, at, kind, actor, text) VALUES (?, ?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  s->bind(1, e.incidentId).bind(2, e.at).bind(3, e.kind).bind(4, e.actor).bind(5, e.text);
  if (auto st = s->run(); !st.ok()) return st;
  tellIncident(e.incidentId);  // its timeline grew
  return Status::Ok();
}

// With mu_ held: the observer hears of the incident as it now stands.
void SqlStore::tellIncident(int64_t id) {
  if (!observer_) return;
  auto s = db_.prepare(std::string("SELECT ") + kIncidentColumns + " FROM incidents WHERE id = ?");
  if (!s.ok()) return;
  s->bind(1, id);
  if (auto row = s->step(); row.ok() && *row) observer_->incidentChanged(readIncident(*s));
}

Result<std::vector<IncidentEvent>> SqlStore::incidentEvents(int64_t id) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT incident_id, at, kind, actor, text FROM incident_events WHERE incident_id = ? "
      "ORDER BY at, " +
      std::string(postgres() ? "seq" : "rowid"));
  if (!s.ok()) return s.status();
  s->bind(1, id);
  return readAll(*s, [](const Statement& st) {
    return IncidentEvent{st.integer(0), st.integer(1), st.text(2), st.text(3), st.text(4)};
  });
}

}  // namespace boucle::store
