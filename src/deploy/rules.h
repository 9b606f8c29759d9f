#pragma once
// An environment's rules as pure functions of who asks, what happened before and the time:
// no store, no clock of their own, so every rule is unit-tested with fixed histories and
// times (rules_test.cc). The Deployer gathers the history and applies them.

#include <ctime>
#include <optional>
#include <string>

#include "auth/roles.h"
#include "core/status.h"
#include "pipeline/pipeline.h"

namespace boucle::deploy {

// What is asked.
struct Ask {
  std::string env, version;
  bool rollback = false;
  bool dryRun = false;
  std::optional<auth::Principal> by;  // none: boucle itself (automatic deploys)
};

// What the record says of this version.
struct History {
  bool ranHere = false;      // it succeeded in this environment before
  bool passedAfter = false;  // it succeeded in the environment this one comes after
};

// Ok, or why not: Unauthorized (deployers), Conflict (after, a rollback to a release that
// never ran here, outside the window). `now` in seconds since the epoch, server local time.
Status mayDeploy(const pipeline::Environment& env, const Ask& ask, const History& history,
                 std::time_t now);

// Whether `by` may approve a waiting deploy asked for by `requestedBy` (approvers, four eyes;
// admins always). `env` null: the rules cannot be read, and only an admin may.
Status mayApprove(const pipeline::Environment* env, const std::string& envName,
                  const auth::Principal& by, const std::string& requestedBy);

// Whether `when` (server local time) falls in the weekly window; a window whose end is not
// after its start runs past midnight into the next day.
bool inWindow(const pipeline::Window& w, std::time_t when);

}  // namespace boucle::deploy
