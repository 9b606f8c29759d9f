#include "api/access.h"

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
  return std::nullopt;
}

std::optional<Response> AccessGate::admit(Access a, Request& req) {
  if (a == Access::kPublic) return std::nullopt;
  bool hasToken = !req.header("authorization").empty();
  if (!hasToken) return decide(a, req, false, publicRead_);
  if (auto refusal = authenticate(req)) return refusal;
  return decide(a, req, true, publicRead_);
}

}  // namespace boucle::api
