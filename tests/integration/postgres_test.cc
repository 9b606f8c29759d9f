// PostgreSQL as the server's database: an installation moved from SQLite with `boucle migrate`,
// checked, and carried on by a server on PostgreSQL with its history, tokens and numbering.
#include <gmock/gmock.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;
namespace fs = std::filesystem;

class MigrateTest : public ServerFixture {
 protected:
  void SetUp() override {
    // On SQLite, whatever BOUCLE_TEST_DB says: the installation to move.
    startServer({"--db", "sqlite:" + sqlitePath()});
    repo_.write(".boucle.yml", R"yml(jobs:
  build: {run: 'true'}
  check: {run: 'echo ok', needs: [build]}
release: {branches: [main]}
environments:
  prod: {auto: true}
deploy:
  driver: command
  command: echo "$BOUCLE_RELEASE_VERSION" >> "$BOUCLE_ENV_OUT"
)yml");
    repo_.commit("feat: the service", "Ada");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
    ASSERT_EQ(
        client({"env", "set", "web", "prod", "out=" + (repo_.scratch() / "out").string()}).exitCode,
        0);
  }
  std::string sqlitePath() { return (repo_.scratch() / "server-data" / "boucle.db").string(); }
  // Waits until prod has `n` deploys, none queued or running.
  json settle(size_t n) {
    json d;
    waitFor([&] {
      d = api("/api/projects/web/deploys?env=prod")["deploys"];
      if (d.size() != n) return false;
      for (const auto& x : d) {
        if (x["state"] == "queued" || x["state"] == "running") return false;
      }
      return true;
    });
    return d;
  }
};

TEST_F(MigrateTest, AnInstallationMovesToPostgresAndCarriesOn) {
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_EQ(settle(1)[0]["state"], "succeeded");
  repo_.write("b.txt", "b\n");
  repo_.commit("fix: b", "Bea");
  ASSERT_EQ(triggerAndWait("web", 2)["state"], "passed");
  ASSERT_EQ(settle(2)[0]["state"], "succeeded");
  json runs = api("/api/runs");
  json releases = api("/api/projects/web/releases");
  json deploys = api("/api/projects/web/deploys");
  json jobs = api("/api/runs/2");

  std::string pg = newPostgresDatabase();
  Output running = repo_.boucle({"migrate", "--from", "sqlite:" + sqlitePath(), "--to", pg});
  EXPECT_EQ(running.exitCode, 2);
  EXPECT_THAT(running.err, HasSubstr("stop it first"));
  ASSERT_EQ(server_->stop(), 0);

  Output moved =
      repo_.boucle({"migrate", "--from", "sqlite:" + sqlitePath(), "--to", pg, "--json"});
  ASSERT_EQ(moved.exitCode, 0) << moved.all();
  json report = json::parse(moved.out);
  EXPECT_EQ(report["ok"], true);
  std::map<std::string, int64_t> rows;
  for (const auto& t : report["tables"]) {
    EXPECT_EQ(t["source"], t["target"]) << t.dump();
    rows[t["table"]] = t["target"];
  }
  EXPECT_EQ(rows["runs"], 2);
  EXPECT_EQ(rows["jobs"], 4);
  EXPECT_EQ(rows["releases"], 2);
  EXPECT_EQ(rows["deploys"], 2);
  EXPECT_GE(rows["tokens"], 1);
  EXPECT_EQ(report["compared"], 6) << "2 runs, 2 releases and 2 deploys, value by value";

  // Into a database that holds an installation already: refused, nothing written.
  Output again = repo_.boucle({"migrate", "--from", "sqlite:" + sqlitePath(), "--to", pg});
  EXPECT_EQ(again.exitCode, 2);
  EXPECT_THAT(again.err, HasSubstr("already holds"));

  // The same data folder, on PostgreSQL: the same history through the API, the same tokens.
  startServer({"--db", pg}, repo_.scratch() / "server-data");
  EXPECT_EQ(api("/api/runs"), runs);
  EXPECT_EQ(api("/api/projects/web/releases"), releases);
  EXPECT_EQ(api("/api/projects/web/deploys"), deploys);
  EXPECT_EQ(api("/api/runs/2")["jobs"], jobs["jobs"]) << "jobs in the pipeline's order";

  // New rows are numbered after the copied ones.
  repo_.write("c.txt", "c\n");
  repo_.commit("fix: c", "Cy");
  ASSERT_EQ(triggerAndWait("web", 3)["state"], "passed");
  json now = settle(3);
  EXPECT_EQ(now[0]["state"], "succeeded");
  EXPECT_EQ(now[0]["version"], "0.1.2");
  EXPECT_GT(now[0]["id"].get<int64_t>(), now[1]["id"].get<int64_t>());

  // Started again without --db, the folder's server stays on PostgreSQL (DATA/database), not
  // on the SQLite file the move left behind.
  ASSERT_EQ(server_->stop(), 0);
  startServer({}, repo_.scratch() / "server-data");
  EXPECT_EQ(api("/api/runs")["runs"].size(), 3u);
}

TEST_F(MigrateTest, APasswordInTheUrlOrAMissingSourceIsRefused) {
  Output password = repo_.boucle(
      {"migrate", "--from", "sqlite:" + sqlitePath(), "--to", "postgres://boucle:hunter2@/x"});
  EXPECT_EQ(password.exitCode, 2);
  EXPECT_THAT(password.err, HasSubstr("password file"));
  Output server = repo_.boucle({"server", "--db", "postgres://boucle:hunter2@/x"});
  EXPECT_EQ(server.exitCode, 2);
  EXPECT_THAT(server.err, HasSubstr("password file"));
  Output missing =
      repo_.boucle({"migrate", "--from", "sqlite:" + (repo_.scratch() / "nothing.db").string(),
                    "--to", "sqlite:" + (repo_.scratch() / "copy.db").string()});
  EXPECT_EQ(missing.exitCode, 2);
  EXPECT_THAT(missing.err, HasSubstr("no SQLite database"));
  EXPECT_FALSE(fs::exists(repo_.scratch() / "nothing.db")) << "not made by looking";
}

// A server on a PostgreSQL of its own (durable: fsync on), which the test stops and starts.
class PostgresOutageTest : public ServerFixture {
 protected:
  void SetUp() override {
    char t[] = "/tmp/boucle-pg-outage-XXXXXX";
    cluster_ = mkdtemp(t);
    Output started = runCommand({PG_CLUSTER_SH, "start", cluster_}, "/", {"PG_DURABLE=1"});
    ASSERT_EQ(started.exitCode, 0) << started.all();
    Output made =
        runCommand({"/usr/bin/psql", "-q", "-X", "postgres://boucle@/postgres?host=" + cluster_,
                    "-c", "CREATE DATABASE boucle"},
                   "/");
    ASSERT_EQ(made.exitCode, 0) << made.all();
    startServer({"--db", "postgres://boucle@/boucle?host=" + cluster_});
    repo_.write(".boucle.yml", "jobs:\n  build: {run: 'echo built'}\n");
    repo_.commit("feat: one");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  }
  void TearDown() override {
    ServerFixture::TearDown();
    server_.reset();
    runCommand({PG_CLUSTER_SH, "stop", cluster_}, "/");
  }
  int health() { return curl("GET", server_->url() + "/api/runs", "", {auth()}).status; }
  std::string auth() { return "Authorization: Bearer " + server_->token(); }
  std::string cluster_;
};

TEST_F(PostgresOutageTest, TheServerRidesOutADatabaseRestartAndLosesNothing) {
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");

  // PostgreSQL goes away: calls fail (and say so), the server stays up.
  ASSERT_EQ(runCommand({PG_CLUSTER_SH, "halt", cluster_}, "/").exitCode, 0);
  Http down = curl("GET", server_->url() + "/api/runs", "", {auth()});
  EXPECT_GE(down.status, 500) << down.body;
  EXPECT_EQ(curl("GET", server_->url() + "/api/health").status, 200) << "the process is alive";

  // Back: the server reconnects by itself, and what was finished is there.
  ASSERT_EQ(runCommand({PG_CLUSTER_SH, "resume", cluster_}, "/").exitCode, 0);
  ASSERT_TRUE(waitFor([&] { return health() == 200; }));
  // Its session for the other servers' news is made again too.
  EXPECT_TRUE(waitFor([&] {
    return server_->log().find("servers: hearing the others again") != std::string::npos;
  })) << server_->log();
  EXPECT_EQ(api("/api/runs/1")["state"], "passed");
  repo_.write("b.txt", "b\n");
  repo_.commit("fix: two");
  ASSERT_EQ(triggerAndWait("web", 2)["state"], "passed");
  EXPECT_EQ(api("/api/runs")["runs"].size(), 2u);
  EXPECT_THAT(client({"logs", "2/build"}).out, HasSubstr("built"));
}

// Two servers on one PostgreSQL database, each with its own data folder.
class TwoServersTest : public ServerFixture {
 protected:
  void SetUp() override {
    db_ = newPostgresDatabase();
    startServer({"--db", db_, "--server-timeout", "2s"});
    repo_.write(".boucle.yml", "jobs:\n  slow: {run: 'sleep 60'}\n");
    repo_.commit("feat: slow");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  }
  std::string db_;
};

TEST_F(TwoServersTest, ASecondServerLeavesTheFirstsRunsAloneUntilItFallsSilent) {
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] { return state(1) == "running"; }));

  ServerProcess other(repo_.scratch() / "other-data", {"--db", db_, "--server-timeout", "2s"});
  std::string log;
  ASSERT_TRUE(other.start(&log)) << log;
  auto runOn = [&](const ServerProcess& s) {
    auto r =
        curl("GET", s.url() + "/api/runs/1", "", {"Authorization: Bearer " + server_->token()});
    return nlohmann::json::parse(r.body, nullptr, false);
  };
  // The second one's start, then a few of its sweeps: the first answers, its run is its own.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(runOn(other)["state"], "running");
  EXPECT_EQ(state(1), "running");

  // The first is killed mid-run: the second marks its run interrupted, saying why.
  server_->kill9();
  json run;
  ASSERT_TRUE(waitFor(
      [&] {
        run = runOn(other);
        return run.value("state", "") == "interrupted";
      },
      std::chrono::seconds(15)))
      << run.dump();
  EXPECT_THAT(run["reason"].get<std::string>(), HasSubstr("stopped answering"));
}

TEST_F(TwoServersTest, OneLeaderSendsEachNotificationOnceAndAnotherTakesOver) {
  fs::path sinkDir = repo_.scratch() / "sinks";
  fs::create_directories(sinkDir);
  pid_t sinks = startProcess({"/usr/bin/python3", SINKS_PY, sinkDir.string()}, repo_.scratch(),
                             repo_.scratch() / "sinks.out");
  std::string port;
  ASSERT_TRUE(waitFor([&] {
    std::string out = readFile(repo_.scratch() / "sinks.out");
    auto at = out.find("http ");
    if (at == std::string::npos || out.find('\n', at) == std::string::npos) return false;
    port = out.substr(at + 5, out.find('\n', at) - at - 5);
    return true;
  }));
  auto posts = [&] {
    std::string text = readFile(sinkDir / "posts.jsonl");
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  };
  repo_.write(".boucle.yml",
              "jobs:\n  t: {run: 'exit 1'}\nnotify:\n  - on: [failed]\n"
              "    webhook: http://127.0.0.1:" +
                  port + "/hook\n");
  repo_.commit("fix: red");

  ServerProcess other(repo_.scratch() / "other-data", {"--db", db_, "--server-timeout", "2s"});
  std::string log;
  ASSERT_TRUE(other.start(&log)) << log;
  ServerProcess* leader = nullptr;
  ServerProcess* follower = nullptr;
  ASSERT_TRUE(waitFor([&] {
    bool first = server_->log().find("this server leads") != std::string::npos;
    bool second = other.log().find("this server leads") != std::string::npos;
    if (first == second) return false;  // none yet (or, wrongly, both)
    leader = first ? server_.get() : &other;
    follower = first ? &other : server_.get();
    return true;
  }));
  // A run queued through `via`, whichever server runs it, until it ends. (Not `trigger
  // --wait`: live events reach only the clients of the server that ran it.)
  int64_t next = 0;
  auto trigger = [&](ServerProcess* via) {
    std::vector<std::string> env{"BOUCLE_SERVER=" + via->url(), "BOUCLE_TOKEN=" + server_->token()};
    EXPECT_EQ(repo_.boucle({"trigger", "web"}, env).exitCode, 0);
    ++next;
    std::string state;
    waitFor([&] {
      auto r = curl("GET", via->url() + "/api/runs/" + std::to_string(next), "",
                    {"Authorization: Bearer " + server_->token()});
      state = nlohmann::json::parse(r.body, nullptr, false).value("state", "");
      return state == "failed" || state == "passed" || state == "interrupted";
    });
    return state;
  };
  // Three failed runs, whichever server ran each: three notifications, not six.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(trigger(follower), "failed");
  ASSERT_TRUE(waitFor([&] { return posts() >= 3; })) << posts();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(posts(), 3u);

  // The leader dies: the other takes the lead (its lock went with the dead session) and sends.
  leader->kill9();
  EXPECT_EQ(trigger(follower), "failed");
  EXPECT_TRUE(waitFor([&] { return posts() == 4; })) << posts();
  EXPECT_NE(follower->log().find("this server leads"), std::string::npos);
  ::kill(sinks, SIGTERM);
  waitExit(sinks);
}

// Two servers on one database and one shared folder (--shared), as a team runs them behind a
// proxy: either answers for the runs of the other.
class SharedFolderTest : public ServerFixture {
 protected:
  void SetUp() override {
    db_ = newPostgresDatabase();
    shared_ = repo_.scratch() / "shared";
    startServer(args());
    // The job speaks, waits for a file in its workspace, then makes an artifact.
    repo_.write(".boucle.yml",
                "jobs:\n  talk:\n    run: |\n      echo first line\n"
                "      while [ ! -e go-on ]; do sleep 0.05; done\n"
                "      echo last line\n      echo made > out.txt\n"
                "    artifacts: [out.txt]\n");
    repo_.commit("feat: talk");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  }
  std::vector<std::string> args() {
    return {"--db", db_, "--server-timeout", "2s", "--shared", shared_.string()};
  }
  std::vector<std::string> via(const ServerProcess& s) {
    return {"BOUCLE_SERVER=" + s.url(), "BOUCLE_TOKEN=" + server_->token()};
  }
  json runOn(const ServerProcess& s, int64_t id) {
    auto r = curl("GET", s.url() + "/api/runs/" + std::to_string(id), "",
                  {"Authorization: Bearer " + server_->token()});
    return json::parse(r.body, nullptr, false);
  }
  // The server whose workspace the run's job is in: the one running it.
  ServerProcess* runner(int64_t run, std::vector<ServerProcess*> servers) {
    for (auto* s : servers) {
      if (fs::exists(s->data() / "runs" / std::to_string(run) / "ws" / "talk")) return s;
    }
    return nullptr;
  }
  pid_t followEvents(const ServerProcess& s, const fs::path& out) {
    return startProcess({"/usr/bin/curl", "-sN", "-o", out.string(), "-H",
                         "Authorization: Bearer " + server_->token(), s.url() + "/api/events"},
                        repo_.scratch(), repo_.scratch() / (out.filename().string() + ".err"));
  }
  std::string db_;
  fs::path shared_;
};

TEST_F(SharedFolderTest, EitherServerFollowsServesAndCancelsTheOthersRunsAndOneCarriesOnAlone) {
  // Run 1 is the first server's: the second is not there yet.
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] { return client({"logs", "1/talk"}).out == "first line\n"; }));
  ServerProcess other(repo_.scratch() / "other-data", args());
  std::string log;
  ASSERT_TRUE(other.start(&log)) << log;

  // Its log, followed through the second server, comes as it is written.
  fs::path out = repo_.scratch() / "follow.out";
  pid_t follower = startProcess({BOUCLE_BIN, "logs", "-f", "1/talk"}, repo_.dir(), out, via(other));
  ASSERT_TRUE(waitFor([&] { return readFile(out).find("first line") != std::string::npos; }))
      << readFile(out);
  EXPECT_THAT(readFile(out), Not(HasSubstr("last line")));
  std::ofstream(workspace(1, "talk") / "go-on") << "go";
  EXPECT_EQ(waitExit(follower), 0);
  EXPECT_EQ(readFile(out), "first line\nlast line\n");
  ASSERT_TRUE(waitFor([&] { return runOn(other, 1).value("state", "") == "passed"; }));
  // Its artifact, downloaded through the second server, from the shared folder.
  fs::path into = repo_.scratch() / "downloaded";
  auto got = repo_.boucle({"artifacts", "1", "--download", into.string()}, via(other));
  ASSERT_EQ(got.exitCode, 0) << got.all();
  EXPECT_EQ(readFile(into / "out.txt"), "made\n");
  // The servers' own data folders hold no log, mirror or key: they are in the shared one.
  EXPECT_TRUE(fs::exists(shared_ / "runs" / "1" / "logs"));
  EXPECT_FALSE(fs::exists(server_->data() / "runs" / "1" / "logs"));
  EXPECT_TRUE(fs::exists(shared_ / "repos" / "web.git" / "HEAD"));
  EXPECT_FALSE(fs::exists(server_->data() / "repos"));
  EXPECT_TRUE(fs::exists(shared_ / "secret.key"));
  EXPECT_FALSE(fs::exists(other.data() / "secret.key"));

  // Run 2, whichever server runs it, is cancelled through the other; the other's live events
  // say so to its clients.
  fs::path eventsA = repo_.scratch() / "events-a", eventsB = repo_.scratch() / "events-b";
  pid_t streamA = followEvents(*server_, eventsA), streamB = followEvents(other, eventsB);
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  ServerProcess* running = nullptr;
  ASSERT_TRUE(waitFor([&] { return (running = runner(2, {server_.get(), &other})) != nullptr; }));
  ServerProcess* elsewhere = running == &other ? server_.get() : &other;
  auto cancel = repo_.boucle({"cancel", "2"}, via(*elsewhere));
  EXPECT_EQ(cancel.exitCode, 0) << cancel.all();
  json run;
  ASSERT_TRUE(waitFor([&] {
    return (run = runOn(*elsewhere, 2)).value("state", "") == "cancelled";
  })) << run.dump();
  EXPECT_THAT(running->log(), HasSubstr("run 2: cancelled through another server"));
  fs::path elsewhereEvents = elsewhere == &other ? eventsB : eventsA;
  auto told = [&] {
    std::istringstream lines(readFile(elsewhereEvents));
    for (std::string line; std::getline(lines, line);) {
      if (line.find("\"id\":2,") != std::string::npos &&
          line.find("\"state\":\"cancelled\"") != std::string::npos)
        return true;
    }
    return false;
  };
  EXPECT_TRUE(waitFor(told)) << readFile(elsewhereEvents);
  ::kill(streamA, SIGTERM);
  ::kill(streamB, SIGTERM);
  waitExit(streamA);
  waitExit(streamB);

  // Run 3's server is killed mid-run: the other marks it interrupted and carries on alone,
  // with what the dead one left in the shared folder (run 1's log and artifact) still served.
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] { return (running = runner(3, {server_.get(), &other})) != nullptr; }));
  ServerProcess* survivor = running == &other ? server_.get() : &other;
  running->kill9();
  ASSERT_TRUE(waitFor([&] { return runOn(*survivor, 3).value("state", "") == "interrupted"; },
                      std::chrono::seconds(15)));
  EXPECT_EQ(repo_.boucle({"logs", "1/talk"}, via(*survivor)).out, "first line\nlast line\n");
  auto runs = repo_.boucle({"trigger", "web"}, via(*survivor));
  ASSERT_EQ(runs.exitCode, 0) << runs.all();
  ASSERT_TRUE(waitFor([&] { return runner(4, {survivor}) != nullptr; }));
  std::ofstream(survivor->data() / "runs" / "4" / "ws" / "talk" / "go-on") << "go";
  ASSERT_TRUE(waitFor([&] { return runOn(*survivor, 4).value("state", "") == "passed"; }));
}

// The servers behind one https:// URL (a proxy that serves TLS and hands connections to each
// in turn): the command line and an agent speak HTTPS to it, checking its certificate.
TEST_F(SharedFolderTest, TheCommandLineAndAnAgentWorkThroughOneHttpsUrlInFrontOfBothServers) {
  fs::path cert = repo_.scratch() / "cert.pem", key = repo_.scratch() / "key.pem";
  ASSERT_EQ(runCommand({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key.string(), "-out",
                        cert.string(), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1"},
                       repo_.scratch())
                .exitCode,
            0);
  fs::path proxyOut = repo_.scratch() / "proxy.out";
  fs::path backends = repo_.scratch() / "backends";
  std::ofstream(backends) << "";
  pid_t proxy = startProcess(
      {"/usr/bin/python3", TLS_PROXY_PY, cert.string(), key.string(), backends.string()},
      repo_.scratch(), proxyOut);
  std::string port;
  ASSERT_TRUE(waitFor([&] {
    std::string text = readFile(proxyOut);
    if (!text.starts_with("https ") || text.find('\n') == std::string::npos) return false;
    port = text.substr(6, text.find('\n') - 6);
    return true;
  })) << readFile(proxyOut);
  std::string url = "https://127.0.0.1:" + port;
  // Both servers answer to the proxy's name (the Host its clients send), as behind a real one.
  auto named = args();
  named.insert(named.end(), {"--allowed-host", "127.0.0.1:" + port});
  server_->stop();
  startServer(named);
  ServerProcess other(repo_.scratch() / "other-data", named);
  std::string log;
  ASSERT_TRUE(other.start(&log)) << log;
  std::ofstream(backends) << "127.0.0.1:" << server_->port() << "\n127.0.0.1:" << other.port()
                          << "\n";
  std::vector<std::string> env{"BOUCLE_SERVER=" + url, "BOUCLE_TOKEN=" + server_->token(),
                               "BOUCLE_CA_FILE=" + cert.string()};

  // A certificate nobody vouched for is refused, and says why.
  auto untrusted =
      repo_.boucle({"status"}, {"BOUCLE_SERVER=" + url, "BOUCLE_TOKEN=" + server_->token()});
  EXPECT_NE(untrusted.exitCode, 0);
  EXPECT_THAT(untrusted.all(), HasSubstr("certificate"));

  // One job on the servers, one on an agent that reaches them through the proxy.
  repo_.write(".boucle.yml",
              "jobs:\n  build: {run: 'echo built'}\n"
              "  far:\n    runs-on: [tls]\n    needs: [build]\n    run: echo far away\n");
  repo_.commit("feat: far");
  auto token = client({"token", "add", "far", "--role", "agent"});
  ASSERT_EQ(token.exitCode, 0) << token.all();
  std::string agentToken = token.out.substr(0, token.out.find('\n'));
  fs::path agentOut = repo_.scratch() / "agent.out";
  pid_t agent = startProcess({BOUCLE_BIN, "agent", "--server", url, "--ca-file", cert.string(),
                              "--labels", "tls", "--work", (repo_.scratch() / "agent").string()},
                             "/", agentOut, {"BOUCLE_TOKEN=" + agentToken});
  // Queued, then waited for on the live events through the proxy, whichever server runs it.
  auto run = repo_.boucle({"trigger", "web", "--wait"}, env);
  EXPECT_EQ(run.exitCode, 0) << run.all() << readFile(agentOut);
  EXPECT_THAT(readFile(agentOut), HasSubstr("agent for https://127.0.0.1:" + port));
  // Each call goes to the next server: both serve the logs, from the shared folder.
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(repo_.boucle({"logs", "1/build"}, env).out, "built\n");
    EXPECT_THAT(repo_.boucle({"logs", "1/far"}, env).out, HasSubstr("far away\n"));
  }
  ::kill(agent, SIGTERM);
  EXPECT_EQ(waitExit(agent), 0) << readFile(agentOut);
  ::kill(proxy, SIGTERM);
  waitExit(proxy);
}

// Only the leader probes; either server answers what the monitors say.
TEST_F(SharedFolderTest, EitherServerAnswersWhatTheLeadersMonitorsSay) {
  repo_.write(".boucle.yml", R"yml(jobs:
  build: {run: 'true'}
release: {branches: [main]}
environments:
  prod: {auto: true}
deploy:
  driver: command
  command: 'true'
monitor:
  - name: self
    tcp: "127.0.0.1:{{ env.port }}"
    every: 1s
    timeout: 1s
)yml");
  repo_.commit("feat: watched");
  ASSERT_EQ(
      client({"env", "set", "web", "prod", "port=" + std::to_string(server_->port())}).exitCode, 0);
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_TRUE(deploySucceeded("web", "prod"));
  // Started now, it leads nothing: the first server probes, and it answers from what is shared.
  ServerProcess other(repo_.scratch() / "other-data", args());
  std::string log;
  ASSERT_TRUE(other.start(&log)) << log;
  auto says = [&](const ServerProcess& s) {
    auto r = curl("GET", s.url() + "/api/projects/web/monitors", "",
                  {"Authorization: Bearer " + server_->token()});
    json all = json::parse(r.body, nullptr, false);
    if (!all.is_object()) return std::string();
    for (const auto& m : all["monitors"]) {
      if (m.value("monitor", "") == "self") return m.value("state", "");
    }
    return std::string();
  };
  std::string first, second;
  EXPECT_TRUE(waitFor([&] { return (first = says(*server_)) == "up"; }, std::chrono::seconds(20)))
      << first;
  EXPECT_TRUE(waitFor([&] { return (second = says(other)) == "up"; }, std::chrono::seconds(20)))
      << second;
  // One of them leads and probes; the other answers from what the leader shared.
  bool firstLeads = server_->log().find("this server leads") != std::string::npos;
  bool secondLeads = other.log().find("this server leads") != std::string::npos;
  EXPECT_NE(firstLeads, secondLeads);
}

}  // namespace
}  // namespace boucle::testing
