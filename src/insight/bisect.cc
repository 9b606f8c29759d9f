#include "insight/bisect.h"

namespace boucle::insight {

std::optional<store::Bisection> startBisection(int64_t runId, std::vector<std::string> commits) {
  if (commits.size() < 2) return std::nullopt;
  store::Bisection b;
  b.runId = runId;
  b.bad = static_cast<int>(commits.size()) - 1;
  b.commits = std::move(commits);
  return b;
}

std::optional<int> nextProbe(const store::Bisection& b) {
  if (b.bad - b.good <= 1) return std::nullopt;
  return b.good + (b.bad - b.good) / 2;
}

void recordProbe(store::Bisection& b, bool passed) {
  if (b.probe < 0) return;
  if (passed)
    b.good = b.probe;
  else
    b.bad = b.probe;
  b.probe = -1;
  b.probeRun.reset();
}

int maxSteps(size_t n) {
  int steps = 0;
  for (size_t span = 1; span < n; span *= 2) ++steps;
  return steps;
}

}  // namespace boucle::insight
