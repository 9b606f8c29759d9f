#pragma once
// When a monitor's verdicts open and resolve an incident: after `fail_after` consecutive
// verdicts that are not passes, and after `recover_after` consecutive passes. A probe that
// returned nothing (a PromQL query with no series) is `no_data`: never a pass, so it counts
// toward opening as a failure does and breaks a recovery. Pure; one per monitor and host.

#include <cstdint>
#include <string_view>

namespace boucle::monitor {

enum class Verdict { kPass, kFail, kNoData };
std::string_view toString(Verdict v);

class IncidentTracker {
 public:
  enum class Change { kNone, kOpened, kResolved };

  IncidentTracker(int failAfter, int recoverAfter)
      : failAfter_(failAfter < 1 ? 1 : failAfter),
        recoverAfter_(recoverAfter < 1 ? 1 : recoverAfter) {}
  // Picks up where a stored incident left off (after a restart).
  void resume(bool open) {
    open_ = open;
    streak_ = 0;
  }

  Change record(Verdict v);
  bool open() const { return open_; }
  // Verdicts in a row that count toward the next change (failures while closed, passes while
  // open).
  int streak() const { return streak_; }

 private:
  int failAfter_, recoverAfter_;
  bool open_ = false;
  int streak_ = 0;
};

}  // namespace boucle::monitor
