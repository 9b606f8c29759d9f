#include "api/router.h"

#include <gtest/gtest.h>

namespace boucle::api {
namespace {

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
  router.add("GET", "/api/runs/{id}/jobs/{job}/log", [&](const Request&, const Params& p) {
    seen = p.at("id") + ":" + p.at("job");
    return jsonResponse(200, "{}");
  });
  router.add("GET", "/api/runs",
             [](const Request&, const Params&) { return jsonResponse(200, "[]"); });
  EXPECT_EQ(router.dispatch(req("GET", {"api", "runs", "7", "jobs", "build", "log"})).status, 200);
  EXPECT_EQ(seen, "7:build");
  // A decoded "/" inside a segment stays one segment: it reaches the handler, which judges it.
  EXPECT_EQ(router.dispatch(req("GET", {"api", "runs", "7", "jobs", "../x", "log"})).status, 200);
  EXPECT_EQ(seen, "7:../x");
  EXPECT_EQ(router.dispatch(req("GET", {"api", "runs"})).body, "[]");
}

TEST(Router, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  Router router;
  router.add("GET", "/api/projects",
             [](const Request&, const Params&) { return jsonResponse(200, ""); });
  router.add("POST", "/api/projects",
             [](const Request&, const Params&) { return jsonResponse(201, ""); });
  EXPECT_EQ(router.dispatch(req("GET", {"api", "nope"})).status, 404);
  Response r = router.dispatch(req("DELETE", {"api", "projects"}));
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].second, "GET, POST");
  EXPECT_EQ(router.dispatch(req("POST", {"api", "projects"})).status, 201);
}

}  // namespace
}  // namespace boucle::api
