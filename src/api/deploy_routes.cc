// Environments (values, secrets, what runs where) and deploys: request, promote, approve,
// roll back, follow.
#include "api/log_stream.h"
#include "api/route_helpers.h"
#include "core/bell.h"
#include "core/clock.h"
#include "core/names.h"
#include "deploy/policy.h"
#include "pipeline/parser.h"
#include "scheduler/agent.h"

namespace boucle::api {

using nlohmann::json;

namespace {

json deployJson(const store::Deploy& d) {
  return {{"id", d.id},
          {"project", d.project},
          {"env", d.env},
          {"version", d.version},
          {"state", store::toString(d.state)},
          {"reason", d.reason},
          {"from_version", d.fromVersion.empty() ? json(nullptr) : json(d.fromVersion)},
          {"rollback", d.rollback},
          {"dry_run", d.dryRun},
          {"requested_by", d.requestedBy},
          {"requested_at_ms", d.requestedAt},
          {"started_at_ms", optMs(d.startedAt)},
          {"finished_at_ms", optMs(d.finishedAt)},
          {"approved_by", d.approvedBy.empty() ? json(nullptr) : json(d.approvedBy)},
          {"approved_at_ms", optMs(d.approvedAt)},
          {"smoke", d.smokeJson.empty() ? json::array() : json::parse(d.smokeJson, nullptr, false)},
          {"verification",
           d.verifyJson.empty() ? json(nullptr) : json::parse(d.verifyJson, nullptr, false)},
          {"perf", d.perfJson.empty() ? json(nullptr) : json::parse(d.perfJson, nullptr, false)},
          {"cause", d.cause.empty() ? json(nullptr) : json(d.cause)},
          {"forced", d.forced.empty() ? json(nullptr) : json(d.forced)}};
}

// A body's "force": why going back past an irreversible migration is wanted. A line of text,
// kept with the deploy and in the audit log.
std::optional<Response> readForce(const json& body, std::string& out) {
  if (!body.contains("force")) return std::nullopt;
  const auto& f = body["force"];
  if (!f.is_string() || f.get<std::string>().empty() || f.get<std::string>().size() > 500) {
    return errorResponse(400, "force: the reason, a line of at most 500 characters");
  }
  out = f.get<std::string>();
  for (unsigned char ch : out) {
    if (ch < 0x20 || ch == 0x7f) return errorResponse(400, "force: one line of text");
  }
  return std::nullopt;
}

Response deployResult(const Result<store::Deploy>& d, int status = 201) {
  if (!d.ok()) return fromStatus(d.status());
  return ok(status, deployJson(*d));
}

// For each environment of the newest release's pipeline file, in promotion order: what runs
// there, since when, who put it there, how many releases it is behind, what waits.
Response whatIsWhere(const ApiContext& c, const std::string& project) {
  if (auto p = c.store->getProject(project); !p.ok()) return fromStatus(p.status());
  auto releases = c.store->listReleases(project, 1000);
  if (!releases.ok()) return fromStatus(releases.status());
  // The environments as the policy branch's pipeline file has them (deploy/policy.h).
  std::vector<pipeline::Environment> envs;
  std::string rulesFrom;
  if (auto policy =
          deploy::loadPolicy(*c.store, project, scheduler::mirrorPath(c.shared(), project));
      policy.ok()) {
    envs = policy->pipeline.environments;
    rulesFrom = policy->branch;
  }
  json out = json::array();
  for (const auto& e : envs) {
    auto current = deploy::currentRelease(*c.store, project, e.name);
    if (!current.ok()) return fromStatus(current.status());
    json j = {{"name", e.name},
              {"auto", e.autoDeploy},
              {"after", e.after.empty() ? json(nullptr) : json(e.after)},
              {"approval", e.approval},
              {"four_eyes", e.fourEyes},
              {"deployers", e.deployers},
              {"window", e.window ? json(e.window->text) : json(nullptr)},
              {"perf", nullptr},
              {"blank", e.blank},
              {"schedule", e.schedule},
              {"current", nullptr}};
    if (e.perf) {
      j["perf"] = {{"job", e.perf->job},
                   {"metric", e.perf->figure},
                   {"max_regression", e.perf->maxRegression},
                   {"floor", e.perf->floor},
                   {"name", e.perf->name}};
    }
    if (current->deploy) {
      int behind = 0;
      for (const auto& r : *releases) {
        if (r.version == current->version) break;
        ++behind;
      }
      j["current"] = {{"version", current->version},
                      {"since_ms", optMs(current->deploy->finishedAt)},
                      {"by", current->deploy->requestedBy},
                      {"deploy", current->deploy->id},
                      {"releases_behind", behind}};
    }
    auto recent = c.store->listDeploys(project, e.name, 1);
    if (recent.ok() && !recent->empty()) j["last_deploy"] = deployJson(recent->front());
    auto values = c.store->listEnvValues(project, e.name);
    json keys = json::object();
    if (values.ok()) {
      for (const auto& v : *values) keys[v.key] = v.secret ? json("(secret)") : json(v.value);
    }
    j["values"] = keys;
    out.push_back(j);
  }
  json newest = releases->empty() ? json(nullptr) : json(releases->front().version);
  return ok(200, {{"project", project},
                  {"newest_release", newest},
                  {"rules_from", rulesFrom.empty() ? json(nullptr) : json(rulesFrom)},
                  {"environments", out}});
}

}  // namespace

void addDeployRoutes(Router& r, const ApiContext& c) {
  r.add("GET", "/api/projects/{name}/environments", Access::kRead,
        [&c](const Request&, const Params& p) { return whatIsWhere(c, p.at("name")); });
  r.add("PUT", "/api/projects/{name}/environments/{env}/values/{key}", Access::kAdmin,
        [&c](const Request& req, const Params& p) {
          if (auto proj = c.store->getProject(p.at("name")); !proj.ok()) {
            return fromStatus(proj.status());
          }
          if (!validName(p.at("env")) || !validName(p.at("key"))) {
            return errorResponse(400, "environment and key: letters, digits, _ - .");
          }
          json body = json::parse(req.body, nullptr, false);
          if (!body.is_object() || !body.contains("value") || !body["value"].is_string()) {
            return errorResponse(400, "the body must be {\"value\": \"…\", \"secret\": false}");
          }
          if (body.contains("secret") && !body["secret"].is_boolean())
            return errorResponse(400, "secret: true or false");
          bool secret = body.value("secret", false);
          std::string value = body["value"].get<std::string>();
          if (secret) {
            if (!c.secrets) return errorResponse(500, "this server cannot store secrets");
            value = c.secrets->seal(value);
          }
          auto st = c.store->setEnvValue({p.at("name"), p.at("env"), p.at("key"), value, secret});
          if (!st.ok()) return fromStatus(st);
          if (auto failed = audited(*c.store, req, secret ? "secret.set" : "env.set", p.at("name"),
                                    p.at("env") + "/" + p.at("key"),
                                    secret ? "(secret)" : body["value"].get<std::string>()))
            return *failed;
          return ok(200, {{"env", p.at("env")}, {"key", p.at("key")}, {"secret", secret}});
        });
  // Build secrets: given to every job of the project's runs (a fork's request's only where
  // the project allows it). Names are listed, values never.
  r.add("GET", "/api/projects/{name}/build-secrets", Access::kRead,
        [&c](const Request&, const Params& p) {
          if (auto proj = c.store->getProject(p.at("name")); !proj.ok())
            return fromStatus(proj.status());
          auto values = c.store->listEnvValues(p.at("name"), store::kBuildSecrets);
          if (!values.ok()) return fromStatus(values.status());
          json names = json::array();
          for (const auto& v : *values) names.push_back(v.key);
          return ok(200, {{"project", p.at("name")}, {"secrets", names}});
        });
  r.add("PUT", "/api/projects/{name}/build-secrets/{key}", Access::kAdmin,
        [&c](const Request& req, const Params& p) {
          if (auto proj = c.store->getProject(p.at("name")); !proj.ok())
            return fromStatus(proj.status());
          if (!validEnvVariable(p.at("key")))
            return errorResponse(400,
                                 "a build secret's name is a variable name: letters, "
                                 "digits and _, not starting with a digit");
          json body = json::parse(req.body, nullptr, false);
          if (!body.is_object() || !body.contains("value") || !body["value"].is_string() ||
              body["value"].get<std::string>().empty())
            return errorResponse(400, "the body must be {\"value\": \"…\"}");
          if (!c.secrets) return errorResponse(500, "this server cannot store secrets");
          auto st =
              c.store->setEnvValue({p.at("name"), std::string(store::kBuildSecrets), p.at("key"),
                                    c.secrets->seal(body["value"].get<std::string>()), true});
          if (!st.ok()) return fromStatus(st);
          if (auto failed =
                  audited(*c.store, req, "build-secret.set", p.at("name"), p.at("key"), "(secret)"))
            return *failed;
          return ok(200, {{"project", p.at("name")}, {"key", p.at("key")}});
        });
  r.add("DELETE", "/api/projects/{name}/build-secrets/{key}", Access::kAdmin,
        [&c](const Request& req, const Params& p) {
          auto st = c.store->removeEnvValue(p.at("name"), store::kBuildSecrets, p.at("key"));
          if (!st.ok()) return fromStatus(st);
          if (auto failed =
                  audited(*c.store, req, "build-secret.unset", p.at("name"), p.at("key"), ""))
            return *failed;
          return ok(200, {{"removed", p.at("key")}});
        });
  r.add("DELETE", "/api/projects/{name}/environments/{env}/values/{key}", Access::kAdmin,
        [&c](const Request& req, const Params& p) {
          auto st = c.store->removeEnvValue(p.at("name"), p.at("env"), p.at("key"));
          if (!st.ok()) return fromStatus(st);
          if (auto failed = audited(*c.store, req, "env.unset", p.at("name"),
                                    p.at("env") + "/" + p.at("key"), ""))
            return *failed;
          return ok(200, {{"removed", p.at("key")}});
        });
  r.add("POST", "/api/projects/{name}/deploys", Access::kChange,
        [&c](const Request& req, const Params& p) {
          json body = json::parse(req.body, nullptr, false);
          if (!body.is_object() || !body.contains("version") || !body["version"].is_string() ||
              !body.contains("env") || !body["env"].is_string()) {
            return errorResponse(400, "the body must be {\"version\": \"1.2.0\", \"env\": \"qa\"}");
          }
          deploy::DeployRequest dr{p.at("name"),
                                   body["version"],
                                   body["env"],
                                   req.actor,
                                   false,
                                   body.value("dry_run", false),
                                   principalOf(req),
                                   "",
                                   ""};
          if (auto bad = readForce(body, dr.force)) return *bad;
          return deployResult(c.deployer->request(dr));
        });
  r.add("POST", "/api/projects/{name}/promote", Access::kChange,
        [&c](const Request& req, const Params& p) {
          json body = json::parse(req.body, nullptr, false);
          if (!body.is_object() || !body.contains("from") || !body["from"].is_string() ||
              !body.contains("to") || !body["to"].is_string()) {
            return errorResponse(400, "the body must be {\"from\": \"qa\", \"to\": \"preprod\"}");
          }
          return deployResult(
              c.deployer->promote(p.at("name"), body["from"], body["to"], principalOf(req)));
        });
  r.add("POST", "/api/projects/{name}/environments/{env}/rollback", Access::kChange,
        [&c](const Request& req, const Params& p) {
          json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
          if (!body.is_object()) return errorResponse(400, "the body must be a JSON object");
          std::string version = body.value("version", "");
          std::string force;
          if (auto bad = readForce(body, force)) return *bad;
          return deployResult(
              c.deployer->rollback(p.at("name"), p.at("env"), version, principalOf(req), force));
        });
  r.add("GET", "/api/projects/{name}/deploys", Access::kRead,
        [&c](const Request& req, const Params& p) {
          std::string env = req.query.count("env") ? req.query.at("env") : "";
          auto list = c.store->listDeploys(p.at("name"), env, 200);
          if (!list.ok()) return fromStatus(list.status());
          json out = json::array();
          for (const auto& d : *list) out.push_back(deployJson(d));
          return ok(200, {{"deploys", out}});
        });
  r.add("GET", "/api/deploys/{id}", Access::kRead, [&c](const Request&, const Params& p) {
    auto id = toId(p.at("id"));
    if (!id) return errorResponse(400, "not a deploy id");
    auto d = c.store->getDeploy(*id);
    if (!d.ok()) return fromStatus(d.status());
    return ok(200, deployJson(*d));
  });
  r.add("POST", "/api/deploys/{id}/approve", Access::kChange,
        [&c](const Request& req, const Params& p) {
          auto id = toId(p.at("id"));
          if (!id) return errorResponse(400, "not a deploy id");
          return deployResult(c.deployer->approve(*id, principalOf(req)), 200);
        });
  // A waiting deploy rejected, or a queued one withdrawn.
  r.add("POST", "/api/deploys/{id}/cancel", Access::kChange,
        [&c](const Request& req, const Params& p) {
          auto id = toId(p.at("id"));
          if (!id) return errorResponse(400, "not a deploy id");
          return deployResult(c.deployer->cancel(*id, principalOf(req)), 200);
        });
  // The deploy's log; ?follow=1 streams it until the deploy has ended.
  r.add("GET", "/api/deploys/{id}/log", Access::kRead, [&c](const Request& req, const Params& p) {
    auto parsed = toId(p.at("id"));
    if (!parsed) return errorResponse(400, "not a deploy id");
    int64_t id = *parsed;
    if (auto d = c.store->getDeploy(id); !d.ok()) return fromStatus(d.status());
    bool follow = req.query.count("follow") && req.query.at("follow") != "0";
    Response res;
    res.contentType = "text/plain; charset=utf-8";
    auto store = c.store;
    res.stream = makeLogStream(c.deployer->logPath(id), 0, follow,
                               [store, id] {
                                 auto d = store->getDeploy(id);
                                 return !d.ok() || store::isFinished(d->state);
                               },
                               {deployBellKey(id)});
    return res;
  });
}

}  // namespace boucle::api
