#include "notify/forge_status.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace boucle::notify {
namespace {

using nlohmann::json;

constexpr const char* kSha = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";

store::Project project(std::string forge, std::string url) {
  store::Project p;
  p.name = "web";
  p.url = std::move(url);
  p.forge = std::move(forge);
  return p;
}

store::Run passedRun() {
  store::Run r;
  r.id = 12;
  r.project = "web";
  r.branch = "main";
  r.commit = kSha;
  r.state = store::RunState::kPassed;
  return r;
}

TEST(ForgeStatus, TheApiAndRepositoryAreToldFromTheProjectsUrl) {
  auto gh = forgeTarget(project("github", "https://github.com/octo/web.git"));
  ASSERT_TRUE(gh.ok() && *gh);
  EXPECT_EQ((*gh)->api, "https://api.github.com");
  EXPECT_EQ((*gh)->repo, "octo/web");
  auto ghe = forgeTarget(project("github", "git@git.corp.example:octo/web.git"));
  ASSERT_TRUE(ghe.ok() && *ghe);
  EXPECT_EQ((*ghe)->api, "https://git.corp.example/api/v3");
  auto gl = forgeTarget(project("gitlab", "ssh://git@gitlab.example.com:2222/group/sub/web"));
  ASSERT_TRUE(gl.ok() && *gl);
  EXPECT_EQ((*gl)->api, "https://gitlab.example.com/api/v4");
  EXPECT_EQ((*gl)->repo, "group/sub/web");
  auto gt = forgeTarget(project("gitea", "https://code.example.org/team/web/"));
  ASSERT_TRUE(gt.ok() && *gt);
  EXPECT_EQ((*gt)->api, "https://code.example.org/api/v1");
  EXPECT_EQ((*gt)->repo, "team/web");

  EXPECT_FALSE(*forgeTarget(project("", "https://github.com/octo/web")));  // no forge: none
  EXPECT_EQ(forgeTarget(project("github", "/srv/git/web")).status().code(), Code::kInvalid);
  EXPECT_EQ(forgeTarget(project("bitbucket", "https://x/y/z")).status().code(), Code::kInvalid);
  auto given = project("gitea", "/srv/git/web");
  given.forgeApi = "http://127.0.0.1:3000/api/v1/";
  given.forgeRepo = "team/web";
  auto t = forgeTarget(given);
  ASSERT_TRUE(t.ok() && *t);
  EXPECT_EQ((*t)->api, "http://127.0.0.1:3000/api/v1");
  given.forgeApi = "http://forge.example/api/v1";  // the token would cross the network in clear
  EXPECT_EQ(forgeTarget(given).status().code(), Code::kInvalid);
}

TEST(ForgeStatus, EachForgeGetsItsOwnPathBodyAndHeaders) {
  store::JobRecord test;
  test.name = "test";
  test.state = "passed";
  test.testsJson = R"({"tests": 212, "failures": 0, "errors": 0})";
  std::string link = "https://ci.example.com/#/runs/12";

  auto gh = statusFor({"github", "https://api.github.com", "octo/web"}, passedRun(), {test}, link);
  ASSERT_TRUE(gh);
  EXPECT_EQ(gh->url, std::string("https://api.github.com/repos/octo/web/statuses/") + kSha);
  json b = json::parse(gh->body);
  EXPECT_EQ(b["state"], "success");
  EXPECT_EQ(b["target_url"], link);
  EXPECT_EQ(b["description"], "build passed, 212 tests");
  EXPECT_EQ(b["context"], "boucle");
  EXPECT_EQ(forgeHeaders("github", "t0k")[0], "Authorization: Bearer t0k");

  auto gl =
      statusFor({"gitlab", "https://gl.example/api/v4", "group/web"}, passedRun(), {test}, link);
  ASSERT_TRUE(gl);
  EXPECT_EQ(gl->url,
            std::string("https://gl.example/api/v4/projects/group%2Fweb/statuses/") + kSha);
  json l = json::parse(gl->body);
  EXPECT_EQ(l["state"], "success");
  EXPECT_EQ(l["name"], "boucle");
  EXPECT_EQ(l["ref"], "main");
  EXPECT_EQ(forgeHeaders("gitlab", "t0k"), std::vector<std::string>{"PRIVATE-TOKEN: t0k"});

  auto gt = statusFor({"gitea", "https://code.example/api/v1", "team/web"}, passedRun(), {}, link);
  ASSERT_TRUE(gt);
  EXPECT_EQ(gt->url, std::string("https://code.example/api/v1/repos/team/web/statuses/") + kSha);
  EXPECT_EQ(json::parse(gt->body)["description"], "build passed");
  EXPECT_EQ(forgeHeaders("gitea", "t0k"), std::vector<std::string>{"Authorization: token t0k"});
}

TEST(ForgeStatus, StatesAndWhatTheySayFollowTheRun) {
  ForgeTarget gh{"github", "https://api.github.com", "octo/web"};
  ForgeTarget gl{"gitlab", "https://gl/api/v4", "1"};
  store::Run r = passedRun();
  r.state = store::RunState::kQueued;
  EXPECT_EQ(statusFor(gh, r, {}, "")->state, "pending");
  r.state = store::RunState::kRunning;
  EXPECT_EQ(statusFor(gh, r, {}, "")->state, "pending");
  EXPECT_EQ(statusFor(gl, r, {}, "")->state, "running");
  r.state = store::RunState::kFailed;
  store::JobRecord failed;
  failed.name = "test";
  failed.state = "failed";
  failed.testsJson = R"({"tests": 10, "failures": 2, "errors": 1})";
  auto f = statusFor(gh, r, {failed}, "");
  EXPECT_EQ(f->state, "failure");
  EXPECT_EQ(json::parse(f->body)["description"], "build failed: job test, 3 of 10 tests failed");
  EXPECT_EQ(statusFor(gl, r, {failed}, "")->state, "failed");
  r.state = store::RunState::kCancelled;
  EXPECT_EQ(statusFor(gh, r, {}, "")->state, "error");
  EXPECT_EQ(statusFor(gl, r, {}, "")->state, "canceled");

  // A branch asked for by name has no commit to set a status on until it is resolved.
  store::Run byName;
  byName.ref = "main";
  EXPECT_FALSE(statusFor(gh, byName, {}, ""));
  // A request's merge run reports on the request's head, under a context of its own.
  store::Run merge = passedRun();
  merge.commit = std::string(40, 'a');
  merge.pr.number = 4;
  merge.pr.head = kSha;
  merge.pr.merge = true;
  auto m = statusFor(gh, merge, {}, "");
  ASSERT_TRUE(m);
  EXPECT_NE(m->url.find(kSha), std::string::npos);
  EXPECT_EQ(json::parse(m->body)["context"], "boucle (merge)");
  merge.pr.merge = false;
  EXPECT_EQ(json::parse(statusFor(gh, merge, {}, "")->body)["context"], "boucle (pull request)");
  // A long reason is cut to GitHub's 140 characters.
  store::Run longReason = passedRun();
  longReason.state = store::RunState::kFailed;
  longReason.reason = std::string(300, 'x');
  EXPECT_LE(
      json::parse(statusFor(gh, longReason, {}, "")->body)["description"].get<std::string>().size(),
      140u);
}

}  // namespace
}  // namespace boucle::notify
