// Tokens (made, listed, revoked), who a token is, and the audit log.
#include "api/people.h"
#include "api/route_helpers.h"
#include "auth/initial_token.h"
#include "auth/tokens.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/log.h"
#include "core/names.h"

namespace boucle::api {

using nlohmann::json;

namespace {

json tokenJson(const store::Token& t) {
  auto roles = auth::parseRoles(t.role);
  return {{"name", t.name},
          {"roles", roles.ok() ? *roles : std::vector<std::string>{}},
          {"created_at_ms", t.createdAt},
          {"created_by", t.createdBy},
          {"expires_at_ms", optMs(t.expiresAt)},
          {"last_used_at_ms", optMs(t.lastUsedAt)},
          {"agent_labels", t.agentLabels},
          {"agent_projects", t.agentProjects},
          {"owner", t.owner}};
}

// {"agent_labels": ["linux"]}: at most 32 names; none: empty.
Result<std::vector<std::string>> namesOf(const json& body, const char* key) {
  std::vector<std::string> out;
  if (!body.contains(key) || body[key].is_null()) return out;
  if (!body[key].is_array() || body[key].size() > 32)
    return Status::Invalid(std::string(key) + ": a list of at most 32 names");
  for (const auto& n : body[key]) {
    if (!n.is_string() || !validName(n.get<std::string>()))
      return Status::Invalid(std::string(key) + ": '" + n.dump() + "' is not a name");
    out.push_back(n.get<std::string>());
  }
  return out;
}

// {"roles": ["developer"]}: each entry one name ("a,b" is not two roles). None: viewer, so a
// token made in haste can read and nothing more.
Result<std::string> rolesOf(const json& body) {
  if (!body.contains("roles")) return std::string("viewer");
  if (!body["roles"].is_array()) return Status::Invalid("roles: a list of names");
  std::vector<std::string> names;
  for (const auto& r : body["roles"]) {
    auto one = r.is_string() ? auth::parseRoles(r.get<std::string>())
                             : Result<std::vector<std::string>>(Status::Invalid(""));
    if (!one.ok() || one->size() != 1) {
      return Status::Invalid("roles: a list of names (letters, digits, '-', '_', '.')");
    }
    names.push_back(one->front());
  }
  if (names.empty()) return std::string("viewer");
  auto roles = auth::parseRoles(auth::joinRoles(names));
  if (!roles.ok()) return roles.status();
  return auth::joinRoles(*roles);
}

// A new API token, shown once in this answer; only its hash is kept.
Response addToken(const ApiContext& c, const Request& req) {
  json body = json::parse(req.body, nullptr, false);
  const json name = body.is_object() ? body.value("name", json()) : json();
  if (!name.is_string() || name.get<std::string>().empty() ||
      name.get<std::string>().size() > 100 ||
      name.get<std::string>().find_first_of("\r\n") != std::string::npos) {
    return errorResponse(400,
                         "the body must be {\"name\": \"who or what uses it\", "
                         "\"roles\": [\"developer\"], \"expires\": \"90d\"}");
  }
  if (name.get<std::string>() == "boucle") {
    // The name the server's own automation acts under (releases of release branches).
    return errorResponse(400, "'boucle' is the server's own name; choose another");
  }
  // A person (signed in, or with one of their tokens) makes tokens for themselves, with at most
  // their own roles; an admin's service token (or an admin asking for "service") makes a
  // service's, with any roles.
  bool person = !req.session.empty() || !req.via.empty();
  bool admin = principalOf(req).admin();
  bool service = !person || (admin && body.contains("service") && body["service"].is_boolean() &&
                             body["service"].get<bool>());
  if (service && !admin)
    return errorResponse(403, "only admins make tokens that are not their own");
  auto roles = rolesOf(body);
  if (!roles.ok()) return fromStatus(roles.status());
  if (!service) {
    if (!body.contains("roles")) roles = auth::joinRoles(req.roles);
    auto asked = auth::parseRoles(*roles);
    for (const auto& r : asked.ok() ? *asked : std::vector<std::string>{}) {
      if (std::find(req.roles.begin(), req.roles.end(), r) == req.roles.end())
        return errorResponse(403, principalOf(req).describe() + " may not give a token the role " +
                                      r + ": a person's token has at most their roles");
    }
  }
  if (service) {
    // It would act as the person of that name (user:NAME rules).
    auto person = c.store->findUser(name.get<std::string>());
    if (!person.ok()) return fromStatus(person.status());
    if (*person) return errorResponse(409, "a person is named " + name.get<std::string>());
  }
  store::Token t = store::tokenNamed(name.get<std::string>(), *roles);
  t.createdBy = req.actor;
  if (!service) t.owner = req.actor;
  auto labels = namesOf(body, "agent_labels");
  if (!labels.ok()) return fromStatus(labels.status());
  auto projects = namesOf(body, "agent_projects");
  if (!projects.ok()) return fromStatus(projects.status());
  auto parsed = auth::parseRoles(t.role);
  bool agent = parsed.ok() && auth::Principal{t.name, *parsed}.agent();
  if ((!labels->empty() || !projects->empty()) && !agent)
    return errorResponse(400,
                         "agent_labels and agent_projects pin an agent's token: give it "
                         "the agent role");
  t.agentLabels = *labels;
  t.agentProjects = *projects;
  if (body.contains("expires") && !body["expires"].is_null()) {
    auto d = body["expires"].is_string() ? parseDuration(body["expires"].get<std::string>())
                                         : std::nullopt;
    if (!d || d->count() <= 0) return errorResponse(400, "expires: a duration such as 90d");
    t.expiresAt = nowMs() + d->count();
  }
  std::string token = auth::newToken();
  auto added = c.store->addToken(t, auth::hashToken(token));
  if (!added.ok()) return fromStatus(added.status());
  if (auto failed = audited(*c.store, req, "token.create", "", added->name, added->role))
    return *failed;
  // Another admin token exists now: the initial one's file need not stay on disk.
  auto retired = auth::retireInitialTokenFile(*c.store, c.dataDir);
  if (!retired.ok()) logError("initial admin token: " + retired.status().message());
  json out = tokenJson(*added);
  out["token"] = token;
  return ok(201, out);
}

}  // namespace

void addAccessRoutes(Router& r, const ApiContext& c) {
  r.add("POST", "/api/tokens", Access::kRead,
        [&c](const Request& req, const Params&) { return addToken(c, req); });
  // Names, roles, dates; never a token or its hash. A person who is not an admin sees their
  // own.
  r.add("GET", "/api/tokens", Access::kRead, [&c](const Request& req, const Params&) {
    bool admin = principalOf(req).admin();
    bool person = !req.session.empty() || !req.via.empty();
    if (!admin && !person) return errorResponse(403, "tokens are listed to admins and to people");
    auto list = c.store->listTokens();
    if (!list.ok()) return fromStatus(list.status());
    json out = json::array();
    for (const auto& t : *list) {
      if (admin || (!t.owner.empty() && t.owner == req.actor)) out.push_back(tokenJson(t));
    }
    return ok(200, {{"tokens", out}});
  });
  r.add("DELETE", "/api/tokens/{name}", Access::kRead, [&c](const Request& req, const Params& p) {
    if (!principalOf(req).admin()) {
      // A person revokes their own; anyone else's answers as a token that does not exist.
      auto list = c.store->listTokens();
      if (!list.ok()) return fromStatus(list.status());
      bool theirs = std::any_of(list->begin(), list->end(), [&](const store::Token& t) {
        return t.name == p.at("name") && !t.owner.empty() && t.owner == req.actor &&
               (!req.session.empty() || !req.via.empty());
      });
      if (!theirs) return errorResponse(403, "only admins revoke tokens that are not their own");
    }
    if (auto st = c.store->revokeToken(p.at("name")); !st.ok()) return fromStatus(st);
    if (auto failed = audited(*c.store, req, "token.revoke", "", p.at("name"), "")) return *failed;
    return ok(200, {{"revoked", p.at("name")}});
  });
  // Who the token is: the UI shows it and offers only what its roles allow.
  // A person signed in gets their session's CSRF token here too (a page reloaded).
  r.add("GET", "/api/me", Access::kRead, [](const Request& req, const Params&) {
    json me = {{"name", req.actor}, {"roles", req.roles}};
    if (!req.via.empty()) me["token"] = req.via;
    if (!req.session.empty()) {
      me["session"] = req.session;
      me["csrf"] = csrfFor(sessionCookie(req));
    }
    Response res = ok(200, me);
    res.headers.emplace_back("Cache-Control", "no-store");
    return res;
  });
  // Who did what, when: releases, deploys, approvals, rollbacks, newest first.
  r.add("GET", "/api/audit", Access::kRead, [&c](const Request& req, const Params&) {
    auto limit = limitOf(req, 100);
    if (!limit) return errorResponse(400, "limit: 1 to 1000");
    std::string project = req.query.count("project") ? req.query.at("project") : "";
    auto list = c.store->listAudit(project, *limit);
    if (!list.ok()) return fromStatus(list.status());
    json out = json::array();
    for (const auto& e : *list) {
      out.push_back({{"id", e.id},
                     {"at_ms", e.at},
                     {"actor", e.actor},
                     {"action", e.action},
                     {"project", e.project},
                     {"target", e.target},
                     {"detail", e.detail}});
    }
    return ok(200, {{"entries", out}});
  });
}

std::optional<Response> audited(store::Store& store, const Request& req, const std::string& action,
                                const std::string& project, const std::string& target,
                                const std::string& detail) {
  // A person acting through one of their tokens is named (req.actor is theirs), as everywhere
  // a request's actor is recorded (releases, deploys, approvals).
  auto st = store.addAudit({0, nowMs(), req.actor, action, project, target, detail});
  if (st.ok()) return std::nullopt;
  logError("audit: " + action + " by " + req.actor + " was done but not recorded: " + st.message());
  return errorResponse(500, action + " was done, but the audit log could not record it");
}

}  // namespace boucle::api
