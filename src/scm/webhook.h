#pragma once
// Push and pull-request webhooks from GitHub, GitLab and Gitea (or Forgejo): checking that a
// request really comes from the forge that knows the project's secret, and reading what was pushed.
// Pure logic: no I/O, so every case is unit-tested with the forges' own payload shapes.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace boucle::scm {

enum class Forge { kGitHub, kGitLab, kGitea };
std::optional<Forge> parseForge(std::string_view s);

// Checks the request's signature or token against `secret`:
//   GitHub: X-Hub-Signature-256 = "sha256=" + hex HMAC-SHA256(secret, body)
//   Gitea:  X-Gitea-Signature   = hex HMAC-SHA256(secret, body)
//   GitLab: X-Gitlab-Token      = secret
// Comparisons take constant time. Unauthorized when missing or wrong.
Status verifyWebhook(Forge forge, const std::map<std::string, std::string>& headers,
                     std::string_view body, std::string_view secret);

struct Push {
  std::string branch;    // "main" for refs/heads/main; empty for a tag push
  std::string tag;       // "v1.2" for refs/tags/v1.2
  std::string commit;    // the pushed head
  std::string author;    // of the head commit
  std::string subject;   // first line of its message
  bool deleted = false;  // the ref was deleted: nothing to build
};

// A pull request (GitLab: merge request) opened, pushed to, reopened or closed.
struct PullRequest {
  int64_t number = 0;  // GitHub's and Gitea's number, GitLab's iid
  std::string title;
  std::string author;  // who opened it (the forge's user name)
  std::string source;  // the branch it brings, in its own repository (a fork's, maybe)
  std::string target;  // the branch it would be merged into
  std::string head;    // the source's head commit
  // The source lives in another repository than the project's: its code is a stranger's, so
  // its runs get no secret (unless the project allows them).
  bool fork = false;
  bool closed = false;    // closed or merged: nothing to build, its runs still going stop
  bool reopened = false;  // built again even if its head was built before it was closed
  // Where the forge keeps the request's head in the project's repository, which a fork's
  // commits reach too: refs/pull/N/head (GitHub, Gitea), refs/merge-requests/N/head (GitLab).
  std::string headRef;
};

// What the request is: a push or a pull request to read, or an event to acknowledge and ignore
// (ping, others).
struct WebhookEvent {
  std::optional<Push> push;
  std::optional<PullRequest> pullRequest;
  std::string ignored;  // why nothing is built, when both are empty
  // The forge's id of this delivery (X-GitHub-Delivery, X-Gitea-Delivery, X-Gitlab-Event-UUID),
  // for the log. "" when the forge sent none (or one longer than 100 bytes).
  std::string deliveryId;
  // "sha256:" + hex SHA-256 of the body. Replays are recognised by this as well as by the
  // delivery id: the signature covers the body but not the headers, so a captured delivery
  // replayed under a new id is still the same body.
  std::string bodyDigest;
  // What a replay of this delivery would repeat: its body's digest, and its id ("id:" + id).
  std::vector<std::string> replayKeys() const {
    std::vector<std::string> keys{bodyDigest};
    if (!deliveryId.empty()) keys.push_back("id:" + deliveryId);
    return keys;
  }
};

// Invalid for a malformed payload (with a message saying what is wrong).
Result<WebhookEvent> parseWebhook(Forge forge, const std::map<std::string, std::string>& headers,
                                  std::string_view body);

std::string hmacSha256Hex(std::string_view key, std::string_view data);

}  // namespace boucle::scm
