#pragma once
// What a pull (merge) request's event sets going, decided here rather than in the HTTP route:
// which runs are queued (its head, the merge of its head into the target, or both, as the
// project says), and which of its runs still going are superseded and stop.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "scm/webhook.h"
#include "store/store.h"

namespace boucle::scheduler {

// The branch a request's runs are listed under: pr/N for its head, pr/N/merge for the merge.
std::string requestBranch(int64_t number, bool merge);
// Whether `branch` has that shape: a git branch of such a name is not built (its runs, caches
// and judging would be mixed with the request's).
bool isRequestBranch(std::string_view branch);
inline std::string requestBranchRefused(const std::string& branch) {
  return "branch " + branch + " is not built: names of the form pr/N are pull requests' here";
}

struct RequestVerdict {
  std::vector<int64_t> queued;      // the runs queued
  std::vector<int64_t> superseded;  // the request's earlier runs not finished: to cancel
  std::string ignored;              // why nothing was queued
};

// A signed request event for `project`, recognised by `replayKeys` as acceptPush does. A
// closed (or merged) request supersedes its runs still going; an open one whose target branch
// the project watches queues a run of each kind the project builds, unless that kind already
// built this head (a reopened request builds again), and supersedes the request's earlier runs
// of that kind.
Result<RequestVerdict> acceptRequest(store::Store& store, const store::Project& project,
                                     const scm::PullRequest& request,
                                     const std::vector<std::string>& replayKeys);

// The same delivery seen twice is judged once: its keys are recorded before `judge` runs, and
// forgotten again when it fails (the forge's retry is then judged) or when any of them came
// before (a replay: ignored, saying `replayed`).
template <typename Verdict, typename Judge>
Result<Verdict> judgeOnce(store::Store& store, const std::string& project,
                          const std::vector<std::string>& replayKeys, Judge judge) {
  std::vector<std::string> recorded;
  auto forget = [&] {
    for (const auto& k : recorded) (void)store.forgetHookDelivery(project, k);
  };
  bool replay = false;
  for (const auto& key : replayKeys) {
    if (key.empty()) continue;
    auto fresh = store.recordHookDelivery(project, key, nowMs());
    if (!fresh.ok()) {
      forget();
      return fresh.status();
    }
    if (*fresh) recorded.push_back(key);
    replay = replay || !*fresh;
  }
  if (replay) {
    forget();  // a replay under new ids must not leave them behind, one row a request
    Verdict v;
    v.ignored = "this delivery was received before";
    return v;
  }
  Result<Verdict> verdict = judge();
  if (!verdict.ok()) forget();
  return verdict;
}

}  // namespace boucle::scheduler
