// The queue and bisection from the outside: several runs at once within the limit, a branch's
// runs in order, and the culprit among several commits found by bisection runs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "harness.h"
#include "server_fixture.h"

namespace boucle::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class QueueTest : public ServerFixture {
 protected:
  void SetUp() override { startServer({"--max-runs", "2"}); }
  void addProject(const std::string& name) {
    ASSERT_EQ(client({"project", "add", name, repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  }
};

TEST_F(QueueTest, RunsOfDifferentBranchesRunAtOnceUpToTheLimitAndABranchsRunsInOrder) {
  // Each job says it started and waits to be let go, both through its own workspace.
  repo_.write(".boucle.yml",
              "jobs:\n  wait:\n    run: |\n      touch started\n"
              "      while [ ! -e go-on ]; do sleep 0.05; done\n");
  repo_.commit("c");
  addProject("a");
  addProject("b");
  addProject("c");
  for (const char* p : {"a", "a", "b", "c"}) ASSERT_EQ(client({"trigger", p}).exitCode, 0);
  auto started = [&](int run) { return fs::exists(workspace(run, "wait") / "started"); };
  // Runs 1 (a) and 3 (b) hold the two slots; run 2 waits for a's main, run 4 for a slot.
  ASSERT_TRUE(waitFor([&] { return started(1) && started(3); })) << server_->log();
  EXPECT_EQ(state(1), "running");
  EXPECT_EQ(state(3), "running");
  EXPECT_EQ(state(2), "queued");
  EXPECT_EQ(state(4), "queued");
  EXPECT_FALSE(started(2));
  EXPECT_FALSE(started(4));
  json runs[4];
  for (int id : {1, 3, 2, 4}) {
    ASSERT_TRUE(waitFor([&] { return started(id); })) << id;
    std::ofstream(workspace(id, "wait") / "go-on") << "go";
    runs[id - 1] = waitForRun(id);
    EXPECT_EQ(runs[id - 1]["state"], "passed") << id;
  }
  EXPECT_GE(runs[1]["started_at_ms"].get<int64_t>(), runs[0]["finished_at_ms"].get<int64_t>());
}

// Eight commits land at once after a passing run; the third breaks the tests.
class BisectTest : public QueueTest {
 protected:
  void breakInTheMiddle(const std::string& job) {
    repo_.write(".boucle.yml", "jobs:\n  test: {run: '" + job + "'}\n");
    repo_.write("check.sh", "exit 0\n");
    repo_.commit("feat: green start", "Alice");
    addProject("web");
    ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
    ASSERT_EQ(waitForRun(1)["state"], "passed");
    for (int i = 1; i <= 8; ++i) {
      if (i == 3) repo_.write("check.sh", "echo broken; exit 1\n");
      repo_.write("file" + std::to_string(i), "x\n");
      std::string sha = repo_.commit("change " + std::to_string(i), i == 3 ? "Mallory" : "Bob");
      if (i == 3) culprit_ = sha;
    }
    ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  }
  std::string culprit_;
};

TEST_F(BisectTest, FindsTheOneCommitThatBrokeTheBranchWithinLog2Runs) {
  breakInTheMiddle("sh check.sh");
  json broken = waitForRun(2);
  EXPECT_EQ(broken["state"], "failed");
  EXPECT_EQ(broken["event"], "broken");
  EXPECT_EQ(broken["suspects"], 8);
  json run;
  ASSERT_TRUE(waitFor([&] {
    run = api("/api/runs/2");
    return run.value("bisection", "") == "found";
  })) << run.dump(2)
      << server_->log();
  EXPECT_EQ(run["culprit"]["commit"], culprit_);
  EXPECT_EQ(run["culprit"]["author"], "Mallory");
  EXPECT_EQ(run["culprit"]["subject"], "change 3");
  EXPECT_EQ(run["broken_since"]["commit"], culprit_);
  // At most log2(8)+1 extra runs, each marked as a bisection run of run 2.
  json all = api("/api/runs?project=web");
  int bisectRuns = 0;
  for (const auto& r : all["runs"]) {
    if (r["trigger"] != "bisect") continue;
    ++bisectRuns;
    EXPECT_EQ(r["bisect_of"], 2);
    EXPECT_EQ(r["event"], "");  // they say nothing about the branch
  }
  EXPECT_GE(bisectRuns, 1);
  EXPECT_LE(bisectRuns, 4);
  Output status = client({"status", "web"});
  EXPECT_THAT(status.out, HasSubstr("BROKEN by " + culprit_.substr(0, 10) +
                                    " by Mallory: change 3 (found by bisecting 8 commits)"));
  EXPECT_THAT(status.out, HasSubstr("bisection run for run 2"));
  // A later failing run of the branch still points at the culprit.
  repo_.write("more", "x\n");
  repo_.commit("docs", "Bob");
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  json later;
  ASSERT_TRUE(waitFor([&] {
    auto runs = api("/api/runs?project=web&limit=1")["runs"];
    if (runs.empty() || runs[0]["trigger"] != "manual") return false;
    later = runs[0];
    return later["state"] == "failed";
  }));
  EXPECT_EQ(later["broken_since"]["commit"], culprit_);
}

TEST_F(BisectTest, CancellingTheBrokenRunStopsItsBisection) {
  // Bisection runs (ids above 2) hang, so the bisection is still going when it is cancelled.
  breakInTheMiddle("if [ $BOUCLE_RUN_ID -gt 2 ]; then sleep 300; fi; sh check.sh");
  EXPECT_EQ(waitForRun(2)["state"], "failed");
  ASSERT_TRUE(waitFor([&] { return state(3) == "running"; })) << server_->log();
  EXPECT_EQ(api("/api/runs/2")["bisection"], "running");
  Output c = client({"cancel", "2"});
  EXPECT_EQ(c.exitCode, 0) << c.all();
  EXPECT_EQ(waitForRun(3)["state"], "cancelled");
  json run;
  ASSERT_TRUE(waitFor([&] {
    run = api("/api/runs/2");
    return run.value("bisection", "") == "stopped";
  })) << run.dump(2);
  EXPECT_TRUE(run["culprit"].is_null());
  EXPECT_EQ(api("/api/runs/4").value("state", ""), "");  // no further probe
  EXPECT_THAT(client({"status", "web"}).out, HasSubstr("one of 8 commits: bisection stopped"));
}

}  // namespace
}  // namespace boucle::testing
