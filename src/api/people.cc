#include "api/people.h"

#include <sodium.h>

#include <algorithm>

#include "core/encoding.h"

namespace boucle::api {

namespace {

constexpr int64_t kWindowMs = 15 * 60 * 1000;
constexpr size_t kFreeFailures = 5;
constexpr size_t kMaxKeys = 100000;

}  // namespace

std::string sessionCookie(const Request& req) {
  std::string header = req.header("cookie");
  std::string_view rest(header);
  while (!rest.empty()) {
    size_t end = rest.find(';');
    std::string_view part = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    size_t eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == kSessionCookie)
      return std::string(part.substr(eq + 1));
  }
  return "";
}

std::string csrfFor(std::string_view sessionSecret) {
  std::string input = "boucle csrf\n" + std::string(sessionSecret);
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  return hexOf(digest, sizeof digest);
}

std::string sessionSetCookie(const std::string& secret, bool secure) {
  std::string c =
      std::string(kSessionCookie) + "=" + secret + "; Path=/; HttpOnly; SameSite=Strict";
  if (secret.empty()) c += "; Max-Age=0";
  if (secure) c += "; Secure";
  return c;
}

int64_t SignInThrottle::wait(const std::vector<std::string>& keys, int64_t nowMs) {
  std::lock_guard lock(mu_);
  int64_t longest = 0;
  for (const auto& key : keys) {
    auto it = records_.find(key);
    if (it == records_.end()) continue;
    auto& f = it->second.failures;
    std::erase_if(f, [&](int64_t at) { return at < nowMs - kWindowMs; });
    if (f.size() < kFreeFailures) continue;
    int64_t delayMs =
        std::min<int64_t>(kWindowMs, 1000LL << std::min<size_t>(f.size() - kFreeFailures, 20));
    int64_t until = f.back() + delayMs;
    if (until > nowMs) longest = std::max(longest, (until - nowMs + 999) / 1000);
  }
  return longest;
}

void SignInThrottle::failed(const std::vector<std::string>& keys, int64_t nowMs) {
  std::lock_guard lock(mu_);
  if (records_.size() > kMaxKeys) {
    std::erase_if(records_, [&](const auto& kv) {
      return kv.second.failures.empty() || kv.second.failures.back() < nowMs - kWindowMs;
    });
  }
  for (const auto& key : keys) {
    // Full of live counts (a flood of made-up names): new keys wait, the counts kept stay, so
    // the account under attack is never forgotten.
    if (records_.size() > kMaxKeys && !records_.count(key)) continue;
    auto& f = records_[key].failures;
    f.push_back(nowMs);
    if (f.size() > 64) f.erase(f.begin());
  }
}

void SignInThrottle::succeeded(const std::string& key) {
  std::lock_guard lock(mu_);
  records_.erase(key);
}

}  // namespace boucle::api
