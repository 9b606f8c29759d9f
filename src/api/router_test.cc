#include "api/router.h"

#include <gtest/gtest.h>

namespace boucle::api {
namespace {

const Gate gate = [](Access, Request&) -> std::optional<Response> { return std::nullopt; };

Response run(const Router& router, const Request& r) {
  return router.dispatch(r, gate);
}

Request req(const std::string& method, std::vector<std::string> segments) {
  Request r;
  r.method = method;
  r.segments = std::move(segments);
  for (const auto& s : r.segments) r.path += "/" + s;
  return r;
}

TEST(Router, MatchesPatternsAndCapturesSegments) {
  Router router;
  std::string seen;
  router.add("GET", "/api/runs/{id}/jobs/{job}/log", Access::kPublic,
             [&](const Request&, const Params& p) {
               seen = p.at("id") + ":" + p.at("job");
               return jsonResponse(200, "{}");
             });
  router.add("GET", "/api/runs", Access::kPublic,
             [](const Request&, const Params&) { return jsonResponse(200, "[]"); });
  EXPECT_EQ(run(router, req("GET", {"api", "runs", "7", "jobs", "build", "log"})).status, 200);
  EXPECT_EQ(seen, "7:build");
  // A decoded "/" inside a segment stays one segment: it reaches the handler, which judges it.
  EXPECT_EQ(run(router, req("GET", {"api", "runs", "7", "jobs", "../x", "log"})).status, 200);
  EXPECT_EQ(seen, "7:../x");
  EXPECT_EQ(run(router, req("GET", {"api", "runs"})).body, "[]");
}

TEST(Router, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  Router router;
  router.add("GET", "/api/projects", Access::kPublic,
             [](const Request&, const Params&) { return jsonResponse(200, ""); });
  router.add("POST", "/api/projects", Access::kPublic,
             [](const Request&, const Params&) { return jsonResponse(201, ""); });
  EXPECT_EQ(run(router, req("GET", {"api", "nope"})).status, 404);
  Response r = run(router, req("DELETE", {"api", "projects"}));
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].second, "GET, POST, HEAD");
  EXPECT_EQ(run(router, req("POST", {"api", "projects"})).status, 201);
}

TEST(Router, HeadIsAnsweredByTheGetRouteAndTheGateSeesTheRoutesAccess) {
  Router router;
  router.add("GET", "/api/tokens", Access::kAdmin,
             [](const Request&, const Params&) { return jsonResponse(200, "{}"); });
  router.add("GET", "/", Access::kPublic,
             [](const Request&, const Params&) { return jsonResponse(200, "{}"); });
  std::vector<Access> seen;
  Gate refuseAdmin = [&](Access a, Request&) -> std::optional<Response> {
    seen.push_back(a);
    if (a == Access::kAdmin) return errorResponse(403, "no");
    return std::nullopt;
  };
  EXPECT_EQ(router.dispatch(req("HEAD", {}), refuseAdmin).status, 200);
  EXPECT_EQ(router.dispatch(req("GET", {"api", "tokens"}), refuseAdmin).status, 403);
  EXPECT_EQ(seen, (std::vector<Access>{Access::kPublic, Access::kAdmin}));
  EXPECT_EQ(router.accessFor(req("HEAD", {"api", "tokens"})), Access::kAdmin);
  EXPECT_EQ(router.accessFor(req("POST", {"api", "tokens"})), std::nullopt);
  Response r = router.dispatch(req("POST", {"api", "tokens"}), refuseAdmin);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers[0].second, "GET, HEAD");
}

}  // namespace
}  // namespace boucle::api
