// The API's one router: every route is registered here or by the add*Routes of its part
// (project_routes.cc, run_routes.cc, …), each with the Access it needs (router.h); the gate
// (access.h) admits a request before its body is read and again before its handler runs.
#include "api/routes.h"

#include <nlohmann/json.hpp>

#include "api/access.h"
#include "api/badge.h"
#include "api/response_cache.h"
#include "api/route_helpers.h"
#include "auth/tokens.h"
#include "scheduler/push.h"
#include "scheduler/request.h"
#include "scm/webhook.h"

namespace boucle::api {

using nlohmann::json;

namespace {

// A pull request's event: its runs queued, and its earlier runs still going stopped (a new
// push makes them moot). 202 with the runs queued, 200 when none was.
Response pullRequest(const ApiContext& c, const store::Project& project, const scm::PullRequest& pr,
                     const std::vector<std::string>& replayKeys) {
  auto verdict = scheduler::acceptRequest(*c.store, project, pr, replayKeys);
  if (!verdict.ok()) return fromStatus(verdict.status());
  json cancelled = json::array();
  for (int64_t id : verdict->superseded) {
    // One that ended meanwhile answers Conflict: nothing to stop.
    if (c.agent->cancel(id).ok()) cancelled.push_back(id);
  }
  if (verdict->queued.empty())
    return ok(200, {{"ignored", verdict->ignored}, {"cancelled", cancelled}});
  c.agent->wake();
  json runs = json::array();
  for (int64_t id : verdict->queued) {
    auto run = c.store->getRun(id);
    if (!run.ok()) return fromStatus(run.status());
    runs.push_back(runJson(*run));
  }
  return ok(202, {{"runs", runs}, {"cancelled", cancelled}});
}

// A push from a forge: the signature (or token) is the credential, not an API token. An
// unknown project answers as a known one with a wrong signature would, so names cannot be
// probed; what the push sets going is decided by scheduler::acceptPush.
Response webhook(const ApiContext& c, const Request& req, const std::string& forgeName,
                 const std::string& project) {
  auto forge = scm::parseForge(forgeName);
  if (!forge)
    return errorResponse(404, "unknown forge '" + forgeName + "' (github, gitlab, gitea)");
  auto p = c.store->getProject(project);
  if (!p.ok() && p.status().code() != Code::kNotFound) return fromStatus(p.status());
  // No project: checked against a secret nobody has, so the answer is the same 401.
  static const std::string nobodys = auth::randomHex(32);
  const std::string& secret = p.ok() ? p->webhookSecret : nobodys;
  if (auto st = scm::verifyWebhook(*forge, req.headers, req.body, secret); !st.ok() || !p.ok()) {
    return errorResponse(401, st.ok() ? "signature does not match" : st.message());
  }
  auto ev = scm::parseWebhook(*forge, req.headers, req.body);
  if (!ev.ok()) return errorResponse(400, ev.status().message());
  if (ev->pullRequest) return pullRequest(c, *p, *ev->pullRequest, ev->replayKeys());
  if (!ev->push) return ok(200, {{"ignored", ev->ignored}});
  auto verdict = scheduler::acceptPush(*c.store, scheduler::mirrorPath(c.shared(), project), *p,
                                       *ev->push, ev->replayKeys());
  if (!verdict.ok()) return fromStatus(verdict.status());
  if (verdict->runId == 0) return ok(200, {{"ignored", verdict->ignored}});
  c.agent->wake();
  auto run = c.store->getRun(verdict->runId);
  if (!run.ok()) return fromStatus(run.status());
  return ok(202, runJson(*run));
}

Router buildRouter(const ApiContext& c) {
  Router r;
  auto cache = std::make_shared<ResponseCache>();
  r.add("GET", "/api/health", Access::kPublic, [](const Request&, const Params&) {
    return ok(200, {{"status", "ok"}});
  });
  // Badges are public (they go into READMEs) and tell only passing or failing.
  r.add("GET", "/badge/{project}/{branch}", Access::kPublic,
        [&c, cache](const Request&, const Params& p) {
          std::string branch = p.at("branch");
          if (branch.size() < 5 || branch.compare(branch.size() - 4, 4, ".svg") != 0) {
            return errorResponse(404, "badges are /badge/PROJECT/BRANCH.svg");
          }
          branch.resize(branch.size() - 4);
          return cached(*cache, *c.store, "badge\n" + p.at("project") + "\n" + branch, [&] {
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
  // Before the forges' hooks: its path would match theirs.
  addIncidentRoutes(r, c);
  r.add("POST", "/hooks/{forge}/{project}", Access::kPublic,
        [&c](const Request& req, const Params& p) {
          return webhook(c, req, p.at("forge"), p.at("project"));
        });
  addProjectRoutes(r, c);
  addRunRoutes(r, c);
  addBlobRoutes(r, c);
  addAccessRoutes(r, c);
  addPeopleRoutes(r, c);
  addReleaseRoutes(r, c);
  addDeployRoutes(r, c);
  addDoraRoutes(r, c);
  addMonitorRoutes(r, c);
  addMetricsRoutes(r, c);
  addEventRoutes(r, c);
  addAgentRoutes(r, c);
  addTestRoutes(r, c);
  addUiRoutes(r, c);
  return r;
}

}  // namespace

Api makeApi(const ApiContext& ctx) {
  auto router = std::make_shared<Router>(buildRouter(ctx));
  auto gate = std::make_shared<AccessGate>(*ctx.store, ctx.publicRead);
  Api api;
  api.handler = [router, gate](const Request& req) -> Response {
    try {
      return router->dispatch(req, [&gate](Access a, Request& r) { return gate->admit(a, r); });
    } catch (const json::exception& e) {
      // A body of the wrong shape that a route read without checking each type: the
      // client's mistake, said as such (a 500 would blame the server).
      return errorResponse(400, std::string("the request's JSON does not fit: ") + e.what());
    }
  };
  // Every request's head is admitted before its body is read: a request its token does not
  // allow costs no upload. Uploads to the blob store are then streamed to their sink.
  api.streaming = [router, gate, ctx](const Request& head,
                                      Response* refusal) -> std::shared_ptr<BodySink> {
    auto access = router->accessFor(head);
    if (!access) return nullptr;  // 404 or 405, answered after the body like any other
    Request req = head;
    if (auto denied = gate->admit(*access, req)) {
      *refusal = *denied;
      return nullptr;
    }
    bool upload = head.method == "POST" && head.segments.size() == 2 && head.segments[0] == "api" &&
                  head.segments[1] == "blobs";
    if (upload) return openBlobUpload(ctx, req, refusal);
    bool agentUpload = head.method == "POST" && head.segments.size() == 5 &&
                       head.segments[0] == "api" && head.segments[1] == "agent" &&
                       head.segments[2] == "jobs" && head.segments[4] == "blobs";
    return agentUpload ? openAgentUpload(ctx, req, refusal) : nullptr;
  };
  return api;
}

}  // namespace boucle::api
