// Flaky tests through the real server with real JUnit producers: a pytest test that fails on a
// job's first attempt and passes on its retry, a GoogleTest case that fails on one run of a
// commit and passes on the next, a quarantine that lets its failures fail no job, and a red
// branch confirmed by one more attempt first.
#include <cstdio>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

using nlohmann::json;

const char* kArrow = "\u203a";

std::string escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '-') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

class FlakyTest : public ServerFixture {
 protected:
  json jobOf(const json& run, const std::string& name) {
    for (const auto& j : run["jobs"])
      if (j["name"] == name) return j;
    return json();
  }
  Http as(const std::string& token, const std::string& method, const std::string& path,
          const std::string& body = "") {
    return curl(method, server_->url() + path, body, {"Authorization: Bearer " + token});
  }
  std::string tokenFor(const std::string& name, const std::string& role) {
    Output made = client({"token", "add", name, "--role", role});
    EXPECT_EQ(made.exitCode, 0) << made.err;
    return made.out.substr(0, made.out.find('\n'));
  }
};

// A pytest test that fails on the job's first attempt only (BOUCLE_ATTEMPT says which).
constexpr const char* kPytest = R"py(import os


def test_steady():
    assert 1 + 1 == 2


def test_sometimes():
    assert os.environ.get("BOUCLE_ATTEMPT") != "1", "lost a race with the clock"
)py";

TEST_F(FlakyTest, APytestTestThatPassesOnItsRetryMarksTheRunPassedFlakyAndNamesIt) {
  repo_.write("tests/test_app.py", kPytest);
  repo_.write(".boucle.yml", R"yml(jobs:
  test:
    run: /usr/bin/python3 -m pytest -q -p no:cacheprovider --junitxml=report.xml tests
    retries: 1
    reports: { junit: report.xml }
)yml");
  repo_.commit("a flaky test");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  json run = triggerAndWait("web", 1);
  ASSERT_EQ(run["state"], "passed") << run.dump();
  EXPECT_EQ(run["qualifier"], "flaky");
  json job = jobOf(run, "test");
  EXPECT_EQ(job["attempts"], 2);
  EXPECT_EQ(job["qualifier"], "flaky");
  std::string key = std::string("tests.test_app ") + kArrow + " test_sometimes";
  ASSERT_TRUE(job["tests"]["flaky"].is_array()) << job.dump();
  EXPECT_EQ(job["tests"]["flaky"], json::array({key}));
  ASSERT_EQ(job["tests"]["retried"].size(), 1u);
  EXPECT_EQ(job["tests"]["retried"][0]["failed"], json::array({key}));

  Output status = client({"status", "web"});
  EXPECT_NE(status.out.find("passed (flaky)"), std::string::npos) << status.out;
  // The command line names it as flaky, with its history over both attempts.
  Output flaky = client({"tests", "web", "--flaky", "--json"});
  ASSERT_EQ(flaky.exitCode, 0) << flaky.err;
  json list = json::parse(flaky.out);
  ASSERT_EQ(list["tests"].size(), 1u) << flaky.out;
  EXPECT_EQ(list["tests"][0]["key"], key);
  EXPECT_EQ(list["tests"][0]["flakes"], 1);
  EXPECT_EQ(list["tests"][0]["failed"], 1);
  EXPECT_EQ(list["tests"][0]["passed"], 1);
  Output all = client({"tests", "web"});
  EXPECT_NE(all.out.find("tests.test_app " + std::string(kArrow) + " test_steady"),
            std::string::npos)
      << all.out;
  Output history = client({"test", "history", "web", key});
  ASSERT_EQ(history.exitCode, 0) << history.err;
  EXPECT_NE(history.out.find("lost a race with the clock"), std::string::npos) << history.out;
  json h = api("/api/projects/web/tests/history?test=" + escaped(key));
  ASSERT_EQ(h["history"].size(), 2u) << h.dump();
  EXPECT_EQ(h["history"][0]["outcome"], "passed");
  EXPECT_EQ(h["history"][1]["outcome"], "failed");
  EXPECT_EQ(h["flakes"][0]["how"], "retry");
  EXPECT_EQ(api("/api/projects/web/tests/" + h["test"]["id"].dump())["test"]["key"], key);
}

// A GoogleTest case failing on odd-numbered runs: one run of a commit fails, the next passes.
constexpr const char* kGtest = R"source(#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

TEST(Clock, Ticks) { EXPECT_EQ(2 + 2, 4); }

TEST(Clock, RacesTheNetwork) {
  int run = std::atoi(std::getenv("BOUCLE_RUN_ID"));
  EXPECT_EQ(run % 2, 0) << "the peer answered late";
}
)source";

TEST_F(FlakyTest, AQuarantinedGoogleTestCasesFailuresFailNoJobAndStayVisible) {
  repo_.write("clock_test.cc", kGtest);
  repo_.write(".boucle.yml", R"yml(jobs:
  test:
    run:
      - g++ -std=c++17 -o clock_test clock_test.cc -lgtest -lgtest_main -pthread
      - ./clock_test --gtest_output=xml:report.xml
    reports: { junit: report.xml }
)yml");
  repo_.commit("a test that races");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  json first = triggerAndWait("web", 1);
  ASSERT_EQ(first["state"], "failed") << first.dump();
  std::string key = std::string("Clock ") + kArrow + " RacesTheNetwork";

  // It failed every time so far: broken, not flaky; nobody may quarantine it.
  Output refused = client({"test", "quarantine", "web", key, "--reason", "races"});
  EXPECT_NE(refused.exitCode, 0);
  EXPECT_NE(refused.err.find("broken, not flaky"), std::string::npos) << refused.err;

  // Run again, the same commit passes: it flaked.
  ASSERT_EQ(client({"rerun", "1"}).exitCode, 0);
  json second = waitForRun(2);
  ASSERT_EQ(second["state"], "passed") << second.dump();
  EXPECT_EQ(second["qualifier"], "flaky");
  EXPECT_EQ(jobOf(second, "test")["tests"]["flaky"], json::array({key}));
  json flaky = api("/api/projects/web/tests?flaky=1");
  ASSERT_EQ(flaky["tests"].size(), 1u) << flaky.dump();
  EXPECT_EQ(flaky["tests"][0]["key"], key);

  // A viewer may look, not quarantine.
  std::string viewer = tokenFor("vic", "viewer");
  json body = {{"test", key}, {"reason", "races"}};
  EXPECT_EQ(as(viewer, "POST", "/api/projects/web/quarantines", body.dump()).status, 403);
  EXPECT_EQ(as(viewer, "GET", "/api/projects/web/quarantines").status, 200);
  EXPECT_EQ(as(viewer, "POST", "/api/projects/web/quarantines/release", body.dump()).status, 403);
  EXPECT_EQ(as(viewer, "GET", "/api/projects/web/tests?flaky=1").status, 200);
  EXPECT_EQ(as(viewer, "GET", "/api/projects/web/benchmarks").status, 200);
  // Bounded reads: no window past 500 runs, no name past 2,100 bytes.
  EXPECT_EQ(as(viewer, "GET", "/api/projects/web/tests?limit=501").status, 400);
  EXPECT_EQ(
      as(viewer, "GET", "/api/projects/web/tests/history?test=" + std::string(2101, 'x')).status,
      400);
  // No expiry beyond 90 days, no quarantine without a reason.
  EXPECT_EQ(as(server_->token(), "POST", "/api/projects/web/quarantines",
               json{{"test", key}, {"reason", "x"}, {"until", "120d"}}.dump())
                .status,
            400);
  EXPECT_EQ(
      as(server_->token(), "POST", "/api/projects/web/quarantines", json{{"test", key}}.dump())
          .status,
      400);
  std::string dev = tokenFor("dana", "developer");
  Output q = repo_.boucle({"test", "quarantine", "web", key, "--reason", "the peer is slow",
                           "--until", "7d", "--server", server_->url(), "--token", dev});
  ASSERT_EQ(q.exitCode, 0) << q.err;
  EXPECT_NE(q.out.find("owner dana"), std::string::npos) << q.out;
  json audit = api("/api/audit?project=web");
  EXPECT_NE(audit.dump().find("test.quarantine"), std::string::npos) << audit.dump();

  // Run 3 fails it again: the job passes, the failure kept on the run for all to see.
  repo_.write("README", "another commit\n");
  repo_.commit("docs");
  json third = triggerAndWait("web", 3);
  ASSERT_EQ(third["state"], "passed") << third.dump();
  EXPECT_EQ(third["qualifier"], "quarantined");
  json job = jobOf(third, "test");
  EXPECT_EQ(job["qualifier"], "quarantined");
  EXPECT_EQ(job["tests"]["quarantined"], json::array({key}));
  ASSERT_EQ(job["tests"]["failed"].size(), 1u);
  EXPECT_NE(job["tests"]["failed"][0]["message"].get<std::string>().find("the peer answered late"),
            std::string::npos);
  Output log = client({"logs", "3/test"});
  EXPECT_NE(log.out.find("its only failing tests are quarantined"), std::string::npos) << log.out;

  // Released, its failure fails the job again.
  ASSERT_EQ(client({"test", "release", "web", key}).exitCode, 0);
  ASSERT_EQ(client({"rerun", "3"}).exitCode, 0);
  EXPECT_EQ(waitForRun(4)["state"], "passed");  // run 4: even
  ASSERT_EQ(client({"rerun", "3"}).exitCode, 0);
  EXPECT_EQ(waitForRun(5)["state"], "failed");
  json quarantines = api("/api/projects/web/quarantines?all=1");
  ASSERT_EQ(quarantines["quarantines"].size(), 1u);
  EXPECT_EQ(quarantines["quarantines"][0]["state"], "released");
  EXPECT_EQ(quarantines["quarantines"][0]["owner"], "dana");
}

TEST_F(FlakyTest, OnRedRetryOnceTriesAFailureOnAGreenBranchOnceMoreBeforeCallingItBroken) {
  repo_.write(".boucle.yml", "jobs:\n  test:\n    run: 'true'\n");
  repo_.commit("green");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(client({"project", "set", "web", "--on-red", "retry_once"}).exitCode, 0);
  EXPECT_EQ(api("/api/projects/web")["on_red"], "retry_once");
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");

  // Fails on its first attempt only: the branch stays green, the run says it flaked.
  repo_.write(".boucle.yml", "jobs:\n  test:\n    run: test \"$BOUCLE_ATTEMPT\" != 1\n");
  repo_.commit("wobbles");
  json wobbly = triggerAndWait("web", 2);
  ASSERT_EQ(wobbly["state"], "passed") << wobbly.dump();
  EXPECT_EQ(wobbly["qualifier"], "flaky");
  EXPECT_EQ(wobbly["event"], "");
  EXPECT_EQ(jobOf(wobbly, "test")["attempts"], 2);
  // The first attempt's log says why it was tried again; the last one's that it flaked.
  Http first = as(server_->token(), "GET", "/api/runs/2/jobs/test/log?attempt=1");
  EXPECT_NE(first.body.find("trying it once more before the branch is called broken"),
            std::string::npos)
      << first.body;
  Output log = client({"logs", "2/test"});
  EXPECT_NE(log.out.find("passed on attempt 2 after failing: flaky"), std::string::npos) << log.out;

  // A real failure is tried once more too, then breaks the branch.
  repo_.write(".boucle.yml", "jobs:\n  test:\n    run: 'false'\n");
  repo_.commit("breaks");
  json red = triggerAndWait("web", 3);
  EXPECT_EQ(red["state"], "failed");
  EXPECT_EQ(red["event"], "broken");
  EXPECT_EQ(jobOf(red, "test")["attempts"], 2);
  // On a red branch a failure is not tried again: it says nothing new.
  repo_.write("README", "still broken\n");
  repo_.commit("still broken");
  json still = triggerAndWait("web", 4);
  EXPECT_EQ(still["state"], "failed");
  EXPECT_EQ(jobOf(still, "test")["attempts"], 1);
}

}  // namespace
}  // namespace boucle::testing
