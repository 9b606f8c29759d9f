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
#include "runner/benchmark_report.h"
#include "store/store.h"

namespace boucle::deploy {

// What the measuring run came to.
struct PerfRunResult {
  int64_t runId = 0;
  store::RunState state = store::RunState::kFailed;
  std::string reason;
  std::vector<store::BenchmarkRecord> measurements;
};

// What a measuring run is asked to do: `job` of the release's commit against environment `env`;
// interleaved, `rounds` times a side, given `baseline`'s artifacts and the release's in turns.
struct PerfAsk {
  const store::Release* release = nullptr;
  std::string job, env;
  const store::Release* baseline = nullptr;
  int rounds = 0;
  bool values = true;  // the job is given `env`'s values (not when it measures no environment)
};

// Queues the measuring run (trigger "perf") and waits for it; nullopt when `stopping` said so
// first.
using PerfRunner = std::function<std::optional<Result<PerfRunResult>>(
    const PerfAsk& ask, const std::function<bool()>& stopping)>;

// The job name of an interleaved run's round: `job`-A3 (the baseline's third), `job`-B3.
std::string roundJob(const std::string& job, char side, int round);

// An interleaved run's measurements, side by side: per measurement name, the figure of each
// round as a sample (negated for a figure where higher is better, so that a larger sample is
// always worse), and the median of the rounds as the figure. `missing` names a round that
// reported nothing.
struct Interleaved {
  std::vector<runner::Measurement> baseline, candidate;
  std::string missing;
};
Interleaved interleavedMeasurements(const std::vector<store::BenchmarkRecord>& all,
                                    const std::string& job, const std::string& figure, int rounds);

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
