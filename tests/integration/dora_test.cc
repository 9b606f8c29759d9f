// DORA's figures from a history made through the real server (pushes, releases, a failed
// deploy, a fix, a rollback by hand), checked against values worked out from the API's own
// timestamps, as a user with the API alone could.
#include <gmock/gmock.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using json = nlohmann::json;

int64_t nearestRank(std::vector<int64_t> v, double q) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

class DoraTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    // A deploy fails while a ".fail" file stands beside the environment's output.
    repo_.write(".boucle.yml", R"yml(jobs:
  build: {run: 'true'}
release: {branches: [main]}
environments:
  prod: {auto: true}
deploy:
  driver: command
  command: echo "$BOUCLE_RELEASE_VERSION" >> "$BOUCLE_ENV_OUT" && test ! -e "$BOUCLE_ENV_OUT.fail"
  on_failure: stop
)yml");
    repo_.commit("feat: the service", "Ada");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
    ASSERT_EQ(client({"env", "set", "web", "prod", "out=" + out_.string()}).exitCode, 0);
  }
  // Polls until prod has `n` deploys, none queued or running.
  json settle(size_t n) {
    json list;
    waitFor([&] {
      list = api("/api/projects/web/deploys?env=prod")["deploys"];
      if (list.size() < n) return false;
      for (const auto& d : list) {
        if (d["state"] == "queued" || d["state"] == "running") return false;
      }
      return true;
    });
    return list;
  }
  fs::path out_ = repo_.scratch() / "prod.out";
};

TEST_F(DoraTest, TheFourKeysAgreeWithTheApisOwnTimestamps) {
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_EQ(settle(1)[0]["state"], "succeeded");  // 0.1.0

  std::ofstream(out_.string() + ".fail") << "x";
  repo_.write("b.txt", "b\n");
  repo_.commit("fix: b", "Bea");
  ASSERT_EQ(triggerAndWait("web", 2)["state"], "passed");
  ASSERT_EQ(settle(2)[0]["state"], "failed");  // 0.1.1

  fs::remove(out_.string() + ".fail");
  repo_.write("c.txt", "c\n");
  repo_.commit("fix: c", "Cy");
  ASSERT_EQ(triggerAndWait("web", 3)["state"], "passed");
  ASSERT_EQ(settle(3)[0]["state"], "succeeded");  // 0.1.2, brings b and c

  Output back = client({"rollback", "web", "prod"});
  ASSERT_EQ(back.exitCode, 0) << back.all();
  json deploys = settle(4);
  ASSERT_EQ(deploys[0]["rollback"], true);
  ASSERT_EQ(deploys[0]["state"], "succeeded");

  // What the API says happened, oldest first.
  std::reverse(deploys.begin(), deploys.end());
  auto finished = [&](int i) { return deploys[i]["finished_at_ms"].get<int64_t>(); };
  auto started = [&](int i) { return deploys[i]["started_at_ms"].get<int64_t>(); };
  std::map<std::string, int64_t> authored;  // sha → author time, from the releases' changes
  std::map<std::string, std::vector<std::string>> brings;
  for (const char* v : {"0.1.0", "0.1.1", "0.1.2"}) {
    json rel = api(std::string("/api/projects/web/releases/") + v);
    for (const auto& c : rel["changes"]) {
      authored[c["sha"]] = c["time_ms"];
      brings[v].push_back(c["sha"]);
    }
  }
  ASSERT_EQ(brings["0.1.1"].size(), 1u);
  ASSERT_EQ(brings["0.1.2"].size(), 1u);
  std::vector<int64_t> leads;
  for (const auto& sha : brings["0.1.0"]) leads.push_back(finished(0) - authored[sha]);
  for (const char* v : {"0.1.1", "0.1.2"}) {  // 0.1.1 failed: its commit came with 0.1.2
    for (const auto& sha : brings[v]) leads.push_back(finished(2) - authored[sha]);
  }

  Output out = client({"dora", "web", "--env", "prod", "--since", "1d", "--json"});
  ASSERT_EQ(out.exitCode, 0) << out.all();
  json d = json::parse(out.out);
  EXPECT_EQ(d["deployment_frequency"]["deploys"], 2);  // 0.1.0 and 0.1.2; not the rollback
  EXPECT_EQ(d["deployment_frequency"]["band"], "elite");
  EXPECT_EQ(d["lead_time"]["rows"].size(), leads.size());
  EXPECT_EQ(d["lead_time"]["median_ms"], nearestRank(leads, 0.5));
  EXPECT_EQ(d["lead_time"]["p90_ms"], nearestRank(leads, 0.9));
  EXPECT_TRUE(d["lead_time"]["from_first_build"]["median_ms"].is_number());

  const json& cfr = d["change_failure_rate"];
  EXPECT_EQ(cfr["changes"], 3);
  ASSERT_EQ(cfr["rows"].size(), 2u);
  EXPECT_EQ(cfr["rows"][0]["version"], "0.1.1");
  EXPECT_EQ(cfr["rows"][0]["cause"], "failed");
  EXPECT_EQ(cfr["rows"][0]["recovery_ms"], finished(2) - finished(1));
  EXPECT_EQ(cfr["rows"][1]["version"], "0.1.2");
  EXPECT_EQ(cfr["rows"][1]["cause"], "rolled_back_by_hand");
  EXPECT_EQ(cfr["rows"][1]["recovery_ms"], finished(3) - finished(2));
  EXPECT_NEAR(cfr["value"].get<double>(), 2.0 / 3, 1e-9);
  EXPECT_EQ(cfr["band"], "low");
  EXPECT_EQ(d["recovery_time"]["median_ms"],
            std::min(finished(2) - finished(1), finished(3) - finished(2)));
  // Deploys 3 and 4 started while prod was failing.
  EXPECT_GT(started(2), finished(1));
  EXPECT_EQ(d["rework_rate"]["deploys"], 4);
  EXPECT_EQ(d["rework_rate"]["rework"], 2);

  // The same for a person, and for a viewer's token; a bad period is a usage error.
  Output text = client({"dora", "web"});
  EXPECT_EQ(text.exitCode, 0) << text.all();
  EXPECT_THAT(text.out, HasSubstr("change failure rate   low      67% (2 of 3 changes)"));
  EXPECT_THAT(text.out, HasSubstr("failed: deploy 2 of 0.1.1: failed"));
  Output viewer = client({"token", "add", "vic"});
  ASSERT_EQ(viewer.exitCode, 0);
  std::string token = viewer.out.substr(0, viewer.out.find('\n'));
  Http asViewer = curl("GET", server_->url() + "/api/projects/web/dora?env=prod", "",
                       {"Authorization: Bearer " + token});
  EXPECT_EQ(asViewer.status, 200);
  EXPECT_EQ(curl("GET", server_->url() + "/api/projects/web/dora?since=soon", "",
                 {"Authorization: Bearer " + token})
                .status,
            400);
}

}  // namespace
}  // namespace boucle::testing
