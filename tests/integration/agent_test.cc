// Remote agents against a real server: jobs with runs-on go to an agent with those labels and
// come back with their logs and artifacts; an agent killed mid-job has its job queued again on
// another; the protocol refuses what a stale, foreign or malformed report says; an agent token
// reaches nothing else; a drained agent takes no job.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.h"
#include "net_hosts.h"
#include "server_fixture.h"

namespace boucle::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// A `boucle agent` process, as an operator would start it.
class AgentProcess {
 public:
  AgentProcess(const ServerProcess& server, const std::string& token, fs::path work,
               std::vector<std::string> args)
      : work_(std::move(work)) {
    std::vector<std::string> argv{BOUCLE_BIN,   "agent",  "--server",
                                  server.url(), "--work", work_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = startProcess(argv, "/", log(), {"BOUCLE_TOKEN=" + token});
  }
  ~AgentProcess() {
    if (pid_ > 0) kill9();
  }
  void kill9() {
    ::kill(pid_, SIGKILL);
    waitExit(pid_);
    pid_ = -1;
  }
  int stop() {
    ::kill(pid_, SIGTERM);
    int rc = waitExit(pid_);
    pid_ = -1;
    return rc;
  }
  fs::path log() const { return work_.string() + ".log"; }
  std::string output() const { return readFile(log()); }

 private:
  fs::path work_;
  pid_t pid_ = -1;
};

class AgentTest : public ServerFixture {
 protected:
  // Short, so that a lost agent is found quickly; not so short that a slow machine (the
  // sanitizer build under load) loses a healthy one.
  void SetUp() override { startServer({"--agent-timeout", "5s"}); }
  std::string agentToken(const std::string& name) {
    Output made = client({"token", "add", name, "--role", "agent"});
    EXPECT_EQ(made.exitCode, 0) << made.all();
    std::string t = made.out;
    while (!t.empty() && t.back() == '\n') t.pop_back();
    return t;
  }
  std::unique_ptr<AgentProcess> startAgent(const std::string& name, const std::string& labels,
                                           int capacity = 1) {
    return std::make_unique<AgentProcess>(
        *server_, agentToken(name), repo_.scratch() / ("agent-" + name),
        std::vector<std::string>{"--labels", labels, "--capacity", std::to_string(capacity)});
  }
  std::string jobLog(int64_t run, const std::string& job, int attempt = 0) {
    std::string path = "/api/runs/" + std::to_string(run) + "/jobs/" + job + "/log";
    if (attempt) path += "?attempt=" + std::to_string(attempt);
    return curl("GET", server_->url() + path, "", {"Authorization: Bearer " + server_->token()})
        .body;
  }
  // A log without the agent's own notes ("boucle-agent: fetching the checkout of …").
  std::string jobOutput(int64_t run, const std::string& job, int attempt = 0) {
    std::string log = jobLog(run, job, attempt);
    while (log.starts_with("boucle-agent: ")) log.erase(0, log.find('\n') + 1);
    return log;
  }
  json jobOf(const json& run, const std::string& name) {
    for (const auto& j : run["jobs"])
      if (j["name"] == name) return j;
    return json();
  }
  Http as(const std::string& token, const std::string& method, const std::string& path,
          const std::string& body = "") {
    return curl(method, server_->url() + path, body, {"Authorization: Bearer " + token});
  }
  // A job claimed by hand, as an agent with `label` would: the poll's answer, once it names one.
  json claimByHand(const std::string& token, const std::string& label) {
    json claim;
    waitFor([&] {
      auto r =
          as(token, "POST", "/api/agent/poll", R"({"labels":[")" + label + R"("],"capacity":1})");
      claim = json::parse(r.body, nullptr, false);
      return r.status == 200 && claim["job"].is_object();
    });
    return claim;
  }
};

TEST_F(AgentTest, ARunsOnJobRunsOnAnAgentWithThoseLabelsBetweenJobsOfTheServer) {
  repo_.write("greeting.txt", "hello from the checkout\n");
  repo_.write(".boucle.yml",
              "jobs:\n"
              "  make:\n    run: echo made-here > in.txt\n    artifacts: [in.txt]\n"
              "  build:\n    needs: [make]\n    runs-on: [special]\n"
              "    run:\n      - cat greeting.txt in.txt\n"
              "      - echo \"agent $BOUCLE_JOB attempt $BOUCLE_ATTEMPT\" | tee out.txt\n"
              "    artifacts: [out.txt]\n"
              "  use:\n    needs: [build]\n    run: cat out.txt\n");
  repo_.commit("three jobs, one of them elsewhere");
  ASSERT_EQ(client({"project", "add", "p", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  // An agent without the label never takes it; one with it (and more) does.
  auto plain = startAgent("plain", "linux");
  auto special = startAgent("special", "linux,special");
  json run = triggerAndWait("p", 1);
  ASSERT_EQ(run["state"], "passed") << run.dump(2) << plain->output() << special->output();
  EXPECT_THAT(jobLog(1, "build"), HasSubstr("hello from the checkout\nmade-here\n"));
  EXPECT_THAT(jobLog(1, "build"), HasSubstr("agent build attempt 1"));
  EXPECT_THAT(jobLog(1, "use"), HasSubstr("agent build attempt 1"));
  EXPECT_EQ(jobOf(run, "build")["attempts"], 1);
  EXPECT_THAT(special->output(), HasSubstr("build (attempt 1)"));
  EXPECT_THAT(plain->output(), ::testing::Not(HasSubstr("(attempt")));
  // The artifact is the server's like any other: listed, downloadable by its hash.
  ASSERT_EQ(jobOf(run, "build")["artifacts"].size(), 1u) << run.dump(2);

  Output agents = client({"agents"});
  EXPECT_EQ(agents.exitCode, 0);
  EXPECT_THAT(agents.out, HasSubstr("linux,special"));
  json listed = api("/api/agents");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1]["name"], "special");
  // Online: it called within --agent-timeout (it calls again at the end of each long poll).
  EXPECT_TRUE(waitFor([&] { return api("/api/agents")[1]["state"] == "online"; }));
}

TEST_F(AgentTest, ADeploysMeasuringJobOnAnAgentIsToldTheEnvironmentItMeasuresButNoSecret) {
  // The measuring job runs where its labels say; it reports what it was told as a Google
  // Benchmark file, and its log shows the variables.
  repo_.write(".boucle.yml", R"yml(jobs:
  build: {run: 'echo app > app.txt', artifacts: [app.txt]}
  load:
    runs-on: [loadgen]
    run: |
      echo "measuring $BOUCLE_PERF_ENV at ${BOUCLE_PERF_URL:-nowhere} (${BOUCLE_ENV_REGION:-}) secret=${BOUCLE_ENV_TOKEN:-none}"
      printf '{"benchmarks":[{"name":"BM_health","run_type":"iteration","real_time":2,"time_unit":"ms","iterations":1}]}' > bench.json
    reports: {benchmark: bench.json}
release: {branches: [main]}
environments:
  staging: {auto: true}
  prod:
    after: staging
    perf: {job: load, metric: mean, max_regression: 50%, floor: 5ms}
deploy: {driver: command, command: 'true'}
)yml");
  repo_.commit("feat: measured elsewhere");
  ASSERT_EQ(client({"project", "add", "p", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  for (const char* env : {"staging", "prod"}) {
    ASSERT_EQ(client({"env", "set", "p", env, "dir=" + (repo_.scratch() / env).string(),
                      "url=http://" + std::string(env) + ".example:8080", "region=eu-west"})
                  .exitCode,
              0);
  }
  Output secret = runCommand(
      {"/usr/bin/sh", "-c", "printf s3cr3t-value | \"$0\" secret set p staging token", BOUCLE_BIN},
      repo_.dir(), server_->clientEnv());
  ASSERT_EQ(secret.exitCode, 0) << secret.all();
  auto loadgen = startAgent("loadgen", "linux,loadgen");
  // The plain run: the load job runs on the agent with nothing to measure.
  json run = triggerAndWait("p", 1);
  ASSERT_EQ(run["state"], "passed") << run.dump(2) << loadgen->output();
  ASSERT_TRUE(deploySucceeded("p", "staging"));
  Output promoted = client({"promote", "p", "--from", "staging", "--to", "prod"});
  ASSERT_EQ(promoted.exitCode, 0) << promoted.all();
  json d = api("/api/projects/p/deploys?env=prod")["deploys"][0];
  ASSERT_TRUE(d["perf"].is_object()) << d.dump(2);
  int64_t measuring = d["perf"]["run_id"].get<int64_t>();
  std::string log = jobOutput(measuring, "load");
  EXPECT_THAT(log, HasSubstr("measuring staging at http://staging.example:8080 (eu-west) "
                             "secret=none"));
  EXPECT_THAT(loadgen->output(), HasSubstr("load (attempt 1)"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("s3cr3t-value")));
}

TEST_F(AgentTest, AKilledAgentsJobIsQueuedAgainAndRunsOnAnother) {
  repo_.write(".boucle.yml",
              "jobs:\n  slow:\n    runs-on: [x]\n    run: |\n"
              "      echo \"attempt $BOUCLE_ATTEMPT started\"\n"
              "      if [ \"$BOUCLE_ATTEMPT\" = 1 ]; then sleep 300.5; fi\n"
              "      echo finished\n");
  repo_.commit("slow");
  ASSERT_EQ(client({"project", "add", "p", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  auto first = startAgent("first", "x");
  ASSERT_EQ(client({"trigger", "p"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] {
    return jobLog(1, "slow").find("attempt 1 started") != std::string::npos;
  })) << first->output();
  first->kill9();
  // Its job's sleep goes with it? No: the sandbox's processes are the agent's children; what
  // matters here is the server, which hears nothing more and gives the job to another agent.
  auto second = startAgent("second", "x");
  json run = waitForRun(1);
  ASSERT_EQ(run["state"], "passed") << run.dump(2) << second->output();
  EXPECT_EQ(jobOf(run, "slow")["attempts"], 2);
  std::string lost = jobLog(1, "slow", 1);
  EXPECT_THAT(lost, HasSubstr("attempt 1 started"));
  EXPECT_THAT(lost,
              ::testing::ContainsRegex("agent first was lost; its log stopped at byte [0-9]+"));
  EXPECT_THAT(jobLog(1, "slow", 2), HasSubstr("attempt 2 started\nfinished\n"));
  EXPECT_THAT(server_->log(), HasSubstr("agent first lost job slow of run 1"));
}

TEST_F(AgentTest, CancellingARunStopsItsJobOnTheAgentAndItsQueuedOnesNeverStart) {
  repo_.write(".boucle.yml",
              "jobs:\n  busy:\n    runs-on: [x]\n    run: echo started && sleep 300.25\n"
              "  later:\n    runs-on: [y]\n    run: echo never\n");
  repo_.commit("busy");
  ASSERT_EQ(client({"project", "add", "p", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  auto a = startAgent("a", "x");
  ASSERT_EQ(client({"trigger", "p"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] { return jobLog(1, "busy").find("started") != std::string::npos; }))
      << a->output();
  ASSERT_FALSE(processesWithArgument("300.25").empty());
  ASSERT_EQ(client({"cancel", "1"}).exitCode, 0);
  json run = waitForRun(1);
  EXPECT_EQ(run["state"], "cancelled") << run.dump(2);
  EXPECT_EQ(jobOf(run, "busy")["state"], "cancelled");
  EXPECT_EQ(jobOf(run, "later")["state"], "cancelled");
  EXPECT_TRUE(waitFor([] { return processesWithArgument("300.25").empty(); }))
      << "the agent stopped the job's processes";
  EXPECT_EQ(jobLog(1, "later"), "");
}

TEST_F(AgentTest, TheProtocolRefusesStaleForeignAndMalformedReports) {
  repo_.write(".boucle.yml", "jobs:\n  one:\n    runs-on: [x]\n    run: 'true'\n");
  repo_.commit("one");
  ASSERT_EQ(client({"project", "add", "p", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  std::string mine = agentToken("mine"), other = agentToken("other");
  ASSERT_EQ(client({"trigger", "p"}).exitCode, 0);
  json claim = claimByHand(mine, "x");
  ASSERT_TRUE(claim["job"].is_object()) << claim.dump();
  int64_t id = claim["job"]["id"];
  int64_t epoch = claim["job"]["epoch"];
  EXPECT_EQ(claim["job"]["spec"]["job"], "one");
  std::string base = "/api/agent/jobs/" + std::to_string(id);
  auto log = [&](const std::string& token, int64_t e, int64_t offset, const std::string& bytes) {
    return as(token, "POST",
              base + "/log?epoch=" + std::to_string(e) + "&offset=" + std::to_string(offset),
              bytes);
  };
  EXPECT_EQ(log(mine, epoch + 1, 0, "abc").status, 409) << "a stale epoch";
  EXPECT_EQ(log(other, epoch, 0, "abc").status, 409) << "another agent's job";
  EXPECT_EQ(log(mine, epoch, 0, "abc").body, "{\"size\":3}\n");
  auto gap = log(mine, epoch, 5, "xyz");
  EXPECT_EQ(gap.status, 409);
  EXPECT_EQ(gap.body, "{\"size\":3}\n") << "a gap: resume from what the server has";
  EXPECT_EQ(log(mine, epoch, 0, "abcdef\n").body, "{\"size\":7}\n") << "an overlap is fine";
  auto end = [&](const std::string& token, const json& report) {
    return as(token, "POST", base + "/end?epoch=" + std::to_string(epoch), report.dump());
  };
  json report = {{"state", "passed"}, {"exit_code", 0}, {"duration_ms", 5},
                 {"reason", ""},      {"log_size", 3},  {"artifacts", json::array()}};
  auto short_ = end(mine, report);
  EXPECT_EQ(short_.status, 409);
  EXPECT_EQ(short_.body, "{\"size\":7}\n") << "the log is not all there";
  report["log_size"] = 7;
  report["state"] = "exploded";
  EXPECT_EQ(end(mine, report).status, 400);
  report["state"] = "passed";
  report["artifacts"] = {
      {{"path", "../../etc/passwd"}, {"sha256", std::string(64, 'a')}, {"size", 1}, {"mode", 420}}};
  EXPECT_EQ(end(mine, report).status, 400) << "an artifact path leaving the workspace";
  report["artifacts"] = {
      {{"path", "a.txt"}, {"sha256", std::string(64, 'a')}, {"size", 1}, {"mode", 420}}};
  EXPECT_EQ(end(mine, report).status, 400) << "an artifact never uploaded";
  report["artifacts"] = json::array();
  report["tests"] = {{"tests", 1},
                     {"failures", 5},
                     {"errors", 0},
                     {"skipped", 0},
                     {"seconds", 0.1},
                     {"failed", json::array()},
                     {"warnings", json::array()}};
  EXPECT_EQ(end(mine, report).status, 400) << "test counts that do not add up";
  report.erase("tests");
  // A blob someone else stored cannot be claimed by its hash; one the agent uploads for the job
  // can, its size as stored.
  auto theirs =
      json::parse(as(server_->token(), "POST", "/api/blobs", "another project's artifact").body,
                  nullptr, false);
  ASSERT_TRUE(theirs.is_object());
  std::string their = theirs["sha256"];
  EXPECT_EQ(
      as(mine, "GET", base + "/blobs/" + their + "/present?epoch=" + std::to_string(epoch)).status,
      404);
  report["artifacts"] = {{{"path", "x.txt"}, {"sha256", their}, {"size", 26}, {"mode", 420}}};
  EXPECT_EQ(end(mine, report).status, 400) << "naming a blob it never uploaded";
  auto up = as(mine, "POST",
               base + "/blobs?epoch=" + std::to_string(epoch) +
                   "&sha256=" + "5a0a0ba3c1a5a1e6cbe52b4d0b6b7dd7cbbd0b5ba1e1d52e3b0d0e0a8a0f1b2c",
               "mine");
  EXPECT_EQ(up.status, 422) << "the hash given is checked";
  up = as(mine, "POST",
          base + "/blobs?epoch=" + std::to_string(epoch) + "&sha256=" +
              json::parse(as(server_->token(), "POST", "/api/blobs", "mine").body, nullptr,
                          false)["sha256"]
                  .get<std::string>(),
          "mine");
  ASSERT_EQ(up.status, 201) << up.body;
  std::string own = json::parse(up.body)["sha256"];
  EXPECT_EQ(
      as(mine, "GET", base + "/blobs/" + own + "/present?epoch=" + std::to_string(epoch)).status,
      200);
  report["artifacts"] = {{{"path", "out/mine.txt"}, {"sha256", own}, {"size", 999}, {"mode", 420}}};
  EXPECT_EQ(end(other, report).status, 409);
  EXPECT_EQ(end(mine, report).status, 200);
  EXPECT_EQ(end(mine, report).status, 409) << "ended once";
  json run = waitForRun(1);
  EXPECT_EQ(run["state"], "passed") << run.dump(2);
  EXPECT_EQ(jobLog(1, "one"), "abcdef\n");
  json art = jobOf(run, "one")["artifacts"];
  ASSERT_EQ(art.size(), 1u) << run.dump(2);
  EXPECT_EQ(art[0]["path"], "out/mine.txt");
  EXPECT_EQ(art[0]["size"], 4) << "the size is the server's, not the agent's word";
  EXPECT_EQ(log(mine, epoch, 7, "late").status, 409) << "a job taken in is no longer anyone's";
}

TEST_F(AgentTest, AnAgentTokenReachesOnlyTheAgentRoutesAndOnlyAgentsReachThem) {
  std::string agent = agentToken("a1");
  EXPECT_EQ(as(agent, "GET", "/api/projects").status, 403);
  EXPECT_EQ(as(agent, "GET", "/api/runs").status, 403);
  EXPECT_EQ(as(agent, "POST", "/api/blobs", "x").status, 403);
  EXPECT_EQ(as(agent, "POST", "/api/agents/a1/drain", "{}").status, 403);
  // Neither a viewer nor an admin takes jobs: only an agent's token does.
  EXPECT_EQ(as(server_->token(), "POST", "/api/agent/poll", "{}").status, 403);
  Output viewer = client({"token", "add", "vic"});
  std::string v = viewer.out.substr(0, viewer.out.find('\n'));
  EXPECT_EQ(as(v, "POST", "/api/agent/poll", "{}").status, 403);
  EXPECT_EQ(as(v, "GET", "/api/agents").status, 200);
  EXPECT_EQ(as(v, "POST", "/api/agents/a1/drain", "{}").status, 403) << "draining is for admins";
  Output dev = client({"token", "add", "dev", "--role", "developer"});
  std::string d = dev.out.substr(0, dev.out.find('\n'));
  EXPECT_EQ(as(d, "POST", "/api/agents/a1/drain", "{}").status, 403);
  EXPECT_EQ(as(d, "POST", "/api/agent/poll", "{}").status, 403);
  EXPECT_EQ(as(agent, "POST", "/api/agent/poll", R"({"labels":["a,b"]})").status, 400);
  EXPECT_EQ(as(agent, "POST", "/api/agent/poll", "not json").status, 400);
}

TEST_F(AgentTest, AnAgentsLogPastMaxLogSizeIsAcknowledgedAndDropped) {
  server_->stop();
  startServer({"--agent-timeout", "5s", "--max-log-size", "10"});
  repo_.write(".boucle.yml", "jobs:\n  one:\n    runs-on: [x]\n    run: 'true'\n");
  repo_.commit("one");
  ASSERT_EQ(client({"project", "add", "p", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  std::string mine = agentToken("mine");
  ASSERT_EQ(client({"trigger", "p"}).exitCode, 0);
  json claim = claimByHand(mine, "x");
  ASSERT_TRUE(claim["job"].is_object()) << claim.dump();
  std::string base = "/api/agent/jobs/" + claim["job"]["id"].dump() +
                     "/log?epoch=" + claim["job"]["epoch"].dump() + "&offset=";
  // Each piece is acknowledged whole, so the agent never sends it again; the file keeps ten
  // bytes and a line saying the rest was dropped.
  EXPECT_EQ(as(mine, "POST", base + "0", "12345678").body, "{\"size\":8}\n");
  EXPECT_EQ(as(mine, "POST", base + "8", "9abcdef").body, "{\"size\":15}\n");
  EXPECT_EQ(as(mine, "POST", base + "15", "ghijkl").body, "{\"size\":21}\n");
  std::string log = readFile(repo_.scratch() / "server-data" / "runs" / "1" / "logs" / "one.log");
  EXPECT_THAT(log, ::testing::StartsWith("123456789a\nboucle: this log reached its limit of 10 "
                                         "bytes"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("bcdef")));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("ghijkl")));
}

TEST_F(AgentTest, AnAgentTokenClaimsOnlyWithTheLabelsAndForTheProjectsItIsPinnedTo) {
  repo_.write(".boucle.yml", "jobs:\n  sign:\n    runs-on: [vault-keys]\n    run: 'true'\n");
  repo_.commit("a job for the machine with the signing keys");
  ASSERT_EQ(client({"project", "add", "p", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(client({"trigger", "p"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] { return state(1) == "running"; }));
  auto made = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"token", "add"});
    Output o = client(args);
    EXPECT_EQ(o.exitCode, 0) << o.all();
    return o.out.substr(0, o.out.find('\n'));
  };
  auto poll = [&](const std::string& token, const std::string& labels) {
    return as(token, "POST", "/api/agent/poll",
              R"({"labels": [)" + labels + R"(], "capacity": 1, "wait": false})");
  };
  // A build machine's token, stolen: it cannot say it has the signing machine's label...
  std::string builder = made({"builder", "--role", "agent", "--labels", "linux"});
  Http claimed = poll(builder, R"("linux", "vault-keys")");
  EXPECT_EQ(claimed.status, 403) << claimed.body;
  EXPECT_THAT(claimed.body, HasSubstr("linux only, not 'vault-keys'"));
  // ...and with its own, the job is not for it.
  claimed = poll(builder, R"("linux")");
  EXPECT_EQ(claimed.status, 200) << claimed.body;
  EXPECT_TRUE(json::parse(claimed.body)["job"].is_null()) << claimed.body;
  // A token for another project's jobs passes over this one, whatever labels it has.
  std::string other = made({"other", "--role", "agent", "--projects", "q"});
  claimed = poll(other, R"("vault-keys")");
  EXPECT_TRUE(json::parse(claimed.body)["job"].is_null()) << claimed.body;
  // The signing machine's token takes it.
  std::string signer =
      made({"signer", "--role", "agent", "--labels", "vault-keys", "--projects", "p"});
  claimed = poll(signer, R"("vault-keys")");
  ASSERT_EQ(claimed.status, 200) << claimed.body;
  EXPECT_EQ(json::parse(claimed.body)["job"]["spec"].value("job", ""), "sign") << claimed.body;
  // Pins are for agents' tokens, and are shown with them.
  Output viewer = client({"token", "add", "v", "--labels", "linux"});
  EXPECT_NE(viewer.exitCode, 0);
  EXPECT_THAT(viewer.all(), HasSubstr("give it the agent role"));
  json tokens = api("/api/tokens")["tokens"];
  for (const auto& t : tokens) {
    if (t["name"] == "signer") {
      EXPECT_EQ(t["agent_labels"], json::array({"vault-keys"}));
      EXPECT_EQ(t["agent_projects"], json::array({"p"}));
    }
  }
}

TEST_F(AgentTest, ADrainedAgentTakesNoJobUntilItIsUndrained) {
  repo_.write(".boucle.yml", "jobs:\n  one:\n    runs-on: [x]\n    run: echo ran\n");
  repo_.commit("one");
  ASSERT_EQ(client({"project", "add", "p", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  auto a = startAgent("a", "x");
  ASSERT_TRUE(waitFor([&] { return api("/api/agents").size() == 1; })) << a->output();
  Output drained = client({"agent", "drain", "a"});
  ASSERT_EQ(drained.exitCode, 0) << drained.all();
  EXPECT_EQ(api("/api/agents")[0]["state"], "draining");
  ASSERT_EQ(client({"trigger", "p"}).exitCode, 0);
  // Its polls go on (it is seen) but bring it nothing.
  int64_t seen = api("/api/agents")[0]["seen_at"];
  ASSERT_TRUE(waitFor([&] { return api("/api/agents")[0]["seen_at"].get<int64_t>() > seen; },
                      std::chrono::seconds(30)));
  EXPECT_EQ(state(1), "running");
  EXPECT_EQ(jobLog(1, "one"), "");
  ASSERT_EQ(client({"agent", "drain", "a", "--undo"}).exitCode, 0);
  json run = waitForRun(1);
  EXPECT_EQ(run["state"], "passed");
  EXPECT_THAT(jobLog(1, "one"), ::testing::EndsWith("\nran\n"));
  EXPECT_EQ(client({"agent", "drain", "nobody"}).exitCode, 1);
}

// Agents on machines of their own as far as the network goes (network namespaces on a bridge
// where the server listens): their links can be cut like a pulled cable.
class RemoteAgentTest : public AgentTest {
 protected:
  void SetUp() override {
    hosts_ = std::make_unique<NetHosts>(2);
    ASSERT_TRUE(hosts_->up()) << hosts_->startLog();
    server_ = std::make_unique<ServerProcess>(repo_.scratch() / "server-data",
                                              std::vector<std::string>{"--agent-timeout", "10s"});
    server_->listenOn(hosts_->bridge());
    std::string log;
    ASSERT_TRUE(server_->start(&log)) << log;
  }
  void TearDown() override {
    AgentTest::TearDown();
    for (pid_t p : agents_) {
      ::kill(p, SIGKILL);
      waitExit(p);
    }
    hosts_.reset();
  }
  pid_t startAgentOn(int host, const std::string& name) {
    fs::path work = repo_.scratch() / ("agent-" + name);
    pid_t p = hosts_->start(
        host,
        {BOUCLE_BIN, "agent", "--server", server_->url(), "--work", work.string(), "--labels", "x"},
        work.string() + ".log", {"BOUCLE_TOKEN=" + agentToken(name)});
    agents_.push_back(p);
    return p;
  }
  std::string agentLog(const std::string& name) {
    return readFile(repo_.scratch() / ("agent-" + name + ".log"));
  }
  std::unique_ptr<NetHosts> hosts_;
  std::vector<pid_t> agents_;
};

TEST_F(RemoteAgentTest, ALogResumesAfterTheAgentsNetworkIsCutAndMendedNothingLostNothingTwice) {
  repo_.write(".boucle.yml",
              "jobs:\n  talk:\n    runs-on: [x]\n"
              "    run: for i in $(seq 1 60); do echo line $i; sleep 0.1; done\n");
  repo_.commit("talkative");
  ASSERT_EQ(client({"project", "add", "p", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  startAgentOn(1, "far");
  ASSERT_EQ(client({"trigger", "p"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] { return jobLog(1, "talk").find("line 5\n") != std::string::npos; }))
      << agentLog("far");
  hosts_->cut(1);
  // While the cable is out the job goes on, its lines spooled on the agent's disk.
  std::string during = jobLog(1, "talk");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(jobLog(1, "talk"), during) << "nothing arrives through a cut link";
  hosts_->mend(1);
  json run = waitForRun(1);
  ASSERT_EQ(run["state"], "passed") << run.dump(2) << agentLog("far");
  std::string expected;
  for (int i = 1; i <= 60; ++i) expected += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(jobOutput(1, "talk"), expected);
  EXPECT_EQ(jobOf(run, "talk")["attempts"], 1);
}

TEST_F(RemoteAgentTest, AnAgentKilledMidJobLosesItsJobToAnotherWhileTheOthersGoOn) {
  repo_.write(".boucle.yml",
              "jobs:\n"
              "  stuck:\n    runs-on: [x]\n    run: |\n"
              "      echo \"stuck attempt $BOUCLE_ATTEMPT on $(cat /proc/sys/kernel/hostname)\"\n"
              "      if [ \"$BOUCLE_ATTEMPT\" = 1 ]; then sleep 300.5; fi\n"
              "  steady:\n    runs-on: [x]\n"
              "    run: for i in $(seq 1 30); do echo tick $i; sleep 0.1; done\n");
  repo_.commit("two");
  ASSERT_EQ(client({"project", "add", "p", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  pid_t one = startAgentOn(1, "one");
  pid_t two = startAgentOn(2, "two");
  ASSERT_EQ(client({"trigger", "p"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] {
    return jobLog(1, "stuck").find("stuck attempt 1") != std::string::npos &&
           jobLog(1, "steady").find("tick 1") != std::string::npos;
  })) << agentLog("one")
      << agentLog("two");
  bool oneHasIt = agentLog("one").find("stuck (attempt 1)") != std::string::npos;
  ::kill(oneHasIt ? one : two, SIGKILL);
  json run = waitForRun(1);
  ASSERT_EQ(run["state"], "passed") << run.dump(2) << agentLog("one") << agentLog("two");
  EXPECT_EQ(jobOf(run, "stuck")["attempts"], 2);
  EXPECT_EQ(jobOf(run, "steady")["attempts"], 1);
  EXPECT_THAT(jobLog(1, "stuck", 1),
              HasSubstr("agent " + std::string(oneHasIt ? "one" : "two") + " was lost"));
  std::string ticks;
  for (int i = 1; i <= 30; ++i) ticks += "tick " + std::to_string(i) + "\n";
  EXPECT_EQ(jobOutput(1, "steady"), ticks);
}

TEST_F(RemoteAgentTest, AServerKilledWhileAnAgentRunsItsJobCarriesTheRunOnWhenItIsBack) {
  repo_.write(".boucle.yml",
              "jobs:\n  first:\n    runs-on: [x]\n    run: echo first > first.txt\n"
              "    artifacts: [first.txt]\n"
              "  long:\n    needs: [first]\n    runs-on: [x]\n    run: |\n"
              "      echo \"waiting on $(cat first.txt)\"\n"
              "      while [ ! -e go ]; do sleep 0.05; done\n      echo done\n"
              "  after:\n    needs: [long]\n    run: echo after\n");
  repo_.commit("three");
  ASSERT_EQ(client({"project", "add", "p", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  startAgentOn(1, "steady");
  ASSERT_EQ(client({"trigger", "p"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] {
    return jobLog(1, "long").find("waiting on first") != std::string::npos;
  })) << agentLog("steady");
  int port = server_->port();
  server_->kill9();
  // While the server is away the agent's job finishes; its end waits for the server.
  fs::path job;
  for (const auto& e : fs::directory_iterator(repo_.scratch() / "agent-steady" / "jobs"))
    job = e.path();
  ASSERT_TRUE(fs::is_directory(job / "run" / "ws" / "long")) << agentLog("steady");
  std::ofstream(job / "run" / "ws" / "long" / "go") << "go";
  ASSERT_TRUE(waitFor([&] { return readFile(job / "log").find("done\n") != std::string::npos; }))
      << "the job ended, spooled on the agent" << agentLog("steady");
  server_->listenOn(hosts_->bridge(), port);
  std::string log;
  ASSERT_TRUE(server_->start(&log)) << log;
  json run = waitForRun(1);
  ASSERT_EQ(run["state"], "passed") << run.dump(2) << agentLog("steady") << server_->log();
  EXPECT_EQ(jobOf(run, "long")["attempts"], 1);
  EXPECT_EQ(jobOutput(1, "long"), "waiting on first\ndone\n");
  EXPECT_EQ(jobLog(1, "after"), "after\n");
  EXPECT_THAT(server_->log(), HasSubstr("run 1 of p carried on"));
}

}  // namespace
}  // namespace boucle::testing
