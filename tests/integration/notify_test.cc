// Notifications from the real server to a real HTTP receiver and a real SMTP sink.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "harness.h"
#include "server_fixture.h"

namespace boucle::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

class NotifyTest : public ServerFixture {
 protected:
  void SetUp() override {
    fs::path sinkDir = repo_.scratch() / "sinks";
    fs::create_directories(sinkDir);
    sinks_ = startProcess({"/usr/bin/python3", SINKS_PY, sinkDir.string()}, repo_.scratch(),
                          repo_.scratch() / "sinks.out");
    std::smatch m;
    static const std::regex ports(R"(http (\d+)\nsmtp (\d+)\n)");
    ASSERT_TRUE(waitFor([&] {
      out_ = readFile(repo_.scratch() / "sinks.out");
      return std::regex_search(out_, m, ports);
    })) << out_;
    httpPort_ = m[1].str();
    smtpPort_ = m[2].str();
    sinkDir_ = sinkDir;
    startServer({"--smtp", "smtp://127.0.0.1:" + smtpPort_, "--mail-from", "ci@boucle.test"});
  }
  void TearDown() override {
    if (sinks_ > 0) {
      ::kill(sinks_, SIGTERM);
      waitExit(sinks_);
    }
  }
  json runAndWait(int id) { return triggerAndWait("web", id); }
  void addProject() {
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  }
  std::vector<json> posts() {
    std::vector<json> out;
    std::string text = readFile(sinkDir_ / "posts.jsonl");
    size_t start = 0;
    while (start < text.size()) {
      size_t nl = text.find('\n', start);
      out.push_back(json::parse(text.substr(start, nl - start)));
      start = nl + 1;
    }
    return out;
  }
  std::vector<std::string> mails() {
    std::vector<std::string> out;
    fs::path dir = sinkDir_ / "Maildir/new";
    if (!fs::exists(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(readFile(e.path()));
    return out;
  }

  pid_t sinks_ = -1;
  std::string out_, httpPort_, smtpPort_;
  fs::path sinkDir_;
};

TEST_F(NotifyTest, BrokenAndFixedReachWebhookSlackAndEmail) {
  std::string base = "http://127.0.0.1:" + httpPort_;
  repo_.write(".boucle.yml",
              "jobs:\n  test: {run: 'sh check.sh'}\nnotify:\n"
              "  - on: [broken, fixed]\n    webhook: " +
                  base +
                  "/hook\n"
                  "  - on: [broken]\n    slack: " +
                  base +
                  "/slack\n"
                  "  - on: [broken, fixed]\n    email: team@boucle.test\n"
                  "  - on: [broken]\n    webhook: http://127.0.0.1:1/unreachable\n");
  repo_.write("check.sh", "exit 0\n");
  repo_.commit("feat: start", "Alice");
  addProject();
  EXPECT_EQ(runAndWait(1)["state"], "passed");
  repo_.write("check.sh", "exit 1\n");
  std::string culprit = repo_.commit("refactor: drop checks", "Mallory");
  EXPECT_EQ(runAndWait(2)["event"], "broken");
  ASSERT_TRUE(waitFor([&] { return posts().size() >= 2 && mails().size() >= 1; }))
      << readFile(sinkDir_ / "posts.jsonl");
  auto p = posts();
  json hook, slack;
  for (const auto& post : p)
    (post["path"] == "/hook" ? hook : slack) = json::parse(post["body"].get<std::string>());
  EXPECT_EQ(hook["event"], "broken");
  EXPECT_EQ(hook["run"]["commit"], culprit);
  EXPECT_EQ(hook["run"]["author"], "Mallory");
  EXPECT_THAT(slack["text"].get<std::string>(),
              HasSubstr("web main broken by " + culprit.substr(0, 10) +
                        " (Mallory): refactor: drop checks"));
  std::string mail = mails()[0];
  EXPECT_THAT(mail, HasSubstr("Subject: [boucle] web main broken by " + culprit.substr(0, 10)));
  EXPECT_THAT(mail, HasSubstr("X-RcptTo: team@boucle.test"));
  EXPECT_THAT(mail, HasSubstr("X-MailFrom: ci@boucle.test"));

  // The unreachable channel is retried and recorded, and holds nothing up.
  json deliveries;
  ASSERT_TRUE(waitFor([&] {
    deliveries = api("/api/runs/2/notifications")["notifications"];
    for (const auto& d : deliveries) {
      if (d["target"] == "http://127.0.0.1:1/unreachable") return d["attempts"].get<int>() >= 2;
    }
    return false;
  })) << deliveries.dump();
  for (const auto& d : deliveries) {
    if (d["target"] == "http://127.0.0.1:1/unreachable") {
      EXPECT_EQ(d["state"], "pending");
      EXPECT_THAT(d["last_error"].get<std::string>(), HasSubstr("onnect"));
    } else {
      EXPECT_EQ(d["state"], "sent") << d.dump();
    }
  }

  repo_.write("check.sh", "exit 0\n");
  std::string fix = repo_.commit("fix: restore checks", "Alice");
  EXPECT_EQ(runAndWait(3)["event"], "fixed");
  ASSERT_TRUE(waitFor([&] { return posts().size() >= 3 && mails().size() >= 2; }));
  json fixed = json::parse(posts().back()["body"].get<std::string>());
  EXPECT_EQ(fixed["event"], "fixed");
  EXPECT_EQ(fixed["run"]["commit"], fix);
  EXPECT_EQ(fixed["broken_since"]["commit"], culprit);
}

TEST_F(NotifyTest, BrokenWaitsForBisectionAndNamesTheOneCommit) {
  std::string base = "http://127.0.0.1:" + httpPort_;
  repo_.write(".boucle.yml",
              "jobs:\n  test: {run: 'sh check.sh'}\nnotify:\n"
              "  - on: [broken, failed]\n    webhook: " +
                  base + "/hook\n");
  repo_.write("check.sh", "exit 0\n");
  repo_.commit("feat: start", "Alice");
  addProject();
  EXPECT_EQ(runAndWait(1)["state"], "passed");
  std::string culprit;
  for (int i = 1; i <= 4; ++i) {
    if (i == 2) repo_.write("check.sh", "exit 1\n");
    repo_.write("f" + std::to_string(i), "x\n");
    std::string sha = repo_.commit("change " + std::to_string(i), i == 2 ? "Mallory" : "Bob");
    if (i == 2) culprit = sha;
  }
  EXPECT_EQ(runAndWait(2)["event"], "broken");
  ASSERT_TRUE(waitFor([&] { return api("/api/runs/2").value("bisection", "") == "found"; }));
  ASSERT_TRUE(waitFor([&] { return posts().size() >= 2; }));
  std::vector<json> bodies;
  for (const auto& p : posts()) bodies.push_back(json::parse(p["body"].get<std::string>()));
  ASSERT_EQ(bodies.size(), 2u);  // run 2's "failed" and "broken"; bisection runs send nothing
  EXPECT_EQ(bodies[0]["event"], "failed");
  EXPECT_EQ(bodies[0]["run"]["id"], 2);
  EXPECT_EQ(bodies[1]["event"], "broken");
  EXPECT_EQ(bodies[1]["run"]["culprit"]["commit"], culprit);
  EXPECT_EQ(bodies[1]["run"]["culprit"]["author"], "Mallory");
  EXPECT_THAT(bodies[1]["text"].get<std::string>(),
              HasSubstr("web main broken by " + culprit.substr(0, 10) +
                        " (Mallory): change 2 (found by bisecting 4 commits)"));
}

TEST_F(NotifyTest, DeploysTellWhenTheyLandFailAndRollBack) {
  std::string base = "http://127.0.0.1:" + httpPort_;
  repo_.write(".boucle.yml",
              "jobs:\n  build:\n    run: mkdir -p pkg && cp MARK pkg/ && "
              "if [ -e BROKEN ]; then touch pkg/BROKEN; fi && tar czf app.tgz -C pkg .\n"
              "    artifacts: [app.tgz]\n"
              "environments:\n  dev: {auto: true}\n"
              "deploy:\n  driver: command\n  command: test ! -e BROKEN\n"
              "notify:\n  - on: [deployed, deploy_failed, rolled_back]\n    webhook: " +
                  base + "/hook\n");
  repo_.write("MARK", "1");
  repo_.commit("feat: first", "Ada");
  addProject();
  ASSERT_EQ(runAndWait(1)["state"], "passed");
  ASSERT_EQ(client({"release", "web"}).exitCode, 0);
  auto post = [&](size_t k) { return json::parse(posts()[k]["body"].get<std::string>()); };
  ASSERT_TRUE(waitFor([&] { return posts().size() == 1; })) << posts().size();
  EXPECT_EQ(post(0)["event"], "deployed");
  EXPECT_EQ(post(0)["text"], "web 0.1.0 deployed to dev (asked by initial admin token)");

  repo_.write("BROKEN", "x");
  repo_.commit("fix: break the deploy", "Mallory");
  ASSERT_EQ(runAndWait(2)["state"], "passed");
  ASSERT_EQ(client({"release", "web"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] { return posts().size() == 3; })) << posts().size();
  EXPECT_EQ(post(1)["event"], "deploy_failed");
  EXPECT_THAT(post(1)["text"].get<std::string>(),
              HasSubstr("web 0.1.1 failed to deploy to dev: step 'test ! -e BROKEN' failed"));
  EXPECT_EQ(post(1)["deploy"]["state"], "rolled_back");
  EXPECT_EQ(post(2)["text"], "web dev rolled back to 0.1.0 after 0.1.1 failed");
  json listed = api("/api/runs/2/notifications");
  EXPECT_EQ(listed["notifications"].size(), 2u) << "shown under the release's run";
}

TEST_F(NotifyTest, IncidentsAreToldWithTheLiveReleasesRules) {
  std::string base = "http://127.0.0.1:" + httpPort_;
  repo_.write(".boucle.yml",
              "jobs:\n  build: {run: 'true'}\n"
              "environments:\n  prod: {auto: true}\n"
              "deploy:\n  driver: command\n  command: 'true'\n"
              "notify:\n  - on: [incident, resolved]\n    webhook: " +
                  base + "/hook\n  - on: [incident]\n    email: oncall@boucle.test\n");
  repo_.commit("feat: first", "Ada");
  addProject();
  ASSERT_EQ(runAndWait(1)["state"], "passed");
  ASSERT_EQ(client({"release", "web"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] {
    json d = api("/api/projects/web/deploys?env=prod")["deploys"];
    return !d.empty() && d[0]["state"] == "succeeded";
  }));
  Output opened = client({"incident", "open", "web", "prod", "checkout is down", "--json"});
  ASSERT_EQ(opened.exitCode, 0) << opened.all();
  std::string id = std::to_string(json::parse(opened.out)["id"].get<int64_t>());
  ASSERT_TRUE(waitFor([&] { return posts().size() == 1 && mails().size() == 1; }));
  json fired = json::parse(posts()[0]["body"].get<std::string>());
  EXPECT_EQ(fired["event"], "incident");
  EXPECT_EQ(fired["text"], "web prod: incident #" + id + " opened (0.1.0 live): checkout is down");
  EXPECT_EQ(fired["incident"]["release"], "0.1.0");
  EXPECT_THAT(mails()[0], HasSubstr("incident #" + id));
  ASSERT_EQ(client({"incident", "resolve", id, "restarted"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] { return posts().size() == 2; }));
  EXPECT_EQ(json::parse(posts()[1]["body"].get<std::string>())["event"], "resolved");
  json timeline = api("/api/incidents/" + id)["timeline"];
  std::vector<std::string> kinds;
  for (const auto& e : timeline) kinds.push_back(e["kind"]);
  EXPECT_THAT(kinds, ::testing::ElementsAre("opened", "notified", "resolved", "notified"));
}

// The forges' documented shapes, checked on a local HTTP server: no forge runs here.
TEST_F(NotifyTest, EachRunsStateIsSetAsACommitStatusInEachForgesShape) {
  repo_.write(".boucle.yml", "jobs:\n  test: {run: 'echo ok'}\n");
  std::string sha = repo_.commit("feat: first");
  addProject();
  const std::string token = "forge-t0ken-9a8b7c6d";
  fs::path tokenFile = repo_.scratch() / "forge-token";
  std::ofstream(tokenFile) << token << "\n";
  std::string forgeApi = "http://127.0.0.1:" + httpPort_;
  Output set = client({"project", "set", "web", "--forge", "github", "--forge-api", forgeApi + "/",
                       "--forge-repo", "octo/web", "--forge-token-file", tokenFile.string()});
  ASSERT_EQ(set.exitCode, 0) << set.all();

  struct Forge {
    std::string name, repo, path, auth, nameKey, running;
  };
  std::vector<Forge> forges = {
      {"github", "octo/web", "/repos/octo/web/statuses/", "Authorization: Bearer " + token,
       "context", "pending"},
      {"gitlab", "group/web", "/projects/group%2Fweb/statuses/", "PRIVATE-TOKEN: " + token, "name",
       "running"},
      {"gitea", "team/web", "/repos/team/web/statuses/", "Authorization: token " + token, "context",
       "pending"},
  };
  size_t seen = 0;
  int64_t run = 0;
  for (const auto& f : forges) {
    SCOPED_TRACE(f.name);
    // Another forge: its token is given again (a token is never carried to another forge).
    ASSERT_EQ(client({"project", "set", "web", "--forge", f.name, "--forge-repo", f.repo,
                      "--forge-token-file", tokenFile.string()})
                  .exitCode,
              0);
    ASSERT_EQ(client({"trigger", "web", "--ref", sha}).exitCode, 0);
    ++run;
    EXPECT_EQ(waitForRun(run)["state"], "passed");
    // queued, running, passed: up to three statuses on the commit, in order, ending with the
    // result (one a newer one supersedes before it went out is not sent).
    std::vector<json> mine;
    ASSERT_TRUE(waitFor([&] {
      mine.clear();
      auto all = posts();
      for (size_t i = seen; i < all.size(); ++i) mine.push_back(all[i]);
      return !mine.empty() &&
             json::parse(mine.back()["body"].get<std::string>())["state"] == "success";
    })) << mine.size();
    seen += mine.size();
    ASSERT_LE(mine.size(), 3u);
    std::vector<std::string> states;
    for (const auto& p : mine) {
      EXPECT_EQ(p["method"], "POST");
      EXPECT_EQ(p["path"], f.path + sha);
      json h = p["headers"];
      EXPECT_EQ(h.value("Content-Type", ""), "application/json");
      EXPECT_EQ(h.value("User-Agent", ""), "boucle");
      std::string authName = f.auth.substr(0, f.auth.find(':'));
      EXPECT_EQ(authName + ": " + h.value(authName, ""), f.auth);
      json body = json::parse(p["body"].get<std::string>());
      states.push_back(body["state"]);
      EXPECT_EQ(body[f.nameKey], "boucle");
      EXPECT_EQ(body["target_url"], server_->url() + "/#/runs/" + std::to_string(run));
    }
    std::vector<std::string> expected{"pending", f.running, "success"};
    if (f.running == "pending") expected.erase(expected.begin());  // twice the same word
    for (size_t i = 0; i + 1 < states.size(); ++i)
      EXPECT_NE(std::find(expected.begin(), expected.end() - 1, states[i]), expected.end() - 1)
          << states[i];
    EXPECT_EQ(json::parse(mine.back()["body"].get<std::string>())["description"], "build passed");
    if (f.name == "github") {
      EXPECT_EQ(mine[0]["headers"].value("X-GitHub-Api-Version", ""), "2022-11-28");
    }
    // Recorded with the run's notifications.
    json recorded;
    ASSERT_TRUE(waitFor([&] {
      recorded = api("/api/runs/" + std::to_string(run) + "/notifications")["notifications"];
      return recorded.size() == 3 && recorded[2]["state"] == "sent";
    })) << recorded.dump();
    size_t sent = 0;
    for (const auto& d : recorded) {
      EXPECT_EQ(d["channel"], "status");
      if (d["state"] == "sent") {
        ++sent;
      } else {
        EXPECT_EQ(d["state"], "superseded");
        EXPECT_EQ(d["last_error"], "superseded by a newer status") << d.dump();
      }
    }
    EXPECT_EQ(sent, mine.size());
  }

  // The token is nowhere but sealed in the database: not in an answer, the audit log, the
  // server's log or the database's file.
  EXPECT_THAT(client({"project", "show", "web"}).out, Not(HasSubstr(token)));
  EXPECT_THAT(client({"audit", "web"}).out, Not(HasSubstr(token)));
  EXPECT_THAT(server_->log(), Not(HasSubstr(token)));
  std::string db = readFile(server_->data() / "boucle.db");
  if (fs::exists(server_->data() / "boucle.db-wal"))
    db += readFile(server_->data() / "boucle.db-wal");
  EXPECT_THAT(db, Not(HasSubstr(token)));
  EXPECT_EQ(api("/api/projects/web")["forge_token_set"], true);
}

}  // namespace
}  // namespace boucle::testing
