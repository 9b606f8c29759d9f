#pragma once
// Who may do what. A token carries one or more roles:
//   admin   — everything: tokens, projects, credentials, environment values and secrets, and
//             deploys and approvals anywhere;
//   viewer  — reads only;
//   metrics — reads GET /metrics only (a Prometheus scraper's token);
//   agent   — a remote agent (`boucle agent`): claims jobs and reports on them, nothing else;
//   any other name (developer, ops, qa, …) — runs (trigger, cancel, retry), releases, and
//             deploys where the environment lets it: an environment's `deployers:` list names
//             who may ask for its deploys (nobody restricted when absent), its `approval:` list
//             who may approve them. Entries are role names or "user:TOKEN-NAME".

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace boucle::auth {

struct Principal {
  std::string name;                // the token's name ("" for an anonymous read)
  std::vector<std::string> roles;  // never empty for a token

  bool admin() const;
  bool readOnly() const;     // no role beyond viewer (and metrics, agent): changes nothing
  bool metricsOnly() const;  // only the metrics role: /metrics and nothing else
  bool agent() const;        // has the agent role
  bool agentOnly() const;    // only the agent role: /api/agent/* and nothing else
  // Whether `rule` (roles and "user:NAME" entries) names this principal.
  bool namedBy(const std::vector<std::string>& rule) const;
  std::string describe() const;  // "alice (developer, qa)"
};

// "ops,developer" → {"ops", "developer"}; each a valid name.
Result<std::vector<std::string>> parseRoles(std::string_view text);
std::string joinRoles(const std::vector<std::string>& roles);

}  // namespace boucle::auth
