// People: accounts (admins make, change and disable them), signing in and out of the web UI,
// and the sessions a person has open.
#include <algorithm>
#include <atomic>

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

// Where a sign-in comes from: the connection's address, or behind a proxy on this machine
// the address it saw (the last X-Forwarded-For entry, the one it added). An IPv6 client counts
// by its /64: one host holds a whole one.
std::string clientAddress(const Request& req) {
  std::string addr = req.peer;
  bool local = addr == "127.0.0.1" || addr == "::1" || addr == "::ffff:127.0.0.1";
  std::string forwarded = req.header("x-forwarded-for");
  if (local && !forwarded.empty()) {
    addr = forwarded.substr(forwarded.rfind(',') + 1);
    while (!addr.empty() && addr.front() == ' ') addr.erase(0, 1);
    while (!addr.empty() && addr.back() == ' ') addr.pop_back();
    addr = cutUtf8(addr, 64);
  }
  if (addr.find(':') != std::string::npos && addr.find('.') == std::string::npos) {
    size_t at = 0;
    for (int groups = 0; groups < 4 && at != std::string::npos; ++groups)
      at = addr.find(':', at == 0 ? 0 : at + 1);
    if (at != std::string::npos) addr = addr.substr(0, at) + "::/64";
  }
  return addr;
}

// A password check costs 0.1 s of a core and 64 MiB: a request thread does at most one at a
// time, server-wide, so a flood of sign-ins slows sign-ins, not the server.
class CheckSlot {
 public:
  explicit CheckSlot(std::atomic<int>& inUse) : inUse_(inUse) { held_ = inUse_.fetch_add(1) == 0; }
  ~CheckSlot() { inUse_.fetch_sub(1); }
  bool held() const { return held_; }

 private:
  std::atomic<int>& inUse_;
  bool held_ = false;
};
std::atomic<int> checksInUse{0};

Response busy() {
  Response r = errorResponse(429, "too many sign-ins at once: try again in a second");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

Response signIn(const ApiContext& c, SignInThrottle& throttle, const Request& req) {
  // A form on another site can post here (login CSRF), but not with a JSON content type
  // without the preflight this server never grants.
  if (req.header("content-type").rfind("application/json", 0) != 0)
    return errorResponse(415, "sign in with Content-Type: application/json");
  std::string site = req.header("sec-fetch-site");
  if (!site.empty() && site != "same-origin" && site != "none")
    return errorResponse(403, "signing in from another site is refused");
  json body = json::parse(req.body, nullptr, false);
  std::string name = stringField(body, "name");
  std::string password = stringField(body, "password");
  if (name.empty() || password.empty() || name.size() > 100)
    return errorResponse(400, "the body must be {\"name\": \"…\", \"password\": \"…\"}");
  std::vector<std::string> keys{"name:" + name, "address:" + clientAddress(req)};
  int64_t now = nowMs();
  if (int64_t wait = throttle.wait(keys, now); wait > 0) {
    Response r =
        errorResponse(429, "too many failed sign-ins: try again in " + std::to_string(wait) + " s");
    r.headers.emplace_back("Retry-After", std::to_string(wait));
    return r;
  }
  auto found = c.store->findUser(name);
  if (!found.ok()) return fromStatus(found.status());
  CheckSlot slot(checksInUse);
  if (!slot.held()) return busy();
  // An unknown name is checked against a decoy all the same: the answer and its time are
  // those of a wrong password.
  bool good = auth::checkPassword(*found ? (*found)->passwordHash : "", password) && *found &&
              !(*found)->disabled;
  std::fill(password.begin(), password.end(), '\0');
  if (!good) {
    throttle.failed(keys, now);
    // Only a name that could be one is logged: a password typed as the name, or a line break
    // forging a log line, is not.
    logInfo("sign-in refused for " + (validName(name) ? "'" + name + "'" : "a name that is none") +
            " from " + keys[1].substr(8));
    return errorResponse(401, "wrong name or password");
  }
  throttle.succeeded(keys[0]);
  std::string secret = auth::randomHex(32);
  store::Session s;
  s.id = auth::randomHex(8);
  s.user = name;
  s.createdAt = s.seenAt = now;
  s.expiresAt = now + kSessionLifeMs;
  s.address = keys[1].substr(8);
  s.agent = cutUtf8(cleanUtf8(req.header("user-agent")), 200);
  if (auto st = c.store->addSession(s, auth::hashToken(secret)); !st.ok()) return fromStatus(st);
  logInfo(name + " signed in from " + keys[1].substr(8) + " (session " + s.id + ")");
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
  // A service's token of that name would act as them (user:NAME rules): one or the other.
  auto tokens = c.store->listTokens();
  if (!tokens.ok()) return fromStatus(tokens.status());
  for (const auto& t : *tokens) {
    if (t.name == name && t.owner.empty())
      return errorResponse(409, "a service's token is named " + name + ": choose another name");
  }
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
Response changePassword(const ApiContext& c, SignInThrottle& throttle, const Request& req,
                        const std::string& name) {
  json body = json::parse(req.body, nullptr, false);
  bool admin = principalOf(req).admin();
  bool self = req.actor == name && (!req.session.empty() || !req.via.empty());
  if (!admin && !self) return errorResponse(403, "a person changes their own password");
  auto found = c.store->findUser(name);
  if (!found.ok()) return fromStatus(found.status());
  if (!*found) return errorResponse(404, "no person named " + name);
  std::string current = stringField(body, "current_password");
  if (!admin) {
    // Guessing the current password is signing in by another door: throttled the same.
    std::vector<std::string> keys{"name:" + name};
    int64_t now = nowMs();
    if (int64_t wait = throttle.wait(keys, now); wait > 0)
      return errorResponse(429,
                           "too many wrong passwords: try again in " + std::to_string(wait) + " s");
    CheckSlot slot(checksInUse);
    if (!slot.held()) return busy();
    if (!auth::checkPassword((*found)->passwordHash, current)) {
      throttle.failed(keys, now);
      return errorResponse(403, "current_password: wrong");
    }
  }
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
  // An admin's reset is for a password others may know: what it could have made goes too.
  if (admin && req.actor != name) {
    auto tokens = c.store->listTokens();
    if (tokens.ok()) {
      for (const auto& t : *tokens) {
        if (t.owner == name) (void)c.store->revokeToken(t.name);
      }
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
        [&c, throttle](const Request& req, const Params& p) {
          return changePassword(c, *throttle, req, p.at("name"));
        });
}

}  // namespace boucle::api
