#include "auth/roles.h"

#include <algorithm>

#include "core/encoding.h"
#include "core/names.h"

namespace boucle::auth {

bool Principal::admin() const {
  return std::find(roles.begin(), roles.end(), "admin") != roles.end();
}

bool Principal::readOnly() const {
  return std::all_of(roles.begin(), roles.end(),
                     [](const auto& r) { return r == "viewer" || r == "metrics" || r == "agent"; });
}

bool Principal::metricsOnly() const {
  return !roles.empty() &&
         std::all_of(roles.begin(), roles.end(), [](const auto& r) { return r == "metrics"; });
}

bool Principal::agent() const {
  return std::find(roles.begin(), roles.end(), "agent") != roles.end();
}

bool Principal::agentOnly() const {
  return !roles.empty() &&
         std::all_of(roles.begin(), roles.end(), [](const auto& r) { return r == "agent"; });
}

bool Principal::namedBy(const std::vector<std::string>& rule) const {
  for (const auto& entry : rule) {
    if (entry.starts_with("user:") ? entry.substr(5) == name
                                   : std::find(roles.begin(), roles.end(), entry) != roles.end()) {
      return true;
    }
  }
  return false;
}

std::string Principal::describe() const {
  return name + " (" + joinRoles(roles) + ")";
}

Result<std::vector<std::string>> parseRoles(std::string_view text) {
  std::vector<std::string> roles;
  for (auto& r : split(text, ',')) {
    if (!validName(r)) {
      return Status::Invalid("role '" + r + "': letters, digits, '-', '_' and '.' only");
    }
    if (std::find(roles.begin(), roles.end(), r) == roles.end()) roles.push_back(r);
  }
  if (roles.empty()) return Status::Invalid("a token needs at least one role");
  return roles;
}

std::string joinRoles(const std::vector<std::string>& roles) {
  std::string out;
  for (const auto& r : roles) out += (out.empty() ? "" : ",") + r;
  return out;
}

}  // namespace boucle::auth
