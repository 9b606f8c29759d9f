#include "monitor/incident_tracker.h"

namespace boucle::monitor {

std::string_view toString(Verdict v) {
  switch (v) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFail:
      return "fail";
    case Verdict::kNoData:
      return "no_data";
  }
  return "fail";
}

IncidentTracker::Change IncidentTracker::record(Verdict v) {
  bool pass = v == Verdict::kPass;
  if (!open_) {
    streak_ = pass ? 0 : streak_ + 1;
    if (streak_ < failAfter_) return Change::kNone;
    open_ = true;
    streak_ = 0;
    return Change::kOpened;
  }
  streak_ = pass ? streak_ + 1 : 0;
  if (streak_ < recoverAfter_) return Change::kNone;
  open_ = false;
  streak_ = 0;
  return Change::kResolved;
}

}  // namespace boucle::monitor
