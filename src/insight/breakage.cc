#include "insight/breakage.h"

namespace boucle::insight {

Verdict judge(const std::optional<PreviousRun>& previous, int64_t runId, bool passed) {
  Verdict v;
  bool previousRed = previous && !previous->passed;
  if (!passed) {
    if (previousRed) {
      v.brokenSince = previous->brokenSince.value_or(previous->id);
    } else {
      // A branch's first run failing is also news: it has never been green.
      v.event = "broken";
      v.brokenSince = runId;
    }
  } else if (previousRed) {
    v.event = "fixed";
    v.brokenSince = previous->brokenSince.value_or(previous->id);
  }
  return v;
}

}  // namespace boucle::insight
