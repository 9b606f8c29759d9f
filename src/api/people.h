#pragma once
// People signed in through the web UI: the session cookie, the CSRF token that goes with it,
// and the throttle on guessing passwords. The session is one way to become a principal (name
// and roles), as a token is: an identity provider (OpenID Connect) would be another, making
// the same session at its callback, and nothing past the gate would change.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http.h"

namespace boucle::api {

inline constexpr const char* kSessionCookie = "boucle_session";
// A session ends after 12 hours without a request, and after 7 days whatever happens.
inline constexpr int64_t kSessionIdleMs = 12LL * 3600 * 1000;
inline constexpr int64_t kSessionLifeMs = 7LL * 24 * 3600 * 1000;

// The session secret the request's Cookie header carries ("" when none).
std::string sessionCookie(const Request& req);
// The CSRF token of a session: derived from its secret (never stored), so only a page that
// was given it at sign-in or by GET /api/me, on this origin, can send it.
std::string csrfFor(std::string_view sessionSecret);
// The Set-Cookie value that starts (or, `secret` empty, ends) a session. `secure` adds Secure
// (the server is reached over https).
std::string sessionSetCookie(const std::string& secret, bool secure);

// Failed sign-ins, counted by account and by address: after 5 failures within 15 minutes, each
// next try waits twice as long as the last (1 s, 2 s, … up to 15 minutes). Kept in this server's
// memory, bounded; a success clears the account's count.
class SignInThrottle {
 public:
  // Seconds to wait before trying `keys` again (0: go ahead).
  int64_t wait(const std::vector<std::string>& keys, int64_t nowMs);
  void failed(const std::vector<std::string>& keys, int64_t nowMs);
  void succeeded(const std::string& key);

 private:
  struct Record {
    std::vector<int64_t> failures;  // within the window, oldest first
  };
  std::mutex mu_;  // guards records_
  std::map<std::string, Record> records_;
};

}  // namespace boucle::api
