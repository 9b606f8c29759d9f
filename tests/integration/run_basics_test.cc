// `boucle run` as a user runs it: exit codes, clean checkouts, artifacts, retries, parallelism.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "harness.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

TEST(RunBasics, PassingPipelineHandsArtifactsToTheJobsThatNeedThem) {
  TempRepo repo;
  repo.write(".boucle.yml", R"(version: 1
jobs:
  build:
    run:
      - mkdir -p dist
      - echo "built from $BOUCLE_COMMIT" > dist/app.txt
    artifacts: [dist/*.txt]
  test:
    needs: [build]
    run: grep "built from $BOUCLE_COMMIT" dist/app.txt
)");
  std::string sha = repo.commit("first");
  Output o = repo.boucle({"run"});
  EXPECT_EQ(o.exitCode, 0) << o.all();
  EXPECT_THAT(o.out, HasSubstr("run passed"));
  EXPECT_THAT(repo.readLog(1, "build"), HasSubstr("$ mkdir -p dist"));
  EXPECT_THAT(repo.readLog(1, "test"), HasSubstr("built from " + sha));
  auto manifest = nlohmann::json::parse(readFile(repo.runDir(1) / "artifacts/build.json"));
  ASSERT_EQ(manifest["artifacts"].size(), 1u);
  EXPECT_EQ(manifest["artifacts"][0]["path"], "dist/app.txt");
  std::string hash = manifest["artifacts"][0]["sha256"];
  fs::path blob = repo.data() / "blobs/sha256" / hash.substr(0, 2) / hash;
  EXPECT_EQ(readFile(blob), "built from " + sha + "\n");
  auto run = nlohmann::json::parse(readFile(repo.runDir(1) / "run.json"));
  EXPECT_EQ(run["state"], "passed");
  EXPECT_EQ(run["commit"], sha);
  EXPECT_FALSE(fs::exists(repo.runDir(1) / "ws"));  // workspaces are cleaned up
}

TEST(RunBasics, FailingJobFailsTheRunAndSkipsDependents) {
  TempRepo repo;
  repo.write(".boucle.yml",
             "jobs:\n  build: {run: 'echo broken; exit 3'}\n"
             "  test: {run: 'true', needs: [build]}\n  lint: {run: 'true'}\n");
  repo.commit("c");
  Output o = repo.boucle({"run"});
  EXPECT_EQ(o.exitCode, 1);
  EXPECT_THAT(o.out, HasSubstr("build failed"));
  EXPECT_THAT(o.out, HasSubstr("exit code 3"));
  EXPECT_THAT(o.out, HasSubstr("needs build, which failed"));
  auto run = nlohmann::json::parse(readFile(repo.runDir(1) / "run.json"));
  EXPECT_EQ(run["jobs"][1]["state"], "skipped");
  EXPECT_EQ(run["jobs"][2]["state"], "passed");
  // test's log file was made while build ran (it would have started next); skipped, it goes.
  EXPECT_FALSE(fs::exists(repo.runDir(1) / "logs/test.log"));
  EXPECT_TRUE(fs::exists(repo.runDir(1) / "logs/lint.log"));
}

TEST(RunBasics, BadPipelineFileExitsTwoWithPositions) {
  TempRepo repo;
  repo.write(".boucle.yml", "jobs:\n  build:\n    run: make\n    timeout: soon\n    neds: [x]\n");
  repo.commit("c");
  Output o = repo.boucle({"run"});
  EXPECT_EQ(o.exitCode, 2);
  EXPECT_THAT(o.err, HasSubstr(".boucle.yml:4:14: error: timeout:"));
  EXPECT_THAT(o.err, HasSubstr(".boucle.yml:5:5: error: job 'build': unknown key 'neds' (did "
                               "you mean 'needs'?)"));
  Output lint = repo.boucle({"lint"});
  EXPECT_EQ(lint.exitCode, 1);
  EXPECT_THAT(lint.out, HasSubstr(".boucle.yml:4:14: error:"));
  Output usage = repo.boucle({"run", "--no-such-flag"});
  EXPECT_EQ(usage.exitCode, 2);
  EXPECT_FALSE(std::filesystem::exists(repo.runDir(1)));  // a run that never started leaves nothing
}

TEST(RunBasics, RunsTheCommitNotTheWorkingTreeUnlessDirty) {
  TempRepo repo;
  repo.write(".boucle.yml", "jobs:\n  show: {run: 'cat file.txt; ls'}\n");
  repo.write("file.txt", "committed\n");
  repo.commit("c");
  repo.write("file.txt", "edited\n");
  repo.write("untracked.txt", "new\n");
  Output clean = repo.boucle({"run"});
  EXPECT_EQ(clean.exitCode, 0) << clean.all();
  EXPECT_THAT(clean.err, HasSubstr("uncommitted changes are not part of this run"));
  EXPECT_THAT(repo.readLog(1, "show"), HasSubstr("committed"));
  EXPECT_THAT(repo.readLog(1, "show"), Not(HasSubstr("untracked.txt")));
  Output dirty = repo.boucle({"run", "--dirty"});
  EXPECT_EQ(dirty.exitCode, 0);
  EXPECT_THAT(repo.readLog(2, "show"), HasSubstr("edited"));
  EXPECT_THAT(repo.readLog(2, "show"), HasSubstr("untracked.txt"));
}

TEST(RunBasics, WorkspaceIsAWorkingGitCheckoutOfTheCommit) {
  TempRepo repo;
  repo.write(".boucle.yml",
             "jobs:\n  git:\n    run:\n      - git rev-parse HEAD\n"
             "      - echo dirty=$(git status --porcelain | wc -l)\n"
             "      - git remote get-url origin\n");
  std::string sha = repo.commit("c");
  Output o = repo.boucle({"run"});
  EXPECT_EQ(o.exitCode, 0) << o.all();
  std::string log = repo.readLog(1, "git");
  EXPECT_THAT(log, HasSubstr(sha + "\n"));
  EXPECT_THAT(log, HasSubstr("dirty=0\n"));
  EXPECT_THAT(log, HasSubstr(repo.dir().string() + "\n"));
}

TEST(RunBasics, ArtifactPatternsThatMatchNothingOrEscapeFailTheJob) {
  TempRepo repo;
  repo.write(".boucle.yml", R"(jobs:
  none: {run: 'true', artifacts: [dist/*.zip]}
  escape: {run: 'mkdir -p out && ln -s /etc/hostname out/host', artifacts: [out/*]}
)");
  repo.commit("c");
  Output o = repo.boucle({"run"});
  EXPECT_EQ(o.exitCode, 1);
  EXPECT_THAT(repo.readLog(1, "none"), HasSubstr("'dist/*.zip' matched no file"));
  EXPECT_THAT(repo.readLog(1, "escape"), HasSubstr("points outside the workspace"));
}

TEST(RunBasics, RetriesAFailedJobInAFreshWorkspace) {
  TempRepo repo;
  repo.write(".boucle.yml", R"(jobs:
  flaky:
    retry: 2
    run: 'test -e leftover && exit 9; touch leftover; test "$BOUCLE_ATTEMPT" = 2'
)");
  repo.commit("c");
  Output o = repo.boucle({"run"});
  EXPECT_EQ(o.exitCode, 0) << o.all();
  EXPECT_THAT(o.out, HasSubstr("(2 attempts)"));
  EXPECT_TRUE(fs::exists(repo.runDir(1) / "logs/flaky.attempt-2.log"));
}

// Each job waits for the other to have started: this only passes when they run at the same
// time, and deadlocks until the timeout with -j 1.
TEST(RunBasics, IndependentJobsRunInParallel) {
  TempRepo repo;
  std::string s = repo.scratch().string();
  repo.write(".boucle.yml",
             "jobs:\n"
             "  a: {timeout: 20s, run: 'touch " +
                 s + "/a; while [ ! -e " + s +
                 "/b ]; do sleep 0.02; done'}\n"
                 "  b: {timeout: 20s, run: 'touch " +
                 s + "/b; while [ ! -e " + s + "/a ]; do sleep 0.02; done'}\n");
  repo.commit("c");
  Output o = repo.boucle({"run", "-j", "2"});
  EXPECT_EQ(o.exitCode, 0) << o.all();
}

TEST(RunBasics, SelectedJobsRunWithWhatTheyNeed) {
  TempRepo repo;
  repo.write(".boucle.yml",
             "jobs:\n  a: {run: 'true'}\n  b: {run: 'true', needs: [a]}\n"
             "  c: {run: 'true'}\n");
  repo.commit("c");
  Output o = repo.boucle({"run", "--secret", "S=x", "b", "--json"});
  EXPECT_EQ(o.exitCode, 0) << o.all();
  auto run = nlohmann::json::parse(o.out);
  ASSERT_EQ(run["jobs"].size(), 2u);
  EXPECT_EQ(run["jobs"][0]["name"], "a");
  EXPECT_EQ(run["jobs"][1]["name"], "b");
  EXPECT_EQ(repo.boucle({"run", "nope"}).exitCode, 2);
}

TEST(RunBasics, EnvironmentIsCleanPlusDeclaredVariables) {
  TempRepo repo;
  repo.write(".boucle.yml", "jobs:\n  env: {run: env, env: {GREETING: bonjour}}\n");
  repo.commit("c");
  Output o = repo.boucle({"run"}, {"LEAKY_VARIABLE=from-the-shell"});
  EXPECT_EQ(o.exitCode, 0);
  std::string log = repo.readLog(1, "env");
  EXPECT_THAT(log, HasSubstr("GREETING=bonjour"));
  EXPECT_THAT(log, HasSubstr("BOUCLE_JOB=env"));
  EXPECT_THAT(log, HasSubstr("BOUCLE_BRANCH=main"));
  EXPECT_THAT(log, HasSubstr("CI=true"));
  EXPECT_THAT(log, Not(HasSubstr("LEAKY_VARIABLE")));
}

TEST(RunBasics, APlainCommandRunsWithoutAShellAndBehavesAsWithOne) {
  TempRepo repo;
  repo.write("parent.sh", "#!/bin/sh\ntr '\\0' ' ' < /proc/$PPID/cmdline\necho\n");
  ASSERT_EQ(runCommand({"/bin/chmod", "+x", "parent.sh"}, repo.dir()).exitCode, 0);
  repo.write(".boucle.yml",
             "jobs:\n"
             "  direct: {run: env}\n"
             "  shell: {run: 'env; true'}\n"
             "  parent-direct: {run: ./parent.sh}\n"
             "  parent-shell: {run: './parent.sh; true'}\n"
             "  false: {run: 'false'}\n"
             "  missing: {run: no-such-program --flag}\n");
  repo.commit("c");
  Output o = repo.boucle({"run"});
  EXPECT_EQ(o.exitCode, 1);
  // The plain command's parent is the supervisor; with shell syntax it is sh.
  EXPECT_THAT(repo.readLog(1, "parent-direct"), HasSubstr("boucle-supervise"));
  EXPECT_THAT(repo.readLog(1, "parent-shell"), HasSubstr("/bin/sh -e -c ./parent.sh; true"));
  // The same environment either way, PWD included, apart from the job's own names.
  auto vars = [&](const std::string& job) {
    std::string log = repo.readLog(1, job);
    std::vector<std::string> lines;
    for (size_t at = 0, nl; (nl = log.find('\n', at)) != std::string::npos; at = nl + 1) {
      std::string line = log.substr(at, nl - at);
      if (line.starts_with("BOUCLE_JOB=") || line.starts_with("BOUCLE_WORKSPACE=") ||
          line.starts_with("PWD=")) {
        line = line.substr(0, line.find('=')) + "=" +
               (line.ends_with("/ws/" + job) || line.ends_with("=" + job) ? "(own)" : line);
      }
      lines.push_back(line);
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  EXPECT_EQ(vars("direct"), vars("shell"));
  EXPECT_THAT(repo.readLog(1, "direct"),
              HasSubstr("PWD=" + (repo.runDir(1) / "ws/direct").string()));
  auto run = nlohmann::json::parse(readFile(repo.runDir(1) / "run.json"));
  std::map<std::string, std::string> reasons;
  for (const auto& j : run["jobs"]) reasons[j["name"]] = j.value("reason", "");
  EXPECT_EQ(reasons["false"], "exit code 1");
  EXPECT_EQ(reasons["missing"], "exit code 127");
  EXPECT_EQ(reasons["direct"], "");
  EXPECT_THAT(repo.readLog(1, "missing"), HasSubstr("no-such-program: not found"));
}

TEST(RunBasics, AProgramTheKernelRefusesFailsItsJobAndTheRunGoesOn) {
  TempRepo repo;
  repo.write("broken", std::string("\x7f"
                                   "ELF") +
                           "not really a program");
  ASSERT_EQ(runCommand({"/bin/chmod", "+x", "broken"}, repo.dir()).exitCode, 0);
  repo.write(".boucle.yml",
             "jobs:\n  broken: {run: ./broken}\n  after: {run: 'echo fine', needs: [broken], "
             "allow_failure: false}\n  other: {run: 'echo other'}\n");
  repo.commit("c");
  Output o = repo.boucle({"run", "-j", "1"});
  EXPECT_EQ(o.exitCode, 1);
  auto run = nlohmann::json::parse(readFile(repo.runDir(1) / "run.json"));
  std::map<std::string, nlohmann::json> jobs;
  for (const auto& j : run["jobs"]) jobs[j["name"]] = j;
  EXPECT_EQ(jobs["broken"]["state"], "failed");
  EXPECT_THAT(jobs["broken"].value("reason", ""), HasSubstr("Exec format error"));
  EXPECT_THAT(repo.readLog(1, "broken"), HasSubstr("cannot run"));
  EXPECT_EQ(jobs["after"]["state"], "skipped");
  EXPECT_EQ(jobs["other"]["state"], "passed");  // the same supervisor ran it afterwards
  EXPECT_EQ(repo.readLog(1, "other"), "other\n");
}

}  // namespace
}  // namespace boucle::testing

namespace boucle::testing {
namespace {

// A new user's first mistakes: running outside a repository, or in one without a pipeline
// file, say what is wrong and leave nothing behind.
TEST(RunBasics, OutsideAGitRepositoryItSaysSoAndLeavesNoRunFolder) {
  TempRepo repo;
  fs::path plain = repo.scratch() / "not-a-repo";
  fs::create_directories(plain);
  std::ofstream(plain / ".boucle.yml") << "jobs:\n  a: {run: 'true'}\n";
  Output o = runCommand({BOUCLE_BIN, "run", "--data", repo.data().string()}, plain);
  EXPECT_EQ(o.exitCode, 2);
  EXPECT_THAT(o.err, HasSubstr("is not in a git repository"));
  EXPECT_FALSE(fs::exists(repo.data() / "runs" / "not-a-repo"));
  repo.write("README", "no pipeline file here\n");
  repo.commit("c");
  Output none = repo.boucle({"run"});
  EXPECT_EQ(none.exitCode, 2);
  EXPECT_THAT(none.err, HasSubstr("no .boucle.yml at the top of"));
  EXPECT_FALSE(fs::exists(repo.data() / "runs"));
}

}  // namespace
}  // namespace boucle::testing
