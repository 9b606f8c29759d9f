// Projects: added, listed, shown, their settings and credential changed, removed, triggered.
#include "api/route_helpers.h"
#include "auth/tokens.h"
#include "core/names.h"
#include "notify/forge_status.h"
#include "scm/git_auth.h"

namespace boucle::api {

using nlohmann::json;

namespace {

// The webhook secret signs pushes: admins see it, everyone else only that one is set.
json projectJson(const store::Project& p, bool admin) {
  json j = {{"name", p.name},
            {"url", p.url},
            {"branches", p.branches},
            {"release_branches", p.releaseBranches},
            {"poll_seconds", p.pollSeconds},
            {"requeue_interrupted", p.requeueInterrupted},
            {"allow_process_jobs", p.allowProcessJobs},
            {"request_builds", p.requestBuilds},
            {"fork_secrets", p.forkSecrets},
            {"on_red", p.onRed.empty() ? "off" : p.onRed},
            {"forge", p.forge},
            {"forge_api", p.forgeApi},
            {"forge_repo", p.forgeRepo},
            {"forge_token_set", !p.forgeTokenSealed.empty()},
            {"created_at_ms", p.createdAt},
            {"webhook_secret_set", !p.webhookSecret.empty()}};
  if (admin) j["webhook_secret"] = p.webhookSecret;
  // The credential's kind and user only: its secret never leaves the server.
  j["credential"] = p.credentialKind.empty()
                        ? json(nullptr)
                        : json{{"kind", p.credentialKind}, {"username", p.credentialUser}};
  return j;
}

bool isAdmin(const Request& req) {
  return principalOf(req).admin();
}

// A credential in a request: {"kind": "token" | "ssh-key", "username": U, "secret": S}.
// Returns what is wrong with it, or "" once `out` holds it sealed.
std::string readCredential(const ApiContext& c, const json& v, store::Project* out) {
  if (v.is_null()) return "";
  if (!v.is_object()) return "credential: an object with kind, username and secret";
  scm::GitCredential cred;
  for (auto [key, field] : {std::pair{"kind", &cred.kind}, std::pair{"username", &cred.username},
                            std::pair{"secret", &cred.secret}}) {
    if (!v.contains(key)) continue;
    if (!v[key].is_string()) return std::string("credential.") + key + ": a string";
    *field = v[key].get<std::string>();
  }
  if (cred.kind.empty()) return "credential.kind: token or ssh-key";
  if (auto problem = scm::checkCredential(cred); !problem.empty()) return problem;
  if (!c.secrets) return "this server cannot store secrets";
  out->credentialKind = cred.kind;
  out->credentialUser = cred.username;
  out->credentialSealed = c.secrets->seal(cred.secret);
  return "";
}

// A list of branch globs under `key`; "" when fine.
std::string readGlobList(const json& body, const char* key, std::vector<std::string>* out) {
  const json& v = body[key];
  if (!v.is_array()) return std::string(key) + ": a list of branch names or globs";
  out->clear();
  for (const auto& b : v) {
    if (!b.is_string() || b.get<std::string>().empty() || b.get<std::string>().size() > 255)
      return std::string(key) + ": a list of branch names or globs";
    out->push_back(b);
  }
  return "";
}

// The token commit statuses are set with, sealed into `p` ("" removes it); "" when fine.
std::string readForgeToken(const ApiContext& c, const json& body, store::Project* p) {
  if (!body.contains("forge_token")) return "";
  if (!body["forge_token"].is_string()) return "forge_token: a string";
  std::string token = body["forge_token"].get<std::string>();
  if (token.empty()) {
    p->forgeTokenSealed.clear();
    return "";
  }
  if (token.size() > 4096 || token.find_first_of("\r\n") != std::string::npos)
    return "forge_token: one line";
  if (!c.secrets) return "this server cannot store secrets";
  p->forgeTokenSealed = c.secrets->seal(token);
  std::fill(token.begin(), token.end(), '\0');
  return "";
}

// The settings a request may change, from its body into `p`; "" when fine.
std::string readSettings(const json& body, store::Project* p) {
  if (body.contains("branches")) {
    if (auto problem = readGlobList(body, "branches", &p->branches); !problem.empty())
      return problem;
    if (p->branches.empty()) return "branches: at least one";
  }
  if (body.contains("release_branches")) {
    if (auto problem = readGlobList(body, "release_branches", &p->releaseBranches);
        !problem.empty())
      return problem;
  }
  if (body.contains("poll_seconds")) {
    const json& v = body["poll_seconds"];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 86400)
      return "poll_seconds: 0 (never) to 86400";
    p->pollSeconds = v.get<int>();
  }
  if (body.contains("request_builds")) {
    const json& v = body["request_builds"];
    if (!v.is_string() || (v != "head" && v != "merge" && v != "both" && v != "off"))
      return "request_builds: head, merge, both or off";
    p->requestBuilds = v.get<std::string>();
  }
  if (body.contains("on_red")) {
    const json& v = body["on_red"];
    if (!v.is_string() || (v != "retry_once" && v != "off"))
      return "on_red: retry_once (a failure on a green branch is tried once more before the "
             "branch is called broken) or off";
    p->onRed = v == "off" ? "" : v.get<std::string>();
  }
  for (auto [key, field] : {std::pair{"forge", &p->forge}, std::pair{"forge_api", &p->forgeApi},
                            std::pair{"forge_repo", &p->forgeRepo}}) {
    if (!body.contains(key)) continue;
    if (!body[key].is_string() || body[key].get<std::string>().size() > 500)
      return std::string(key) + ": a string";
    *field = body[key].get<std::string>();
  }
  if (auto target = notify::forgeTarget(*p); !target.ok()) return target.status().message();
  for (auto [key, field] : {std::pair{"requeue_interrupted", &p->requeueInterrupted},
                            std::pair{"allow_process_jobs", &p->allowProcessJobs},
                            std::pair{"fork_secrets", &p->forkSecrets}}) {
    if (!body.contains(key)) continue;
    if (!body[key].is_boolean()) return std::string(key) + ": true or false";
    *field = body[key].get<bool>();
  }
  return "";
}

Response addProject(const ApiContext& c, const Request& req) {
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) return errorResponse(400, "expected a JSON object");
  store::Project p;
  if (!body.value("name", json()).is_string() || !body.value("url", json()).is_string())
    return errorResponse(400, "name and url: strings");
  p.name = body["name"].get<std::string>();
  p.url = body["url"].get<std::string>();
  if (!validName(p.name)) {
    return errorResponse(400, "name: letters, digits, '-', '_' and '.' only (1-100)");
  }
  if (p.url.empty() || p.url[0] == '-') return errorResponse(400, "url: a git URL or path");
  if (auto problem = scm::checkUrl(p.url); !problem.empty()) return errorResponse(400, problem);
  if (body.contains("credential")) {
    if (auto problem = readCredential(c, body["credential"], &p); !problem.empty())
      return errorResponse(400, problem);
  }
  if (auto problem = readSettings(body, &p); !problem.empty()) return errorResponse(400, problem);
  if (auto problem = readForgeToken(c, body, &p); !problem.empty())
    return errorResponse(400, problem);
  if (p.branches.empty()) p.branches = {"main"};
  if (body.contains("webhook_secret")) {
    if (!body["webhook_secret"].is_string()) return errorResponse(400, "webhook_secret: a string");
    p.webhookSecret = body["webhook_secret"].get<std::string>();
  }
  if (p.webhookSecret.empty()) p.webhookSecret = auth::randomHex(24);
  auto added = c.store->addProject(p);
  if (!added.ok()) return fromStatus(added.status());
  if (auto failed = audited(*c.store, req, "project.add", p.name, p.name, p.url)) return *failed;
  return ok(201, projectJson(*added, true));
}

Response changeSettings(const ApiContext& c, const Request& req, const std::string& name) {
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) return errorResponse(400, "expected a JSON object of settings");
  auto p = c.store->getProject(name);
  if (!p.ok()) return fromStatus(p.status());
  std::string forgeBefore = p->forge + "\n" + p->forgeApi;
  if (auto problem = readSettings(body, &*p); !problem.empty()) return errorResponse(400, problem);
  // A token given for one forge is not carried to another: a new forge or API needs its own.
  if (p->forge + "\n" + p->forgeApi != forgeBefore) p->forgeTokenSealed.clear();
  if (auto problem = readForgeToken(c, body, &*p); !problem.empty())
    return errorResponse(400, problem);
  if (auto st = c.store->updateProjectSettings(*p); !st.ok()) return fromStatus(st);
  std::string changed;
  for (const auto& [key, value] : body.items()) {
    if (key == "forge_token") {  // never into the audit log
      changed += (changed.empty() ? "" : ", ") + key + "=(secret)";
      continue;
    }
    changed += (changed.empty() ? "" : ", ") + key + "=" +
               value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (auto failed = audited(*c.store, req, "project.set", name, name, changed)) return *failed;
  return ok(200, projectJson(*p, true));
}

Response trigger(const ApiContext& c, const Request& req, const std::string& project) {
  auto p = c.store->getProject(project);
  if (!p.ok()) return fromStatus(p.status());
  json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
  if (!body.is_object()) return errorResponse(400, "expected a JSON object");
  if (body.contains("ref") && !body["ref"].is_string()) return errorResponse(400, "ref: a string");
  store::Run r;
  r.project = project;
  r.ref = body.value("ref", p->branches.empty() ? "main" : p->branches.front());
  if (r.ref.find_first_of("*?[") != std::string::npos) r.ref = "main";
  r.trigger = "manual";
  auto run = c.store->createRun(r);
  if (!run.ok()) return fromStatus(run.status());
  c.agent->wake();
  return ok(201, runJson(*run));
}

}  // namespace

void addProjectRoutes(Router& r, const ApiContext& c) {
  r.add("GET", "/api/projects", Access::kRead, [&c](const Request& req, const Params&) {
    auto list = c.store->listProjects();
    if (!list.ok()) return fromStatus(list.status());
    json out = json::array();
    for (const auto& p : *list) out.push_back(projectJson(p, false));
    (void)req;
    return ok(200, {{"projects", out}});
  });
  r.add("POST", "/api/projects", Access::kAdmin,
        [&c](const Request& req, const Params&) { return addProject(c, req); });
  r.add("GET", "/api/projects/{name}", Access::kRead, [&c](const Request& req, const Params& p) {
    auto project = c.store->getProject(p.at("name"));
    if (!project.ok()) return fromStatus(project.status());
    return ok(200, projectJson(*project, isAdmin(req)));
  });
  r.add("PATCH", "/api/projects/{name}", Access::kAdmin,
        [&c](const Request& req, const Params& p) { return changeSettings(c, req, p.at("name")); });
  r.add("PUT", "/api/projects/{name}/credential", Access::kAdmin,
        [&c](const Request& req, const Params& p) {
          // No body, or null: the credential is removed.
          json body = req.body.empty() ? json(nullptr) : json::parse(req.body, nullptr, false);
          if (body.is_discarded()) return errorResponse(400, "expected a JSON object or null");
          store::Project project;
          if (body.is_null()) {
            // none: removes it
          } else if (auto problem = readCredential(c, body, &project); !problem.empty()) {
            return errorResponse(400, problem);
          }
          if (auto st =
                  c.store->setProjectCredential(p.at("name"), project.credentialKind,
                                                project.credentialUser, project.credentialSealed);
              !st.ok()) {
            return fromStatus(st);
          }
          auto updated = c.store->getProject(p.at("name"));
          if (!updated.ok()) return fromStatus(updated.status());
          if (auto failed =
                  audited(*c.store, req, "project.credential", p.at("name"), p.at("name"),
                          project.credentialKind.empty() ? "removed" : project.credentialKind))
            return *failed;
          return ok(200, projectJson(*updated, false));
        });
  r.add(
      "DELETE", "/api/projects/{name}", Access::kAdmin, [&c](const Request& req, const Params& p) {
        if (auto st = c.store->removeProject(p.at("name")); !st.ok()) return fromStatus(st);
        if (auto failed = audited(*c.store, req, "project.remove", p.at("name"), p.at("name"), ""))
          return *failed;
        return ok(200, {{"removed", p.at("name")}});
      });
  r.add("POST", "/api/projects/{name}/runs", Access::kChange,
        [&c](const Request& req, const Params& p) { return trigger(c, req, p.at("name")); });
}

}  // namespace boucle::api
