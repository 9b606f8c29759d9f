#pragma once
// Commit statuses: each run's state set on its commit in the project's forge, as GitHub,
// GitLab and Gitea show them beside commits and pull requests. Pure functions from a run to the
// request each forge documents; the notifier sends them, queued and retried like notifications.
//
//   GitHub  POST {api}/repos/{owner}/{repo}/statuses/{sha}   Authorization: Bearer TOKEN
//   GitLab  POST {api}/projects/{id or url-encoded path}/statuses/{sha}   PRIVATE-TOKEN: TOKEN
//   Gitea   POST {api}/repos/{owner}/{repo}/statuses/{sha}   Authorization: token TOKEN

#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace boucle::notify {

// Where a project's statuses go: its forge, that forge's API and the repository there.
struct ForgeTarget {
  std::string forge;  // github, gitlab, gitea
  std::string api;    // base URL, no trailing '/'
  std::string repo;   // owner/name (GitLab: the project's path or id)
};

// The project's target: its own settings, the API and repository told from its URL where they
// are not given (https://github.com/o/r.git, git@gitlab.example.com:g/p.git, …). Invalid, saying
// what to give, when the forge is unknown or they cannot be told; null when it has no forge.
Result<std::optional<ForgeTarget>> forgeTarget(const store::Project& p);

// A status to set: POSTed to `url` with `body` (JSON).
struct StatusRequest {
  std::string url;
  std::string body;
  std::string state;  // the forge's word, also the delivery's event
};

// The status a run's state sets, on the commit the forge knows (a request's head for its runs,
// the merge's included), or null when there is none to set it on yet (a branch asked for by
// name, not yet resolved). `jobs` give the tests' count; `runUrl` is where its link goes.
std::optional<StatusRequest> statusFor(const ForgeTarget& target, const store::Run& run,
                                       const std::vector<store::JobRecord>& jobs,
                                       const std::string& runUrl);

// The headers that carry `token` to the forge, and the ones its API asks for.
std::vector<std::string> forgeHeaders(const std::string& forge, const std::string& token);

}  // namespace boucle::notify
