#pragma once
// What a push a forge told of sets going, decided here rather than in the HTTP route: the
// route checks the signature and parses the payload, this decides whether a run is queued.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"
#include "scm/webhook.h"
#include "store/store.h"

namespace boucle::scheduler {

struct PushVerdict {
  int64_t runId = 0;    // the run queued, or 0
  std::string ignored;  // why none was
};

// A signed push to `project`, recognised by `replayKeys` (scm::WebhookEvent::replayKeys(); ""
// ones are skipped): ignored when any of them came before (a replay), the ref was deleted or
// is a tag, the branch is not watched, or the commit is the branch's last seen head or, in the
// mirror, one of its ancestors (a stale or replayed notification must not build an old commit
// as the branch); else queued. A delivery whose judging failed is not remembered, so a retry
// is judged.
Result<PushVerdict> acceptPush(store::Store& store, const std::filesystem::path& mirror,
                               const store::Project& project, const scm::Push& push,
                               const std::vector<std::string>& replayKeys);

}  // namespace boucle::scheduler
