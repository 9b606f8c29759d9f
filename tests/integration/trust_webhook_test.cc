// Webhooks and the mirror, tried as someone who can replay a forge's deliveries or knows a
// project's name: a replay builds nothing, an old commit is not rebuilt as the branch, a commit
// that is on no branch is never built, and unknown projects cannot be told from known ones.
#include <gmock/gmock.h>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class HookTrustTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    repo_.write(".boucle.yml", "jobs:\n  build: {run: 'true'}\n");
    first_ = repo_.commit("feat: first");
    Output add = client({"project", "add", "web", repo_.dir().string(), "--webhook-secret", kSecret,
                         "--poll", "0", "--branch", "main", "--branch", "release/*"});
    ASSERT_EQ(add.exitCode, 0) << add.all();
  }
  std::string push(const std::string& branch, const std::string& sha) {
    return json{{"ref", "refs/heads/" + branch},
                {"before", std::string(40, '0')},
                {"after", sha},
                {"head_commit", {{"id", sha}, {"message", "m"}, {"author", {{"name", "Dev"}}}}}}
        .dump();
  }
  Http github(const std::string& body, const std::string& delivery,
              const std::string& project = "web") {
    return curl("POST", server_->url() + "/hooks/github/" + project, body,
                {"X-GitHub-Event: push", "X-GitHub-Delivery: " + delivery,
                 "X-Hub-Signature-256: sha256=" + hmacHex(kSecret, body)});
  }
  size_t runs() { return api("/api/runs")["runs"].size(); }
  static constexpr const char* kSecret = "hook-s3cret";
  std::string first_;
};

TEST_F(HookTrustTest, AReplayedDeliveryIsAcknowledgedAndQueuesNothing) {
  std::string body = push("main", first_);
  EXPECT_EQ(github(body, "d-1").status, 202);
  ASSERT_EQ(waitForRun(1)["state"], "passed");
  Http again = github(body, "d-1");
  EXPECT_EQ(again.status, 200);
  EXPECT_THAT(again.body, HasSubstr("received before"));
  // The delivery header is not signed: a captured body replayed under a new id is the same body.
  Http renamed = github(body, "d-made-up");
  EXPECT_EQ(renamed.status, 200);
  EXPECT_THAT(renamed.body, HasSubstr("received before"));
  // And the forge's id, where it sends one, names the delivery whatever the body.
  json other = json::parse(body);
  other["before"] = first_;
  Http sameId = github(other.dump(), "d-1");
  EXPECT_EQ(sameId.status, 200);
  EXPECT_THAT(sameId.body, HasSubstr("received before"));
  // GitLab's id, the same way.
  std::string gl = json{
      {"object_kind", "push"},
      {"ref", "refs/heads/main"},
      {"after", first_},
      {"commits",
       json::array()}}.dump();
  for (int i = 0; i < 2; ++i) {
    Http r = curl("POST", server_->url() + "/hooks/gitlab/web", gl,
                  {"X-Gitlab-Event: Push Hook", "X-Gitlab-Token: " + std::string(kSecret),
                   "X-Gitlab-Event-UUID: 7f1c-uuid"});
    EXPECT_EQ(r.status, 200) << r.body;
    if (i == 1) {
      EXPECT_THAT(r.body, HasSubstr("received before"));
    }
  }
  EXPECT_EQ(runs(), 1u);
}

TEST_F(HookTrustTest, AnOldPushIsNotBuiltAgainAsTheBranch) {
  EXPECT_EQ(github(push("main", first_), "d-1").status, 202);
  ASSERT_EQ(waitForRun(1)["state"], "passed");
  repo_.write("b.txt", "b\n");
  std::string second = repo_.commit("feat: second");
  EXPECT_EQ(github(push("main", second), "d-2").status, 202);
  ASSERT_EQ(waitForRun(2)["state"], "passed");
  // A new delivery of the first commit (a forge's late notification of an earlier push): it
  // would make main look as it was.
  json late = json::parse(push("main", first_));
  late["before"] = second;
  Http stale = github(late.dump(), "d-3");
  EXPECT_EQ(stale.status, 200);
  EXPECT_THAT(stale.body, HasSubstr("older than main's last built head"));
  EXPECT_EQ(runs(), 2u);
}

TEST_F(HookTrustTest, ANewerCommitTheMirrorAlreadyHasIsBuilt) {
  EXPECT_EQ(github(push("main", first_), "d-1").status, 202);
  ASSERT_EQ(waitForRun(1)["state"], "passed");
  repo_.write("b.txt", "b\n");
  std::string second = repo_.commit("feat: second");
  // Another branch's run fetches every branch: the mirror has main's new head before its push
  // is told, and it is newer than the last built head, not older.
  repo_.git({"branch", "release/2.0"});
  EXPECT_EQ(github(push("release/2.0", second), "d-2").status, 202);
  json other = waitForRun(2);
  ASSERT_EQ(other["state"], "passed") << other.dump();
  Http newer = github(push("main", second), "d-3");
  EXPECT_EQ(newer.status, 202) << newer.body;
  EXPECT_EQ(waitForRun(3)["branch"], "main");
}

TEST_F(HookTrustTest, ACommitOnNoBranchIsNeverBuiltAndHiddenRefsAreNotMirrored) {
  EXPECT_EQ(github(push("main", first_), "d-1").status, 202);
  ASSERT_EQ(waitForRun(1)["state"], "passed");
  // A pull request's head: in the repository under refs/pull/1/head, on no branch.
  repo_.git({"checkout", "-q", "-b", "contributor"});
  repo_.write(".boucle.yml", "jobs:\n  build: {run: 'echo owned'}\n");
  std::string pr = repo_.commit("feat: from a fork");
  repo_.git({"update-ref", "refs/pull/1/head", pr});
  repo_.git({"checkout", "-q", "main"});
  repo_.git({"branch", "-D", "contributor"});
  EXPECT_EQ(github(push("main", pr), "d-2").status, 202);  // queued: the mirror decides
  json run = waitForRun(2);
  EXPECT_EQ(run["state"], "failed");
  EXPECT_THAT(
      run["reason"].get<std::string>(),
      ::testing::AnyOf(HasSubstr("not on branch main"), HasSubstr("no branch, tag or commit")));
  EXPECT_TRUE(api("/api/runs/2")["jobs"].empty());
  Output refs = runCommand({"/usr/bin/git", "-C", (server_->data() / "repos" / "web.git").string(),
                            "for-each-ref", "--format=%(refname)"},
                           repo_.dir());
  EXPECT_THAT(refs.out, HasSubstr("refs/heads/main"));
  EXPECT_THAT(refs.out, ::testing::Not(HasSubstr("refs/pull")));
}

TEST_F(HookTrustTest, AnUnknownProjectAnswersAsAKnownOneWithABadSignature) {
  std::string body = push("main", first_);
  Http known = curl("POST", server_->url() + "/hooks/github/web", body, {"X-GitHub-Event: push"});
  Http unknown =
      curl("POST", server_->url() + "/hooks/github/nope", body, {"X-GitHub-Event: push"});
  EXPECT_EQ(known.status, 401);
  EXPECT_EQ(unknown.status, known.status);
  EXPECT_EQ(unknown.body, known.body);
  Http signedUnknown = github(body, "d-9", "nope");
  Http badKnown =
      curl("POST", server_->url() + "/hooks/github/web", body,
           {"X-GitHub-Event: push", "X-Hub-Signature-256: sha256=" + hmacHex("guess", body)});
  EXPECT_EQ(signedUnknown.status, 401);
  EXPECT_EQ(signedUnknown.body, badKnown.body);
}

TEST_F(HookTrustTest, AStarInAWatchedBranchStaysWithinOnePart) {
  repo_.git({"branch", "release/1.2"});
  Http deep = github(push("release/1.2/hotfix", first_), "d-1");
  EXPECT_EQ(deep.status, 200);
  EXPECT_THAT(deep.body, HasSubstr("is not watched"));
  EXPECT_EQ(github(push("release/1.2", first_), "d-2").status, 202);
}

}  // namespace
}  // namespace boucle::testing
