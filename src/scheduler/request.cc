#include "scheduler/request.h"

#include <algorithm>

#include "core/glob.h"

namespace boucle::scheduler {

std::string requestBranch(int64_t number, bool merge) {
  return "pr/" + std::to_string(number) + (merge ? "/merge" : "");
}

bool isRequestBranch(std::string_view branch) {
  if (!branch.starts_with("pr/")) return false;
  branch.remove_prefix(3);
  if (branch.ends_with("/merge")) branch.remove_suffix(6);
  return !branch.empty() &&
         std::all_of(branch.begin(), branch.end(), [](char c) { return c >= '0' && c <= '9'; });
}

namespace {

// The request's runs of one kind still going, older than `keep` (0: all): superseded. (A git
// branch may be called pr/N too: its runs are not the request's.)
Status supersede(store::Store& store, const std::string& project, int64_t number, bool merge,
                 int64_t keep, std::vector<int64_t>& out) {
  auto going = store.unfinishedRuns(project, requestBranch(number, merge));
  if (!going.ok()) return going.status();
  for (const auto& r : *going) {
    if (r.pr.number == number && (keep == 0 || r.id < keep)) out.push_back(r.id);
  }
  return Status::Ok();
}

Result<RequestVerdict> judgeRequest(store::Store& store, const store::Project& project,
                                    const scm::PullRequest& pr) {
  RequestVerdict v;
  std::string label = "request " + std::to_string(pr.number);
  if (pr.closed) {
    for (bool merge : {false, true}) {
      auto st = supersede(store, project.name, pr.number, merge, 0, v.superseded);
      if (!st.ok()) return st;
    }
    v.ignored = label + " was closed";
    return v;
  }
  if (project.requestBuilds == "off") {
    v.ignored = project.name + " builds no pull requests";
    return v;
  }
  bool watched = false;
  for (const auto& glob : project.branches) watched = watched || branchMatches(glob, pr.target);
  if (!watched) {
    v.ignored = label + " targets branch " + pr.target + ", which is not watched";
    return v;
  }
  for (bool merge : {false, true}) {
    if (project.requestBuilds != "both" && (project.requestBuilds == "merge") != merge) continue;
    store::Run r;
    r.project = project.name;
    r.ref = pr.head;  // the exact commit the forge told of, even if the request moves on
    r.branch = requestBranch(pr.number, merge);
    r.trigger = "pull_request";
    r.author = pr.author;
    r.subject = pr.title;
    r.pr.number = pr.number;
    r.pr.title = pr.title;
    r.pr.author = pr.author;
    r.pr.source = pr.source;
    r.pr.target = pr.target;
    r.pr.head = pr.head;
    r.pr.ref = pr.headRef;
    r.pr.fork = pr.fork;
    r.pr.merge = merge;
    // Recorded as this kind's last head, so the same head told again builds nothing; a
    // reopened request builds again (its last run may have been stopped by the closing).
    std::optional<store::Run> queued;
    if (pr.reopened) {
      auto created = store.createRun(r);
      if (!created.ok()) return created.status();
      queued = std::move(created).value();
    } else {
      auto created = store.createRunForNewHead(r);
      if (!created.ok()) return created.status();
      queued = std::move(created).value();
    }
    if (!queued) continue;
    v.queued.push_back(queued->id);
    if (auto st = supersede(store, project.name, pr.number, merge, queued->id, v.superseded);
        !st.ok())
      return st;
  }
  if (v.queued.empty()) v.ignored = label + "'s head " + pr.head + " was already built";
  return v;
}

}  // namespace

Result<RequestVerdict> acceptRequest(store::Store& store, const store::Project& project,
                                     const scm::PullRequest& request,
                                     const std::vector<std::string>& replayKeys) {
  return judgeOnce<RequestVerdict>(store, project.name, replayKeys,
                                   [&] { return judgeRequest(store, project, request); });
}

}  // namespace boucle::scheduler
