#include "quality/test_book.h"

#include <algorithm>
#include <map>

#include "core/clock.h"
#include "core/suggest.h"
#include "runner/junit.h"

namespace boucle::quality {

namespace {

using runner::Outcome;

constexpr int64_t kDay = int64_t{24} * 3600 * 1000;
constexpr int64_t kFlakeWindow = 30 * kDay;
constexpr int64_t kMaxQuarantine = 90 * kDay;
constexpr int kClusterMinFailures = 3;

bool failing(int outcome) {
  return outcome == static_cast<int>(Outcome::kFailed) ||
         outcome == static_cast<int>(Outcome::kError);
}

// Every case of a report, the failures it named without a case (more than it keeps) too.
std::vector<runner::TestCase> casesOf(const runner::TestReport& t) {
  std::vector<runner::TestCase> out = t.cases;
  std::set<std::string> seen;
  for (const auto& c : out) seen.insert(runner::testKey(c.suite, c.name));
  for (const auto& f : t.failed) {
    if (seen.insert(runner::testKey(f.suite, f.name)).second)
      out.push_back(
          {f.suite, f.name, "", f.kind == "error" ? Outcome::kError : Outcome::kFailed, 0});
  }
  return out;
}

struct Attempt {
  int attempt;
  std::string agent;
  const runner::TestReport* tests;
};

// A request's run builds pr/N or pr/N/merge (scheduler/request.h), never a branch's code.
bool isRequestBranch(std::string_view branch) {
  return branch.starts_with("pr/");
}

std::string agentName(const std::string& agent) {
  return agent.empty() ? "the server's own" : agent;
}

}  // namespace

Result<Recorded> TestBook::record(const store::Run& run, const runner::JobResult& job) {
  Recorded out;
  std::vector<Attempt> attempts;
  for (const auto& a : job.retried)
    if (a.tests) attempts.push_back({a.attempt, a.agent, &*a.tests});
  if (job.tests) attempts.push_back({job.attempts, job.agent, &*job.tests});
  if (attempts.empty()) return out;

  // One id lookup for every name of every attempt.
  std::vector<std::vector<runner::TestCase>> cases;
  std::vector<store::TestCaseName> names;
  std::map<std::string, size_t> index;
  for (const auto& a : attempts) {
    cases.push_back(casesOf(*a.tests));
    for (const auto& c : cases.back()) {
      if (index.emplace(runner::testKey(c.suite, c.name), names.size()).second)
        names.push_back({0, c.suite, c.name, c.file, 0});
    }
  }
  auto ids = store_.testIds(run.project, names);
  if (!ids.ok()) return ids.status();
  auto idOf = [&](const std::string& suite, const std::string& name) {
    return (*ids)[index.at(runner::testKey(suite, name))];
  };

  int64_t now = nowMs();
  const store::TestExecution* last = nullptr;
  store::TestExecution finalExecution;
  for (size_t i = 0; i < attempts.size(); ++i) {
    const auto& a = attempts[i];
    store::TestExecution e;
    e.runId = run.id;
    e.project = run.project;
    e.job = job.name;
    e.attempt = a.attempt;
    e.commit = run.commit;
    e.branch = run.branch;
    e.agent = a.agent;
    e.at = now;
    e.tests = a.tests->tests;
    e.failed = a.tests->failures + a.tests->errors;
    e.skipped = a.tests->skipped;
    // A name twice in one report (parametrized, repeated): one result, a failure if either.
    std::map<int64_t, size_t> at;
    for (const auto& c : cases[i]) {
      int64_t id = idOf(c.suite, c.name);
      auto [it, fresh] = at.emplace(id, e.results.size());
      if (fresh) {
        e.results.push_back({id, static_cast<int>(c.outcome), c.micros});
      } else if (c.failed()) {
        e.results[it->second].outcome = static_cast<int>(c.outcome);
      }
    }
    for (const auto& f : a.tests->failed)
      e.failures.push_back({idOf(f.suite, f.name), f.kind, f.message, f.location});
    auto id = store_.addTestExecution(e);
    if (!id.ok()) return id.status();
    e.id = *id;
    if (i + 1 == attempts.size()) {
      finalExecution = std::move(e);
      last = &finalExecution;
    }
  }

  // A request's runs are kept (their history) but say nothing of the project's tests: the code
  // is not the branches', and a fork's could fail or pass a test at will.
  bool judged = !run.isRequest();
  std::vector<store::TestFlake> flakes;
  std::set<std::string> flaky;
  auto addFlake = [&](int64_t test, const std::string& key, std::string how, std::string agent) {
    if (!flaky.insert(key).second) return;
    flakes.push_back(
        {run.project, test, run.id, run.commit, std::move(how), std::move(agent), now});
  };
  // Its own attempts: what failed in one before the last and passed in the last.
  if (judged && job.tests && !job.retried.empty()) {
    for (const auto& key : runner::flakyAcross(job.retried, job.tests)) {
      std::string agent;
      for (const auto& a : job.retried) {
        if (!a.tests) continue;
        auto f = runner::failingTests(*a.tests);
        if (std::find(f.begin(), f.end(), key) != f.end()) agent = a.agent;
      }
      addFlake((*ids)[index.at(key)], key, "retry", agent);
    }
  }
  // Other runs of the commit: a test that passed there and failed here, or the reverse.
  if (judged && last && !run.commit.empty()) {
    store::TestQuery q;
    q.project = run.project;
    q.commit = run.commit;
    q.limit = 50;
    auto others = store_.testExecutions(q);
    if (!others.ok()) return others.status();
    std::map<int64_t, std::string> keyOf;
    for (const auto& n : names)
      keyOf[(*ids)[index.at(runner::testKey(n.suite, n.name))]] = runner::testKey(n.suite, n.name);
    std::map<int64_t, int> mine;
    for (const auto& r : last->results) mine[r.test] = r.outcome;
    for (const auto& other : *others) {
      // Another job may run the same tests elsewhere on purpose (another system, another
      // configuration): only the same job's runs are compared.
      if (other.runId == run.id || other.job != job.name || isRequestBranch(other.branch)) continue;
      for (const auto& r : other.results) {
        auto it = mine.find(r.test);
        if (it == mine.end()) continue;
        bool failedHere = failing(it->second);
        bool failedThere = failing(r.outcome);
        bool passedHere = it->second == static_cast<int>(Outcome::kPassed);
        bool passedThere = r.outcome == static_cast<int>(Outcome::kPassed);
        if ((failedHere && passedThere) || (passedHere && failedThere))
          addFlake(r.test, keyOf[r.test], "rerun", failedHere ? last->agent : other.agent);
      }
    }
  }
  if (auto st = store_.addTestFlakes(flakes); !st.ok()) return st;
  out.flaky.assign(flaky.begin(), flaky.end());

  // Quarantined tests' clean runs: counted once per run of a branch's whole pipeline (a
  // request's code may break a test on purpose; a bisection builds old commits), a failure in
  // any attempt of any job starting the count again.
  if (judged && !run.bisectOf && run.onlyJobs.empty()) {
    auto quarantines = store_.listQuarantines(run.project, true);
    if (!quarantines.ok()) return quarantines.status();
    std::map<int64_t, bool> clean;  // test → passed in every attempt here
    for (const auto& a : attempts) {
      for (const auto& c : casesOf(*a.tests)) {
        if (c.outcome == Outcome::kSkipped) continue;
        int64_t id = idOf(c.suite, c.name);
        auto [it, fresh] = clean.emplace(id, !c.failed());
        if (!fresh) it->second = it->second && !c.failed();
      }
    }
    for (const auto& q : *quarantines) {
      auto it = clean.find(q.test);
      if (it == clean.end()) continue;
      auto counted = store_.countQuarantineRun(q.id, run.id, it->second, now);
      if (!counted.ok()) return counted.status();
    }
  }
  return out;
}

Result<std::set<std::string>> TestBook::quarantined(const std::string& project) {
  auto list = store_.listQuarantines(project, true);
  if (!list.ok()) return list.status();
  std::set<std::string> out;
  int64_t now = nowMs();
  for (const auto& q : *list) {
    if (q.expiresAt <= now) {
      // Ended here either way; written when it can be (NotFound: someone ended it first).
      (void)store_.endQuarantine(q.id, "expired", "boucle", "its expiry came", now);
      continue;
    }
    out.insert(runner::testKey(q.suite, q.name));
  }
  return out;
}

Result<std::vector<TestSummary>> TestBook::summary(const std::string& project, bool flakyOnly,
                                                   int window) {
  auto names = store_.listTestCases(project);
  if (!names.ok()) return names.status();
  store::TestQuery q;
  q.project = project;
  q.limit = window;
  auto executions = store_.testExecutions(q);
  if (!executions.ok()) return executions.status();
  auto flakes = store_.listTestFlakes(project, nowMs() - kFlakeWindow);
  if (!flakes.ok()) return flakes.status();
  auto quarantines = quarantined(project);  // ends expired ones first
  if (!quarantines.ok()) return quarantines.status();
  auto active = store_.listQuarantines(project, true);
  if (!active.ok()) return active.status();

  struct Tally {
    TestSummary s;
    std::vector<int64_t> durations;
    std::map<std::string, int> runsOn, failsOn;
  };
  std::map<int64_t, Tally> tally;
  for (const auto& n : *names) {
    auto& t = tally[n.id];
    t.s.test = n;
    t.s.key = runner::testKey(n.suite, n.name);
  }
  for (const auto& e : *executions) {  // newest first
    for (const auto& r : e.results) {
      auto it = tally.find(r.test);
      if (it == tally.end()) continue;
      auto& t = it->second;
      ++t.s.runs;
      if (t.s.last.empty()) {
        t.s.last = std::string(runner::toString(static_cast<Outcome>(r.outcome)));
        t.s.lastRun = e.runId;
      }
      if (r.outcome == static_cast<int>(Outcome::kSkipped)) {
        ++t.s.skipped;
        continue;
      }
      ++t.runsOn[e.agent];
      if (failing(r.outcome)) {
        ++t.s.failed;
        ++t.failsOn[e.agent];
      } else {
        ++t.s.passed;
        t.durations.push_back(r.micros);
      }
    }
  }
  for (const auto& f : *flakes) {
    if (auto it = tally.find(f.test); it != tally.end()) ++it->second.s.flakes;
  }
  for (const auto& qq : *active) {
    if (auto it = tally.find(qq.test); it != tally.end() && qq.expiresAt > nowMs())
      it->second.s.quarantine = qq;
  }

  std::vector<TestSummary> out;
  for (auto& [id, t] : tally) {
    if (t.s.runs == 0 && !t.s.quarantine) continue;  // not in the window
    if (flakyOnly && t.s.flakes == 0 && !t.s.quarantine) continue;
    if (!t.durations.empty()) {
      auto mid = t.durations.begin() + static_cast<ptrdiff_t>(t.durations.size() / 2);
      std::nth_element(t.durations.begin(), mid, t.durations.end());
      t.s.medianMicros = *mid;
    }
    // The machine, not the test: most failures on one agent that ran at most 60% of its runs.
    if (t.s.failed >= kClusterMinFailures && t.runsOn.size() > 1) {
      auto top = std::max_element(t.failsOn.begin(), t.failsOn.end(),
                                  [](const auto& a, const auto& b) { return a.second < b.second; });
      int ran = t.runsOn[top->first];
      int judged = t.s.passed + t.s.failed;
      if (top->second * 4 >= t.s.failed * 3 && ran * 5 <= judged * 3) {
        t.s.clusterAgent = agentName(top->first);
        t.s.clusterText = std::to_string(top->second) + " of its " + std::to_string(t.s.failed) +
                          " failures were on " + t.s.clusterAgent + ", which ran " +
                          std::to_string(ran) + " of its " + std::to_string(judged) +
                          " runs: the machine, not the test";
      }
    }
    out.push_back(std::move(t.s));
  }
  std::sort(out.begin(), out.end(), [](const TestSummary& a, const TestSummary& b) {
    if (a.flakes != b.flakes) return a.flakes > b.flakes;
    if (a.failed != b.failed) return a.failed > b.failed;
    return a.key < b.key;
  });
  return out;
}

Result<store::TestCaseName> TestBook::find(const std::string& project, const std::string& key) {
  auto names = store_.listTestCases(project);
  if (!names.ok()) return names.status();
  std::vector<std::string> keys;
  for (const auto& n : *names) {
    keys.push_back(runner::testKey(n.suite, n.name));
    if (keys.back() == key) return n;
  }
  std::string msg = "project " + project + " has run no test named '" + key + "'";
  // A suggestion costs an edit distance per name: only for a name of a plausible length.
  std::optional<std::string> near;
  if (key.size() <= 300 && keys.size() <= 20000) {
    std::vector<std::string_view> candidates(keys.begin(), keys.end());
    near = closestMatch(key, candidates);
  }
  if (near)
    msg += "; did you mean '" + *near + "'?";
  else if (key.find("\u203a") == std::string::npos)
    msg += " (name a test as \"suite \u203a name\")";
  return Status::NotFound(msg);
}

Result<TestHistory> TestBook::history(const std::string& project, const std::string& key,
                                      int limit) {
  auto test = find(project, key);
  if (!test.ok()) return test.status();
  TestHistory h;
  auto all = summary(project, false, std::max(limit, 200));
  if (!all.ok()) return all.status();
  h.summary.test = *test;
  h.summary.key = key;
  for (auto& s : *all)
    if (s.test.id == test->id) h.summary = std::move(s);
  store::TestQuery q;
  q.project = project;
  q.limit = limit;
  auto executions = store_.testExecutions(q);
  if (!executions.ok()) return executions.status();
  for (const auto& e : *executions) {
    auto it = std::lower_bound(e.results.begin(), e.results.end(), test->id,
                               [](const store::TestResult& r, int64_t id) { return r.test < id; });
    if (it == e.results.end() || it->test != test->id) continue;
    TestPoint p{e.runId,    e.job,
                e.attempt,  e.commit,
                e.branch,   e.agent,
                e.at,       std::string(runner::toString(static_cast<Outcome>(it->outcome))),
                it->micros, ""};
    for (const auto& f : e.failures)
      if (f.test == test->id) p.message = f.message;
    h.points.push_back(std::move(p));
  }
  auto flakes = store_.listTestFlakes(project, 0);
  if (!flakes.ok()) return flakes.status();
  for (const auto& f : *flakes)
    if (f.test == test->id) h.flakes.push_back(f);
  auto quarantines = store_.listQuarantines(project, false);
  if (!quarantines.ok()) return quarantines.status();
  for (const auto& qq : *quarantines)
    if (qq.test == test->id) h.quarantines.push_back(qq);
  return h;
}

Result<store::Quarantine> TestBook::quarantine(const QuarantineAsk& ask) {
  if (ask.reason.empty())
    return Status::Invalid("a quarantine needs a reason: what is wrong with the test");
  if (ask.owner.empty()) return Status::Invalid("a quarantine needs an owner");
  int64_t now = nowMs();
  if (ask.expiresAt <= now) return Status::Invalid("a quarantine's expiry must be ahead");
  if (ask.expiresAt > now + kMaxQuarantine)
    return Status::Invalid(
        "a quarantine lasts at most 90 days: fix the test, or skip it in the "
        "code where everyone sees it");
  if (ask.cleanNeeded < 1 || ask.cleanNeeded > 1000)
    return Status::Invalid("clean runs: from 1 to 1000");
  auto test = find(ask.project, ask.key);
  if (!test.ok()) return test.status();
  auto history = this->history(ask.project, ask.key, 200);
  if (!history.ok()) return history.status();
  // Flaky: it failed and passed on one commit in the last 30 days, or passed again after it
  // began failing. A test with no pass since its first failure here is broken. A request's
  // runs count for neither.
  bool recentFlake =
      std::any_of(history->flakes.begin(), history->flakes.end(),
                  [&](const store::TestFlake& f) { return f.at >= now - kFlakeWindow; });
  if (!recentFlake) {
    std::vector<TestPoint> points;  // newest first
    for (const auto& p : history->points)
      if (!isRequestBranch(p.branch)) points.push_back(p);
    auto firstFailure = std::find_if(points.rbegin(), points.rend(), [](const TestPoint& p) {
      return p.outcome == "failed" || p.outcome == "error";
    });
    if (firstFailure == points.rend())
      return Status::Invalid("'" + ask.key + "' has not failed in its last " +
                             std::to_string(points.size()) +
                             " runs: there is nothing to quarantine");
    // Newest first: the failure and what came after it are begin()..firstFailure.base().
    bool passedSince = std::any_of(points.begin(), firstFailure.base(),
                                   [](const TestPoint& p) { return p.outcome == "passed"; });
    if (!passedSince) {
      int fails = static_cast<int>(std::count_if(
          points.begin(), firstFailure.base(),
          [](const TestPoint& p) { return p.outcome == "failed" || p.outcome == "error"; }));
      return Status::Invalid("'" + ask.key + "' failed in each of its " + std::to_string(fails) +
                             " runs since run " + std::to_string(firstFailure->runId) +
                             ", with no pass in between: it is broken, not flaky, and is not "
                             "quarantined. Fix it, or skip it in the code");
    }
  }
  store::Quarantine q;
  q.project = ask.project;
  q.test = test->id;
  q.suite = test->suite;
  q.name = test->name;
  q.reason = ask.reason;
  q.owner = ask.owner;
  q.createdAt = now;
  q.expiresAt = ask.expiresAt;
  q.cleanNeeded = ask.cleanNeeded;
  auto added = store_.addQuarantine(q);
  if (!added.ok() && added.status().code() == Code::kConflict)
    return Status::Conflict("'" + ask.key + "' is quarantined already");
  if (added.ok()) {
    added->suite = test->suite;
    added->name = test->name;
  }
  return added;
}

Result<store::Quarantine> TestBook::release(const std::string& project, const std::string& key,
                                            const std::string& by) {
  auto test = find(project, key);
  if (!test.ok()) return test.status();
  auto active = store_.listQuarantines(project, true);
  if (!active.ok()) return active.status();
  for (auto q : *active) {
    if (q.test != test->id) continue;
    q.state = "released";
    q.endedAt = nowMs();
    q.endedBy = by;
    q.endedWhy = "released by hand";
    if (auto st = store_.endQuarantine(q.id, q.state, by, q.endedWhy, *q.endedAt); !st.ok())
      return st;
    return q;
  }
  return Status::NotFound("'" + key + "' is not quarantined");
}

}  // namespace boucle::quality
