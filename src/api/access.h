#pragma once
// Who is asking, and whether they may: a request's bearer token (or a person's session cookie,
// api/people.h) becomes its actor and roles,
// then the route's declared Access (router.h) admits it or not. The rule is one pure function
// (decide), tested alone; the gate adds the token lookup, cached while the store is unchanged
// (a revocation is a write, so it takes effect at the next request).

#include <optional>
#include <string>

#include "api/http.h"
#include "api/response_cache.h"
#include "api/router.h"
#include "store/store.h"

namespace boucle::api {

// Whether a caller (already authenticated or not) may reach a route of access `a`: nullopt,
// or the refusal (401 with WWW-Authenticate when a token would help, 403 when it would not).
std::optional<Response> decide(Access a, const Request& req, bool authenticated, bool publicRead);

class AccessGate {
 public:
  AccessGate(store::Store& store, bool publicRead) : store_(store), publicRead_(publicRead) {}
  // Fills req.actor and req.roles from its token when the route needs one, then decides.
  std::optional<Response> admit(Access a, Request& req);

 private:
  // nullopt once req holds the token's principal; else the 401 (unknown, revoked, expired).
  std::optional<Response> authenticate(Request& req);
  // The same for a person's session cookie, and its CSRF token on a change.
  std::optional<Response> authenticateSession(Request& req, const std::string& secret);
  // The person `name`, if they may act (not disabled); cached like tokens.
  Result<std::optional<store::User>> person(const std::string& name, uint64_t revision);

  store::Store& store_;
  bool publicRead_;
  RevisionCache<store::Token> tokens_;                // by hash
  RevisionCache<store::Session> sessions_;            // by hash
  RevisionCache<std::optional<store::User>> people_;  // by name
};

}  // namespace boucle::api
