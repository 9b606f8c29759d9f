// The install path and the database through the real server: releases that migrate a real
// SQLite database (Python's sqlite3) forward and back, a rollback refused across an
// irreversible migration and then forced with a reason, a failed release's migration undone by
// its automatic rollback; a blank environment wiped before each deploy and deployed by its
// schedule, its failure told as a broken build is.
#include <gmock/gmock.h>
#include <signal.h>

#include <fstream>
#include <regex>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;
namespace fs = std::filesystem;

// A migration tool in miniature: `up N` records schema version N (and the table it brings),
// `down N` takes it off. Every call is logged with where it was asked to go.
constexpr const char* kMigrate = R"py(import os, sqlite3, sys
db = sqlite3.connect(os.environ['BOUCLE_ENV_DB'])
db.execute('CREATE TABLE IF NOT EXISTS schema (version INTEGER PRIMARY KEY)')
action, n = sys.argv[1], int(sys.argv[2])
if action == 'up':
    db.execute('INSERT OR IGNORE INTO schema VALUES (?)', (n,))
    db.execute('CREATE TABLE IF NOT EXISTS t%d (x)' % n)
else:
    db.execute('DELETE FROM schema WHERE version = ?', (n,))
    db.execute('DROP TABLE IF EXISTS t%d' % n)
db.commit()
with open(os.environ['BOUCLE_ENV_DB'] + '.log', 'a') as log:
    log.write('%s %d from %s to %s\n' % (action, n, os.environ.get('BOUCLE_MIGRATE_FROM', ''),
                                          os.environ.get('BOUCLE_MIGRATE_TO', '')))
)py";

class LifecycleTest : public ServerFixture {
 protected:
  // A release whose deploy migrates as `migrate` says ("" for none); its smoke check fails
  // where the environment's `fail` value is "yes", or everywhere when `sick`.
  // Commits the pipeline file (a release's deploy migrating as `migrate` says, "" for none; its
  // smoke check failing where the environment's `fail` value is "yes", or everywhere when
  // `sick`) and builds it as run `run`.
  void build(int64_t run, const std::string& migrate, bool sick, const std::string& envs) {
    repo_.write(".boucle.yml",
                "jobs:\n  build:\n    run: |\n      mkdir -p dist\n"
                "      cp migrate.py dist/\n"
                "      tar czf app.tar.gz -C dist .\n"
                "    artifacts: [app.tar.gz]\n"
                "environments:\n" +
                    envs +
                    "deploy:\n  driver: local\n  steps:\n    - echo installed > "
                    "marker\n  smoke:\n    - run: test \"$BOUCLE_ENV_FAIL\" != yes" +
                    (sick ? " && false" : "") + "\n" + migrate +
                    "notify:\n  - on: [broken, fixed]\n    webhook: " + hook_ + "\n");
    repo_.write("migrate.py", kMigrate);
    repo_.write("N", std::to_string(run) + "\n");
    repo_.commit("feat: release " + std::to_string(run), "Ada");
    EXPECT_EQ(triggerAndWait("web", run)["state"], "passed");
  }
  // build(), then its release; the version.
  std::string release(int64_t run, const std::string& migrate, bool sick = false,
                      const std::string& envs = "  prod: {}\n") {
    build(run, migrate, sick, envs);
    Output r = client({"release", "web", "--json"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return json::parse(r.out, nullptr, false).value("version", "");
  }
  static std::string migration(int n, bool reversible) {
    std::string m = "  migrate:\n    up: python3 migrate.py up " + std::to_string(n) + "\n";
    return m + (reversible ? "    down: python3 migrate.py down " + std::to_string(n) + "\n"
                           : "    irreversible: true\n");
  }
  void addProject(const std::vector<std::string>& envs) {
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
    for (const auto& env : envs) {
      fs::path dir = repo_.scratch() / "envs" / env;
      ASSERT_EQ(client({"env", "set", "web", env, "dir=" + dir.string(),
                        "db=" + (repo_.scratch() / (env + ".db")).string()})
                    .exitCode,
                0);
    }
  }
  json lastDeploy(const std::string& env) {
    json list = api("/api/projects/web/deploys?env=" + env)["deploys"];
    return list.empty() ? json() : list[0];
  }
  std::string deployLog(int64_t id) {
    return readFile(server_->data() / "deploys" / (std::to_string(id) + ".log"));
  }
  std::string migrations(const std::string& env) {
    return readFile(repo_.scratch() / (env + ".db.log"));
  }
  // The schema versions the environment's database holds, read with Python's sqlite3.
  std::string schema(const std::string& env) {
    Output o = runCommand({"/usr/bin/python3", "-c",
                           "import sqlite3,sys; print(sorted(r[0] for r in sqlite3.connect("
                           "sys.argv[1]).execute('SELECT version FROM schema')))",
                           (repo_.scratch() / (env + ".db")).string()},
                          repo_.scratch());
    return o.out;
  }
  int64_t deployOf(const Output& o) {
    static const std::regex id(R"(deploy (\d+):)");
    std::smatch m;
    return std::regex_search(o.out, m, id) ? std::stoll(m[1].str()) : 0;
  }
  // A webhook receiver (sinks.py): the notifications' posts, one JSON object a line.
  void startSink() {
    fs::path dir = repo_.scratch() / "sinks";
    fs::create_directories(dir);
    sink_ = startProcess({"/usr/bin/python3", SINKS_PY, dir.string()}, repo_.scratch(),
                         repo_.scratch() / "sinks.out");
    std::smatch m;
    static const std::regex port(R"(http (\d+)\n)");
    std::string out;
    ASSERT_TRUE(waitFor([&] {
      out = readFile(repo_.scratch() / "sinks.out");
      return std::regex_search(out, m, port);
    })) << out;
    hook_ = "http://127.0.0.1:" + m[1].str() + "/hook";
  }
  std::string posts() { return readFile(repo_.scratch() / "sinks/posts.jsonl"); }
  void TearDown() override {
    ServerFixture::TearDown();
    if (sink_ > 0) {
      ::kill(sink_, SIGTERM);
      waitExit(sink_);
    }
  }
  std::string hook_ = "http://127.0.0.1:1/unreachable";
  pid_t sink_ = -1;
};

TEST_F(LifecycleTest, MigrationsGoForwardAndBackAndAnIrreversibleOneStopsARollbackUntilForced) {
  addProject({"prod"});
  std::string v1 = release(1, "");
  std::string v2 = release(2, migration(2, true));
  std::string v3 = release(3, migration(3, false));
  ASSERT_EQ(v3, "0.3.0");
  for (const auto& v : {v1, v2, v3}) {
    Output o = client({"deploy", "web", v, "--to", "prod"});
    ASSERT_EQ(o.exitCode, 0) << o.out << o.err;
  }
  EXPECT_EQ(migrations("prod"), "up 2 from 0.1.0 to 0.2.0\nup 3 from 0.2.0 to 0.3.0\n");
  EXPECT_EQ(schema("prod"), "[2, 3]\n");

  // The dry run says what going back would undo, and that it would be refused.
  Output dry = client({"deploy", "web", v1, "--to", "prod", "--dry-run"});
  ASSERT_EQ(dry.exitCode, 0) << dry.out << dry.err;
  std::string dryLog = deployLog(deployOf(dry));
  EXPECT_THAT(dryLog, HasSubstr("dry run: undo 0.2.0's migration: python3 migrate.py down 2"));
  EXPECT_THAT(dryLog, HasSubstr("dry run: 0.3.0's migration is irreversible"));
  EXPECT_THAT(dryLog, HasSubstr("dry run: would be refused: going back from 0.3.0 to 0.1.0"));
  Output dryUp = client({"deploy", "web", v3, "--to", "prod", "--dry-run"});
  EXPECT_THAT(deployLog(deployOf(dryUp)),
              HasSubstr("dry run: migrate up: python3 migrate.py up 3 (in releases/0.3.0)"));

  // Refused before anything is touched, saying which release stands in the way.
  Output refused = client({"rollback", "web", "prod", "--to", v1});
  EXPECT_NE(refused.exitCode, 0);
  EXPECT_THAT(refused.out + refused.err,
              HasSubstr("crosses 0.3.0, whose migration is irreversible"));
  EXPECT_EQ(lastDeploy("prod")["version"], v3);
  EXPECT_EQ(schema("prod"), "[2, 3]\n");
  EXPECT_EQ(fs::read_symlink(repo_.scratch() / "envs/prod/current"), fs::path("releases/0.3.0"));

  // Forced: 0.2.0's migration is undone from its own folder, 0.3.0's changes stay, and the
  // reason is kept with the deploy and in the audit log.
  Output forced =
      client({"rollback", "web", "prod", "--to", v1, "--force", "0.3.0 corrupts invoices"});
  ASSERT_EQ(forced.exitCode, 0) << forced.out << forced.err;
  json d = lastDeploy("prod");
  EXPECT_EQ(d["state"], "succeeded");
  EXPECT_EQ(d["forced"], "0.3.0 corrupts invoices");
  EXPECT_EQ(d["version"], v1);
  EXPECT_THAT(deployLog(d["id"]), HasSubstr("forced past the irreversible migration of 0.3.0"));
  EXPECT_EQ(migrations("prod"),
            "up 2 from 0.1.0 to 0.2.0\nup 3 from 0.2.0 to 0.3.0\n"
            "down 2 from 0.3.0 to 0.1.0\n");
  EXPECT_EQ(schema("prod"), "[3]\n");
  Output audit = client({"audit", "--json"});
  EXPECT_THAT(audit.out, HasSubstr("forced: 0.3.0 corrupts invoices"));

  // Forced past once, 0.3.0 holds no later rollback; 0.2.0 migrates again on its way back in,
  // and going back from it undoes it again.
  ASSERT_EQ(client({"deploy", "web", v2, "--to", "prod"}).exitCode, 0);
  Output again = client({"rollback", "web", "prod", "--to", v1});
  ASSERT_EQ(again.exitCode, 0) << again.out << again.err;
  EXPECT_EQ(migrations("prod"),
            "up 2 from 0.1.0 to 0.2.0\nup 3 from 0.2.0 to 0.3.0\n"
            "down 2 from 0.3.0 to 0.1.0\nup 2 from 0.1.0 to 0.2.0\n"
            "down 2 from 0.2.0 to 0.1.0\n");
  EXPECT_EQ(schema("prod"), "[3]\n");

  // A reason must be a line of text.
  auto bad = curl("POST", server_->url() + "/api/projects/web/environments/prod/rollback",
                  R"({"version": "0.2.0", "force": "a\nb"})",
                  {"Authorization: Bearer " + server_->token()});
  EXPECT_EQ(bad.status, 400);
}

TEST_F(LifecycleTest, AFailedReleasesMigrationIsUndoneByItsRollbackAndAnIrreversibleOneIsNot) {
  addProject({"prod"});
  std::string v1 = release(1, "");
  ASSERT_EQ(client({"deploy", "web", v1, "--to", "prod"}).exitCode, 0);
  std::string v2 = release(2, migration(2, true), true);
  Output o = client({"deploy", "web", v2, "--to", "prod"});
  EXPECT_NE(o.exitCode, 0);
  json d = lastDeploy("prod");
  EXPECT_EQ(d["state"], "rolled_back") << d.dump();
  EXPECT_EQ(migrations("prod"), "up 2 from 0.1.0 to 0.2.0\ndown 2 from 0.2.0 to 0.1.0\n");
  EXPECT_EQ(schema("prod"), "[]\n");

  std::string v3 = release(3, migration(3, false), true);
  o = client({"deploy", "web", v3, "--to", "prod"});
  EXPECT_NE(o.exitCode, 0);
  d = lastDeploy("prod");
  EXPECT_EQ(d["state"], "failed") << d.dump();
  EXPECT_THAT(d["reason"].get<std::string>(),
              HasSubstr("0.3.0's migration ran and is irreversible: not rolled back to 0.1.0"));
  EXPECT_EQ(schema("prod"), "[3]\n");
}

TEST_F(LifecycleTest, ABlankEnvironmentIsWipedBeforeEachDeployAndOnlyAFolderBoucleMade) {
  addProject({"nightly"});
  const std::string envs = "  nightly: {blank: true}\n";
  std::string v1 = release(1, migration(1, true), false, envs);
  ASSERT_EQ(client({"deploy", "web", v1, "--to", "nightly"}).exitCode, 0);
  fs::path dir = repo_.scratch() / "envs/nightly";
  std::ofstream(dir / "left-over") << "from an earlier install\n";
  // A dry run says it would wipe, and wipes nothing.
  Output dry = client({"deploy", "web", v1, "--to", "nightly", "--dry-run"});
  EXPECT_THAT(deployLog(deployOf(dry)), HasSubstr("would wipe " + dir.string()));
  EXPECT_TRUE(fs::exists(dir / "left-over"));

  std::string v2 = release(2, migration(1, true), false, envs);
  ASSERT_EQ(client({"deploy", "web", v2, "--to", "nightly"}).exitCode, 0);
  json d = lastDeploy("nightly");
  EXPECT_THAT(deployLog(d["id"]), HasSubstr("blank: wiped " + dir.string()));
  EXPECT_FALSE(fs::exists(dir / "left-over"));
  EXPECT_FALSE(fs::exists(dir / "releases" / v1));
  EXPECT_TRUE(fs::exists(dir / "releases" / v2 / "marker"));

  // A folder boucle did not make (it holds no releases/) is not wiped: the deploy stops there.
  fs::path other = repo_.scratch() / "someone-elses";
  fs::create_directories(other);
  std::ofstream(other / "precious") << "keep me\n";
  ASSERT_EQ(client({"env", "set", "web", "nightly", "dir=" + other.string()}).exitCode, 0);
  EXPECT_NE(client({"deploy", "web", v2, "--to", "nightly"}).exitCode, 0);
  EXPECT_THAT(lastDeploy("nightly")["reason"].get<std::string>(),
              HasSubstr("it holds no releases/ folder, so boucle did not make it"));
  EXPECT_TRUE(fs::exists(other / "precious"));
  // Refused before anything else: going back undoes no migration first.
  std::string before = migrations("nightly");
  EXPECT_NE(client({"rollback", "web", "nightly", "--to", v1}).exitCode, 0);
  EXPECT_EQ(migrations("nightly"), before);
  EXPECT_THAT(before, Not(HasSubstr("down")));
  // Nor the server's own data.
  ASSERT_EQ(client({"env", "set", "web", "nightly", "dir=" + server_->data().string()}).exitCode,
            0);
  EXPECT_NE(client({"deploy", "web", v2, "--to", "nightly"}).exitCode, 0);
  EXPECT_THAT(lastDeploy("nightly")["reason"].get<std::string>(), HasSubstr("refusing to wipe"));
  EXPECT_TRUE(fs::exists(server_->data() / "boucle.db"));
}

TEST_F(LifecycleTest, AnEnvironmentsScheduleDeploysTheNewestReleaseAndAFailureIsBroken) {
  startSink();
  addProject({"nightly"});
  ASSERT_EQ(client({"env", "set", "web", "nightly", "fail=yes"}).exitCode, 0);
  release(1, "", false, "  nightly: {blank: true}\n");
  std::string v2 = release(2, "", false, "  nightly: {blank: true}\n");
  // The schedule comes with the policy branch's next commit (no release of its own).
  build(3, "", false, "  nightly: {blank: true, schedule: '* * * * *'}\n");
  // Within a minute, by itself: the newest release, its failure told as a broken build is.
  json scheduled;
  ASSERT_TRUE(waitFor(
      [&] {
        scheduled = lastDeploy("nightly");
        return scheduled.is_object() && scheduled.value("cause", json()) == "schedule" &&
               scheduled.value("state", "") != "queued" &&
               scheduled.value("state", "") != "running";
      },
      std::chrono::seconds(90)))
      << lastDeploy("nightly").dump();
  EXPECT_EQ(scheduled["version"], v2);
  EXPECT_EQ(scheduled["state"], "failed") << deployLog(scheduled["id"]);
  // The release's own notify rules hear of it, as they hear of a build that breaks.
  ASSERT_TRUE(waitFor([&] { return posts().find("is broken") != std::string::npos; })) << posts();
  EXPECT_THAT(posts(), HasSubstr("web nightly is broken: the scheduled deploy of " + v2));
  EXPECT_THAT(posts(), Not(HasSubstr("is fixed")));
}

}  // namespace
}  // namespace boucle::testing
