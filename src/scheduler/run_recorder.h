#pragma once
// Reports a run's progress into the store as it happens, so the API (and a restart after a
// crash) sees each job's state, not just the run's end.

#include <cstdint>
#include <set>
#include <string>

#include "pipeline/pipeline.h"
#include "quality/test_book.h"
#include "runner/engine.h"
#include "scheduler/run_metrics.h"
#include "store/store.h"

namespace boucle::scheduler {

class RunRecorder : public runner::RunObserver {
 public:
  // `metrics` (may be null) hears of each job's duration.
  RunRecorder(store::Store& store, int64_t runId, std::string project = "",
              RunMetrics* metrics = nullptr)
      : store_(store), runId_(runId), project_(std::move(project)), metrics_(metrics) {}
  // Records every job as pending, so the run's whole graph is visible from the start.
  void begin(const pipeline::Pipeline& p);
  void jobStarted(const std::string& job, int attempt) override;
  // Rings the job's log bell (core/bell.h): its followers read what came.
  void jobOutput(const std::string& job, std::string_view bytes) override;
  void jobFinished(const runner::JobResult& r) override;
  // Records the jobs that never started (skipped, cancelled before their turn).
  void end(const runner::RunResult& result);

  // Keeps every test case of the run's jobs in `book`, and finds what flaked.
  void keepTests(quality::TestBook* book, const store::Run& run) {
    book_ = book;
    run_ = run;
  }
  // What the run's passing hides (store::Run::qualifier): "flaky", "quarantined", both, "".
  std::string qualifier() const;
  // The tests that failed and passed on the run's commit, and the quarantined failures.
  const std::set<std::string>& flakyTests() const { return flaky_; }

 private:
  void save(const store::JobRecord& j);
  store::Store& store_;
  int64_t runId_;
  std::string project_;
  RunMetrics* metrics_;
  quality::TestBook* book_ = nullptr;
  store::Run run_;
  std::set<std::string> flaky_;
  bool flakyJob_ = false, quarantined_ = false;
};

}  // namespace boucle::scheduler
