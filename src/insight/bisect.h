#pragma once
// Which commit broke the branch, when a failing run was the first to build several new commits:
// a binary search over them (as `git bisect` does), one bisection run per step. Pure logic on
// the store's Bisection record; the agent queues the runs.

#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace boucle::insight {

// A bisection of `commits` (oldest first, the last one known to fail, the one before the first
// known to pass). Null when there is nothing to search (fewer than two commits).
std::optional<store::Bisection> startBisection(int64_t runId, std::vector<std::string> commits);

// The index to build next, or nullopt when the culprit is known (commits[b.bad]).
std::optional<int> nextProbe(const store::Bisection& b);

// Records how the probe's run ended.
void recordProbe(store::Bisection& b, bool passed);

// The most bisection runs a search over `n` commits takes: ceil(log2(n)).
int maxSteps(size_t n);

}  // namespace boucle::insight
