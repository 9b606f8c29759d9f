#pragma once
// The performance check of an environment's `perf:` rule, before a deploy touches anything:
// the release's measuring job runs against the environment before this one (which runs the
// release), and its figures are compared with those measured the same way for the release this
// environment runs now (quality/perf_check.h). A regression stops the deploy with the figures.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/pipeline.h"
#include "store/store.h"

namespace boucle::deploy {

// What the measuring run came to.
struct PerfRunResult {
  int64_t runId = 0;
  store::RunState state = store::RunState::kFailed;
  std::string reason;
  std::vector<store::BenchmarkRecord> measurements;
};

// Runs `job` of the release's commit against environment `env` (a run with trigger "perf")
// and waits for it; nullopt when `stopping` said so first.
using PerfRunner = std::function<std::optional<Result<PerfRunResult>>(
    const store::Release& release, const std::string& job, const std::string& env,
    const std::function<bool()>& stopping)>;

struct PerfGate {
  enum class End { kPassed, kFailed, kInterrupted } end = End::kFailed;
  std::string reason;  // why it failed, for the deploy
  std::string json;    // the deploy's perf record: run, baseline, verdict, figures
};

PerfGate checkPerformance(store::Store& store, const store::Deploy& deploy,
                          const store::Release& release, const pipeline::Environment::Perf& perf,
                          const std::string& against, const PerfRunner& run,
                          const std::function<bool()>& stopping,
                          const std::function<void(const std::string&)>& say);

}  // namespace boucle::deploy
