#include "api/routes.h"

#include <fnmatch.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "api/badge.h"
#include "api/log_stream.h"
#include "api/response_cache.h"
#include "api/route_helpers.h"
#include "api/router.h"
#include "auth/roles.h"
#include "auth/tokens.h"
#include "pipeline/parser.h"
#include "scheduler/agent.h"
#include "scheduler/poller.h"
#include "scm/git_auth.h"
#include "scm/git_repo.h"
#include "scm/webhook.h"
#include "vault/blob_store.h"

namespace boucle::api {

using nlohmann::json;

namespace {

json projectJson(const store::Project& p, bool withSecret) {
  json j = {{"name", p.name},
            {"url", p.url},
            {"branches", p.branches},
            {"poll_seconds", p.pollSeconds},
            {"requeue_interrupted", p.requeueInterrupted},
            {"created_at_ms", p.createdAt}};
  if (withSecret) j["webhook_secret"] = p.webhookSecret;
  // The credential's kind and user only: its secret never leaves the server.
  j["credential"] = p.credentialKind.empty()
                        ? json(nullptr)
                        : json{{"kind", p.credentialKind}, {"username", p.credentialUser}};
  return j;
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

// The first failing run of a streak, looked up once per request however many runs it spans.
using RunCache = std::map<int64_t, std::optional<store::Run>>;

json culpritJson(const store::Run& r) {
  if (r.culpritCommit.empty()) return nullptr;
  return {{"commit", r.culpritCommit}, {"author", r.culpritAuthor}, {"subject", r.culpritSubject}};
}

json runJson(const store::Run& r, store::Store* store = nullptr, RunCache* cache = nullptr) {
  json j = {{"id", r.id},
            {"project", r.project},
            {"number", r.number},
            {"ref", r.ref},
            {"branch", r.branch},
            {"commit", r.commit},
            {"author", r.author},
            {"subject", r.subject},
            {"trigger", r.trigger},
            {"state", store::toString(r.state)},
            {"reason", r.reason},
            {"queued_at_ms", r.queuedAt},
            {"started_at_ms", optMs(r.startedAt)},
            {"finished_at_ms", optMs(r.finishedAt)},
            {"event", r.event},
            {"only_jobs", r.onlyJobs},
            {"rerun_of", r.rerunOf ? json(*r.rerunOf) : json(nullptr)},
            {"bisect_of", r.bisectOf ? json(*r.bisectOf) : json(nullptr)},
            {"suspects", r.suspects},
            {"bisection", r.bisectState},
            {"culprit", culpritJson(r)}};
  // Who broke it: the first failing run of the streak, with its commit and author, or the
  // commit bisection found among those that run built.
  j["broken_since"] = nullptr;
  if (r.brokenSince && store) {
    std::optional<store::Run> first;
    if (r.brokenSince == r.id) {
      first = r;
    } else if (cache && cache->count(*r.brokenSince)) {
      first = (*cache)[*r.brokenSince];
    } else {
      auto got = store->getRun(*r.brokenSince);
      if (got.ok()) first = *got;
      if (cache) (*cache)[*r.brokenSince] = first;
    }
    if (first) {
      bool bisected = !first->culpritCommit.empty();
      j["broken_since"] = {{"run", first->id},
                           {"number", first->number},
                           {"commit", bisected ? first->culpritCommit : first->commit},
                           {"author", bisected ? first->culpritAuthor : first->author},
                           {"subject", bisected ? first->culpritSubject : first->subject},
                           {"run_commit", first->commit},
                           {"suspects", first->suspects},
                           {"bisection", first->bisectState},
                           {"finished_at_ms", optMs(first->finishedAt)}};
    }
  }
  return j;
}

json jobJson(const store::JobRecord& j) {
  json out = {{"name", j.name},
              {"state", j.state},
              {"exit_code", j.exitCode},
              {"attempts", j.attempts},
              {"started_at_ms", optMs(j.startedAt)},
              {"finished_at_ms", optMs(j.finishedAt)},
              {"reason", j.reason}};
  if (!j.testsJson.empty()) out["tests"] = json::parse(j.testsJson, nullptr, false);
  if (!j.artifactsJson.empty()) out["artifacts"] = json::parse(j.artifactsJson, nullptr, false);
  return out;
}

bool validName(const std::string& n) {
  if (n.empty() || n.size() > 100 || n == "." || n == "..") return false;
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

Response addProject(const ApiContext& c, const Request& req) {
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) return errorResponse(400, "expected a JSON object");
  store::Project p;
  p.name = body.value("name", "");
  p.url = body.value("url", "");
  if (!validName(p.name)) {
    return errorResponse(400, "name: letters, digits, '-', '_' and '.' only (1-100)");
  }
  if (p.url.empty() || p.url[0] == '-') return errorResponse(400, "url: a git URL or path");
  if (auto problem = scm::checkUrl(p.url); !problem.empty()) return errorResponse(400, problem);
  if (body.contains("credential")) {
    if (auto problem = readCredential(c, body["credential"], &p); !problem.empty())
      return errorResponse(400, problem);
  }
  if (body.contains("branches")) {
    if (!body["branches"].is_array()) return errorResponse(400, "branches: a list of globs");
    for (const auto& b : body["branches"]) {
      if (!b.is_string()) return errorResponse(400, "branches: a list of globs");
      p.branches.push_back(b);
    }
  }
  if (p.branches.empty()) p.branches = {"main"};
  p.pollSeconds = body.value("poll_seconds", 60);
  p.requeueInterrupted = body.value("requeue_interrupted", false);
  p.webhookSecret = body.value("webhook_secret", "");
  if (p.webhookSecret.empty()) p.webhookSecret = auth::randomHex(24);
  auto added = c.store->addProject(p);
  if (!added.ok()) return fromStatus(added.status());
  return ok(201, projectJson(*added, true));
}

Response trigger(const ApiContext& c, const Request& req, const std::string& project) {
  auto p = c.store->getProject(project);
  if (!p.ok()) return fromStatus(p.status());
  json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
  if (!body.is_object()) return errorResponse(400, "expected a JSON object");
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

// Each job's `needs`, from the pipeline file at the run's commit (the job graph a page
// draws), read once per commit: a run page polls while the run goes on.
class NeedsCache {
 public:
  std::map<std::string, std::vector<std::string>> get(const ApiContext& c, const store::Run& r) {
    std::string key = r.project + "@" + r.commit;
    {
      std::lock_guard lock(mu_);
      if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    }
    std::map<std::string, std::vector<std::string>> needs;
    auto text =
        scm::fileAtCommit(scheduler::mirrorPath(c.dataDir, r.project), r.commit, ".boucle.yml");
    if (text.ok()) {
      auto parsed = pipeline::parsePipeline(*text);
      for (const auto& job : parsed.pipeline.jobs) needs[job.name] = job.needs;
    }
    std::lock_guard lock(mu_);
    if (cache_.size() > 256) cache_.clear();
    cache_[key] = needs;
    return needs;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::map<std::string, std::vector<std::string>>> cache_;
};

Response getRun(const ApiContext& c, NeedsCache& needsCache, int64_t id) {
  auto run = c.store->getRun(id);
  if (!run.ok()) return fromStatus(run.status());
  auto jobs = c.store->listJobs(id);
  if (!jobs.ok()) return fromStatus(jobs.status());
  json j = runJson(*run, c.store);
  j["jobs"] = json::array();
  auto needs = jobs->empty() ? decltype(needsCache.get(c, *run)){} : needsCache.get(c, *run);
  for (const auto& job : *jobs) {
    json out = jobJson(job);
    out["needs"] = needs[job.name];
    j["jobs"].push_back(std::move(out));
  }
  return ok(200, j);
}

Response listRuns(const ApiContext& c, const Request& req) {
  auto limit = limitOf(req, 50);
  if (!limit) return errorResponse(400, "limit: 1 to 1000");
  int64_t before = 0;
  if (auto it = req.query.find("before"); it != req.query.end()) {
    auto v = toId(it->second);
    if (!v) return errorResponse(400, "before: a run id");
    before = *v;
  }
  std::string project = req.query.count("project") ? req.query.at("project") : "";
  auto runs = c.store->listRuns(project, *limit, before);
  if (!runs.ok()) return fromStatus(runs.status());
  json list = json::array();
  RunCache cache;
  for (const auto& r : *runs) list.push_back(runJson(r, c.store, &cache));
  return ok(200, {{"runs", list}});
}

Response jobLog(const ApiContext& c, const Request& req, int64_t id, const std::string& job) {
  if (!validName(job)) return errorResponse(400, "not a job name");
  auto run = c.store->getRun(id);
  if (!run.ok()) return fromStatus(run.status());
  auto jobs = c.store->listJobs(id);
  if (!jobs.ok()) return fromStatus(jobs.status());
  bool known = false;
  for (const auto& j : *jobs) known = known || j.name == job;
  bool follow = req.query.count("follow") && req.query.at("follow") != "0";
  // A followed job of a run that has not started yet is waited for: its jobs are recorded when
  // the pipeline file has been read.
  if (!known && (!follow || store::isFinished(run->state))) {
    return errorResponse(404, "run " + std::to_string(id) + " has no job " + job);
  }
  uint64_t offset = 0;
  if (auto it = req.query.find("offset"); it != req.query.end()) {
    try {
      offset = std::stoull(it->second);
    } catch (...) {
      return errorResponse(400, "offset: a byte offset");
    }
  }
  Response r;
  r.contentType = "text/plain; charset=utf-8";
  r.stream = makeLogStream(c.agent->runDir(id) / "logs" / (job + ".log"), offset, follow,
                           [store = c.store, id, job] {
                             auto all = store->listJobs(id);
                             if (!all.ok()) return true;  // cannot tell: stop following
                             for (const auto& j : *all) {
                               if (j.name == job)
                                 return j.state != "running" && j.state != "pending";
                             }
                             auto r = store->getRun(id);  // not recorded (yet)
                             return !r.ok() || store::isFinished(r->state);
                           });
  return r;
}

// A push from a forge: the signature (or token) is the credential, not an API token.
Response webhook(const ApiContext& c, const Request& req, const std::string& forgeName,
                 const std::string& project) {
  auto forge = scm::parseForge(forgeName);
  if (!forge)
    return errorResponse(404, "unknown forge '" + forgeName + "' (github, gitlab, gitea)");
  auto p = c.store->getProject(project);
  if (!p.ok()) return fromStatus(p.status());
  if (auto st = scm::verifyWebhook(*forge, req.headers, req.body, p->webhookSecret); !st.ok()) {
    return errorResponse(401, st.message());
  }
  auto ev = scm::parseWebhook(*forge, req.headers, req.body);
  if (!ev.ok()) return errorResponse(400, ev.status().message());
  if (!ev->push) return ok(200, {{"ignored", ev->ignored}});
  const scm::Push& push = *ev->push;
  if (push.deleted) return ok(200, {{"ignored", "the ref was deleted"}});
  if (push.branch.empty()) return ok(200, {{"ignored", "tag pushes are not built yet"}});
  bool watched = false;
  for (const auto& glob : p->branches) {
    watched = watched || fnmatch(glob.c_str(), push.branch.c_str(), 0) == 0;
  }
  if (!watched) return ok(200, {{"ignored", "branch " + push.branch + " is not watched"}});
  // Recorded as seen, so a poll of the same head does not build it again.
  auto id = scheduler::queueIfNew(*c.store, project, push.branch, push.commit, "push", push.author,
                                  push.subject);
  if (!id.ok()) return fromStatus(id.status());
  if (*id == 0) return ok(200, {{"ignored", "commit " + push.commit + " was already seen"}});
  c.agent->wake();
  auto run = c.store->getRun(*id);
  if (!run.ok()) return fromStatus(run.status());
  return ok(202, runJson(*run));
}

// A new run of the same commit: the whole pipeline (re-run) or one job and what it needs
// (retry).
Response repeatRun(const ApiContext& c, int64_t id, const std::string& job) {
  auto old = c.store->getRun(id);
  if (!old.ok()) return fromStatus(old.status());
  if (!store::isFinished(old->state))
    return errorResponse(409, "run " + std::to_string(id) + " has not finished");
  store::Run r;
  r.project = old->project;
  r.ref = old->commit.empty() ? old->ref : old->commit;
  r.branch = old->branch;
  r.author = old->author;
  r.subject = old->subject;
  r.trigger = job.empty() ? "rerun" : "retry";
  r.rerunOf = id;
  if (!job.empty()) {
    if (!validName(job)) return errorResponse(400, "not a job name");
    auto jobs = c.store->listJobs(id);
    if (!jobs.ok()) return fromStatus(jobs.status());
    bool known = false;
    for (const auto& j : *jobs) known = known || j.name == job;
    if (!known) return errorResponse(404, "run " + std::to_string(id) + " has no job " + job);
    r.onlyJobs = {job};
  }
  auto run = c.store->createRun(r);
  if (!run.ok()) return fromStatus(run.status());
  c.agent->wake();
  return ok(201, runJson(*run, c.store));
}

using ResponseCache = RevisionCache<Response>;

// A cached answer when the store has not changed since it was made, else `make`'s, kept when
// it is a plain success.
template <typename Make>
Response cached(ResponseCache& cache, store::Store& store, const std::string& key, Make make) {
  uint64_t revision = store.revision();
  if (auto hit = cache.get(key, revision)) return *hit;
  Response r = make();
  if (r.status == 200 && !r.stream) cache.put(key, revision, r);
  return r;
}

Router buildRouter(const ApiContext& c, ResponseCache& cache) {
  Router r;
  r.add("GET", "/api/health", [](const Request&, const Params&) {
    return ok(200, {{"status", "ok"}});
  });
  r.add("GET", "/api/projects", [&c](const Request&, const Params&) {
    auto list = c.store->listProjects();
    if (!list.ok()) return fromStatus(list.status());
    json out = json::array();
    for (const auto& p : *list) out.push_back(projectJson(p, false));
    return ok(200, {{"projects", out}});
  });
  r.add("POST", "/api/projects",
        [&c](const Request& req, const Params&) { return addProject(c, req); });
  r.add("GET", "/api/projects/{name}", [&c](const Request&, const Params& p) {
    auto project = c.store->getProject(p.at("name"));
    if (!project.ok()) return fromStatus(project.status());
    return ok(200, projectJson(*project, true));
  });
  r.add("PUT", "/api/projects/{name}/credential", [&c](const Request& req, const Params& p) {
    // No body, or null: the credential is removed.
    json body = req.body.empty() ? json(nullptr) : json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return errorResponse(400, "expected a JSON object or null");
    store::Project project;
    if (body.is_null()) {
      // none: removes it
    } else if (auto problem = readCredential(c, body, &project); !problem.empty()) {
      return errorResponse(400, problem);
    }
    if (auto st = c.store->setProjectCredential(p.at("name"), project.credentialKind,
                                                project.credentialUser, project.credentialSealed);
        !st.ok()) {
      return fromStatus(st);
    }
    auto updated = c.store->getProject(p.at("name"));
    if (!updated.ok()) return fromStatus(updated.status());
    return ok(200, projectJson(*updated, false));
  });
  r.add("DELETE", "/api/projects/{name}", [&c](const Request&, const Params& p) {
    if (auto st = c.store->removeProject(p.at("name")); !st.ok()) return fromStatus(st);
    return ok(200, {{"removed", p.at("name")}});
  });
  r.add("POST", "/api/projects/{name}/runs",
        [&c](const Request& req, const Params& p) { return trigger(c, req, p.at("name")); });
  r.add("GET", "/api/runs", [&c, &cache](const Request& req, const Params&) {
    std::string key = "runs";
    for (const auto& [k, v] : req.query) key += "\n" + k + "=" + v;  // a std::map: sorted
    return cached(cache, *c.store, key, [&] { return listRuns(c, req); });
  });
  auto needs = std::make_shared<NeedsCache>();
  r.add("GET", "/api/runs/{id}", [&c, needs](const Request&, const Params& p) {
    auto id = toId(p.at("id"));
    return id ? getRun(c, *needs, *id) : errorResponse(400, "not a run id");
  });
  r.add("POST", "/api/runs/{id}/cancel", [&c](const Request&, const Params& p) {
    auto id = toId(p.at("id"));
    if (!id) return errorResponse(400, "not a run id");
    if (auto st = c.agent->cancel(*id); !st.ok()) return fromStatus(st);
    return ok(202, {{"cancelling", *id}});
  });
  // Badges are public (they go into READMEs) and tell only passing or failing.
  r.add("GET", "/badge/{project}/{branch}", [&c, &cache](const Request&, const Params& p) {
    std::string branch = p.at("branch");
    if (branch.size() < 5 || branch.compare(branch.size() - 4, 4, ".svg") != 0) {
      return errorResponse(404, "badges are /badge/PROJECT/BRANCH.svg");
    }
    branch.resize(branch.size() - 4);
    return cached(cache, *c.store, "badge\n" + p.at("project") + "\n" + branch, [&] {
      std::string state = "unknown";
      if (c.store->getProject(p.at("project")).ok()) {
        auto last = c.store->lastJudgedRun(p.at("project"), branch, INT64_MAX);
        if (last.ok() && *last)
          state = (*last)->state == store::RunState::kPassed ? "passing" : "failing";
      }
      Response res;
      res.contentType = "image/svg+xml";
      res.body = badgeSvg("build", state);
      res.headers.emplace_back("Cache-Control", "no-cache, max-age=0");
      return res;
    });
  });
  r.add("POST", "/api/runs/{id}/rerun", [&c](const Request&, const Params& p) {
    auto id = toId(p.at("id"));
    return id ? repeatRun(c, *id, "") : errorResponse(400, "not a run id");
  });
  r.add("POST", "/api/runs/{id}/jobs/{job}/retry", [&c](const Request&, const Params& p) {
    auto id = toId(p.at("id"));
    return id ? repeatRun(c, *id, p.at("job")) : errorResponse(400, "not a run id");
  });
  r.add("GET", "/api/runs/{id}/artifacts", [&c](const Request&, const Params& p) {
    auto id = toId(p.at("id"));
    if (!id) return errorResponse(400, "not a run id");
    if (auto run = c.store->getRun(*id); !run.ok()) return fromStatus(run.status());
    auto jobs = c.store->listJobs(*id);
    if (!jobs.ok()) return fromStatus(jobs.status());
    json out = json::array();
    for (const auto& j : *jobs) {
      if (j.artifactsJson.empty()) continue;
      for (auto a : json::parse(j.artifactsJson, nullptr, false)) {
        a["job"] = j.name;
        out.push_back(a);
      }
    }
    return ok(200, {{"artifacts", out}});
  });
  // Content-addressed: the name is the SHA-256, which the ETag repeats so clients can check.
  r.add("GET", "/api/blobs/{sha256}", [&c](const Request&, const Params& p) {
    const std::string& sha = p.at("sha256");
    vault::BlobStore blobs(c.dataDir / "blobs");
    if (!vault::isSha256Hex(sha) || !blobs.contains(sha)) return errorResponse(404, "no such blob");
    Response res;
    res.contentType = "application/octet-stream";
    res.headers.emplace_back("ETag", "\"" + sha + "\"");
    std::error_code ec;
    auto size = std::filesystem::file_size(blobs.pathOf(sha), ec);
    if (ec) return errorResponse(500, "internal error");
    res.file = FileBody{blobs.pathOf(sha).string(), 0, size};
    return res;
  });
  r.add("GET", "/api/runs/{id}/notifications", [&c](const Request&, const Params& p) {
    auto id = toId(p.at("id"));
    if (!id) return errorResponse(400, "not a run id");
    auto list = c.store->listDeliveries(*id);
    if (!list.ok()) return fromStatus(list.status());
    json out = json::array();
    for (const auto& d : *list) {
      out.push_back({{"id", d.id},
                     {"event", d.event},
                     {"channel", d.channel},
                     {"target", d.target},
                     {"state", d.state},
                     {"attempts", d.attempts},
                     {"last_error", d.lastError},
                     {"sent_at_ms", optMs(d.sentAt)}});
    }
    return ok(200, {{"notifications", out}});
  });
  r.add("POST", "/hooks/{forge}/{project}", [&c](const Request& req, const Params& p) {
    return webhook(c, req, p.at("forge"), p.at("project"));
  });
  r.add("GET", "/api/runs/{id}/jobs/{job}/log", [&c](const Request& req, const Params& p) {
    auto id = toId(p.at("id"));
    return id ? jobLog(c, req, *id, p.at("job")) : errorResponse(400, "not a run id");
  });
  // A new API token, shown once in this answer; only its hash is kept. Roles: admin when not
  // given (auth/roles.h says what each may do).
  r.add("POST", "/api/tokens", [&c](const Request& req, const Params&) {
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("name") || !body["name"].is_string() ||
        body["name"].get<std::string>().empty() || body["name"].get<std::string>().size() > 100 ||
        body["name"].get<std::string>().find('\n') != std::string::npos) {
      return errorResponse(400,
                           "the body must be {\"name\": \"who or what uses it\", "
                           "\"roles\": [\"developer\"]}");
    }
    std::string roleText = "admin";
    if (body.contains("roles")) {
      if (!body["roles"].is_array()) return errorResponse(400, "roles: a list of names");
      std::vector<std::string> names;
      for (const auto& r : body["roles"]) {
        // Each entry one name ("a,b" is not two roles).
        auto one = r.is_string() ? auth::parseRoles(r.get<std::string>())
                                 : Result<std::vector<std::string>>(Status::Invalid(""));
        if (!one.ok() || one->size() != 1) {
          return errorResponse(400, "roles: a list of names (letters, digits, '-', '_', '.')");
        }
        names.push_back(one->front());
      }
      auto roles = auth::parseRoles(auth::joinRoles(names));
      if (!roles.ok()) return fromStatus(roles.status());
      roleText = auth::joinRoles(*roles);
    }
    std::string token = auth::newToken();
    auto t = c.store->addToken(body["name"].get<std::string>(), roleText, auth::hashToken(token));
    if (!t.ok()) return fromStatus(t.status());
    (void)c.store->addAudit({0, t->createdAt, req.actor, "token.create", "", t->name, t->role});
    auto roles = auth::parseRoles(t->role);
    return ok(201, {{"name", t->name},
                    {"roles", roles.ok() ? *roles : std::vector<std::string>{}},
                    {"token", token}});
  });
  // Who the token is: the UI shows it and offers only what its roles allow.
  r.add("GET", "/api/me", [](const Request& req, const Params&) {
    return ok(200, {{"name", req.actor}, {"roles", req.roles}});
  });
  // Who did what, when: releases, deploys, approvals, rollbacks, newest first.
  r.add("GET", "/api/audit", [&c](const Request& req, const Params&) {
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
  addReleaseRoutes(r, c);
  addDeployRoutes(r, c);
  addUiRoutes(r, c);
  return r;
}

}  // namespace

namespace {

using TokenCache = RevisionCache<std::string>;

// The token's name and roles into req; a 401 answer when the request needs a token and has
// no valid one.
std::optional<Response> authenticate(const ApiContext& ctx, TokenCache& tokens, Request& req) {
  bool open = req.path == "/api/health" || (ctx.publicRead && req.method == "GET") ||
              (!req.segments.empty() && req.segments[0] == "hooks") ||  // signed instead
              (!req.segments.empty() && req.segments[0] == "badge" && req.method == "GET") ||
              // the web UI's page and assets: the data behind them needs the token
              (req.method == "GET" && (req.segments.empty() || req.segments[0] == "assets"));
  if (open) return std::nullopt;
  std::string auth = req.header("authorization");
  const std::string prefix = "Bearer ";
  if (auth.compare(0, prefix.size(), prefix) != 0) {
    Response r = errorResponse(401, "this needs a token: Authorization: Bearer TOKEN");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  std::string hash = auth::hashToken(auth.substr(prefix.size()));
  uint64_t revision = ctx.store->revision();
  auto fill = [&req](const std::string& cached) {  // "NAME\nROLES"
    auto nl = cached.find('\n');
    req.actor = cached.substr(0, nl);
    auto roles = auth::parseRoles(cached.substr(nl + 1));
    req.roles = roles.ok() ? *roles : std::vector<std::string>{"viewer"};
  };
  if (auto cached = tokens.get(hash, revision)) {
    fill(*cached);
    return std::nullopt;
  }
  auto token = ctx.store->findToken(hash);
  if (!token.ok()) return errorResponse(500, "internal error");
  if (!token->has_value()) {
    Response r = errorResponse(401, "unknown or revoked token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    return r;
  }
  std::string cached = (*token)->name + "\n" + (*token)->role;
  fill(cached);
  tokens.put(hash, revision, cached);
  return std::nullopt;
}

// What the token's roles allow, before any route runs: reads for everyone who may read,
// changes not for viewers, and the server's own setup (tokens, projects, credentials,
// environment values and secrets) only for admins. Deploys and approvals are decided by the
// environment's rules (deploy/deployer.cc).
std::optional<Response> authorize(const Request& req) {
  const auto& s = req.segments;
  bool read = req.method == "GET" || req.method == "HEAD";
  if (read || s.empty() || s[0] != "api" || req.path == "/api/health") return std::nullopt;
  auth::Principal who{req.actor, req.roles};
  if (who.readOnly()) {
    return errorResponse(403, who.describe() + " may only read");
  }
  bool setup = (s.size() == 2 && s[1] == "tokens") ||
               (s.size() == 2 && s[1] == "projects") ||  // adding a project
               (s.size() == 3 && s[1] == "projects" && req.method == "DELETE") ||
               (s.size() == 4 && s[1] == "projects" && s[3] == "credential") ||
               (s.size() >= 6 && s[1] == "projects" && s[3] == "environments" && s[5] == "values");
  if (setup && !who.admin()) {
    return errorResponse(403, who.describe() + " may not do this: it is for admins");
  }
  return std::nullopt;
}

// An upload into the blob store: hashed as it arrives; the answer names the blob.
class BlobUpload : public BodySink {
 public:
  BlobUpload(std::unique_ptr<vault::BlobWriter> w, std::string expected)
      : writer_(std::move(w)), expected_(std::move(expected)) {}
  bool write(std::string_view bytes) override {
    if (!writer_) return false;
    if (auto st = writer_->write(bytes); !st.ok()) {
      error_ = st.message();
      writer_.reset();  // drops the partial file
      return false;
    }
    return true;
  }
  Response finish() override {
    if (!error_.empty()) return errorResponse(500, "cannot store the upload");
    if (!writer_) return errorResponse(400, "the upload was cut short");
    auto ref = writer_->commit();
    writer_.reset();
    if (!ref.ok()) return errorResponse(500, "cannot store the upload");
    if (!expected_.empty() && ref->sha256 != expected_) {
      // Stored under its real hash (content-addressed, harmless), refused as what was asked.
      return errorResponse(422, "the content's SHA-256 is " + ref->sha256 + ", not " + expected_);
    }
    Response r = jsonResponse(
        201, "{\"sha256\":\"" + ref->sha256 + "\",\"size\":" + std::to_string(ref->size) + "}\n");
    r.headers.emplace_back("ETag", "\"" + ref->sha256 + "\"");
    return r;
  }

 private:
  std::unique_ptr<vault::BlobWriter> writer_;
  std::string expected_;
  std::string error_;
};

}  // namespace

Handler makeApiHandler(const ApiContext& ctx) {
  auto cache = std::make_shared<ResponseCache>();
  auto router = std::make_shared<Router>(buildRouter(ctx, *cache));
  // Token hashes already found, re-checked after any write (a revocation is a write).
  auto tokens = std::make_shared<TokenCache>();
  return [router, cache, tokens, ctx](const Request& incoming) -> Response {
    Request req = incoming;
    if (auto refusal = authenticate(ctx, *tokens, req)) return *refusal;
    if (auto refusal = authorize(req)) return *refusal;
    return router->dispatch(req);
  };
}

StreamingHandler makeUploadHandler(const ApiContext& ctx) {
  auto tokens = std::make_shared<TokenCache>();
  return [tokens, ctx](const Request& head, Response* refusal) -> std::shared_ptr<BodySink> {
    bool upload = head.method == "POST" && head.segments.size() == 2 && head.segments[0] == "api" &&
                  head.segments[1] == "blobs";
    if (!upload) return nullptr;
    Request req = head;
    if (auto denied = authenticate(ctx, *tokens, req)) {
      *refusal = *denied;
      return nullptr;
    }
    if (auto denied = authorize(req)) {
      *refusal = *denied;
      return nullptr;
    }
    std::string expected = req.query.count("sha256") ? req.query.at("sha256") : "";
    if (!expected.empty() && !vault::isSha256Hex(expected)) {
      *refusal = errorResponse(400, "sha256: 64 lower-case hex digits");
      return nullptr;
    }
    auto writer = vault::BlobWriter::open(vault::BlobStore(ctx.dataDir / "blobs"));
    if (!writer.ok()) {
      *refusal = errorResponse(500, "cannot store uploads");
      return nullptr;
    }
    return std::make_shared<BlobUpload>(std::move(writer).value(), expected);
  };
}

}  // namespace boucle::api
