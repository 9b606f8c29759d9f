#include "scheduler/push.h"

#include "core/clock.h"
#include "core/glob.h"
#include "scheduler/poller.h"
#include "scheduler/request.h"
#include "scm/git_repo.h"

namespace boucle::scheduler {

namespace {

Result<PushVerdict> judgePush(store::Store& store, const std::filesystem::path& mirror,
                              const store::Project& project, const scm::Push& push) {
  if (push.deleted) return PushVerdict{0, "the ref was deleted"};
  if (push.branch.empty()) return PushVerdict{0, "tag pushes are not built yet"};
  bool watched = false;
  for (const auto& glob : project.branches) watched = watched || branchMatches(glob, push.branch);
  if (!watched) return PushVerdict{0, "branch " + push.branch + " is not watched"};
  if (isRequestBranch(push.branch)) return PushVerdict{0, requestBranchRefused(push.branch)};
  auto last = store.lastSeenHead(project.name, push.branch);
  if (!last.ok()) return last.status();
  // Stale only when the mirror shows the pushed commit in the history of the last head, and
  // that head on the branch: a commit the mirror does not have yet, or one after the last
  // head, is newer and is built; a last head that is not on the branch (a forged push named
  // it) hides nothing.
  if (*last && **last != push.commit) {
    auto older = scm::commitReaches(mirror, **last, push.commit);
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

}  // namespace

Result<PushVerdict> acceptPush(store::Store& store, const std::filesystem::path& mirror,
                               const store::Project& project, const scm::Push& push,
                               const std::vector<std::string>& replayKeys) {
  return judgeOnce<PushVerdict>(store, project.name, replayKeys,
                                [&] { return judgePush(store, mirror, project, push); });
}

}  // namespace boucle::scheduler
