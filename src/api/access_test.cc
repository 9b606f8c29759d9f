#include "api/access.h"

#include <gtest/gtest.h>

namespace boucle::api {
namespace {

Request as(const std::string& method, std::vector<std::string> roles) {
  Request r;
  r.method = method;
  r.actor = roles.empty() ? "" : "someone";
  r.roles = std::move(roles);
  return r;
}

int status(const std::optional<Response>& r) {
  return r ? r->status : 200;
}

TEST(Access, EachRoleReachesWhatItsRoutesDeclare) {
  for (auto [method, roles, pub, read, change, admin] :
       std::vector<std::tuple<std::string, std::vector<std::string>, int, int, int, int>>{
           {"GET", {"viewer"}, 200, 200, 403, 403},
           {"POST", {"viewer"}, 200, 200, 403, 403},
           {"POST", {"developer"}, 200, 200, 200, 403},
           {"POST", {"ops", "viewer"}, 200, 200, 200, 403},
           {"DELETE", {"admin"}, 200, 200, 200, 200},
       }) {
    Request r = as(method, roles);
    EXPECT_EQ(status(decide(Access::kPublic, r, true, false)), pub);
    EXPECT_EQ(status(decide(Access::kRead, r, true, false)), read);
    EXPECT_EQ(status(decide(Access::kChange, r, true, false)), change) << method;
    EXPECT_EQ(status(decide(Access::kAdmin, r, true, false)), admin) << method;
  }
}

TEST(Access, AMetricsTokenReadsTheMetricsAndNothingElse) {
  Request scraper = as("GET", {"metrics"});
  EXPECT_EQ(status(decide(Access::kMetrics, scraper, true, false)), 200);
  EXPECT_EQ(status(decide(Access::kRead, scraper, true, false)), 403);
  EXPECT_EQ(status(decide(Access::kChange, scraper, true, false)), 403);
  EXPECT_EQ(status(decide(Access::kRead, scraper, true, true)), 403);  // even with public reads
  Request viewer = as("GET", {"viewer"});
  EXPECT_EQ(status(decide(Access::kMetrics, viewer, true, false)), 200);
  // With another role, the token is what that role makes it (and reads the metrics too).
  Request both = as("POST", {"metrics", "developer"});
  EXPECT_EQ(status(decide(Access::kChange, both, true, false)), 200);
  EXPECT_EQ(status(decide(Access::kMetrics, both, true, false)), 200);
  Request anonymous = as("GET", {});
  EXPECT_EQ(status(decide(Access::kMetrics, anonymous, false, false)), 401);
  EXPECT_EQ(status(decide(Access::kMetrics, anonymous, false, true)), 200);
}

TEST(Access, WithoutATokenOnlyPublicRoutesAndPublicReadsAnswer) {
  Request get = as("GET", {});
  Request post = as("POST", {});
  EXPECT_EQ(status(decide(Access::kPublic, post, false, false)), 200);
  EXPECT_EQ(status(decide(Access::kRead, get, false, false)), 401);
  EXPECT_EQ(status(decide(Access::kRead, get, false, true)), 200);
  EXPECT_EQ(status(decide(Access::kRead, post, false, true)), 401);
  EXPECT_EQ(status(decide(Access::kChange, post, false, true)), 401);
  EXPECT_EQ(status(decide(Access::kAdmin, get, false, true)), 401);
  auto refusal = decide(Access::kRead, get, false, false);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->headers.at(0).first, "WWW-Authenticate");
}

}  // namespace
}  // namespace boucle::api
