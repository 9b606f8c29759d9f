#include "scm/webhook.h"

#include <sodium.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "auth/tokens.h"
#include "core/encoding.h"

namespace boucle::scm {

using nlohmann::json;

namespace {

std::string header(const std::map<std::string, std::string>& h, const std::string& lower) {
  auto it = h.find(lower);
  return it == h.end() ? std::string() : it->second;
}

bool isHexSha(const std::string& s) {
  if (s.size() != 40 && s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string firstLine(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& field(const json& j, const char* key) {
  static const json none;
  auto it = j.find(key);
  return it == j.end() ? none : *it;
}

// An id the forges give as a number (or, from some, as a string): "" when absent.
std::string idOf(const json& j) {
  if (j.is_number_integer()) return std::to_string(j.get<int64_t>());
  if (j.is_string()) return j.get<std::string>();
  return "";
}

// A branch name as a forge sends it: bounded, no control character, not an option.
bool plausibleBranch(const std::string& b) {
  return !b.empty() && b.size() <= 255 && b[0] != '-' &&
         std::none_of(b.begin(), b.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

PullRequest buildsNothing(std::string why) {
  PullRequest pr;
  pr.title = std::move(why);
  return pr;
}

// The request's fields, from GitHub's and Gitea's `pull_request` or GitLab's `object_attributes`.
// A request whose action builds nothing comes back with number 0 and the reason as its title.
Result<PullRequest> parsePullRequest(Forge forge, const json& j) {
  PullRequest pr;
  std::string action;
  if (forge == Forge::kGitLab) {
    const json& a = field(j, "object_attributes");
    if (!a.is_object()) return Status::Invalid("the payload has no 'object_attributes'");
    action = str(a, "action");
    const json& iid = field(a, "iid");
    if (!iid.is_number_integer()) return Status::Invalid("the payload's 'iid' is not a number");
    pr.number = iid.get<int64_t>();
    pr.title = str(a, "title");
    pr.source = str(a, "source_branch");
    pr.target = str(a, "target_branch");
    pr.head = str(field(a, "last_commit"), "id");
    std::string from = idOf(field(a, "source_project_id")),
                to = idOf(field(a, "target_project_id"));
    pr.fork = from.empty() || from != to;
    pr.author = str(field(j, "user"), "username");
    pr.headRef = "refs/merge-requests/" + std::to_string(pr.number) + "/head";
    pr.closed = action == "close" || action == "merge";
    pr.reopened = action == "reopen";
    if (!pr.closed && action != "open" && action != "reopen" && action != "update") {
      return buildsNothing("merge request action '" + action + "' builds nothing");
    }
  } else {
    action = str(j, "action");
    const json& p = field(j, "pull_request");
    if (!p.is_object()) return Status::Invalid("the payload has no 'pull_request'");
    const json& number = field(p, "number");
    if (!number.is_number_integer())
      return Status::Invalid("the payload's pull_request 'number' is not a number");
    pr.number = number.get<int64_t>();
    pr.title = str(p, "title");
    pr.author = str(field(p, "user"), "login");
    const json& head = field(p, "head");
    const json& base = field(p, "base");
    pr.source = str(head, "ref");
    pr.target = str(base, "ref");
    pr.head = str(head, "sha");
    // The repositories' ids (GitHub: repo.id; Gitea: repo_id too). A fork deleted since has
    // no repo at all: a stranger's still.
    std::string from = idOf(field(field(head, "repo"), "id"));
    std::string to = idOf(field(field(base, "repo"), "id"));
    if (from.empty()) from = idOf(field(head, "repo_id"));
    if (to.empty()) to = idOf(field(base, "repo_id"));
    pr.fork = from.empty() || from != to;
    pr.headRef = "refs/pull/" + std::to_string(pr.number) + "/head";
    pr.closed = action == "closed";
    pr.reopened = action == "reopened";
    bool builds = action == "opened" || action == "reopened" || action == "synchronize" ||
                  action == "synchronized";
    if (!pr.closed && !builds)
      return buildsNothing("pull request action '" + action + "' builds nothing");
  }
  if (pr.number <= 0) return Status::Invalid("the request's number is not positive");
  if (!plausibleBranch(pr.source) || !plausibleBranch(pr.target))
    return Status::Invalid("the request's source or target branch is missing or malformed");
  if (!isHexSha(pr.head)) return Status::Invalid("the request's head is not a commit id");
  // Shown in lists and statuses, never run: bounded all the same.
  pr.title = cutUtf8(std::move(pr.title), 300);
  pr.author = cutUtf8(std::move(pr.author), 100);
  return pr;
}

}  // namespace

std::optional<Forge> parseForge(std::string_view s) {
  if (s == "github") return Forge::kGitHub;
  if (s == "gitlab") return Forge::kGitLab;
  if (s == "gitea" || s == "forgejo") return Forge::kGitea;
  return std::nullopt;
}

std::string hmacSha256Hex(std::string_view key, std::string_view data) {
  // HMAC-SHA256 with a key of any length (the _state API; the one-shot one wants 32 bytes).
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()),
                                data.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return hexOf(mac, sizeof mac);
}

Status verifyWebhook(Forge forge, const std::map<std::string, std::string>& headers,
                     std::string_view body, std::string_view secret) {
  if (secret.empty()) return Status::Unauthorized("the project has no webhook secret");
  switch (forge) {
    case Forge::kGitHub: {
      std::string sig = header(headers, "x-hub-signature-256");
      if (sig.empty()) return Status::Unauthorized("missing X-Hub-Signature-256");
      if (!auth::constantTimeEquals(sig, "sha256=" + hmacSha256Hex(secret, body))) {
        return Status::Unauthorized("bad X-Hub-Signature-256");
      }
      return Status::Ok();
    }
    case Forge::kGitea: {
      std::string sig = header(headers, "x-gitea-signature");
      if (sig.empty()) sig = header(headers, "x-forgejo-signature");
      if (sig.empty()) return Status::Unauthorized("missing X-Gitea-Signature");
      if (!auth::constantTimeEquals(sig, hmacSha256Hex(secret, body))) {
        return Status::Unauthorized("bad X-Gitea-Signature");
      }
      return Status::Ok();
    }
    case Forge::kGitLab: {
      std::string token = header(headers, "x-gitlab-token");
      if (token.empty()) return Status::Unauthorized("missing X-Gitlab-Token");
      if (!auth::constantTimeEquals(token, secret))
        return Status::Unauthorized("bad X-Gitlab-Token");
      return Status::Ok();
    }
  }
  return Status::Unauthorized("unknown forge");
}

Result<WebhookEvent> parseWebhook(Forge forge, const std::map<std::string, std::string>& headers,
                                  std::string_view body) {
  WebhookEvent ev;
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(body.data()), body.size());
  ev.bodyDigest = "sha256:" + hexOf(digest, sizeof digest);
  ev.deliveryId = forge == Forge::kGitHub   ? header(headers, "x-github-delivery")
                  : forge == Forge::kGitLab ? header(headers, "x-gitlab-event-uuid")
                                            : header(headers, "x-gitea-delivery");
  if (forge == Forge::kGitea && ev.deliveryId.empty())
    ev.deliveryId = header(headers, "x-forgejo-delivery");
  bool printable = std::all_of(ev.deliveryId.begin(), ev.deliveryId.end(),
                               [](unsigned char c) { return c > 0x20 && c < 0x7f; });
  if (ev.deliveryId.size() > 100 || !printable) ev.deliveryId.clear();
  std::string event = forge == Forge::kGitHub   ? header(headers, "x-github-event")
                      : forge == Forge::kGitLab ? header(headers, "x-gitlab-event")
                                                : header(headers, "x-gitea-event");
  if (forge == Forge::kGitea && event.empty()) event = header(headers, "x-forgejo-event");
  bool isPush =
      forge == Forge::kGitLab ? event == "Push Hook" || event == "Tag Push Hook" : event == "push";
  bool isRequest = forge == Forge::kGitLab ? event == "Merge Request Hook"
                   : forge == Forge::kGitHub
                       ? event == "pull_request"
                       : event == "pull_request" || event == "pull_request_sync";
  if (!isPush && !isRequest) {
    ev.ignored = event.empty() ? "no event type given"
                               : "event '" + event + "' is neither a push nor a pull request";
    return ev;
  }
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return Status::Invalid("the payload is not a JSON object");
  if (isRequest) {
    auto pr = parsePullRequest(forge, j);
    if (!pr.ok()) return pr.status();
    if (pr->number == 0) {
      ev.ignored = pr->title;  // the action is not one that builds
      return ev;
    }
    ev.pullRequest = std::move(pr).value();
    return ev;
  }
  std::string ref = str(j, "ref");
  std::string after = str(j, "after");
  if (forge == Forge::kGitLab && !str(j, "checkout_sha").empty()) after = str(j, "checkout_sha");
  if (ref.empty()) return Status::Invalid("the payload has no 'ref'");
  if (!isHexSha(after)) return Status::Invalid("the payload's 'after' is not a commit id");
  Push p;
  if (ref.rfind("refs/heads/", 0) == 0) {
    p.branch = ref.substr(11);
  } else if (ref.rfind("refs/tags/", 0) == 0) {
    p.tag = ref.substr(10);
  } else {
    return Status::Invalid("the payload's ref '" + ref + "' is neither a branch nor a tag");
  }
  p.commit = after;
  p.deleted = (j.contains("deleted") && j["deleted"].is_boolean() && j["deleted"].get<bool>()) ||
              after.find_first_not_of('0') == std::string::npos;
  // The head commit: GitHub and Gitea name it; GitLab lists commits, the head last.
  json head;
  if (j.contains("head_commit") && j["head_commit"].is_object()) head = j["head_commit"];
  if (head.is_null() && j.contains("commits") && j["commits"].is_array()) {
    for (const auto& c : j["commits"]) {
      if (c.is_object() && str(c, "id") == after) head = c;
    }
    if (head.is_null() && !j["commits"].empty() && j["commits"].back().is_object()) {
      head = j["commits"].back();
    }
  }
  if (head.is_object()) {
    p.subject = firstLine(str(head, "message"));
    if (head.contains("author") && head["author"].is_object())
      p.author = str(head["author"], "name");
  }
  if (p.author.empty()) p.author = str(j, "user_name");  // GitLab's pusher
  ev.push = p;
  return ev;
}

}  // namespace boucle::scm
