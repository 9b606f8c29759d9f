#include "api/access.h"

#include <algorithm>

#include "api/people.h"
#include "auth/roles.h"
#include "auth/tokens.h"
#include "core/clock.h"
#include "core/log.h"

namespace boucle::api {

namespace {

Response unauthenticated(const std::string& message, const std::string& challenge) {
  Response r = errorResponse(401, message);
  r.headers.emplace_back("WWW-Authenticate", challenge);
  return r;
}

// Last use is recorded at most once a minute per token: a write per request would be a disk
// sync per request, and would empty every cache keyed on the store's revision.
constexpr int64_t kTouchEveryMs = 60'000;

}  // namespace

std::optional<Response> decide(Access a, const Request& req, bool authenticated, bool publicRead) {
  if (a == Access::kPublic) return std::nullopt;
  bool read = req.method == "GET" || req.method == "HEAD";
  if (!authenticated) {
    if ((a == Access::kRead || a == Access::kMetrics) && publicRead && read) return std::nullopt;
    return unauthenticated("this needs a token: Authorization: Bearer TOKEN", "Bearer");
  }
  auth::Principal who{req.actor, req.roles};
  // An agent's token claims and reports on jobs, and nothing else; nobody else does that.
  if (a == Access::kAgent) {
    if (who.agent()) return std::nullopt;
    return errorResponse(403, who.describe() + " is not an agent (a token with the agent role)");
  }
  if (who.agentOnly()) return errorResponse(403, who.describe() + " may only run jobs");
  if (a == Access::kMetrics) return std::nullopt;
  // A scraper's token reads the metrics and nothing else.
  if (who.metricsOnly()) return errorResponse(403, who.describe() + " may only read /metrics");
  if (a == Access::kRead) return std::nullopt;
  if (who.readOnly()) return errorResponse(403, who.describe() + " may only read");
  if (a == Access::kAdmin && !who.admin()) {
    return errorResponse(403, who.describe() + " may not do this: it is for admins");
  }
  return std::nullopt;
}

std::optional<Response> AccessGate::authenticate(Request& req) {
  std::string header = req.header("authorization");
  const std::string prefix = "Bearer ";
  if (header.compare(0, prefix.size(), prefix) != 0) {
    return unauthenticated("this needs a token: Authorization: Bearer TOKEN", "Bearer");
  }
  std::string hash = auth::hashToken(header.substr(prefix.size()));
  uint64_t revision = store_.revision();
  std::optional<store::Token> token = tokens_.get(hash, revision);
  if (!token) {
    auto found = store_.findToken(hash);
    if (!found.ok()) {
      logError("tokens: " + found.status().message());
      return errorResponse(500, "internal error");
    }
    if (!found->has_value()) {
      return unauthenticated("unknown or revoked token", "Bearer error=\"invalid_token\"");
    }
    token = **found;
    tokens_.put(hash, revision, *token);
  }
  int64_t now = nowMs();
  if (token->expiresAt && *token->expiresAt <= now) {
    return unauthenticated("token '" + token->name + "' has expired",
                           "Bearer error=\"invalid_token\"");
  }
  if (!token->lastUsedAt || now - *token->lastUsedAt >= kTouchEveryMs) {
    if (auto st = store_.touchToken(token->id, now); !st.ok()) {
      logError("tokens: " + st.message());
    }
  }
  req.actor = token->name;
  auto roles = auth::parseRoles(token->role);
  req.roles = roles.ok() ? *roles : std::vector<std::string>{"viewer"};
  req.agentLabels = token->agentLabels;
  req.agentProjects = token->agentProjects;
  if (!token->owner.empty()) {
    // A person's token acts as them, with no more than they may do now: a role taken from
    // them, or their being disabled, reaches their tokens at once.
    auto who = person(token->owner, revision);
    if (!who.ok()) return errorResponse(500, "internal error");
    if (!*who)
      return unauthenticated("token '" + token->name + "': its owner may not sign in",
                             "Bearer error=\"invalid_token\"");
    auto theirs = auth::parseRoles((*who)->roles);
    std::vector<std::string> kept;
    for (const auto& r : req.roles) {
      if (theirs.ok() && std::find(theirs->begin(), theirs->end(), r) != theirs->end())
        kept.push_back(r);
    }
    if (kept.empty()) kept = {"viewer"};
    req.roles = kept;
    req.actor = token->owner;
    req.via = token->name;
  }
  return std::nullopt;
}

Result<std::optional<store::User>> AccessGate::person(const std::string& name, uint64_t revision) {
  auto cached = people_.get(name, revision);
  if (!cached) {
    auto found = store_.findUser(name);
    if (!found.ok()) {
      logError("people: " + found.status().message());
      return found.status();
    }
    cached = *found;
    people_.put(name, revision, *cached);
  }
  if (*cached && (*cached)->disabled) return std::optional<store::User>();
  return *cached;
}

std::optional<Response> AccessGate::authenticateSession(Request& req, const std::string& secret) {
  std::string hash = auth::hashToken(secret);
  uint64_t revision = store_.revision();
  std::optional<store::Session> session = sessions_.get(hash, revision);
  if (!session) {
    auto found = store_.findSession(hash);
    if (!found.ok()) {
      logError("sessions: " + found.status().message());
      return errorResponse(500, "internal error");
    }
    if (!found->has_value()) return unauthenticated("signed out: sign in again", "Session");
    session = **found;
    sessions_.put(hash, revision, *session);
  }
  int64_t now = nowMs();
  if (session->expiresAt <= now || session->seenAt + kSessionIdleMs <= now) {
    (void)store_.removeSession(session->id);
    return unauthenticated("the session has ended: sign in again", "Session");
  }
  auto who = person(session->user, revision);
  if (!who.ok()) return errorResponse(500, "internal error");
  if (!*who) return unauthenticated(session->user + " may not sign in", "Session");
  // A page of another site can make the browser send the cookie, but cannot read this token:
  // every change must carry it.
  bool change = req.method != "GET" && req.method != "HEAD";
  if (change && !auth::constantTimeEquals(req.header("x-csrf-token"), csrfFor(secret)))
    return errorResponse(403, "this change needs the session's X-CSRF-Token header");
  if (now - session->seenAt >= kTouchEveryMs) {
    if (auto st = store_.touchSession(session->id, now); !st.ok())
      logError("sessions: " + st.message());
  }
  auto roles = auth::parseRoles((*who)->roles);
  req.actor = (*who)->name;
  req.roles = roles.ok() && !roles->empty() ? *roles : std::vector<std::string>{"viewer"};
  req.session = session->id;
  return std::nullopt;
}

std::optional<Response> AccessGate::admit(Access a, Request& req) {
  if (a == Access::kPublic) return std::nullopt;
  bool hasToken = !req.header("authorization").empty();
  // A token, when given, is the credential: a person's cookie beside it is not looked at.
  std::string cookie = hasToken ? "" : sessionCookie(req);
  if (!hasToken && cookie.empty()) return decide(a, req, false, publicRead_);
  if (auto refusal = hasToken ? authenticate(req) : authenticateSession(req, cookie))
    return refusal;
  return decide(a, req, true, publicRead_);
}

}  // namespace boucle::api
