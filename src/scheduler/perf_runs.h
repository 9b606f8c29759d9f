#pragma once
// The runs a deploy's performance check asks for: the release's measuring job, run by the
// server's agents like any job (sandboxed, logged, on the run pages), against an environment.

#include <functional>

#include "deploy/perf_gate.h"
#include "store/store.h"

namespace boucle::scheduler {

// Queues a run of the release's commit doing only `job` (and what it needs), trigger "perf",
// its environment `env`; `wake` tells the agents. The run is waited for, polled in the store (any
// server sharing it may run it).
deploy::PerfRunner perfRunner(store::Store& store, std::function<void()> wake);

}  // namespace boucle::scheduler
