#pragma once
// Reports a run's progress into the store as it happens, so the API (and a restart after a
// crash) sees each job's state, not just the run's end.

#include <cstdint>

#include "pipeline/pipeline.h"
#include "runner/engine.h"
#include "store/store.h"

namespace boucle::scheduler {

class RunRecorder : public runner::RunObserver {
 public:
  RunRecorder(store::Store& store, int64_t runId) : store_(store), runId_(runId) {}
  // Records every job as pending, so the run's whole graph is visible from the start.
  void begin(const pipeline::Pipeline& p);
  void jobStarted(const std::string& job, int attempt) override;
  // Rings the job's log bell (core/bell.h): its followers read what came.
  void jobOutput(const std::string& job, std::string_view bytes) override;
  void jobFinished(const runner::JobResult& r) override;
  // Records the jobs that never started (skipped, cancelled before their turn).
  void end(const runner::RunResult& result);

 private:
  void save(const store::JobRecord& j);
  store::Store& store_;
  int64_t runId_;
};

}  // namespace boucle::scheduler
