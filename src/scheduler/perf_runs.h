#pragma once
// The runs a deploy's performance check asks for: the release's measuring job, run by the
// server's agents like any job (sandboxed, logged, on the run pages), against an environment.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "deploy/perf_gate.h"
#include "pipeline/pipeline.h"
#include "runner/engine.h"
#include "store/store.h"

namespace boucle::scheduler {

// Queues a run of the release's commit doing only `job` (and what it needs), trigger "perf",
// its environment `env`; `wake` tells the agents. The run is waited for, polled in the store (any
// server sharing it may run it).
deploy::PerfRunner perfRunner(store::Store& store, std::function<void()> wake);

// Whether a measuring run's job is given its environment's values: not an interleaved run
// that measures no environment.
bool givenEnvValues(const store::Run& run);

// An interleaved measuring run's pipeline (`run.perfAb`): its one job made into rounds,
// baseline then candidate, N times (job-A1, job-B1, job-A2, …), each after the one before so
// that no two measure at once. Each round is given its release's artifacts in perf-release/
// (`inputs`, by round) and BOUCLE_PERF_SIDE, BOUCLE_PERF_ROUND, BOUCLE_PERF_VERSION and
// BOUCLE_PERF_RELEASE_DIR; it needs no other job (the artifacts are the releases').
Status interleaveRounds(store::Store& store, const store::Run& run, pipeline::Pipeline& p,
                        std::map<std::string, std::vector<runner::ArtifactEntry>>& inputs);

}  // namespace boucle::scheduler
