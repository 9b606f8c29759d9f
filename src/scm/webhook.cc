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
  if (!isPush) {
    ev.ignored = event.empty() ? "no event type given" : "event '" + event + "' is not a push";
    return ev;
  }
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return Status::Invalid("the payload is not a JSON object");
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
