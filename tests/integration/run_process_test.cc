// What a job's processes can and cannot do: timeouts and cancellation end the whole tree,
// the job starts with a clean process state, and the sandbox keeps it in its box.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "harness.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

pid_t readPid(const fs::path& p) {
  std::string s = readFile(p);
  return s.empty() ? -1 : std::stoi(s);
}

// A job that starts a background child and a daemon in its own session (which a plain
// process-group kill would miss), records their pids, then hangs.
std::string hangingJob(const std::string& scratch, const std::string& extra) {
  return "  hang:\n" + extra +
         "    run: |\n"
         "      sleep 300 & echo $! > " +
         scratch +
         "/child.pid\n"
         "      setsid sh -c 'echo $$ > " +
         scratch +
         "/daemon.pid; exec sleep 300' &\n"
         "      touch " +
         scratch +
         "/started\n"
         "      wait\n";
}

TEST(RunProcess, TimeoutKillsTheWholeTreeIncludingEscapedDaemons) {
  TempRepo repo;
  std::string s = repo.scratch().string();
  repo.write(".boucle.yml", "jobs:\n" + hangingJob(s, "    timeout: 1s\n"));
  repo.commit("c");
  Output o = repo.boucle({"run", "--kill-grace", "2s"});
  EXPECT_EQ(o.exitCode, 1) << o.all();
  EXPECT_THAT(o.out, HasSubstr("hang timed_out"));
  EXPECT_THAT(repo.readLog(1, "hang"), HasSubstr("timed out after 1s"));
  pid_t child = readPid(repo.scratch() / "child.pid");
  pid_t daemon = readPid(repo.scratch() / "daemon.pid");
  ASSERT_GT(child, 0);
  ASSERT_GT(daemon, 0);
  EXPECT_FALSE(processAlive(child));
  EXPECT_FALSE(processAlive(daemon));
}

TEST(RunProcess, ProcessesLeftBehindByAPassingJobAreEnded) {
  TempRepo repo;
  std::string s = repo.scratch().string();
  repo.write(".boucle.yml",
             "jobs:\n  leaky:\n    run: |\n"
             "      setsid sh -c 'echo $$ > " +
                 s +
                 "/daemon.pid; exec sleep 300' &\n"
                 "      while [ ! -s " +
                 s + "/daemon.pid ]; do sleep 0.01; done\n");
  repo.commit("c");
  Output o = repo.boucle({"run", "--kill-grace", "2s"});
  EXPECT_EQ(o.exitCode, 0) << o.all();
  pid_t daemon = readPid(repo.scratch() / "daemon.pid");
  ASSERT_GT(daemon, 0);
  EXPECT_FALSE(processAlive(daemon));
}

TEST(RunProcess, InterruptCancelsRunningJobsAndExits130) {
  TempRepo repo;
  std::string s = repo.scratch().string();
  repo.write(".boucle.yml",
             "jobs:\n" + hangingJob(s, "") + "  later:\n    needs: [hang]\n    run: 'true'\n");
  repo.commit("c");
  fs::path log = repo.scratch() / "boucle.out";
  pid_t boucle = repo.startBoucle({"--kill-grace", "2s"}, log);
  ASSERT_TRUE(waitFor([&] { return fs::exists(repo.scratch() / "started"); })) << readFile(log);
  ::kill(boucle, SIGINT);
  EXPECT_EQ(waitExit(boucle), 130) << readFile(log);
  EXPECT_FALSE(processAlive(readPid(repo.scratch() / "child.pid")));
  EXPECT_FALSE(processAlive(readPid(repo.scratch() / "daemon.pid")));
  auto run = nlohmann::json::parse(readFile(repo.runDir(1) / "run.json"));
  EXPECT_EQ(run["state"], "cancelled");
  EXPECT_EQ(run["jobs"][0]["state"], "cancelled");
  EXPECT_EQ(run["jobs"][1]["state"], "cancelled");
}

// boucle itself killed without a chance to clean up: the supervisor notices and ends the job;
// what the job wrote until then is in the log.
TEST(RunProcess, KillingBoucleWithSigkillStillEndsTheJobAndKeepsItsLog) {
  TempRepo repo;
  std::string s = repo.scratch().string();
  repo.write(".boucle.yml",
             "jobs:\n  hang:\n    run: |\n"
             "      echo 'line before the crash'\n"
             "      sleep 300 & echo $! > " +
                 s +
                 "/child.pid\n"
                 "      touch " +
                 s +
                 "/started\n"
                 "      wait\n");
  repo.commit("c");
  fs::path log = repo.scratch() / "boucle.out";
  pid_t boucle = repo.startBoucle({"--kill-grace", "1s"}, log);
  ASSERT_TRUE(waitFor([&] { return fs::exists(repo.scratch() / "started"); })) << readFile(log);
  ::kill(boucle, SIGKILL);
  EXPECT_EQ(waitExit(boucle), 128 + SIGKILL);
  pid_t child = readPid(repo.scratch() / "child.pid");
  ASSERT_GT(child, 0);
  EXPECT_TRUE(waitFor([&] { return !processAlive(child); }, std::chrono::seconds(10)));
  EXPECT_THAT(repo.readLog(1, "hang"), HasSubstr("line before the crash\n"));
  auto run = nlohmann::json::parse(readFile(repo.runDir(1) / "run.json"));
  EXPECT_EQ(run["state"], "running");  // the record shows the run never finished
}

TEST(RunProcess, JobsStartWithDefaultSignalsNoInheritedDescriptorsAndNoStdin) {
  TempRepo repo;
  repo.write(".boucle.yml", R"(jobs:
  clean:
    run:
      - grep -E '^Sig(Ign|Blk)' /proc/self/status
      - yes | head -1
      - ls /proc/self/fd | tr '\n' ' '; echo
      - cat; echo "stdin gave $? bytes-ended"
)");
  repo.commit("c");
  Output o = repo.boucle({"run"});
  EXPECT_EQ(o.exitCode, 0) << o.all();
  std::string log = repo.readLog(1, "clean");
  EXPECT_THAT(log, HasSubstr("SigIgn:\t0000000000000000"));
  EXPECT_THAT(log, HasSubstr("SigBlk:\t0000000000000000"));
  EXPECT_THAT(log, Not(HasSubstr("Broken pipe")));
  EXPECT_THAT(log, HasSubstr("\n0 1 2 3 \n"));  // ls's own directory descriptor is 3
  EXPECT_THAT(log, HasSubstr("stdin gave 0 bytes-ended"));
}

TEST(RunProcess, SandboxHidesTheHostAndKeepsTheWorkspaceWritable) {
  if (!fs::exists("/usr/bin/bwrap")) GTEST_FAIL() << "bubblewrap is not installed";
  TempRepo repo;
  fs::path home = repo.scratch() / "home";
  fs::create_directories(home);
  std::ofstream(home / "secret.txt") << "private";
  repo.write(".boucle.yml",
             "jobs:\n  box:\n    isolation: sandbox\n    network: false\n"
             "    artifacts: [result.txt]\n    run:\n"
             "      - cat " +
                 home.string() +
                 "/secret.txt || echo cannot-read-home\n"
                 "      - ls /root || echo no-root-home\n"
                 "      - touch /usr/x || echo usr-read-only\n"
                 "      - test -e " +
                 repo.scratch().string() +
                 " || echo no-host-tmp\n"
                 "      - echo interfaces=$(tail -n +3 /proc/net/dev | cut -d':' -f1 | tr -d "
                 "\"[:space:]\")\n"
                 "      - echo uid=$(id -u) home=$HOME\n"
                 "      - echo ok > result.txt\n");
  repo.commit("c");
  Output o = repo.boucle({"run"}, {"HOME=" + home.string()});
  EXPECT_EQ(o.exitCode, 0) << o.all();
  std::string log = repo.readLog(1, "box");
  EXPECT_THAT(log, HasSubstr("cannot-read-home"));
  EXPECT_THAT(log, Not(HasSubstr("private")));
  EXPECT_THAT(log, HasSubstr("no-root-home"));
  EXPECT_THAT(log, HasSubstr("usr-read-only"));
  EXPECT_THAT(log, HasSubstr("no-host-tmp"));
  EXPECT_THAT(log, HasSubstr("interfaces=lo\n"));
  EXPECT_THAT(log, HasSubstr("home=/home/boucle"));
  EXPECT_THAT(log, Not(HasSubstr("uid=0 ")));
}

// The job kills its own supervisor, so nothing above it knows its processes by their parent:
// they are in the job's cgroup all the same, and end with the job.
TEST(RunProcess, AJobThatKillsItsSupervisorStillHasEveryProcessEnded) {
  TempRepo repo;
  std::string s = repo.scratch().string();
  repo.write(".boucle.yml",
             "jobs:\n  rogue:\n    run: |\n"
             "      setsid sh -c 'echo $$ > " +
                 s +
                 "/daemon.pid; exec sleep 303' &\n"
                 "      while [ ! -s " +
                 s +
                 "/daemon.pid ]; do sleep 0.01; done\n"
                 "      kill -9 $PPID\n      sleep 303\n");
  repo.commit("c");
  Output o = repo.boucle({"run", "--kill-grace", "1s"});
  EXPECT_EQ(o.exitCode, 1) << o.all();
  EXPECT_THAT(repo.readLog(1, "rogue"), HasSubstr("supervisor died"));
  pid_t daemon = readPid(repo.scratch() / "daemon.pid");
  ASSERT_GT(daemon, 0);
  EXPECT_FALSE(processAlive(daemon));
  EXPECT_TRUE(processesWithArgument("303").empty());
}

// A job may make cgroups inside its own and move processes there: they end with the job all
// the same, and its cgroup goes, the inner ones first.
TEST(RunProcess, CgroupsAJobMakesInsideItsOwnGoWithIt) {
  TempRepo repo;
  std::string s = repo.scratch().string();
  repo.write(".boucle.yml",
             "jobs:\n  nest:\n    run: |\n"
             "      mnt=$(awk '/ - cgroup2 /{print $5; exit}' /proc/self/mountinfo)\n"
             "      cg=$mnt$(sed -n 's/^0:://p' /proc/self/cgroup)\n"
             "      echo $cg > " +
                 s +
                 "/cg.path\n"
                 "      case $cg in */boucle-*) ;; *) exit 0;; esac\n"
                 "      mkdir -p $cg/inner/deeper\n"
                 "      sh -c 'echo $$ > '$cg'/inner/deeper/cgroup.procs; echo $$ > " +
                 s +
                 "/daemon.pid; exec sleep 305' &\n"
                 "      while [ ! -s " +
                 s + "/daemon.pid ]; do sleep 0.01; done\n");
  repo.commit("c");
  Output o = repo.boucle({"run"});
  EXPECT_EQ(o.exitCode, 0) << o.all();
  std::string cg = readFile(repo.scratch() / "cg.path");
  cg.erase(cg.find_last_not_of('\n') + 1);
  // boucle makes job cgroups where its own cgroup v2 is writable (delegated).
  if (cg.find("/boucle-") == std::string::npos) {
    GTEST_SKIP() << "no writable cgroup v2 here: jobs end through their supervisor only";
  }
  pid_t daemon = readPid(repo.scratch() / "daemon.pid");
  ASSERT_GT(daemon, 0);
  EXPECT_TRUE(waitFor([&] { return !processAlive(daemon); }));
  EXPECT_FALSE(std::filesystem::exists(cg + "/inner")) << cg;
  EXPECT_FALSE(std::filesystem::exists(cg)) << cg;
}

}  // namespace
}  // namespace boucle::testing
