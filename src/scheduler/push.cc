#include "scheduler/push.h"

#include "core/clock.h"
#include "core/glob.h"
#include "scheduler/poller.h"
#include "scm/git_repo.h"

namespace boucle::scheduler {

Result<PushVerdict> acceptPush(store::Store& store, const std::filesystem::path& mirror,
                               const store::Project& project, const scm::Push& push,
                               const std::string& deliveryId) {
  if (!deliveryId.empty()) {
    auto fresh = store.recordHookDelivery(project.name, deliveryId, nowMs());
    if (!fresh.ok()) return fresh.status();
    if (!*fresh) return PushVerdict{0, "delivery " + deliveryId + " was received before"};
  }
  if (push.deleted) return PushVerdict{0, "the ref was deleted"};
  if (push.branch.empty()) return PushVerdict{0, "tag pushes are not built yet"};
  bool watched = false;
  for (const auto& glob : project.branches) watched = watched || branchMatches(glob, push.branch);
  if (!watched) return PushVerdict{0, "branch " + push.branch + " is not watched"};
  auto last = store.lastSeenHead(project.name, push.branch);
  if (!last.ok()) return last.status();
  if (*last && **last != push.commit) {
    // Only the mirror knows history; a commit it does not have yet is newer than what it has.
    auto older = scm::commitOnBranch(mirror, push.commit, push.branch);
    auto lastOnBranch = scm::commitOnBranch(mirror, **last, push.branch);
    if (older.ok() && *older && lastOnBranch.ok() && *lastOnBranch) {
      return PushVerdict{0, "commit " + push.commit + " is older than " + push.branch +
                                "'s last built head " + **last};
    }
  }
  // Recorded as seen, so a poll of the same head does not build it again.
  auto id =
      queueIfNew(store, project.name, push.branch, push.commit, "push", push.author, push.subject);
  if (!id.ok()) return id.status();
  if (*id == 0) return PushVerdict{0, "commit " + push.commit + " was already seen"};
  return PushVerdict{*id, ""};
}

}  // namespace boucle::scheduler
