// The three forges' push and pull request payloads on any body (and headers from the input): parsed
// or refused with a message, never a crash; a body signed with the secret always verifies.
#include <cstdint>
#include <map>
#include <string>

#include "fuzz/fuzz_input.h"
#include "scm/webhook.h"

using namespace boucle;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  scm::Forge forge = data[0] % 3 == 0   ? scm::Forge::kGitHub
                     : data[0] % 3 == 1 ? scm::Forge::kGitLab
                                        : scm::Forge::kGitea;
  // The first byte's next bit: a push or a pull request event.
  bool request = (data[0] / 3) % 2 == 1;
  auto p = fuzz::parts(data + 1, size - 1, 2);
  std::string body = p.back();
  std::map<std::string, std::string> headers = {
      {"x-github-event", request ? "pull_request" : "push"},
      {"x-gitlab-event", request ? "Merge Request Hook" : "Push Hook"},
      {"x-gitea-event", request ? "pull_request" : "push"},
      {"x-github-delivery", p[0]},
      {"x-gitlab-event-uuid", p[0]},
      {"x-gitea-delivery", p[0]},
      {"x-gitlab-token", "secret"},
  };
  std::string mac = scm::hmacSha256Hex("secret", body);
  headers["x-hub-signature-256"] = "sha256=" + mac;
  headers["x-gitea-signature"] = mac;
  if (!scm::verifyWebhook(forge, headers, body, "secret").ok()) __builtin_trap();
  auto ev = scm::parseWebhook(forge, headers, body);
  if (ev.ok() && ev->deliveryId.size() > 100) __builtin_trap();
  // What a request's run is built from is bounded and never looks like an option.
  if (ev.ok() && ev->pullRequest) {
    const auto& pr = *ev->pullRequest;
    if (pr.number <= 0 || pr.title.size() > 300 || pr.author.size() > 100) __builtin_trap();
    if (pr.head.size() != 40 && pr.head.size() != 64) __builtin_trap();
    if (pr.source.empty() || pr.source[0] == '-' || pr.target.empty() || pr.target[0] == '-')
      __builtin_trap();
  }
  return 0;
}
