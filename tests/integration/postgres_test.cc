// PostgreSQL as the server's database: an installation moved from SQLite with `boucle migrate`,
// checked, and carried on by a server on PostgreSQL with its history, tokens and numbering.
#include <gmock/gmock.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
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

}  // namespace
}  // namespace boucle::testing
