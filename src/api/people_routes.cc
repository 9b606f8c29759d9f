// People: accounts (admins make, change and disable them), signing in and out of the web UI,
// and the sessions a person has open.
#include <algorithm>

#include "api/people.h"
#include "api/route_helpers.h"
#include "auth/passwords.h"
#include "auth/tokens.h"
#include "core/clock.h"
#include "core/encoding.h"
#include "core/log.h"
#include "core/names.h"

namespace boucle::api {

using nlohmann::json;

namespace {

json userJson(const store::User& u) {
  auto roles = auth::parseRoles(u.roles);
  return {{"name", u.name},
          {"roles", roles.ok() ? *roles : std::vector<std::string>{}},
          {"disabled", u.disabled},
          {"created_at_ms", u.createdAt},
          {"created_by", u.createdBy}};
}

json sessionJson(const store::Session& s, const Request& req) {
  return {{"id", s.id},
          {"user", s.user},
          {"created_at_ms", s.createdAt},
          {"seen_at_ms", s.seenAt},
          {"expires_at_ms", std::min(s.expiresAt, s.seenAt + kSessionIdleMs)},
          {"address", s.address},
          {"agent", s.agent},
          {"current", s.id == req.session}};
}

// {"roles": [...]}: names, at least one; none given: viewer.
Result<std::string> rolesIn(const json& body) {
  if (!body.contains("roles")) return std::string("viewer");
  if (!body["roles"].is_array() || body["roles"].empty() || body["roles"].size() > 32)
    return Status::Invalid("roles: a list of names");
  std::vector<std::string> names;
  for (const auto& r : body["roles"]) {
    if (!r.is_string() || !validName(r.get<std::string>()))
      return Status::Invalid("roles: a list of names (letters, digits, '-', '_', '.')");
    names.push_back(r.get<std::string>());
  }
  return auth::joinRoles(names);
}

std::string stringField(const json& body, const char* key) {
  return body.is_object() && body.contains(key) && body[key].is_string()
             ? body[key].get<std::string>()
             : std::string();
}

Response signIn(const ApiContext& c, SignInThrottle& throttle, const Request& req) {
  json body = json::parse(req.body, nullptr, false);
  std::string name = stringField(body, "name");
  std::string password = stringField(body, "password");
  if (name.empty() || password.empty() || name.size() > 100)
    return errorResponse(400, "the body must be {\"name\": \"…\", \"password\": \"…\"}");
  std::vector<std::string> keys{"name:" + name, "address:" + req.peer};
  int64_t now = nowMs();
  if (int64_t wait = throttle.wait(keys, now); wait > 0) {
    Response r =
        errorResponse(429, "too many failed sign-ins: try again in " + std::to_string(wait) + " s");
    r.headers.emplace_back("Retry-After", std::to_string(wait));
    return r;
  }
  auto found = c.store->findUser(name);
  if (!found.ok()) return fromStatus(found.status());
  // An unknown name is checked against a decoy all the same: the answer and its time are
  // those of a wrong password.
  bool good = auth::checkPassword(*found ? (*found)->passwordHash : "", password) && *found &&
              !(*found)->disabled;
  std::fill(password.begin(), password.end(), '\0');
  if (!good) {
    throttle.failed(keys, now);
    logInfo("sign-in refused for '" + cutUtf8(name, 100) + "' from " + req.peer);
    return errorResponse(401, "wrong name or password");
  }
  throttle.succeeded(keys[0]);
  std::string secret = auth::randomHex(32);
  store::Session s;
  s.id = auth::randomHex(8);
  s.user = name;
  s.createdAt = s.seenAt = now;
  s.expiresAt = now + kSessionLifeMs;
  s.address = req.peer;
  s.agent = cutUtf8(cleanUtf8(req.header("user-agent")), 200);
  if (auto st = c.store->addSession(s, auth::hashToken(secret)); !st.ok()) return fromStatus(st);
  logInfo(name + " signed in from " + req.peer + " (session " + s.id + ")");
  auto roles = auth::parseRoles((*found)->roles);
  Response r = ok(200, {{"name", name},
                        {"roles", roles.ok() ? *roles : std::vector<std::string>{"viewer"}},
                        {"session", s.id},
                        {"csrf", csrfFor(secret)}});
  bool secure = c.secureCookies || req.header("x-forwarded-proto") == "https";
  r.headers.emplace_back("Set-Cookie", sessionSetCookie(secret, secure));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Response addUser(const ApiContext& c, const Request& req) {
  json body = json::parse(req.body, nullptr, false);
  std::string name = stringField(body, "name");
  if (!validName(name) || name == "boucle")
    return errorResponse(400, "name: letters, digits, '-', '_' and '.' (not 'boucle')");
  auto roles = rolesIn(body);
  if (!roles.ok()) return fromStatus(roles.status());
  std::string password = stringField(body, "password");
  auto hash = auth::hashPassword(password);
  std::fill(password.begin(), password.end(), '\0');
  if (!hash.ok()) return fromStatus(hash.status());
  store::User u;
  u.name = name;
  u.roles = *roles;
  u.passwordHash = *hash;
  u.createdBy = req.actor;
  auto added = c.store->addUser(u);
  if (!added.ok()) return fromStatus(added.status());
  if (auto failed = audited(*c.store, req, "user.add", "", name, *roles)) return *failed;
  return ok(201, userJson(*added));
}

// Roles or disabled changed by an admin; disabling ends the person's sessions.
Response changeUser(const ApiContext& c, const Request& req, const std::string& name) {
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object())
    return errorResponse(400, "expected {\"roles\": [...], \"disabled\": true}");
  auto found = c.store->findUser(name);
  if (!found.ok()) return fromStatus(found.status());
  if (!*found) return errorResponse(404, "no person named " + name);
  store::User u = **found;
  std::string changed;
  if (body.contains("roles")) {
    auto roles = rolesIn(body);
    if (!roles.ok()) return fromStatus(roles.status());
    u.roles = *roles;
    changed += "roles=" + *roles;
  }
  if (body.contains("disabled")) {
    if (!body["disabled"].is_boolean()) return errorResponse(400, "disabled: true or false");
    u.disabled = body["disabled"].get<bool>();
    changed += std::string(changed.empty() ? "" : ", ") + (u.disabled ? "disabled" : "enabled");
  }
  if (changed.empty()) return errorResponse(400, "give roles or disabled");
  if (auto st = c.store->updateUser(u); !st.ok()) return fromStatus(st);
  if (u.disabled) {
    if (auto st = c.store->removeSessionsOf(u.name); !st.ok()) return fromStatus(st);
  }
  if (auto failed = audited(*c.store, req, "user.change", "", name, changed)) return *failed;
  return ok(200, userJson(u));
}

// A new password: an admin sets anyone's; a person their own, giving the current one. Their
// other sessions end.
Response changePassword(const ApiContext& c, const Request& req, const std::string& name) {
  json body = json::parse(req.body, nullptr, false);
  bool admin = principalOf(req).admin();
  bool self = req.actor == name && (!req.session.empty() || !req.via.empty());
  if (!admin && !self) return errorResponse(403, "a person changes their own password");
  auto found = c.store->findUser(name);
  if (!found.ok()) return fromStatus(found.status());
  if (!*found) return errorResponse(404, "no person named " + name);
  std::string current = stringField(body, "current_password");
  if (!admin && !auth::checkPassword((*found)->passwordHash, current))
    return errorResponse(403, "current_password: wrong");
  std::string password = stringField(body, "password");
  auto hash = auth::hashPassword(password);
  std::fill(password.begin(), password.end(), '\0');
  std::fill(current.begin(), current.end(), '\0');
  if (!hash.ok()) return fromStatus(hash.status());
  store::User u = **found;
  u.passwordHash = *hash;
  if (auto st = c.store->updateUser(u); !st.ok()) return fromStatus(st);
  auto sessions = c.store->listSessions(name);
  if (sessions.ok()) {
    for (const auto& s : *sessions) {
      if (s.id != req.session) (void)c.store->removeSession(s.id);
    }
  }
  if (auto failed = audited(*c.store, req, "user.password", "", name, "")) return *failed;
  return ok(200, {{"name", name}, {"password", "changed"}});
}

}  // namespace

void addPeopleRoutes(Router& r, const ApiContext& c) {
  auto throttle = std::make_shared<SignInThrottle>();
  r.add("POST", "/api/session", Access::kPublic,
        [&c, throttle](const Request& req, const Params&) { return signIn(c, *throttle, req); });
  r.add("DELETE", "/api/session", Access::kRead, [&c](const Request& req, const Params&) {
    if (req.session.empty())
      return errorResponse(400, "no session: this request came with a token");
    auto st = c.store->removeSession(req.session);
    if (!st.ok() && st.code() != Code::kNotFound) return fromStatus(st);
    Response res = ok(200, {{"signed_out", req.actor}});
    res.headers.emplace_back("Set-Cookie", sessionSetCookie("", c.secureCookies));
    return res;
  });
  // A person's own sessions; an admin's ?all=true lists everyone's.
  r.add("GET", "/api/sessions", Access::kRead, [&c](const Request& req, const Params&) {
    bool all = principalOf(req).admin() && req.query.count("all") && req.query.at("all") == "true";
    auto list = c.store->listSessions(all ? "" : req.actor);
    if (!list.ok()) return fromStatus(list.status());
    json out = json::array();
    for (const auto& s : *list) {
      if (!all && s.user != req.actor) continue;
      out.push_back(sessionJson(s, req));
    }
    return ok(200, {{"sessions", out}});
  });
  r.add("DELETE", "/api/sessions/{id}", Access::kRead, [&c](const Request& req, const Params& p) {
    auto list = c.store->listSessions(principalOf(req).admin() ? "" : req.actor);
    if (!list.ok()) return fromStatus(list.status());
    auto it = std::find_if(list->begin(), list->end(),
                           [&](const store::Session& s) { return s.id == p.at("id"); });
    if (it == list->end()) return errorResponse(404, "no session " + p.at("id") + " of yours");
    if (auto st = c.store->removeSession(it->id); !st.ok()) return fromStatus(st);
    if (it->user != req.actor) {
      if (auto failed = audited(*c.store, req, "session.revoke", "", it->user, it->id))
        return *failed;
    }
    return ok(200, {{"revoked", it->id}});
  });
  r.add("POST", "/api/users", Access::kAdmin,
        [&c](const Request& req, const Params&) { return addUser(c, req); });
  r.add("GET", "/api/users", Access::kAdmin, [&c](const Request&, const Params&) {
    auto list = c.store->listUsers();
    if (!list.ok()) return fromStatus(list.status());
    json out = json::array();
    for (const auto& u : *list) out.push_back(userJson(u));
    return ok(200, {{"users", out}});
  });
  r.add("PATCH", "/api/users/{name}", Access::kAdmin,
        [&c](const Request& req, const Params& p) { return changeUser(c, req, p.at("name")); });
  r.add("PUT", "/api/users/{name}/password", Access::kRead,
        [&c](const Request& req, const Params& p) { return changePassword(c, req, p.at("name")); });
}

}  // namespace boucle::api
