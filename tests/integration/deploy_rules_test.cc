// Deploy rules against the real server: time windows, one deploy at a time per environment,
// and the server dying mid-deploy.
#include <gmock/gmock.h>
#include <signal.h>

#include <ctime>
#include <fstream>
#include <map>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class DeployRulesTest : public ServerFixture {
 protected:
  // A command-driver pipeline: the deploy appends to a file, after `step` (a shell command).
  void setUpProject(const std::string& environments, const std::string& step) {
    repo_.write(".boucle.yml",
                "jobs:\n  build:\n    run: echo x > app.txt\n    artifacts: [app.txt]\n"
                "environments:\n" +
                    environments + "deploy:\n  driver: command\n  command: '" + step +
                    " && echo \"$BOUCLE_RELEASE_VERSION\" >> \"$BOUCLE_ENV_OUT\"'\n");
    repo_.commit("feat: app", "Ada");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
    for (const char* env : {"qa", "prod"}) {
      std::string out = (repo_.scratch() / (std::string(env) + ".out")).string();
      ASSERT_EQ(client({"env", "set", "web", env, "out=" + out}).exitCode, 0);
    }
    ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
    ASSERT_EQ(client({"release", "web", "--version", "1.0.0"}).exitCode, 0);
  }
  json waitForDeploy(int64_t id) {
    json d;
    waitFor([&] {
      d = api("/api/deploys/" + std::to_string(id));
      std::string s = d.value("state", "");
      return s != "queued" && s != "running" && s != "waiting" && !s.empty();
    });
    return d;
  }
};

TEST_F(DeployRulesTest, RolesDecideWhoMayDeployWhereWhoApprovesAndWhoChangesTheSetup) {
  setUpProject(
      "  qa: {}\n"
      "  prod: {deployers: [ops], approval: [ops, \"user:lead\"], four_eyes: true}\n",
      "true");
  auto token = [&](const std::string& name, const std::string& role) {
    Output r = client({"token", "add", name, "--role", role});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    EXPECT_THAT(r.err, HasSubstr("token '" + name + "' (" + role + ") made"));
    return r.out.substr(0, r.out.find('\n'));
  };
  Output bad = client({"token", "add", "eve", "--role", "ops,admin"});
  EXPECT_NE(bad.exitCode, 0);
  EXPECT_THAT(bad.err, HasSubstr("roles: a list of names"));
  std::map<std::string, std::string> tokens;
  for (auto [name, role] : {std::pair{"dana", "developer"},
                            {"olga", "ops"},
                            {"oscar", "ops"},
                            {"vic", "viewer"},
                            {"lead", "developer"}}) {
    tokens[name] = token(name, role);
  }
  auto as = [&](const std::string& who, std::vector<std::string> args) {
    return repo_.boucle(args, {"BOUCLE_SERVER=" + server_->url(), "BOUCLE_TOKEN=" + tokens[who]});
  };
  auto idOf = [](const Output& o) {
    return json::parse(o.out, nullptr, false).value("id", int64_t{0});
  };

  // A viewer reads, and nothing else.
  EXPECT_EQ(as("vic", {"deploys", "web"}).exitCode, 0);
  Output v = as("vic", {"deploy", "web", "1.0.0", "--to", "qa"});
  EXPECT_NE(v.exitCode, 0);
  EXPECT_THAT(v.err, HasSubstr("vic (viewer) may only read"));
  EXPECT_THAT(as("vic", {"trigger", "web"}).err, HasSubstr("may only read"));

  // A developer deploys where nobody is named, not to prod, and does not change the setup.
  Output qa = as("dana", {"deploy", "web", "1.0.0", "--to", "qa", "--json"});
  ASSERT_EQ(qa.exitCode, 0) << qa.err;
  EXPECT_EQ(waitForDeploy(idOf(qa))["state"], "succeeded");
  Output prodByDev = as("dana", {"deploy", "web", "1.0.0", "--to", "prod"});
  EXPECT_NE(prodByDev.exitCode, 0);
  EXPECT_THAT(prodByDev.err,
              HasSubstr("dana (developer) may not deploy to prod (its deployers: ops)"));
  EXPECT_THAT(as("dana", {"env", "set", "web", "prod", "out=/tmp/x"}).err,
              HasSubstr("dana (developer) may not do this: it is for admins"));
  EXPECT_THAT(as("dana", {"token", "add", "mine"}).err,
              HasSubstr("only admins make tokens that are not their own"));

  // ops asks; a developer may not approve, nor ops itself (four eyes); "user:lead" may.
  Output asked = as("olga", {"deploy", "web", "1.0.0", "--to", "prod", "--json"});
  ASSERT_EQ(asked.exitCode, 0) << asked.err;
  std::string id = std::to_string(idOf(asked));
  EXPECT_THAT(as("dana", {"approve", id}).err,
              HasSubstr("dana (developer) may not approve deploys to prod (its approvers: "
                        "ops,user:lead)"));
  EXPECT_THAT(as("olga", {"approve", id}).err, HasSubstr("four eyes"));
  EXPECT_THAT(as("dana", {"reject", id}).err, HasSubstr("may not cancel deploy " + id));
  Output approved = as("lead", {"approve", id, "--no-wait"});
  ASSERT_EQ(approved.exitCode, 0) << approved.err;
  EXPECT_EQ(waitForDeploy(idOf(asked))["approved_by"], "lead");
  EXPECT_EQ(readFile(repo_.scratch() / "prod.out"), "1.0.0\n");

  // Another request, rejected by another approver: it never runs, and cannot be approved now.
  Output again = as("olga", {"deploy", "web", "1.0.0", "--to", "prod", "--json"});
  ASSERT_EQ(again.exitCode, 0) << again.err;
  std::string second = std::to_string(idOf(again));
  Output rejected = as("oscar", {"reject", second});
  ASSERT_EQ(rejected.exitCode, 0) << rejected.err;
  EXPECT_THAT(rejected.out, HasSubstr("cancelled (rejected by oscar)"));
  EXPECT_THAT(as("lead", {"approve", second}).err, HasSubstr("is cancelled, not waiting"));
  EXPECT_EQ(readFile(repo_.scratch() / "prod.out"), "1.0.0\n");
  Output audit = client({"audit", "web"});
  EXPECT_THAT(audit.out, HasSubstr("oscar"));
  EXPECT_THAT(audit.out, HasSubstr("reject"));
}

// People follow the rules tokens do, whichever way they come: signed in, or with a token of
// their own; one person through two credentials is still one pair of eyes.
TEST_F(DeployRulesTest, PeopleFollowTheSameRulesThroughTheirSessionsAndTheirTokens) {
  setUpProject("  qa: {}\n  prod: {deployers: [ops], approval: [\"user:lead\"], four_eyes: true}\n",
               "true");
  // A person signed in, and a token of their own made through that session.
  struct Person {
    std::string cookie, csrf, token;
  };
  auto person = [&](const std::string& name, const std::string& role) {
    auto file = repo_.scratch() / ("pw-" + name);
    std::ofstream(file) << name << "-secret-pw\n";
    EXPECT_EQ(
        client({"user", "add", name, "--role", role, "--password-file", file.string()}).exitCode,
        0);
    Http in = curl("POST", server_->url() + "/api/session",
                   json{{"name", name}, {"password", name + "-secret-pw"}}.dump(),
                   {"Content-Type: application/json"});
    EXPECT_EQ(in.status, 200) << in.body;
    Person p;
    std::string c = in.header("Set-Cookie");
    p.cookie = c.substr(0, c.find(';'));
    p.csrf = json::parse(in.body)["csrf"];
    Http t = curl("POST", server_->url() + "/api/tokens", json{{"name", name + "-cli"}}.dump(),
                  {"Cookie: " + p.cookie, "X-CSRF-Token: " + p.csrf});
    EXPECT_EQ(t.status, 201) << t.body;
    p.token = json::parse(t.body).value("token", "");
    return p;
  };
  Person olga = person("olga", "ops");
  Person lead = person("lead", "developer");
  Person dana = person("dana", "developer");
  auto withToken = [&](const Person& p, std::vector<std::string> args) {
    return repo_.boucle(args, {"BOUCLE_SERVER=" + server_->url(), "BOUCLE_TOKEN=" + p.token});
  };
  auto signedIn = [&](const Person& p, const std::string& path) {
    return curl("POST", server_->url() + path, "{}",
                {"Cookie: " + p.cookie, "X-CSRF-Token: " + p.csrf});
  };

  EXPECT_THAT(withToken(dana, {"deploy", "web", "1.0.0", "--to", "prod"}).err,
              HasSubstr("dana (developer) may not deploy to prod (its deployers: ops)"));
  Output asked = withToken(olga, {"deploy", "web", "1.0.0", "--to", "prod", "--json"});
  ASSERT_EQ(asked.exitCode, 0) << asked.err;
  int64_t id = json::parse(asked.out).value("id", int64_t{0});
  EXPECT_EQ(api("/api/deploys/" + std::to_string(id))["requested_by"], "olga");
  // Her session is still olga: four eyes, and not an approver.
  Http self = signedIn(olga, "/api/deploys/" + std::to_string(id) + "/approve");
  EXPECT_EQ(self.status, 403) << self.body;
  EXPECT_EQ(signedIn(dana, "/api/deploys/" + std::to_string(id) + "/approve").status, 403);
  Http approved = signedIn(lead, "/api/deploys/" + std::to_string(id) + "/approve");
  ASSERT_EQ(approved.status, 200) << approved.body;
  EXPECT_EQ(waitForDeploy(id)["approved_by"], "lead");
  EXPECT_EQ(readFile(repo_.scratch() / "prod.out"), "1.0.0\n");
}

TEST_F(DeployRulesTest, OutsideItsWindowAnEnvironmentRefusesDeploys) {
  // A one-minute window two days from now (server local time): never open during the test.
  static const char* days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::string closed = days[((tm.tm_wday + 6) % 7 + 2) % 7];
  setUpProject("  qa: {}\n  prod: {window: \"" + closed + " 03:00-03:01\"}\n", "true");
  Output refused = client({"deploy", "web", "1.0.0", "--to", "prod"});
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_THAT(refused.err, HasSubstr("prod takes deploys only in its window (" + closed +
                                     " 03:00-03:01, server time)"));
  EXPECT_EQ(client({"deploy", "web", "1.0.0", "--to", "qa"}).exitCode, 0);
  EXPECT_EQ(readFile(repo_.scratch() / "qa.out"), "1.0.0\n");
  EXPECT_EQ(readFile(repo_.scratch() / "prod.out"), "");
}

TEST_F(DeployRulesTest, DeploysToOneEnvironmentRunOneAfterTheOther) {
  // Each deploy waits for the gate file, so the first qa deploy is surely still running when
  // the others are asked for, however slow the machine (a fixed sleep was not, under ASan).
  std::filesystem::path gate = repo_.scratch() / "gate";
  setUpProject("  qa: {}\n  prod: {}\n", "until [ -e " + gate.string() + " ]; do sleep 0.05; done");
  // Three requests at once, two to qa: the second qa deploy waits for the first; prod goes on.
  auto ask = [&](const std::string& env) {
    Output o = client({"deploy", "web", "1.0.0", "--to", env, "--no-wait", "--json"});
    EXPECT_EQ(o.exitCode, 0) << o.err;
    return json::parse(o.out)["id"].get<int64_t>();
  };
  int64_t a = ask("qa");
  ASSERT_TRUE(waitFor(
      [&] { return api("/api/deploys/" + std::to_string(a)).value("state", "") == "running"; }));
  int64_t b = ask("qa"), c = ask("prod");
  EXPECT_THAT(api("/api/deploys/" + std::to_string(b)).value("reason", ""),
              HasSubstr("queued behind deploy " + std::to_string(a) + " (1.0.0, asked by"));
  std::ofstream(gate) << "open\n";  // the deploys may go on
  json da = waitForDeploy(a), db = waitForDeploy(b), dc = waitForDeploy(c);
  ASSERT_EQ(da["state"], "succeeded");
  ASSERT_EQ(db["state"], "succeeded");
  ASSERT_EQ(dc["state"], "succeeded");
  EXPECT_GE(db["started_at_ms"].get<int64_t>(), da["finished_at_ms"].get<int64_t>())
      << "the second qa deploy started after the first ended";
  EXPECT_EQ(readFile(repo_.scratch() / "qa.out"), "1.0.0\n1.0.0\n");
}

TEST_F(DeployRulesTest, AServerKilledMidDeployMarksItInterruptedAndFreesTheEnvironment) {
  std::string pidFile = (repo_.scratch() / "step.pid").string();
  setUpProject("  qa: {}\n  prod: {}\n", "echo $$ > " + pidFile + " && sleep 30");
  Output asked = client({"deploy", "web", "1.0.0", "--to", "qa", "--no-wait", "--json"});
  int64_t id = json::parse(asked.out)["id"].get<int64_t>();
  ASSERT_TRUE(waitFor(
      [&] { return api("/api/deploys/" + std::to_string(id)).value("state", "") == "running"; }));
  ASSERT_TRUE(waitFor([&] { return readFile(pidFile).ends_with("\n"); }));
  pid_t step = std::stoi(readFile(pidFile));
  server_->kill9();
  EXPECT_TRUE(processAlive(step)) << "nothing ends a step but the server";
  std::string log;
  ASSERT_TRUE(server_->start(&log)) << log;
  EXPECT_TRUE(waitFor([&] { return !processAlive(step); }))
      << "the restarted server ends the interrupted step";
  json d = api("/api/deploys/" + std::to_string(id));
  EXPECT_EQ(d["state"], "interrupted");
  EXPECT_THAT(d["reason"].get<std::string>(), HasSubstr("server stopped"));
  // the environment takes deploys again
  Output again = client({"deploy", "web", "1.0.0", "--to", "prod", "--no-wait", "--json"});
  EXPECT_EQ(again.exitCode, 0) << again.err;
  json audit = api("/api/audit?project=web");
  bool recorded = false;
  for (const auto& e : audit["entries"]) recorded |= e["action"] == "deploy";
  EXPECT_TRUE(recorded);
}

}  // namespace
}  // namespace boucle::testing
