// The Store over SQL: test cases, each attempt's results, flakes and quarantines.
#include <cstdio>
#include <cstdlib>
#include <map>

#include "core/clock.h"
#include "core/encoding.h"
#include "store/sql/packed_results.h"
#include "store/sql/sql_store.h"

namespace boucle::store {

namespace {

constexpr const char* kExecutionColumns =
    "id, run_id, project, job, attempt, commit_sha, branch, agent, at, tests, failed, skipped, "
    "results";

TestExecution readExecution(const Statement& s) {
  TestExecution e;
  e.id = s.integer(0);
  e.runId = s.integer(1);
  e.project = s.text(2);
  e.job = s.text(3);
  e.attempt = static_cast<int>(s.integer(4));
  e.commit = s.text(5);
  e.branch = s.text(6);
  e.agent = s.text(7);
  e.at = s.integer(8);
  e.tests = static_cast<int>(s.integer(9));
  e.failed = static_cast<int>(s.integer(10));
  e.skipped = static_cast<int>(s.integer(11));
  return e;
}

constexpr const char* kQuarantineColumns =
    "q.id, q.project, q.test, c.suite, c.name, q.reason, q.owner, q.created_at, q.expires_at, "
    "q.clean_needed, q.clean_runs, q.state, q.ended_at, q.ended_by, q.ended_why";

Quarantine readQuarantine(const Statement& s) {
  Quarantine q;
  q.id = s.integer(0);
  q.project = s.text(1);
  q.test = s.integer(2);
  q.suite = s.text(3);
  q.name = s.text(4);
  q.reason = s.text(5);
  q.owner = s.text(6);
  q.createdAt = s.integer(7);
  q.expiresAt = s.integer(8);
  q.cleanNeeded = static_cast<int>(s.integer(9));
  q.cleanRuns = static_cast<int>(s.integer(10));
  q.state = s.text(11);
  q.endedAt = optInt(s, 12);
  q.endedBy = s.text(13);
  q.endedWhy = s.text(14);
  return q;
}

}  // namespace

Result<std::vector<int64_t>> SqlStore::testIds(std::string_view project,
                                               const std::vector<TestCaseName>& cases) {
  std::lock_guard lock(mu_);
  std::vector<int64_t> ids;
  Status st = db_.transaction([&]() -> Status {
    ids.assign(cases.size(), 0);
    // The project's names in one read: a job's thousands of cases are mostly known ones.
    std::map<std::pair<std::string, std::string>, std::pair<int64_t, std::string>> known;
    auto all = db_.prepare("SELECT id, suite, name, file FROM test_cases WHERE project = ?");
    if (!all.ok()) return all.status();
    all->bind(1, project);
    while (true) {
      auto row = all->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      known[{all->text(1), all->text(2)}] = {all->integer(0), all->text(3)};
    }
    std::optional<Statement> add, file;
    for (size_t i = 0; i < cases.size(); ++i) {
      const auto& c = cases[i];
      auto it = known.find({c.suite, c.name});
      if (it != known.end()) {
        ids[i] = it->second.first;
        if (c.file.empty() || c.file == it->second.second) continue;
        if (!file) {
          auto s = db_.prepare("UPDATE test_cases SET file = ? WHERE id = ?");
          if (!s.ok()) return s.status();
          file.emplace(std::move(s).value());
        }
        file->reset();
        file->bind(1, c.file).bind(2, ids[i]);
        if (auto e = file->run(); !e.ok()) return e;
        it->second.second = c.file;
        continue;
      }
      if (!add) {
        // Another server may add the same name at once: the conflict gives its id back.
        auto s = db_.prepare(
            "INSERT INTO test_cases (project, suite, name, file, first_seen) VALUES (?, ?, ?, ?, "
            "?) ON CONFLICT (project, suite, name) DO UPDATE SET file = excluded.file RETURNING "
            "id");
        if (!s.ok()) return s.status();
        add.emplace(std::move(s).value());
      }
      add->reset();
      add->bind(1, project).bind(2, c.suite).bind(3, c.name).bind(4, c.file).bind(5, nowMs());
      auto id = sql::insertedId(*add);
      if (!id.ok()) return id.status();
      ids[i] = *id;
      known[{c.suite, c.name}] = {*id, c.file};
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return ids;
}

Result<std::vector<TestCaseName>> SqlStore::listTestCases(std::string_view project) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT id, suite, name, file, first_seen FROM test_cases WHERE project = ? ORDER BY id");
  if (!s.ok()) return s.status();
  s->bind(1, project);
  return readAll(*s, [](const Statement& r) {
    return TestCaseName{r.integer(0), r.text(1), r.text(2), r.text(3), r.integer(4)};
  });
}

Result<int64_t> SqlStore::addTestExecution(const TestExecution& e) {
  std::lock_guard lock(mu_);
  std::string packed = packResults(e.results);
  int64_t id = 0;
  Status st = db_.transaction([&]() -> Status {
    auto old = db_.prepare(
        "DELETE FROM test_executions WHERE run_id = ? AND job = ? AND "
        "attempt = ?");
    if (!old.ok()) return old.status();
    old->bind(1, e.runId).bind(2, e.job).bind(3, int64_t{e.attempt});
    if (auto r = old->run(); !r.ok()) return r;
    auto s = db_.prepare(
        "INSERT INTO test_executions (run_id, project, job, attempt, commit_sha, branch, agent, "
        "at, tests, failed, skipped, results) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING id");
    if (!s.ok()) return s.status();
    s->bind(1, e.runId).bind(2, e.project).bind(3, e.job).bind(4, int64_t{e.attempt});
    s->bind(5, e.commit).bind(6, e.branch).bind(7, e.agent).bind(8, e.at);
    s->bind(9, int64_t{e.tests}).bind(10, int64_t{e.failed}).bind(11, int64_t{e.skipped});
    s->bind(12, packed);
    auto inserted = sql::insertedId(*s);
    if (!inserted.ok()) return inserted.status();
    id = *inserted;
    if (e.failures.empty()) return Status::Ok();
    auto f = db_.prepare(
        "INSERT INTO test_failures (execution, test, kind, message, location) VALUES (?, ?, ?, "
        "?, ?) ON CONFLICT (execution, test) DO NOTHING");
    if (!f.ok()) return f.status();
    for (const auto& n : e.failures) {
      f->reset();
      f->bind(1, id).bind(2, n.test).bind(3, n.kind).bind(4, n.message).bind(5, n.location);
      if (auto r = f->run(); !r.ok()) return r;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return id;
}

Result<std::vector<TestExecution>> SqlStore::testExecutions(const TestQuery& q) {
  std::vector<TestExecution> out;
  std::vector<std::string> packed;
  {
    std::lock_guard lock(mu_);
    std::string sql =
        std::string("SELECT ") + kExecutionColumns + " FROM test_executions WHERE project = ?";
    if (!q.commit.empty()) sql += " AND commit_sha = ?";
    if (q.beforeId > 0) sql += " AND id < ?";
    sql += " ORDER BY id DESC LIMIT ?";
    auto s = db_.prepare(sql);
    if (!s.ok()) return s.status();
    int i = 1;
    s->bind(i++, q.project);
    if (!q.commit.empty()) s->bind(i++, q.commit);
    if (q.beforeId > 0) s->bind(i++, q.beforeId);
    s->bind(i, int64_t{q.limit});
    while (true) {
      auto row = s->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back(readExecution(*s));
      if (q.withResults) packed.push_back(s->text(12));
    }
    if (!q.withResults) return out;
    auto f = db_.prepare(
        "SELECT test, kind, message, location FROM test_failures WHERE execution = ? ORDER BY "
        "test");
    if (!f.ok()) return f.status();
    for (auto& e : out) {
      f->reset();
      f->bind(1, e.id);
      auto notes = readAll(*f, [](const Statement& r) {
        return TestFailureNote{r.integer(0), r.text(1), r.text(2), r.text(3)};
      });
      if (!notes.ok()) return notes.status();
      e.failures = std::move(notes).value();
    }
  }
  // Unpacked without the store's lock: thousands of cases a row hold no other caller up.
  for (size_t k = 0; k < out.size(); ++k) {
    auto results = unpackResults(packed[k]);
    if (!results.ok()) return results.status();
    out[k].results = std::move(results).value();
  }
  return out;
}

Status SqlStore::addTestFlakes(const std::vector<TestFlake>& flakes) {
  if (flakes.empty()) return Status::Ok();
  std::lock_guard lock(mu_);
  return db_.transaction([&]() -> Status {
    auto s = db_.prepare(
        "INSERT INTO test_flakes (project, test, run_id, commit_sha, how, agent, at) VALUES (?, ?, "
        "?, ?, ?, ?, ?) ON CONFLICT (test, run_id) DO NOTHING");
    if (!s.ok()) return s.status();
    for (const auto& f : flakes) {
      s->reset();
      s->bind(1, f.project).bind(2, f.test).bind(3, f.runId).bind(4, f.commit).bind(5, f.how);
      s->bind(6, f.agent).bind(7, f.at);
      if (auto r = s->run(); !r.ok()) return r;
    }
    return Status::Ok();
  });
}

Result<std::vector<TestFlake>> SqlStore::listTestFlakes(std::string_view project, int64_t sinceMs) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "SELECT project, test, run_id, commit_sha, how, agent, at FROM test_flakes WHERE project = "
      "? AND at >= ? ORDER BY at DESC, run_id DESC LIMIT 10000");
  if (!s.ok()) return s.status();
  s->bind(1, project).bind(2, sinceMs);
  return readAll(*s, [](const Statement& r) {
    return TestFlake{r.text(0), r.integer(1), r.integer(2), r.text(3),
                     r.text(4), r.text(5),    r.integer(6)};
  });
}

Result<Quarantine> SqlStore::addQuarantine(const Quarantine& q) {
  std::lock_guard lock(mu_);
  Quarantine out = q;
  Status st = db_.transaction([&]() -> Status {
    auto exists = db_.prepare("SELECT 1 FROM test_quarantines WHERE test = ? AND state = 'active'");
    if (!exists.ok()) return exists.status();
    exists->bind(1, q.test);
    auto row = exists->step();
    if (!row.ok()) return row.status();
    if (*row) return Status::Conflict("the test is quarantined already");
    auto s = db_.prepare(
        "INSERT INTO test_quarantines (project, test, reason, owner, created_at, expires_at, "
        "clean_needed, clean_runs, state) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 'active') RETURNING id");
    if (!s.ok()) return s.status();
    s->bind(1, q.project).bind(2, q.test).bind(3, q.reason).bind(4, q.owner);
    s->bind(5, q.createdAt).bind(6, q.expiresAt).bind(7, int64_t{q.cleanNeeded});
    auto id = sql::insertedId(*s);
    if (!id.ok()) return id.status();
    out.id = *id;
    out.cleanRuns = 0;
    out.state = "active";
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::optional<Quarantine>> SqlStore::countQuarantineRun(int64_t id, int64_t runId,
                                                               bool clean, int64_t atMs) {
  std::lock_guard lock(mu_);
  std::optional<Quarantine> out;
  Status st = db_.transaction([&]() -> Status {
    out.reset();
    // One statement each, so that a release or another server's count in between is never
    // written over.
    auto count = db_.prepare(
        clean ? "UPDATE test_quarantines SET clean_runs = clean_runs + 1, last_run = ? WHERE id = "
                "? AND state = 'active' AND last_run != ?"
              : "UPDATE test_quarantines SET clean_runs = 0, last_run = ? WHERE id = ? AND state "
                "= 'active'");
    if (!count.ok()) return count.status();
    count->bind(1, runId).bind(2, id);
    if (clean) count->bind(3, runId);
    if (auto e = count->run(); !e.ok()) return e;
    auto done = db_.prepare(
        "UPDATE test_quarantines SET state = 'released', ended_at = ?, ended_by = 'boucle', "
        "ended_why = CAST(clean_runs AS TEXT) || ' clean runs in a row' WHERE id = ? AND state = "
        "'active' AND clean_runs >= clean_needed");
    if (!done.ok()) return done.status();
    done->bind(1, atMs).bind(2, id);
    if (auto e = done->run(); !e.ok()) return e;
    auto s = db_.prepare(std::string("SELECT ") + kQuarantineColumns +
                         " FROM test_quarantines q JOIN test_cases c ON c.id = q.test WHERE q.id "
                         "= ?");
    if (!s.ok()) return s.status();
    s->bind(1, id);
    auto row = s->step();
    if (!row.ok()) return row.status();
    if (*row) out = readQuarantine(*s);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Status SqlStore::endQuarantine(int64_t id, std::string_view state, std::string_view by,
                               std::string_view why, int64_t atMs) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "UPDATE test_quarantines SET state = ?, ended_at = ?, ended_by = ?, ended_why = ? WHERE id "
      "= ? AND state = 'active'");
  if (!s.ok()) return s.status();
  s->bind(1, state).bind(2, atMs).bind(3, by).bind(4, why).bind(5, id);
  if (auto st = s->run(); !st.ok()) return st;
  if (db_.changes() == 0) return Status::NotFound("the quarantine is not active");
  return Status::Ok();
}

Result<std::vector<Quarantine>> SqlStore::listQuarantines(std::string_view project,
                                                          bool activeOnly) {
  std::lock_guard lock(mu_);
  auto s =
      db_.prepare(std::string("SELECT ") + kQuarantineColumns +
                  " FROM test_quarantines q JOIN test_cases c ON c.id = q.test WHERE "
                  "q.project = ?" +
                  (activeOnly ? " AND q.state = 'active'" : "") + " ORDER BY q.id DESC LIMIT 1000");
  if (!s.ok()) return s.status();
  s->bind(1, project);
  return readAll(*s, readQuarantine);
}

namespace {

// Figures as "name=value" lines and samples as a comma list: plain text every backend keeps,
// read back exactly (%.17g).
std::string figuresText(const std::map<std::string, double>& figures) {
  std::string out;
  char buf[64];
  for (const auto& [k, v] : figures) {
    std::snprintf(buf, sizeof buf, "%.17g", v);
    out += k + "=" + buf + "\n";
  }
  return out;
}

std::map<std::string, double> figuresOf(const std::string& text) {
  std::map<std::string, double> out;
  for (const auto& line : split(text, '\n')) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    out[line.substr(0, eq)] = std::strtod(line.c_str() + eq + 1, nullptr);
  }
  return out;
}

std::string samplesText(const std::vector<double>& samples) {
  std::string out;
  char buf[64];
  for (double v : samples) {
    std::snprintf(buf, sizeof buf, "%.17g", v);
    if (!out.empty()) out += ',';
    out += buf;
  }
  return out;
}

std::vector<double> samplesOf(const std::string& text) {
  std::vector<double> out;
  for (const auto& v : split(text, ',')) out.push_back(std::strtod(v.c_str(), nullptr));
  return out;
}

constexpr const char* kBenchmarkColumns =
    "run_id, project, job, name, commit_sha, source, figures, samples";

BenchmarkRecord readBenchmark(const Statement& s) {
  return {s.integer(0),         s.text(1),           s.text(2), s.text(3), s.text(4), s.text(5),
          figuresOf(s.text(6)), samplesOf(s.text(7))};
}

}  // namespace

Status SqlStore::addBenchmarks(const std::vector<BenchmarkRecord>& records) {
  if (records.empty()) return Status::Ok();
  std::lock_guard lock(mu_);
  return db_.transaction([&]() -> Status {
    auto s = db_.prepare(
        "INSERT INTO benchmarks (run_id, project, job, name, commit_sha, source, figures, samples) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, job, name) DO UPDATE SET figures = "
        "excluded.figures, samples = excluded.samples, source = excluded.source");
    if (!s.ok()) return s.status();
    for (const auto& b : records) {
      s->reset();
      s->bind(1, b.runId).bind(2, b.project).bind(3, b.job).bind(4, b.name).bind(5, b.commit);
      s->bind(6, b.source).bind(7, figuresText(b.figures)).bind(8, samplesText(b.samples));
      if (auto r = s->run(); !r.ok()) return r;
    }
    return Status::Ok();
  });
}

Result<std::vector<BenchmarkRecord>> SqlStore::runBenchmarks(int64_t runId) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kBenchmarkColumns +
                       " FROM benchmarks WHERE run_id = ? ORDER BY job, name");
  if (!s.ok()) return s.status();
  s->bind(1, runId);
  return readAll(*s, readBenchmark);
}

Result<std::vector<BenchmarkRecord>> SqlStore::commitBenchmarks(
    std::string_view project, const std::vector<std::string>& commits) {
  std::lock_guard lock(mu_);
  std::vector<BenchmarkRecord> out;
  auto s = db_.prepare(std::string("SELECT ") + kBenchmarkColumns +
                       " FROM benchmarks WHERE project = ? AND commit_sha = ? ORDER BY run_id "
                       "DESC, job, name LIMIT 5000");
  if (!s.ok()) return s.status();
  for (const auto& c : commits) {
    s->reset();
    s->bind(1, project).bind(2, c);
    auto rows = readAll(*s, readBenchmark);
    if (!rows.ok()) return rows.status();
    out.insert(out.end(), rows->begin(), rows->end());
  }
  return out;
}

}  // namespace boucle::store
