// Who may deploy where is never read from the code being judged: tried as a committer who can
// push a branch and a developer who can release it.
#include <gmock/gmock.h>

#include <map>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using json = nlohmann::json;

const char* kReviewed = R"yml(jobs:
  build: {run: echo x > app.txt, artifacts: [app.txt]}
release: {branches: [main]}
environments:
  dev: {auto: true}
  qa: {after: dev, auto: true}
  prod: {after: qa, auto: true, approval: [ops], four_eyes: true}
deploy:
  driver: command
  command: echo "$BOUCLE_RELEASE_VERSION" >> "$BOUCLE_ENV_OUT"
)yml";

class PolicyTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    repo_.write(".boucle.yml", kReviewed);
    repo_.commit("ci: the reviewed pipeline", "Ada");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0", "--branch",
                      "main", "--branch", "feature/**"})
                  .exitCode,
              0);
    for (const char* env : {"dev", "qa", "prod"}) {
      ASSERT_EQ(client({"env", "set", "web", env, "out=" + out(env).string()}).exitCode, 0);
    }
    olga_ = token("olga", "ops");
    oscar_ = token("oscar", "ops");
    dana_ = token("dana", "developer");
  }
  fs::path out(const std::string& env) { return repo_.scratch() / (env + ".out"); }
  std::string token(const std::string& name, const std::string& role) {
    Output o = client({"token", "add", name, "--role", role});
    EXPECT_EQ(o.exitCode, 0) << o.err;
    return o.out.substr(0, o.out.find('\n'));
  }
  Output as(const std::string& token, std::vector<std::string> args) {
    return repo_.boucle(std::move(args),
                        {"BOUCLE_SERVER=" + server_->url(), "BOUCLE_TOKEN=" + token});
  }
  json deploys(const std::string& env) {
    return api("/api/projects/web/deploys?env=" + env)["deploys"];
  }
  // Polls until the environment has `n` deploys and none is queued or running.
  json settle(const std::string& env, size_t n) {
    json list;
    waitFor([&] {
      list = deploys(env);
      if (list.size() < n) return false;
      for (const auto& d : list) {
        if (d["state"] == "queued" || d["state"] == "running") return false;
      }
      return true;
    });
    return list;
  }
  std::string olga_, oscar_, dana_;
};

TEST_F(PolicyTest, AnUnreviewedBranchCannotGiveItselfAWayToProduction) {
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  // main releases by itself (the policy says so) and the chain runs up to prod's approval.
  ASSERT_EQ(settle("qa", 1)[0]["state"], "succeeded");
  ASSERT_EQ(settle("prod", 1)[0]["state"], "waiting");

  // A committer's branch rewrites the rules: releases by itself, prod automatic, no approval.
  repo_.git({"checkout", "-q", "-b", "feature/evil"});
  std::string evil = kReviewed;
  evil.replace(evil.find("release: {branches: [main]}"), 27, "release: {branches: ['**']}");
  evil.replace(evil.find("prod: {after: qa, auto: true, approval: [ops], four_eyes: true}"), 63,
               "prod: {auto: true}");
  repo_.write(".boucle.yml", evil);
  repo_.commit("ci: faster", "Mallory");
  ASSERT_EQ(client({"trigger", "web", "--ref", "feature/evil"}).exitCode, 0);
  ASSERT_EQ(waitForRun(2)["state"], "passed");
  // The server logs a run's end after releasing it, if it does: only then is "no release" true.
  ASSERT_TRUE(
      waitFor([&] { return server_->log().find("run 2 of web passed") != std::string::npos; }));
  EXPECT_EQ(api("/api/projects/web/releases")["releases"].size(), 1u) << "not released by itself";

  // A developer releases it: a prerelease, never a version of the line.
  Output made = as(dana_, {"release", "web", "--from", "2", "--version", "9.9.9"});
  EXPECT_NE(made.exitCode, 0);
  EXPECT_THAT(made.err, HasSubstr("makes prereleases only"));
  made = as(dana_, {"release", "web", "--from", "2", "--json"});
  ASSERT_EQ(made.exitCode, 0) << made.err;
  json pre = json::parse(made.out);
  std::string version = pre["version"];  // main's 0.0.1, bumped, on the branch
  EXPECT_EQ(version, "0.0.2-feature-evil.1");
  EXPECT_EQ(pre["prerelease"], true);
  // It reaches dev (the first environment takes what is released) and goes no further.
  ASSERT_EQ(settle("dev", 2)[0]["version"], version);
  EXPECT_EQ(deploys("dev")[0]["state"], "succeeded");
  EXPECT_EQ(deploys("qa").size(), 1u);
  EXPECT_EQ(deploys("prod").size(), 1u);
  // Asked for by hand, prod still wants its approval from ops: main's rule, not the branch's.
  Output asked = as(dana_, {"deploy", "web", version, "--to", "prod"});
  EXPECT_NE(asked.exitCode, 0);
  EXPECT_THAT(asked.err + asked.out, HasSubstr("not succeeded in qa"));
  EXPECT_FALSE(fs::exists(out("prod")));

  // The line goes on from main, as if the branch had never been released.
  repo_.git({"checkout", "-q", "main"});
  repo_.write("fix.txt", "x\n");
  repo_.commit("fix: a real fix", "Ada");
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  ASSERT_EQ(waitForRun(3)["state"], "passed");
  json releases;
  ASSERT_TRUE(waitFor([&] {
    releases = api("/api/projects/web/releases")["releases"];
    return releases.size() == 3;
  }));
  EXPECT_EQ(releases[0]["version"], "0.0.2");
  EXPECT_EQ(releases[0]["prerelease"], false);
}

TEST_F(PolicyTest, AChainKeepsWhoStartedItSoFourEyesStillHold) {
  // No automatic releases: Olga releases by hand, and the chain carries her name to prod.
  std::string manual = kReviewed;
  manual.erase(manual.find("release: {branches: [main]}\n"), 28);
  repo_.write(".boucle.yml", manual);
  repo_.commit("ci: release by hand", "Ada");
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  Output made = as(olga_, {"release", "web"});
  ASSERT_EQ(made.exitCode, 0) << made.err;
  json prod = settle("prod", 1);
  ASSERT_EQ(prod[0]["state"], "waiting");
  EXPECT_EQ(prod[0]["requested_by"], "olga");
  std::string id = std::to_string(prod[0]["id"].get<int64_t>());
  Output self = as(olga_, {"approve", id});
  EXPECT_NE(self.exitCode, 0);
  EXPECT_THAT(self.err, HasSubstr("four eyes"));
  Output other = as(oscar_, {"approve", id});
  EXPECT_EQ(other.exitCode, 0) << other.err;
  EXPECT_EQ(settle("prod", 1)[0]["state"], "succeeded");
  EXPECT_EQ(settle("prod", 1)[0]["approved_by"], "oscar");
}

// Automation asks in the name of who started the chain: a developer's release goes to dev,
// and no further than the environments a developer may deploy to.
TEST_F(PolicyTest, AChainStartedByADeveloperStopsWhereDevelopersMayNotDeploy) {
  std::string guarded = kReviewed;
  guarded.erase(guarded.find("release: {branches: [main]}\n"), 28);
  guarded.replace(guarded.find("qa: {after: dev, auto: true}"), 28,
                  "qa: {after: dev, auto: true, deployers: [ops]}");
  repo_.write(".boucle.yml", guarded);
  repo_.commit("ci: qa is ops'", "Ada");
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  Output made = as(dana_, {"release", "web", "--json"});
  ASSERT_EQ(made.exitCode, 0) << made.err;
  json dev = settle("dev", 1);
  ASSERT_EQ(dev[0]["state"], "succeeded");
  EXPECT_EQ(dev[0]["requested_by"], "dana");
  ASSERT_TRUE(waitFor([&] {
    return server_->log().find("auto deploy to qa") != std::string::npos;
  })) << server_->log();
  EXPECT_THAT(server_->log(), HasSubstr("dana"));
  EXPECT_TRUE(deploys("qa").empty());
  EXPECT_FALSE(fs::exists(out("qa")));
  // Ops may take it on from there.
  Output promoted = as(olga_, {"promote", "web", "--from", "dev", "--to", "qa"});
  EXPECT_EQ(promoted.exitCode, 0) << promoted.err;
  EXPECT_EQ(settle("qa", 1)[0]["state"], "succeeded");
}

TEST_F(PolicyTest, ARollbackGoesOnlyToAReleaseThatRanThereOrPassedBefore) {
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_EQ(settle("qa", 1)[0]["state"], "succeeded");
  repo_.git({"checkout", "-q", "-b", "feature/x"});
  repo_.write("x.txt", "x\n");
  repo_.commit("feat: x", "Mallory");
  ASSERT_EQ(client({"trigger", "web", "--ref", "feature/x"}).exitCode, 0);
  ASSERT_EQ(waitForRun(2)["state"], "passed");
  Output pre = as(dana_, {"release", "web", "--from", "2", "--json"});
  ASSERT_EQ(pre.exitCode, 0) << pre.err;
  std::string version = json::parse(pre.out)["version"];
  settle("dev", 2);
  // prod never ran the prerelease, nor did it pass qa: a "rollback" to it would be a deploy
  // around prod's rules.
  Output back = as(olga_, {"rollback", "web", "prod", "--to", version});
  EXPECT_NE(back.exitCode, 0);
  EXPECT_THAT(back.err + back.out, HasSubstr("never ran in prod"));
  EXPECT_FALSE(fs::exists(out("prod")));
}

}  // namespace
}  // namespace boucle::testing
