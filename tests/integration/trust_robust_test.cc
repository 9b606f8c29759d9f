// Nothing a job writes, nor a stalled remote, nor a second server can crash or wedge the
// server: tried through the real binary.
#include <gmock/gmock.h>

#include <fstream>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using json = nlohmann::json;

class RobustTest : public ServerFixture {};

TEST_F(RobustTest, AReportNestedThreeHundredThousandDeepOrHugeCrashesNothing) {
  repo_.write(".boucle.yml", R"yml(jobs:
  bomb:
    run: |
      python3 -c "import sys; n=300000; sys.stdout.write('<testsuite>'*n + '<testcase name=\"t\"/>' + '</testsuite>'*n)" > deep.xml
      python3 -c "import sys; sys.stdout.write('<testsuite><testcase name=\"big\"><failure message=\"' + 'm'*400000 + '\">' + 'x'*400000 + '</failure></testcase></testsuite>')" > big.xml
    reports: {junit: ["*.xml"]}
)yml");
  repo_.commit("c");
  // boucle run first, then the server.
  Output local = repo_.boucle({"run", "-q"});
  EXPECT_EQ(local.exitCode, 0) << local.all();
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  json run = triggerAndWait("web", 1);
  EXPECT_EQ(run["state"], "passed") << run.dump().substr(0, 500);
  EXPECT_EQ(run["jobs"][0]["tests"]["failures"], 1);
  EXPECT_LT(run.dump().size(), 20000u);
  EXPECT_THAT(client({"logs", "1/bomb"}).out, HasSubstr("nested deeper than 32 levels"));
  EXPECT_EQ(curl("GET", server_->url() + "/api/health").status, 200);
}

// Bytes that are not UTF-8 in a report's text and an artifact's name: JSON answers carry a
// replacement character instead, and the server goes on.
TEST_F(RobustTest, BytesThatAreNotUtf8InReportsAndArtifactNamesBreakNoAnswer) {
  repo_.write(".boucle.yml", R"yml(jobs:
  odd:
    run: |
      printf '<testsuite><testcase name="bad\377name"><failure message="m\377\376">x\377</failure></testcase></testsuite>' > odd.xml
      mkdir out && printf x > "out/f$(printf '\377').txt"
    reports: {junit: [odd.xml]}
    artifacts: ["out/*"]
)yml");
  repo_.commit("c");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  json run = triggerAndWait("web", 1);  // parsed as JSON: it would throw on invalid UTF-8
  EXPECT_EQ(run["state"], "passed") << run.dump();
  EXPECT_EQ(run["jobs"][0]["tests"]["failures"], 1);
  EXPECT_EQ(run["jobs"][0]["tests"]["failed"][0]["name"], "bad\xef\xbf\xbdname");  // U+FFFD
  Http artifacts = curl("GET", server_->url() + "/api/runs/1/artifacts", "",
                        {"Authorization: Bearer " + server_->token()});
  EXPECT_EQ(artifacts.status, 200);
  EXPECT_TRUE(json::accept(artifacts.body)) << artifacts.body;
  EXPECT_THAT(artifacts.body, HasSubstr("f\xef\xbf\xbd.txt"));
  EXPECT_EQ(curl("GET", server_->url() + "/api/health").status, 200);
}

TEST_F(RobustTest, ASecondServerOnTheSameDataRefusesToStart) {
  Output second = runCommand(
      {BOUCLE_BIN, "server", "--data", server_->data().string(), "--listen", "127.0.0.1:0"},
      repo_.dir());
  EXPECT_EQ(second.exitCode, 1);
  EXPECT_THAT(second.err, HasSubstr("another boucle server is using"));
  EXPECT_EQ(curl("GET", server_->url() + "/api/health").status, 200);
  EXPECT_EQ(server_->stop(), 0);
  std::string log;
  ASSERT_TRUE(server_->start(&log)) << log;  // the lock went with the first one
}

TEST_F(RobustTest, AStalledRemoteIsGivenUpAndTheOtherRunsGoOn) {
  // A "git server" that accepts and never answers.
  int port = freePort();
  pid_t silent =
      startProcess({"/usr/bin/python3", "-c",
                    "import socket,time\n"
                    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                    "s.bind(('127.0.0.1'," +
                        std::to_string(port) +
                        ")); s.listen(8)\n"
                        "held=[]\n"
                        "while True: held.append(s.accept())\n"},
                   repo_.dir(), repo_.scratch() / "silent.log");
  server_->stop();
  startServer({"--git-timeout", "2s"});
  repo_.write(".boucle.yml", "jobs:\n  ok: {run: 'true'}\n");
  repo_.commit("c");
  ASSERT_EQ(client({"project", "add", "stuck",
                    "http://127.0.0.1:" + std::to_string(port) + "/app.git", "--poll", "0"})
                .exitCode,
            0);
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(client({"trigger", "stuck"}).exitCode, 0);
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  EXPECT_EQ(waitForRun(2)["state"], "passed");
  json stuck = waitForRun(1);
  EXPECT_EQ(stuck["state"], "failed");
  EXPECT_THAT(stuck["reason"].get<std::string>(), HasSubstr("did not finish within 2s"));
  ::kill(silent, SIGKILL);
  waitExit(silent);
}

TEST_F(RobustTest, DeploysToDifferentEnvironmentsRunSideBySide) {
  fs::path gate = repo_.scratch() / "gate";
  repo_.write(".boucle.yml", R"yml(jobs:
  build: {run: echo x > app.txt, artifacts: [app.txt]}
environments:
  dev: {}
  qa: {}
deploy:
  driver: command
  command: 'if [ "$BOUCLE_ENVIRONMENT" = dev ]; then while [ ! -e "$BOUCLE_ENV_GATE" ]; do sleep 0.05; done; fi'
)yml");
  repo_.commit("c");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  for (const char* env : {"dev", "qa"})
    ASSERT_EQ(client({"env", "set", "web", env, "gate=" + gate.string()}).exitCode, 0);
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_EQ(client({"release", "web", "--version", "1.0.0"}).exitCode, 0);
  ASSERT_EQ(client({"deploy", "web", "1.0.0", "--to", "dev", "--no-wait"}).exitCode, 0);
  Output qa = client({"deploy", "web", "1.0.0", "--to", "qa"});
  EXPECT_EQ(qa.exitCode, 0) << qa.all() << server_->log();  // done while dev waits at its gate
  EXPECT_EQ(api("/api/deploys/1").value("state", ""), "running");
  std::ofstream(gate) << "go";
  EXPECT_TRUE(waitFor([&] { return api("/api/deploys/1").value("state", "") == "succeeded"; }));
}

TEST_F(RobustTest, DamagedOrPrunedArtifactsAreNeitherServedNorReleasedAndFsckSaysSo) {
  repo_.write(
      ".boucle.yml",
      "jobs:\n  b: {run: 'echo content > a.txt && echo other > b.txt', artifacts: ['*.txt']}\n");
  repo_.commit("c");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  json run = triggerAndWait("web", 1);
  ASSERT_EQ(run["state"], "passed");
  Output clean = runCommand({BOUCLE_BIN, "fsck", server_->data().string()}, repo_.dir());
  EXPECT_EQ(clean.exitCode, 0) << clean.all();
  EXPECT_THAT(clean.out, HasSubstr("0 corrupt"));
  auto blobOf = [&](int i) {
    std::string sha = run["jobs"][0]["artifacts"][i]["sha256"];
    return std::make_pair(sha, server_->data() / "blobs" / "sha256" / sha.substr(0, 2) / sha);
  };
  auto [shaA, fileA] = blobOf(0);
  auto [shaB, fileB] = blobOf(1);
  // a.txt's blob is damaged on disk: not served, named by fsck.
  fs::permissions(fileA, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(fileA) << "tampered\n";
  Http served = curl("GET", server_->url() + "/api/blobs/" + shaA, "",
                     {"Authorization: Bearer " + server_->token()});
  EXPECT_EQ(served.status, 500);
  EXPECT_THAT(served.body, HasSubstr("damaged"));
  Output damaged = runCommand({BOUCLE_BIN, "fsck", server_->data().string()}, repo_.dir());
  EXPECT_EQ(damaged.exitCode, 1);
  EXPECT_THAT(damaged.out, HasSubstr(shaA));
  // b.txt's blob is gone: the run cannot be released.
  fs::remove(fileB);
  Output rel = client({"release", "web", "--version", "1.0.0"});
  EXPECT_EQ(rel.exitCode, 1);
  EXPECT_THAT(rel.err, HasSubstr("no longer stored"));
  Output bad = runCommand({BOUCLE_BIN, "server", "--data", (repo_.scratch() / "d2").string(),
                           "--artifacts-max", "99999999T"},
                          repo_.dir());
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_THAT(bad.err, HasSubstr("--artifacts-max"));
}

}  // namespace
}  // namespace boucle::testing
