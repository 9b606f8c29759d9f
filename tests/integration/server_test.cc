// The server from the outside: the real binary on a free port, real git repositories, curl and
// the boucle client as users would run them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.h"
#include "server_fixture.h"

namespace boucle::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

using ServerTest = ServerFixture;

TEST_F(ServerTest, StartsWithAHashedAdminTokenAndRefusesCallsWithoutOne) {
  std::string token = server_->token();
  EXPECT_THAT(token, ::testing::StartsWith("bcl_"));
  struct stat st {};
  ASSERT_EQ(::stat((server_->data() / "initial-admin-token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(readFile(server_->data() / "boucle.db"), Not(HasSubstr(token)));
  EXPECT_EQ(curl("GET", server_->url() + "/api/health").status, 200);
  EXPECT_EQ(curl("GET", server_->url() + "/api/projects").status, 401);
  EXPECT_EQ(
      curl("GET", server_->url() + "/api/projects", "", {"Authorization: Bearer bcl_nope"}).status,
      401);
  EXPECT_EQ(curl("POST", server_->url() + "/api/projects", "{}").status, 401);
  EXPECT_EQ(
      curl("GET", server_->url() + "/api/projects", "", {"Authorization: Bearer " + token}).status,
      200);
  EXPECT_EQ(
      curl("GET", server_->url() + "/api/nothing", "", {"Authorization: Bearer " + token}).status,
      404);
  EXPECT_THAT(server_->log(), Not(HasSubstr("error")));
}

TEST_F(ServerTest, BadRequestsAreRefusedWithTheRightStatus) {
  std::string auth = "Authorization: Bearer " + server_->token();
  EXPECT_EQ(
      curl("POST", server_->url() + "/api/projects", std::string(2 << 20, 'x'), {auth}).status,
      413);
  EXPECT_EQ(curl("POST", server_->url() + "/api/projects", "{not json", {auth}).status, 400);
  EXPECT_EQ(
      curl("POST", server_->url() + "/api/projects", R"({"name":"../x","url":"/tmp"})", {auth})
          .status,
      400);
  EXPECT_EQ(curl("DELETE", server_->url() + "/api/runs/1", "", {auth}).status, 405);
  EXPECT_EQ(curl("GET", server_->url() + "/api/runs/1/jobs/..%2Fx/log", "", {auth}).status, 400);
}

TEST_F(ServerTest, ServesTheWebUiOpenlyAndNothingBesideIt) {
  // The page is open (its data needs the token); files outside ui/dist/assets are not served.
  auto page = curl("GET", server_->url() + "/");
  ASSERT_EQ(page.status, 200) << "build the UI first: make ui";
  EXPECT_THAT(page.body, HasSubstr("<div id=\"app\">"));
  EXPECT_EQ(curl("GET", server_->url() + "/assets/..%2Findex.html").status, 404);
  EXPECT_EQ(curl("GET", server_->url() + "/assets/.hidden").status, 404);
  EXPECT_EQ(curl("GET", server_->url() + "/index.html").status, 404);  // not a UI route
  Output bad = runCommand({BOUCLE_BIN, "server", "--data", (repo_.scratch() / "d2").string(),
                           "--ui", (repo_.scratch() / "no-ui").string()},
                          repo_.scratch());
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_THAT(bad.err, HasSubstr("no index.html there"));
}

TEST_F(ServerTest, ProjectsAndRunsThroughTheCommandLine) {
  repo_.write(".boucle.yml",
              "jobs:\n  build: {run: 'echo built $BOUCLE_COMMIT; test -n \"$HOME\"'}\n"
              "  test: {run: 'echo tested', needs: [build]}\n");
  std::string sha = repo_.commit("feat: first");
  Output add = client({"project", "add", "web", repo_.dir().string(), "--poll", "0"});
  ASSERT_EQ(add.exitCode, 0) << add.all();
  EXPECT_THAT(add.out, HasSubstr("webhook secret: "));
  Output dup = client({"project", "add", "web", repo_.dir().string(), "--poll", "0"});
  EXPECT_EQ(dup.exitCode, 1);
  EXPECT_THAT(dup.err, HasSubstr("project web exists (HTTP 409)"));
  Output list = client({"project", "list", "--json"});
  EXPECT_EQ(json::parse(list.out)["projects"][0]["name"], "web");

  Output trig = client({"trigger", "web"});
  ASSERT_EQ(trig.exitCode, 0) << trig.all();
  EXPECT_THAT(trig.out, HasSubstr("run 1 queued (web #1, main)"));
  json run = waitForRun(1);
  EXPECT_EQ(run["state"], "passed") << run.dump();
  EXPECT_EQ(run["commit"], sha);
  EXPECT_EQ(run["subject"], "feat: first");
  ASSERT_EQ(run["jobs"].size(), 2u);
  EXPECT_EQ(run["jobs"][1]["state"], "passed");
  Output status = client({"status"});
  EXPECT_THAT(status.out, HasSubstr("passed"));
  EXPECT_THAT(status.out, HasSubstr(sha.substr(0, 10)));
  Output logs = client({"logs", "1/build"});
  EXPECT_EQ(logs.exitCode, 0);
  EXPECT_EQ(logs.out, "built " + sha + "\n");
  EXPECT_EQ(client({"logs", "1/nope"}).exitCode, 1);
  EXPECT_EQ(client({"trigger", "missing"}).exitCode, 1);
}

// A retried job keeps a log per attempt: the API gives the latest, or the one asked for. Each
// ends with what came of it.
TEST_F(ServerTest, EachAttemptOfARetriedJobHasItsLog) {
  repo_.write(".boucle.yml",
              "jobs:\n  flaky:\n    retry: 1\n"
              "    run: 'echo attempt $BOUCLE_ATTEMPT; test $BOUCLE_ATTEMPT = 2'\n");
  repo_.commit("flaky");
  ASSERT_EQ(client({"project", "add", "p", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  json run = triggerAndWait("p", 1);
  ASSERT_EQ(run["state"], "passed") << run.dump();
  ASSERT_EQ(run["jobs"][0]["attempts"], 2) << run.dump();
  std::string auth = "Authorization: Bearer " + server_->token();
  std::string log = server_->url() + "/api/runs/1/jobs/flaky/log";
  std::string second = "attempt 2\nboucle: passed on attempt 2 after failing: flaky\n";
  EXPECT_EQ(curl("GET", log, "", {auth}).body, second);
  EXPECT_EQ(curl("GET", log + "?attempt=1", "", {auth}).body,
            "attempt 1\nboucle: exit code 1; retrying (retry 1 of 1, attempt 2)\n");
  EXPECT_EQ(curl("GET", log + "?attempt=2", "", {auth}).body, second);
  EXPECT_EQ(curl("GET", log + "?attempt=3", "", {auth}).status, 404);
  EXPECT_EQ(curl("GET", log + "?attempt=0", "", {auth}).status, 400);
  EXPECT_EQ(curl("GET", log + "?attempt=..%2F..%2Fx", "", {auth}).status, 400);
  EXPECT_EQ(client({"logs", "1/flaky"}).out, second);
}

TEST_F(ServerTest, ThePipelineFileIsReadFromTheCommitAndItsErrorsFailTheRun) {
  // No pipeline file at all, then a broken one, then jobs of which only one checks out.
  repo_.write("README", "x\n");
  std::string none = repo_.commit("no pipeline yet");
  ASSERT_EQ(client({"project", "add", "p", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  json run = triggerAndWait("p", 1);
  EXPECT_EQ(run["state"], "failed");
  EXPECT_EQ(run["reason"], ".boucle.yml is not in commit " + none.substr(0, 12)) << run.dump();

  repo_.write(".boucle.yml", "jobs:\n  a: {run: 'true', needs: [nope]}\n");
  repo_.commit("broken pipeline");
  run = triggerAndWait("p", 2);
  EXPECT_EQ(run["state"], "failed");
  EXPECT_THAT(run.value("reason", ""), HasSubstr(".boucle.yml:2:"));
  EXPECT_THAT(run.value("reason", ""), HasSubstr("nope"));

  repo_.write(".boucle.yml",
              "jobs:\n  bare: {run: 'test -z \"$(ls -A)\" && echo empty', checkout: false}\n"
              "  full: {run: 'cat README && git rev-parse HEAD'}\n");
  std::string sha = repo_.commit("fixed");
  run = triggerAndWait("p", 3);
  EXPECT_EQ(run["state"], "passed") << run.dump();
  EXPECT_EQ(client({"logs", "3/bare"}).out, "empty\n");
  EXPECT_EQ(client({"logs", "3/full"}).out, "x\n" + sha + "\n");
}

TEST_F(ServerTest, TheMirrorKeepsFewPacksAsFetchesAddThem) {
  // Each fetch adds a pack; every few runs the small ones are merged, history intact.
  repo_.write(".boucle.yml", "jobs:\n  a: {run: 'true', checkout: false}\n");
  repo_.commit("c0");
  ASSERT_EQ(client({"project", "add", "p", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  for (int i = 1; i <= 12; ++i) {
    repo_.write("n.txt", std::to_string(i));
    repo_.commit("c" + std::to_string(i));
    ASSERT_EQ(triggerAndWait("p", i)["state"], "passed");
  }
  fs::path mirror = server_->data() / "repos/p.git";
  int packs = 0;
  for (const auto& e : fs::directory_iterator(mirror / "objects/pack")) {
    packs += e.path().extension() == ".pack";
  }
  EXPECT_GE(packs, 1);
  EXPECT_LE(packs, 9);
  Output fsck =
      runCommand({"/usr/bin/git", "-C", mirror.string(), "fsck", "--no-progress"}, mirror);
  EXPECT_EQ(fsck.exitCode, 0) << fsck.all();
  Output log =
      runCommand({"/usr/bin/git", "-C", mirror.string(), "rev-list", "--count", "main"}, mirror);
  EXPECT_EQ(log.out, "13\n");
}

TEST_F(ServerTest, RerunAndRetryRepeatTheSameCommit) {
  // Fails the first time, passes from then on: it remembers in the branch's cache folder.
  repo_.write(".boucle.yml",
              "jobs:\n  build: {run: 'echo build'}\n"
              "  flaky:\n    needs: [build]\n    cache: [~/.state]\n"
              "    run: test -e ~/.state/seen || { touch ~/.state/seen; exit 1; }\n"
              "  lint: {run: 'true'}\n");
  std::string sha = repo_.commit("c");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  ASSERT_EQ(waitForRun(1)["state"], "failed");
  repo_.write("later.txt", "a newer commit that the retry must not pick up\n");
  repo_.commit("later");
  Output retry = client({"retry", "1/flaky"});
  ASSERT_EQ(retry.exitCode, 0) << retry.all();
  EXPECT_THAT(retry.out, HasSubstr("run 2 queued (retry of 1/flaky)"));
  json r2 = waitForRun(2);
  EXPECT_EQ(r2["state"], "passed");
  EXPECT_EQ(r2["commit"], sha);
  EXPECT_EQ(r2["rerun_of"], 1);
  ASSERT_EQ(r2["jobs"].size(), 2u);  // flaky and the build it needs; not lint
  EXPECT_EQ(r2["event"], "");        // a partial run does not judge the branch
  Output rerun = client({"rerun", "1"});
  ASSERT_EQ(rerun.exitCode, 0) << rerun.all();
  json r3 = waitForRun(3);
  EXPECT_EQ(r3["state"], "passed");
  EXPECT_EQ(r3["jobs"].size(), 3u);
  EXPECT_EQ(r3["commit"], sha);
  EXPECT_EQ(r3["event"], "fixed");
  EXPECT_EQ(client({"retry", "1/nope"}).exitCode, 1);
}

TEST_F(ServerTest, ArtifactsAreListedAndDownloadedWithTheirHashChecked) {
  repo_.write(".boucle.yml",
              "jobs:\n  build:\n    run: mkdir -p dist && echo payload > dist/app.txt\n"
              "    artifacts: [dist/*.txt]\n");
  repo_.commit("c");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  ASSERT_EQ(waitForRun(1)["state"], "passed");
  Output list = client({"artifacts", "1"});
  EXPECT_EQ(list.exitCode, 0) << list.all();
  EXPECT_THAT(list.out, HasSubstr("dist/app.txt"));
  fs::path into = repo_.scratch() / "downloaded";
  Output dl = client({"artifacts", "1", "--download", into.string()});
  EXPECT_EQ(dl.exitCode, 0) << dl.all();
  EXPECT_EQ(readFile(into / "dist/app.txt"), "payload\n");
  json listed = api("/api/runs/1/artifacts")["artifacts"][0];
  Http blob = curl("GET", server_->url() + "/api/blobs/" + listed["sha256"].get<std::string>(), "",
                   {"Authorization: Bearer " + server_->token()});
  EXPECT_EQ(blob.status, 200);
  EXPECT_EQ(blob.body, "payload\n");
  EXPECT_EQ(curl("GET", server_->url() + "/api/blobs/../../boucle.db", "",
                 {"Authorization: Bearer " + server_->token()})
                .status,
            404);
}

TEST_F(ServerTest, TestReportsAreInTheRunsJobs) {
  repo_.write("report.xml",
              "<testsuite name='calc'><testcase classname='calc' name='adds'/>"
              "<testcase classname='calc' name='divides' file='calc_test.cc' "
              "line='12'><failure message='expected 2, got 3'/></testcase>"
              "</testsuite>");
  repo_.write(".boucle.yml",
              "jobs:\n  test:\n    run: mkdir -p out && cp report.xml "
              "out/test-calc.xml && exit 1\n    reports: {junit: 'out/test-*.xml'}\n");
  repo_.commit("c");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  json run = waitForRun(1);
  ASSERT_EQ(run["state"], "failed");
  json tests = run["jobs"][0]["tests"];
  EXPECT_EQ(tests["tests"], 2);
  EXPECT_EQ(tests["failures"], 1);
  EXPECT_EQ(tests["failed"][0]["name"], "divides");
  EXPECT_EQ(tests["failed"][0]["location"], "calc_test.cc:12");
  EXPECT_EQ(tests["failed"][0]["message"], "expected 2, got 3");
}

TEST_F(ServerTest, TellsWhoBrokeTheBranchAndWhoFixedIt) {
  repo_.write(".boucle.yml", "jobs:\n  test: {run: 'sh check.sh'}\n");
  repo_.write("check.sh", "exit 0\n");
  repo_.commit("feat: green start", "Alice");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  auto runOnce = [&](int id) {
    EXPECT_EQ(client({"trigger", "web"}).exitCode, 0);
    return waitForRun(id);
  };
  EXPECT_EQ(runOnce(1)["event"], "");
  // Asked before and after the branch breaks: a cached badge must not outlive the change.
  EXPECT_THAT(curl("GET", server_->url() + "/badge/web/main.svg").body,
              HasSubstr("build: passing"));
  repo_.write("check.sh", "echo broken; exit 1\n");
  std::string culprit = repo_.commit("refactor: simplify checks", "Mallory");
  json broken = runOnce(2);
  EXPECT_EQ(broken["state"], "failed");
  EXPECT_THAT(curl("GET", server_->url() + "/badge/web/main.svg").body,
              HasSubstr("build: failing"));
  EXPECT_EQ(broken["event"], "broken");
  EXPECT_EQ(broken["broken_since"]["commit"], culprit);
  EXPECT_EQ(broken["broken_since"]["author"], "Mallory");
  repo_.write("README", "still red\n");
  repo_.commit("docs: readme", "Bob");
  json still = runOnce(3);
  EXPECT_EQ(still["event"], "");
  EXPECT_EQ(still["broken_since"]["run"], 2);
  EXPECT_EQ(still["broken_since"]["author"], "Mallory");
  repo_.write("check.sh", "exit 0\n");
  std::string fix = repo_.commit("fix: restore checks", "Alice");
  json fixed = runOnce(4);
  EXPECT_EQ(fixed["state"], "passed");
  EXPECT_EQ(fixed["event"], "fixed");
  EXPECT_EQ(fixed["broken_since"]["run"], 2);
  Output status = client({"status"});
  EXPECT_THAT(status.out,
              HasSubstr("FIXED by " + fix.substr(0, 10) + " (Alice), broken since run 2 (" +
                        culprit.substr(0, 10) + " by Mallory)"));
  EXPECT_THAT(status.out, HasSubstr("BROKEN by " + culprit.substr(0, 10) +
                                    " by Mallory: refactor: simplify checks"));
  EXPECT_THAT(server_->log(), HasSubstr("web main broken at run 2"));
  EXPECT_THAT(server_->log(), HasSubstr("web main fixed at run 4"));
}

TEST_F(ServerTest, PollingBuildsEachNewHeadOnce) {
  repo_.write(".boucle.yml", "jobs:\n  build: {run: 'true'}\n");
  std::string first = repo_.commit("feat: one");
  repo_.git({"branch", "feature/x"});  // not watched: never built
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "1"}).exitCode, 0);
  auto runs = [&] { return api("/api/runs")["runs"]; };
  ASSERT_TRUE(waitFor([&] { return runs().size() == 1; }));
  EXPECT_EQ(runs()[0]["commit"].is_string() ? runs()[0]["ref"] : json(), first);
  EXPECT_EQ(runs()[0]["trigger"], "poll");
  // Two commits between polls, arriving on main at once (a fast-forward): the newest is built.
  repo_.git({"checkout", "-q", "-b", "next"});
  repo_.write("a.txt", "1");
  repo_.commit("feat: two");
  repo_.write("b.txt", "2");
  std::string third = repo_.commit("feat: three");
  repo_.git({"checkout", "-q", "main"});
  repo_.git({"merge", "-q", "--ff-only", "next"});
  ASSERT_TRUE(waitFor([&] { return runs().size() == 2; }));
  EXPECT_EQ(runs()[0]["ref"], third);
  EXPECT_EQ(runs()[0]["branch"], "main");
  // Nothing new: later polls queue nothing (each poll is logged when it queues a run).
  ASSERT_TRUE(waitFor([&] { return server_->log().find("queued run 2") != std::string::npos; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // two more poll intervals
  EXPECT_EQ(runs().size(), 2u);
}

// Waits for the next minute boundary: this test takes up to a minute.
TEST_F(ServerTest, ScheduleInThePipelineFileQueuesRunsAfterTheFirstBuild) {
  repo_.write(".boucle.yml", "jobs:\n  nightly: {run: 'echo scheduled'}\nschedule: '* * * * *'\n");
  repo_.commit("ci: every minute");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  EXPECT_EQ(waitForRun(1)["state"], "passed");
  json scheduled;
  ASSERT_TRUE(waitFor(
      [&] {
        auto runs = api("/api/runs")["runs"];
        for (const auto& r : runs) {
          if (r["trigger"] == "schedule") scheduled = r;
        }
        return scheduled.is_object();
      },
      std::chrono::seconds(75)));
  EXPECT_EQ(scheduled["branch"], "main");
  EXPECT_EQ(waitForRun(scheduled["id"])["state"], "passed");
  EXPECT_THAT(server_->log(), HasSubstr("schedule: web main queued run"));
}

TEST_F(ServerTest, FollowingALogShowsItWhileTheJobRuns) {
  fs::path marker = workspace(1, "slow") / "go-on";
  repo_.write(".boucle.yml",
              "jobs:\n  slow:\n    run: |\n      echo first line\n"
              "      while [ ! -e go-on ]; do sleep 0.05; done\n"
              "      echo last line\n");
  repo_.commit("c");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  fs::path out = repo_.scratch() / "follow.out";
  pid_t follower =
      startProcess({BOUCLE_BIN, "logs", "-f", "1/slow"}, repo_.dir(), out, server_->clientEnv());
  // The first line arrives while the job is still waiting: it was streamed, not read at the end.
  ASSERT_TRUE(waitFor([&] { return readFile(out).find("first line") != std::string::npos; }))
      << readFile(out);
  EXPECT_THAT(readFile(out), Not(HasSubstr("last line")));
  std::ofstream(marker) << "go";
  EXPECT_EQ(waitExit(follower), 0);
  EXPECT_EQ(readFile(out), "first line\nlast line\n");
}

TEST_F(ServerTest, ALogPastMaxLogSizeIsCutWithANoteAndTheJobRunsOn) {
  server_->stop();
  startServer({"--max-log-size", "1K"});
  repo_.write(".boucle.yml",
              "jobs:\n  loud:\n    run: |\n      for i in $(seq 1 500); do echo line $i; done\n"
              "      echo still here > out.txt\n    artifacts: [out.txt]\n");
  repo_.commit("c");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  EXPECT_EQ(triggerAndWait("web", 1)["state"], "passed");
  std::string log = client({"logs", "1/loud"}).out;
  EXPECT_THAT(log, ::testing::StartsWith("line 1\nline 2\n"));
  EXPECT_THAT(log, HasSubstr("boucle: this log reached its limit of 1024 bytes"));
  EXPECT_THAT(log, Not(HasSubstr("line 500")));
  EXPECT_LT(log.size(), 1024u + 200u);
}

TEST_F(ServerTest, CancellingARunEndsItsJobsProcesses) {
  // The sleep detaches into a session of its own; a unique argument finds it from outside.
  repo_.write(".boucle.yml",
              "jobs:\n  hang:\n    run: |\n      setsid sleep 301.25 &\n      touch started\n"
              "      wait\n"
              "  after: {run: 'true', needs: [hang]}\n");
  repo_.commit("c");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] { return !processesWithArgument("301.25").empty(); }));
  Output c = client({"cancel", "1"});
  EXPECT_EQ(c.exitCode, 0) << c.all();
  json run = waitForRun(1);
  EXPECT_EQ(run["state"], "cancelled");
  EXPECT_EQ(run["jobs"][0]["state"], "cancelled");
  EXPECT_EQ(run["jobs"][1]["state"], "cancelled");
  EXPECT_TRUE(processesWithArgument("301.25").empty());
  EXPECT_EQ(client({"cancel", "1"}).exitCode, 1);  // already finished
}

TEST_F(ServerTest, KillMinusNineMidRunLosesNothingAndRestartsClean) {
  repo_.write(".boucle.yml",
              "jobs:\n  hang:\n    run: |\n      echo before the crash\n"
              "      sleep 301.5 &\n      wait\n");
  repo_.commit("c");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] { return !processesWithArgument("301.5").empty(); }));
  server_->kill9();
  // The job's supervisor sees the server gone and ends the job.
  EXPECT_TRUE(
      waitFor([&] { return processesWithArgument("301.5").empty(); }, std::chrono::seconds(15)));
  std::string log;
  ASSERT_TRUE(server_->start(&log)) << log;
  json run = api("/api/runs/1");
  EXPECT_EQ(run["state"], "interrupted");
  EXPECT_THAT(run["reason"].get<std::string>(), HasSubstr("server stopped"));
  Output logs = client({"logs", "1/hang"});
  EXPECT_EQ(logs.out, "before the crash\n");
  Output integrity = runCommand({"/usr/bin/python3", "-c",
                                 "import sqlite3,sys; print(sqlite3.connect(sys.argv[1])"
                                 ".execute('pragma integrity_check').fetchone()[0])",
                                 (server_->data() / "boucle.db").string()},
                                repo_.dir());
  EXPECT_EQ(integrity.out, "ok\n") << integrity.err;
  EXPECT_EQ(server_->stop(), 0);
}

TEST_F(ServerTest, AProjectCanAskForItsInterruptedRunsToBeQueuedAgain) {
  // The first attempt hangs until the server is killed; the second finds what the first left
  // in the project's cache folder and passes.
  repo_.write(".boucle.yml",
              "jobs:\n  once:\n    cache: [~/.state]\n    run: |\n"
              "      if [ -e ~/.state/tried ]; then echo second try; exit 0; fi\n"
              "      touch ~/.state/tried\n      sleep 300\n");
  std::string commit = repo_.commit("c");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0",
                    "--requeue-interrupted"})
                .exitCode,
            0);
  ASSERT_EQ(client({"project", "add", "other", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  EXPECT_EQ(api("/api/projects/web")["requeue_interrupted"], true);
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] { return !cachedFile("web", ".state/tried").empty(); }));
  // Another project's cache is its own: its run hangs too.
  ASSERT_EQ(client({"trigger", "other"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] { return !cachedFile("other", ".state/tried").empty(); }));
  server_->kill9();
  std::string log;
  ASSERT_TRUE(server_->start(&log)) << log;
  EXPECT_EQ(api("/api/runs/1")["state"], "interrupted");
  EXPECT_EQ(api("/api/runs/2")["state"], "interrupted");
  json again = waitForRun(3);
  EXPECT_EQ(again["project"], "web");  // "other" did not ask
  EXPECT_EQ(again["state"], "passed");
  EXPECT_EQ(again["trigger"], "requeue");
  EXPECT_EQ(again["rerun_of"], 1);
  EXPECT_EQ(again["commit"], commit);
  EXPECT_EQ(client({"logs", "3/once"}).out, "second try\n");
  EXPECT_EQ(api("/api/runs/4").value("state", ""), "");
}

TEST_F(ServerTest, ShellSyntaxInBranchNamesRefsAndMessagesIsNeverRun) {
  std::string pwned = (repo_.scratch() / "pwned").string();
  repo_.write(".boucle.yml", "jobs:\n  show: {run: 'echo \"branch=$BOUCLE_BRANCH\"'}\n");
  repo_.commit("fix: $(touch " + pwned + ") `touch " + pwned + "`; touch " + pwned);
  std::string branch = "$(touch${IFS}" + pwned + ")";
  repo_.git({"branch", branch});
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(client({"trigger", "web", "--ref", branch}).exitCode, 0);
  json run = waitForRun(1);
  EXPECT_EQ(run["state"], "passed") << run.dump();
  EXPECT_EQ(run["branch"], branch);
  EXPECT_THAT(client({"logs", "1/show"}).out, HasSubstr("branch=" + branch + "\n"));
  ASSERT_EQ(client({"trigger", "web", "--ref", "--upload-pack=touch " + pwned}).exitCode, 0);
  json bad = waitForRun(2);
  EXPECT_EQ(bad["state"], "failed");
  EXPECT_THAT(bad["reason"].get<std::string>(), HasSubstr("not a branch, tag or commit name"));
  EXPECT_FALSE(fs::exists(pwned));
}

// A project URL is not a command: even where git's configuration allows the ext:: transport
// (which runs the URL as a command), the server's git refuses it.
TEST(ServerSecurity, ProjectUrlsCannotRunCommands) {
  TempRepo repo;
  std::string pwned = (repo.scratch() / "pwned").string();
  ::setenv("GIT_CONFIG_COUNT", "1", 1);
  ::setenv("GIT_CONFIG_KEY_0", "protocol.ext.allow", 1);
  ::setenv("GIT_CONFIG_VALUE_0", "always", 1);
  ServerProcess server(repo.scratch() / "server-data");
  std::string log;
  bool started = server.start(&log);
  ::unsetenv("GIT_CONFIG_COUNT");
  ::unsetenv("GIT_CONFIG_KEY_0");
  ::unsetenv("GIT_CONFIG_VALUE_0");
  ASSERT_TRUE(started) << log;
  std::string ext = "ext::sh -c touch% " + pwned;
  ASSERT_EQ(
      repo.boucle({"project", "add", "evil", ext, "--poll", "1"}, server.clientEnv()).exitCode, 0);
  ASSERT_EQ(repo.boucle({"trigger", "evil", "--ref", "main"}, server.clientEnv()).exitCode, 0);
  ASSERT_TRUE(waitFor([&] {
    auto r =
        curl("GET", server.url() + "/api/runs/1", "", {"Authorization: Bearer " + server.token()});
    return r.body.find("\"failed\"") != std::string::npos;
  }));
  // The poller tried the URL too, and was refused as well.
  EXPECT_TRUE(waitFor([&] { return server.log().find("poll: evil") != std::string::npos; }))
      << server.log();
  EXPECT_FALSE(fs::exists(pwned));
}

}  // namespace
}  // namespace boucle::testing

namespace boucle::testing {
namespace {

// A commit asked for by its id is judged on the watched branch that holds it, or on none: it
// never becomes a "branch" of its own that "broken by" would then name.
TEST_F(ServerTest, ACommitTriggeredByItsIdIsJudgedOnTheBranchThatHoldsIt) {
  repo_.write(".boucle.yml", "jobs:\n  t: {run: 'test ! -e BROKEN'}\n");
  repo_.commit("feat: green");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  repo_.write("BROKEN", "x\n");
  std::string bad = repo_.commit("fix: oops", "Mallory");
  ASSERT_EQ(client({"trigger", "web", "--ref", bad}).exitCode, 0);
  json run = waitForRun(2);
  EXPECT_EQ(run["branch"], "main");
  EXPECT_EQ(run["event"], "broken");
  EXPECT_EQ(run["broken_since"]["commit"], bad);
  // On a branch nobody watches: built, not judged.
  repo_.git({"checkout", "-q", "-b", "side"});
  repo_.write("side.txt", "x\n");
  std::string side = repo_.commit("feat: side");
  ASSERT_EQ(client({"trigger", "web", "--ref", side}).exitCode, 0);
  json other = waitForRun(3);
  EXPECT_EQ(other["state"], "failed");
  EXPECT_EQ(other["branch"], "");
  EXPECT_EQ(other["event"], "");
}

// A committer who may push tags cannot make a branch's run build another commit: "main" is
// the branch even when a tag of that name exists (git itself would prefer the tag), and an
// old commit of main, asked for by its id, is built without being judged as main.
TEST_F(ServerTest, ATagNamedAsTheBranchOrAnOldCommitIsNotTakenForTheBranch) {
  repo_.write(".boucle.yml", "jobs:\n  t: {run: 'test ! -e BROKEN'}\n");
  repo_.write("BROKEN", "x\n");
  std::string old = repo_.commit("feat: broken once");
  repo_.git({"tag", "main", old});
  repo_.git({"rm", "-q", "BROKEN"});
  std::string head = repo_.commit("fix: green");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  json run = triggerAndWait("web", 1);
  EXPECT_EQ(run["commit"], head);
  EXPECT_EQ(run["branch"], "main");
  EXPECT_EQ(run["state"], "passed");
  ASSERT_EQ(client({"trigger", "web", "--ref", old}).exitCode, 0);
  json older = waitForRun(2);
  EXPECT_EQ(older["state"], "failed");
  EXPECT_EQ(older["branch"], "");  // not main's head: main is not broken by it
  EXPECT_EQ(older["event"], "");
  Http badge = curl("GET", server_->url() + "/badge/web/main.svg");
  EXPECT_THAT(badge.body, HasSubstr("passing"));
}

}  // namespace
}  // namespace boucle::testing
