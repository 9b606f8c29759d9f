#include "store/sql/copy.h"

#include <filesystem>
#include <map>
#include <optional>

#include "store/postgres/pg_connection.h"
#include "store/sqlite/sqlite_connection.h"
#include "store/store.h"

namespace boucle::store::sql {

namespace {

// Every table, parents before the tables that refer to them. The schema's own bookkeeping
// (SQLite's user_version, PostgreSQL's boucle_schema and boucle_revision) is not data.
constexpr const char* kTables[] = {"projects",
                                   "runs",
                                   "jobs",
                                   "tokens",
                                   "branch_heads",
                                   "deliveries",
                                   "schedules",
                                   "bisections",
                                   "releases",
                                   "env_values",
                                   "deploys",
                                   "env_migrations",
                                   "audit",
                                   "hook_deliveries",
                                   "incidents",
                                   "incident_events",
                                   "monitor_series",
                                   "monitor_samples",
                                   "monitor_rollups",
                                   "monitor_rollup_mark",
                                   "monitor_snapshot",
                                   "servers",
                                   "agent_jobs",
                                   "agent_job_labels",
                                   "agents",
                                   "users",
                                   "sessions",
                                   "test_cases",
                                   "test_executions",
                                   "test_failures",
                                   "test_flakes",
                                   "test_quarantines",
                                   "benchmarks"};

// Compared value by value after the copy: what a team would miss first.
constexpr const char* kCompared[] = {"runs", "releases", "deploys"};

// The tables whose rows keep an order of their own beyond their key: SQLite's rowid,
// PostgreSQL's seq column.
bool keepsOrder(std::string_view table) {
  return table == "jobs" || table == "incident_events";
}

std::string orderOf(const Connection& db, std::string_view table) {
  if (keepsOrder(table)) return db.dialect() == Dialect::kPostgres ? "seq" : "rowid";
  return "1";
}

// A column the target numbers itself.
bool generated(const std::string& column) {
  return column == "seq";
}

using Row = std::map<std::string, std::optional<std::string>>;

Row readRow(const Statement& s) {
  Row r;
  for (int c = 0; c < s.columnCount(); ++c) {
    std::string name = s.columnName(c);
    if (generated(name)) continue;
    if (s.isNull(c))
      r[name] = std::nullopt;
    else
      r[name] = s.isInteger(c) ? std::to_string(s.integer(c)) : s.text(c);
  }
  return r;
}

Result<int64_t> countRows(Connection& db, const std::string& table) {
  auto s = db.prepare("SELECT COUNT(*) FROM " + table);
  if (!s.ok()) return s.status();
  auto row = s->step();
  if (!row.ok()) return row.status();
  return s->integer(0);
}

Status copyTable(Connection& from, Connection& to, const std::string& table,
                 const std::function<void(const std::string&, int64_t)>& progress) {
  auto read = from.prepare("SELECT * FROM " + table + " ORDER BY " + orderOf(from, table));
  if (!read.ok()) return read.status();
  std::optional<Statement> write;
  std::vector<int> columns;  // the source's columns that are written
  int64_t n = 0;
  for (;;) {
    auto row = read->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (!write) {
      std::string names, marks;
      for (int c = 0; c < read->columnCount(); ++c) {
        if (generated(read->columnName(c))) continue;
        columns.push_back(c);
        names += (names.empty() ? "" : ", ") + read->columnName(c);
        marks += marks.empty() ? "?" : ", ?";
      }
      auto w = to.prepare("INSERT INTO " + table + " (" + names + ") VALUES (" + marks + ")");
      if (!w.ok()) return w.status();
      write.emplace(std::move(w).value());
    }
    write->reset();
    for (size_t i = 0; i < columns.size(); ++i) {
      int c = columns[i];
      int index = static_cast<int>(i) + 1;
      if (read->isNull(c))
        write->bindNull(index);
      else if (read->isInteger(c))
        write->bind(index, read->integer(c));
      else
        write->bind(index, read->text(c));
    }
    if (auto st = write->run(); !st.ok())
      return Status(st.code() == Code::kConflict ? Status::Conflict(table + ": " + st.message())
                                                 : Status::Internal(table + ": " + st.message()));
    if (++n % 1000 == 0 && progress) progress(table, n);
  }
  if (progress) progress(table, n);
  // PostgreSQL numbers new rows from its own sequence, which the copied ids did not advance.
  if (to.dialect() == Dialect::kPostgres && table != "jobs" && table != "incident_events") {
    auto id = to.prepare(
        "SELECT 1 FROM information_schema.columns WHERE table_name = ? AND "
        "column_name = 'id' AND is_identity = 'YES'");
    if (!id.ok()) return id.status();
    id->bind(1, table);
    auto has = id->step();
    if (!has.ok()) return has.status();
    if (*has) {
      // An AUTOINCREMENT table of SQLite (monitor_series) never gives an id again, even once
      // its row is gone (samples still name it): its high-water mark counts too.
      int64_t floor = 0;
      if (from.dialect() == Dialect::kSqlite) {
        auto seq = from.prepare("SELECT seq FROM sqlite_sequence WHERE name = ?");
        if (seq.ok()) {
          seq->bind(1, table);
          if (auto row = seq->step(); row.ok() && *row) floor = seq->integer(0);
        }
      }
      if (auto st = to.exec("SELECT setval(pg_get_serial_sequence('" + table +
                            "', 'id'), GREATEST(COALESCE(MAX(id), 0), " + std::to_string(floor) +
                            ") + 1, false) FROM " + table);
          !st.ok())
        return st;
    }
  }
  return Status::Ok();
}

// Every row of `table` on both sides, by id, value by value.
Status compareTable(Connection& from, Connection& to, const std::string& table, CopyReport& out) {
  auto a = from.prepare("SELECT * FROM " + table + " ORDER BY id");
  auto b = to.prepare("SELECT * FROM " + table + " ORDER BY id");
  if (!a.ok()) return a.status();
  if (!b.ok()) return b.status();
  for (;;) {
    auto ra = a->step();
    auto rb = b->step();
    if (!ra.ok()) return ra.status();
    if (!rb.ok()) return rb.status();
    if (!*ra && !*rb) return Status::Ok();
    if (*ra != *rb) {
      out.differences.push_back(table + ": the target has " + (*ra ? "fewer" : "more") + " rows");
      return Status::Ok();
    }
    Row x = readRow(*a), y = readRow(*b);
    ++out.compared;
    if (x != y) {
      for (const auto& [column, value] : x) {
        auto it = y.find(column);
        if (it == y.end() || it->second != value) {
          out.differences.push_back(table + " id " + x["id"].value_or("?") + ": " + column +
                                    " differs");
        }
      }
    }
  }
}

}  // namespace

Result<std::unique_ptr<Connection>> connect(const std::string& spec, bool mustExist) {
  // The spec's rules (a password refused among them) are the store's, in one place.
  if (auto why = checkStoreSpec(spec); !why.empty()) return Status::Invalid(why);
  Result<std::unique_ptr<Connection>> db = Status::Internal("no database");
  if (spec.starts_with("sqlite:")) {
    std::string path = spec.substr(7);
    std::error_code ec;
    if (mustExist && !std::filesystem::exists(path, ec))
      return Status::NotFound("no SQLite database at " + path);
    db = sqlite::open(path);
  } else {
    db = postgres::open(spec);
  }
  if (!db.ok()) return db.status();
  if (auto st = (*db)->migrate(); !st.ok()) return st;
  return db;
}

Result<CopyReport> copyDatabase(Connection& from, Connection& to,
                                const std::function<void(const std::string&, int64_t)>& progress) {
  for (const char* t : {"projects", "runs", "tokens"}) {
    auto n = countRows(to, t);
    if (!n.ok()) return n.status();
    if (*n > 0) {
      return Status::Conflict(std::string("the target already holds ") + t +
                              ": migrate moves an installation into an empty database");
    }
  }
  // One snapshot of the source, should anything still write to it.
  if (auto st = from.exec(from.dialect() == Dialect::kPostgres
                              ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                              : "BEGIN");
      !st.ok())
    return st;
  // The check runs inside the copy's transaction: a target that differs is rolled back, left
  // empty for another try, rather than committed and then found wrong.
  CopyReport report;
  Status st = to.transaction([&]() -> Status {
    report = CopyReport{};
    for (const char* t : kTables) {
      if (auto e = copyTable(from, to, t, progress); !e.ok()) return e;
    }
    for (const char* t : kTables) {
      auto a = countRows(from, t);
      auto b = countRows(to, t);
      if (!a.ok()) return a.status();
      if (!b.ok()) return b.status();
      report.tables.push_back({t, *a, *b});
      if (*a != *b) {
        report.differences.push_back(std::string(t) + ": " + std::to_string(*a) +
                                     " rows in the source, " + std::to_string(*b) +
                                     " in the target");
      }
    }
    for (const char* t : kCompared) {
      if (auto e = compareTable(from, to, t, report); !e.ok()) return e;
    }
    if (!report.differences.empty()) return Status::Cancelled("the copy differs: rolled back");
    return Status::Ok();
  });
  if (st.code() == Code::kCancelled && !report.differences.empty()) st = Status::Ok();
  Status end = from.exec("COMMIT");
  (void)end;  // a read-only snapshot: nothing to lose if it fails
  if (!st.ok()) return st;
  return report;
}

}  // namespace boucle::store::sql
