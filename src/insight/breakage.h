#pragma once
// Broken and fixed: what a finished run means for its branch, decided from the branch's
// previous finished run. Pure logic; the agent records the result with the run.

#include <cstdint>
#include <optional>
#include <string>

namespace boucle::insight {

struct PreviousRun {
  int64_t id = 0;
  bool passed = false;
  std::optional<int64_t> brokenSince;  // when it failed: the first failing run of the streak
};

struct Verdict {
  std::string event;                   // "broken", "fixed" or "" (no change)
  std::optional<int64_t> brokenSince;  // failing run: first run of the red streak;
                                       // fixing run: the run the streak started with
};

// `passed`: how this run ended (cancelled and interrupted runs are not judged at all).
Verdict judge(const std::optional<PreviousRun>& previous, int64_t runId, bool passed);

}  // namespace boucle::insight
