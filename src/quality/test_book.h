#pragma once
// Testing: every test case of every run kept, and what their history says. A test that failed
// and passed on one commit (a job's retry, a re-run, another run of the commit) is flaky; a
// flaky test may be quarantined for a while (its failures then fail no job) by someone who owns
// its fix, and the quarantine ends by itself after enough clean runs or at its expiry. A test
// that fails every time is broken, not flaky, and is never quarantined.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "runner/engine.h"
#include "store/store.h"

namespace boucle::quality {

// What the project's recent executions say of one test.
struct TestSummary {
  store::TestCaseName test;
  std::string key;  // "suite › name"
  int runs = 0, passed = 0, failed = 0, skipped = 0;
  int flakes = 0;    // times seen failing and passing on one commit (30 days)
  std::string last;  // its latest outcome
  int64_t lastRun = 0;
  int64_t medianMicros = 0;                     // of its passing runs
  std::optional<store::Quarantine> quarantine;  // the active one
  // Its failures gather on one remote agent that ran a smaller share of its runs: the
  // machine, not the test. "" when they do not.
  std::string clusterAgent;
  std::string clusterText;
};

// One run of one test.
struct TestPoint {
  int64_t runId = 0;
  std::string job;
  int attempt = 1;
  std::string commit, branch, agent;
  int64_t at = 0;
  std::string outcome;
  int64_t micros = 0;
  std::string message;  // a failure's
};

struct TestHistory {
  TestSummary summary;
  std::vector<TestPoint> points;  // newest first
  std::vector<store::TestFlake> flakes;
  std::vector<store::Quarantine> quarantines;  // every one it had, newest first
};

// How a quarantine is asked for.
struct QuarantineAsk {
  std::string project;
  std::string key;  // "suite › name"
  std::string reason;
  std::string owner;      // who fixes it: the person or token asking
  int64_t expiresAt = 0;  // ms since the epoch
  int cleanNeeded = 10;
};

// What a job's recorded tests came to on its run.
struct Recorded {
  std::vector<std::string> flaky;  // failed and passed on the run's commit
};

class TestBook {
 public:
  explicit TestBook(store::Store& store) : store_(store) {}

  // Keeps every attempt of the job's tests, finds what flaked (its own retries, other runs of
  // the commit), and counts the quarantined tests' clean runs.
  Result<Recorded> record(const store::Run& run, const runner::JobResult& job);

  // The tests quarantined now ("suite › name"); expired quarantines end on the way.
  Result<std::set<std::string>> quarantined(const std::string& project);

  // The tests of the project's last `window` executions; `flakyOnly`: those that flaked or are
  // quarantined. Most troublesome first.
  Result<std::vector<TestSummary>> summary(const std::string& project, bool flakyOnly,
                                           int window = 200);
  // NotFound when the project never ran the test.
  Result<TestHistory> history(const std::string& project, const std::string& key, int limit = 200);

  // Invalid: no reason, an expiry past or beyond 90 days, a test that fails every time.
  // NotFound: no such test. Conflict: quarantined already.
  Result<store::Quarantine> quarantine(const QuarantineAsk& ask);
  // Ends the test's active quarantine (NotFound when it has none).
  Result<store::Quarantine> release(const std::string& project, const std::string& key,
                                    const std::string& by);

 private:
  Result<store::TestCaseName> find(const std::string& project, const std::string& key);
  store::Store& store_;
};

}  // namespace boucle::quality
