// The Store over SQL: monitor data (series, raw samples and one-minute rollups).
#include "store/sql/sql_store.h"

namespace boucle::store {

namespace {

constexpr int64_t kMinuteMs = 60'000;

}  // namespace

Status SqlStore::monitorWrite(const std::function<Status()>& write) {
  int64_t before = db_.totalChanges();
  Status st = db_.transaction(write);
  monitorChanges_ += db_.totalChanges() - before;
  return st;
}

Result<int64_t> SqlStore::monitorSeries(const MonitorSeries& key) {
  std::lock_guard lock(mu_);
  int64_t id = 0;
  Status st = monitorWrite([&]() -> Status {
    auto find = db_.prepare(
        "SELECT id FROM monitor_series WHERE project = ? AND env = ? AND monitor = ? AND "
        "host = ? AND release = ?");
    if (!find.ok()) return find.status();
    find->bind(1, key.project)
        .bind(2, key.env)
        .bind(3, key.monitor)
        .bind(4, key.host)
        .bind(5, key.release);
    auto row = find->step();
    if (!row.ok()) return row.status();
    if (*row) {
      id = find->integer(0);
      return Status::Ok();
    }
    auto add = db_.prepare(
        "INSERT INTO monitor_series (project, env, monitor, host, release) VALUES (?, ?, ?, ?, "
        "?) RETURNING id");
    if (!add.ok()) return add.status();
    add->bind(1, key.project)
        .bind(2, key.env)
        .bind(3, key.monitor)
        .bind(4, key.host)
        .bind(5, key.release);
    auto added = sql::insertedId(*add);
    if (!added.ok()) return added.status();
    id = *added;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return id;
}

Result<std::vector<MonitorSeries>> SqlStore::listMonitorSeries(std::string_view project) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT id, project, env, monitor, host, release FROM monitor_series WHERE ? = '' OR "
      "project = ? ORDER BY id");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, project);
  return readAll(*s, [](const Statement& r) {
    return MonitorSeries{r.integer(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(5)};
  });
}

Status SqlStore::addMonitorSamples(const std::vector<MonitorSample>& samples) {
  if (samples.empty()) return Status::Ok();
  std::lock_guard lock(mu_);
  return monitorWrite([&]() -> Status {
    auto s = db_.prepare(
        "INSERT INTO monitor_samples (at, series, verdict, latency) VALUES (?, ?, ?, ?) ON "
        "CONFLICT (at, series) DO UPDATE SET verdict = excluded.verdict, latency = "
        "excluded.latency");
    if (!s.ok()) return s.status();
    for (const auto& x : samples) {
      s->reset();
      s->bind(1, x.atMs).bind(2, x.series).bind(3, int64_t{x.verdict}).bind(4, x.latencyMs);
      if (auto e = s->run(); !e.ok()) return e;
    }
    return Status::Ok();
  });
}

Result<std::vector<MonitorSample>> SqlStore::monitorSamples(int64_t fromMs, int64_t toMs) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT series, at, verdict, latency FROM monitor_samples WHERE at >= ? AND at < ? ORDER "
      "BY at");
  if (!s.ok()) return s.status();
  s->bind(1, fromMs).bind(2, toMs);
  return readAll(*s, [](const Statement& r) {
    return MonitorSample{r.integer(0), r.integer(1), static_cast<int>(r.integer(2)), r.integer(3)};
  });
}

Status SqlStore::putMonitorRollups(const std::vector<MonitorRollup>& rollups, int64_t doneUntilMs) {
  std::lock_guard lock(mu_);
  return monitorWrite([&]() -> Status {
    auto s = db_.prepare(
        "INSERT INTO monitor_rollups (series, minute, count, failures, no_data, slow, p50, p95, "
        "p99) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (series, minute) DO UPDATE SET "
        "count = excluded.count, failures = excluded.failures, no_data = excluded.no_data, slow "
        "= excluded.slow, p50 = excluded.p50, p95 = excluded.p95, p99 = excluded.p99");
    if (!s.ok()) return s.status();
    for (const auto& r : rollups) {
      s->reset();
      s->bind(1, r.series)
          .bind(2, r.minuteMs / kMinuteMs)
          .bind(3, int64_t{r.count})
          .bind(4, int64_t{r.failures})
          .bind(5, int64_t{r.noData})
          .bind(6, int64_t{r.slow})
          .bind(7, r.p50Ms)
          .bind(8, r.p95Ms)
          .bind(9, r.p99Ms);
      if (auto e = s->run(); !e.ok()) return e;
    }
    auto mark = db_.prepare(
        "INSERT INTO monitor_rollup_mark (id, done_until) VALUES (1, ?) ON CONFLICT (id) DO "
        "UPDATE SET done_until = excluded.done_until");
    if (!mark.ok()) return mark.status();
    mark->bind(1, doneUntilMs);
    return mark->run();
  });
}

Result<int64_t> SqlStore::monitorRollupsDoneUntil() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT done_until FROM monitor_rollup_mark WHERE id = 1");
  if (!s.ok()) return s.status();
  auto row = s->step();
  if (!row.ok()) return row.status();
  return *row ? s->integer(0) : int64_t{0};
}

Result<std::vector<MonitorRollup>> SqlStore::monitorRollups(int64_t series, int64_t fromMs) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT series, minute, count, failures, no_data, slow, p50, p95, p99 FROM "
      "monitor_rollups WHERE series = ? AND minute >= ? ORDER BY minute");
  if (!s.ok()) return s.status();
  s->bind(1, series).bind(2, fromMs / kMinuteMs);
  return readAll(*s, [](const Statement& r) {
    MonitorRollup x;
    x.series = r.integer(0);
    x.minuteMs = r.integer(1) * kMinuteMs;
    x.count = static_cast<int>(r.integer(2));
    x.failures = static_cast<int>(r.integer(3));
    x.noData = static_cast<int>(r.integer(4));
    x.slow = static_cast<int>(r.integer(5));
    x.p50Ms = r.integer(6);
    x.p95Ms = r.integer(7);
    x.p99Ms = r.integer(8);
    return x;
  });
}

Status SqlStore::pruneMonitorData(int64_t samplesBeforeMs, int64_t rollupsBeforeMs) {
  std::lock_guard lock(mu_);
  return monitorWrite([&]() -> Status {
    auto raw = db_.prepare("DELETE FROM monitor_samples WHERE at < ?");
    if (!raw.ok()) return raw.status();
    raw->bind(1, samplesBeforeMs);
    if (auto e = raw->run(); !e.ok()) return e;
    // Rollups are keyed by series: deleting per series stays on the key, where one DELETE by
    // minute would read every row.
    auto ids = db_.prepare("SELECT id FROM monitor_series");
    if (!ids.ok()) return ids.status();
    auto all = readAll(*ids, [](const Statement& r) { return r.integer(0); });
    if (!all.ok()) return all.status();
    auto old = db_.prepare("DELETE FROM monitor_rollups WHERE series = ? AND minute < ?");
    if (!old.ok()) return old.status();
    for (int64_t id : *all) {
      old->reset();
      old->bind(1, id).bind(2, rollupsBeforeMs / kMinuteMs);
      if (auto e = old->run(); !e.ok()) return e;
    }
    return Status::Ok();
  });
}

Result<std::vector<StateCount>> SqlStore::countByState(Counted what) {
  const char* sql = "";
  switch (what) {
    case Counted::kRuns:
      sql = "SELECT project, '', state, count(*) FROM runs GROUP BY project, state";
      break;
    case Counted::kJobs:
      sql =
          "SELECT r.project, '', j.state, count(*) FROM jobs j JOIN runs r ON r.id = j.run_id "
          "GROUP BY r.project, j.state";
      break;
    case Counted::kDeploys:
      sql = "SELECT project, env, state, count(*) FROM deploys GROUP BY project, env, state";
      break;
    case Counted::kOpenIncidents:
      sql =
          "SELECT project, env, 'open', count(*) FROM incidents WHERE state = 'open' GROUP BY "
          "project, env";
      break;
  }
  std::lock_guard lock(mu_);
  auto s = db_.prepare(sql);
  if (!s.ok()) return s.status();
  return readAll(*s, [](const Statement& r) {
    return StateCount{r.text(0), r.text(1), r.text(2), r.integer(3)};
  });
}

Status SqlStore::putMonitorSnapshot(std::string_view json, int64_t atMs) {
  std::lock_guard lock(mu_);
  return monitorWrite([&]() -> Status {
    auto s = db_.prepare(
        "INSERT INTO monitor_snapshot (id, body, at) VALUES (1, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET body = excluded.body, at = excluded.at");
    if (!s.ok()) return s.status();
    s->bind(1, json).bind(2, atMs);
    return s->run();
  });
}

Result<std::string> SqlStore::monitorSnapshot() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("SELECT body FROM monitor_snapshot WHERE id = 1");
  if (!s.ok()) return s.status();
  auto row = s->step();
  if (!row.ok()) return row.status();
  return *row ? s->text(0) : std::string();
}

}  // namespace boucle::store
