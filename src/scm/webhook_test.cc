#include "scm/webhook.h"

#include <gtest/gtest.h>

namespace boucle::scm {
namespace {

using Headers = std::map<std::string, std::string>;

// Trimmed from the forges' documented push payloads.
constexpr const char* kGitHubPush = R"({
  "ref": "refs/heads/main",
  "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
  "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
  "deleted": false,
  "repository": {"full_name": "octo/web"},
  "head_commit": {"id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
                  "message": "fix: handle empty names\n\nlonger text",
                  "author": {"name": "Ada Lovelace", "email": "ada@example.com"}}
})";

constexpr const char* kGitLabPush = R"({
  "object_kind": "push",
  "ref": "refs/heads/release/2.1",
  "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
  "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
  "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
  "user_name": "John Smith",
  "commits": [
    {"id": "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327", "message": "older", "author": {"name": "Jordi"}},
    {"id": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "message": "feat: new report\n", "author": {"name": "GitLab dev"}}
  ]
})";

TEST(Webhook, GitHubSignatureIsCheckedOverTheExactBody) {
  std::string sig = "sha256=" + hmacSha256Hex("s3cret", kGitHubPush);
  EXPECT_TRUE(
      verifyWebhook(Forge::kGitHub, {{"x-hub-signature-256", sig}}, kGitHubPush, "s3cret").ok());
  EXPECT_EQ(
      verifyWebhook(Forge::kGitHub, {{"x-hub-signature-256", sig}}, kGitHubPush, "other").code(),
      Code::kUnauthorized);
  std::string tampered = std::string(kGitHubPush) + " ";
  EXPECT_FALSE(
      verifyWebhook(Forge::kGitHub, {{"x-hub-signature-256", sig}}, tampered, "s3cret").ok());
  EXPECT_FALSE(verifyWebhook(Forge::kGitHub, {}, kGitHubPush, "s3cret").ok());
  EXPECT_FALSE(verifyWebhook(Forge::kGitHub, {{"x-hub-signature-256", sig}}, kGitHubPush, "").ok());
}

TEST(Webhook, GiteaAndGitLabCredentials) {
  std::string body = "{}";
  EXPECT_TRUE(
      verifyWebhook(Forge::kGitea, {{"x-gitea-signature", hmacSha256Hex("k", body)}}, body, "k")
          .ok());
  EXPECT_FALSE(
      verifyWebhook(Forge::kGitea, {{"x-gitea-signature", hmacSha256Hex("x", body)}}, body, "k")
          .ok());
  EXPECT_TRUE(verifyWebhook(Forge::kGitLab, {{"x-gitlab-token", "k"}}, body, "k").ok());
  EXPECT_FALSE(verifyWebhook(Forge::kGitLab, {{"x-gitlab-token", "kk"}}, body, "k").ok());
}

TEST(Webhook, HmacMatchesRfc4231) {
  EXPECT_EQ(hmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Webhook, ReadsGitHubAndGiteaPushes) {
  auto ev = parseWebhook(Forge::kGitHub, {{"x-github-event", "push"}}, kGitHubPush);
  ASSERT_TRUE(ev.ok()) << ev.status().message();
  ASSERT_TRUE(ev->push);
  EXPECT_EQ(ev->push->branch, "main");
  EXPECT_EQ(ev->push->commit, "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");
  EXPECT_EQ(ev->push->author, "Ada Lovelace");
  EXPECT_EQ(ev->push->subject, "fix: handle empty names");
  auto gitea = parseWebhook(Forge::kGitea, {{"x-gitea-event", "push"}}, kGitHubPush);
  ASSERT_TRUE(gitea.ok() && gitea->push);
  EXPECT_EQ(gitea->push->branch, "main");
}

TEST(Webhook, ReadsGitLabPushesWithTheHeadCommitLast) {
  auto ev = parseWebhook(Forge::kGitLab, {{"x-gitlab-event", "Push Hook"}}, kGitLabPush);
  ASSERT_TRUE(ev.ok() && ev->push);
  EXPECT_EQ(ev->push->branch, "release/2.1");
  EXPECT_EQ(ev->push->commit, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
  EXPECT_EQ(ev->push->author, "GitLab dev");
  EXPECT_EQ(ev->push->subject, "feat: new report");
}

TEST(Webhook, PingsAndOtherEventsAreIgnoredPolitely) {
  auto ping = parseWebhook(Forge::kGitHub, {{"x-github-event", "ping"}}, R"({"zen":"hi"})");
  ASSERT_TRUE(ping.ok());
  EXPECT_FALSE(ping->push);
  EXPECT_EQ(ping->ignored, "event 'ping' is neither a push nor a pull request");
}

TEST(Webhook, MalformedPushesAreErrorsWithAReason) {
  Headers h{{"x-github-event", "push"}};
  EXPECT_EQ(parseWebhook(Forge::kGitHub, h, "not json").status().code(), Code::kInvalid);
  EXPECT_EQ(
      parseWebhook(Forge::kGitHub, h, R"({"after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"})")
          .status()
          .message(),
      "the payload has no 'ref'");
  EXPECT_FALSE(
      parseWebhook(Forge::kGitHub, h, R"J({"ref":"refs/heads/x","after":"$(rm -rf /)"})J").ok());
  auto deleted = parseWebhook(
      Forge::kGitHub, h,
      R"({"ref":"refs/heads/x","after":"0000000000000000000000000000000000000000","deleted":true})");
  ASSERT_TRUE(deleted.ok() && deleted->push);
  EXPECT_TRUE(deleted->push->deleted);
}

// Trimmed from the forges' documented pull and merge request payloads.
constexpr const char* kGitHubPullRequest = R"({
  "action": "synchronize",
  "number": 42,
  "pull_request": {
    "number": 42, "title": "Faster reports", "user": {"login": "octocat"},
    "head": {"ref": "feature/fast", "sha": "aa218f56b14c9653891f9e74264a383fa43fefbd",
             "repo": {"id": 1300192, "full_name": "octocat/web"}},
    "base": {"ref": "main", "sha": "9049f1265b7d61be4a8904a9a27120d2064dab3b",
             "repo": {"id": 1296269, "full_name": "octo/web"}}
  }
})";

constexpr const char* kGitLabMergeRequest = R"({
  "object_kind": "merge_request",
  "user": {"name": "Administrator", "username": "root"},
  "object_attributes": {
    "iid": 7, "title": "MS-Viewport", "action": "update",
    "source_branch": "ms-viewport", "target_branch": "master",
    "source_project_id": 14, "target_project_id": 14,
    "last_commit": {"id": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "message": "fixed readme"}
  }
})";

constexpr const char* kGiteaPullRequest = R"({
  "action": "opened",
  "number": 3,
  "pull_request": {
    "number": 3, "title": "Typo", "user": {"login": "gitea-user"},
    "head": {"ref": "typo", "sha": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "repo_id": 5},
    "base": {"ref": "main", "sha": "9049f1265b7d61be4a8904a9a27120d2064dab3b", "repo_id": 5}
  }
})";

TEST(Webhook, ReadsEachForgesPullRequests) {
  auto gh = parseWebhook(Forge::kGitHub, {{"x-github-event", "pull_request"}}, kGitHubPullRequest);
  ASSERT_TRUE(gh.ok()) << gh.status().message();
  ASSERT_TRUE(gh->pullRequest);
  EXPECT_FALSE(gh->push);
  EXPECT_EQ(gh->pullRequest->number, 42);
  EXPECT_EQ(gh->pullRequest->title, "Faster reports");
  EXPECT_EQ(gh->pullRequest->author, "octocat");
  EXPECT_EQ(gh->pullRequest->source, "feature/fast");
  EXPECT_EQ(gh->pullRequest->target, "main");
  EXPECT_EQ(gh->pullRequest->head, "aa218f56b14c9653891f9e74264a383fa43fefbd");
  EXPECT_EQ(gh->pullRequest->headRef, "refs/pull/42/head");
  EXPECT_TRUE(gh->pullRequest->fork);  // another repository's id
  EXPECT_FALSE(gh->pullRequest->closed);

  auto gl =
      parseWebhook(Forge::kGitLab, {{"x-gitlab-event", "Merge Request Hook"}}, kGitLabMergeRequest);
  ASSERT_TRUE(gl.ok() && gl->pullRequest) << gl.status().message();
  EXPECT_EQ(gl->pullRequest->number, 7);
  EXPECT_EQ(gl->pullRequest->author, "root");
  EXPECT_EQ(gl->pullRequest->source, "ms-viewport");
  EXPECT_EQ(gl->pullRequest->target, "master");
  EXPECT_EQ(gl->pullRequest->head, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
  EXPECT_EQ(gl->pullRequest->headRef, "refs/merge-requests/7/head");
  EXPECT_FALSE(gl->pullRequest->fork);  // the same project

  for (const char* event : {"pull_request", "pull_request_sync"}) {
    auto gt = parseWebhook(Forge::kGitea, {{"x-gitea-event", event}}, kGiteaPullRequest);
    ASSERT_TRUE(gt.ok() && gt->pullRequest) << event;
    EXPECT_EQ(gt->pullRequest->number, 3);
    EXPECT_EQ(gt->pullRequest->headRef, "refs/pull/3/head");
    EXPECT_FALSE(gt->pullRequest->fork);  // repo_id on both sides
  }
}

TEST(Webhook, RequestActionsThatBuildNothingAreIgnoredAndClosingIsSaid) {
  std::string labeled = kGitHubPullRequest;
  labeled.replace(labeled.find("synchronize"), 11, "labeled");
  auto ev = parseWebhook(Forge::kGitHub, {{"x-github-event", "pull_request"}}, labeled);
  ASSERT_TRUE(ev.ok());
  EXPECT_FALSE(ev->pullRequest);
  EXPECT_EQ(ev->ignored, "pull request action 'labeled' builds nothing");

  std::string merged = kGitLabMergeRequest;
  merged.replace(merged.find("update"), 6, "merge");
  auto gl = parseWebhook(Forge::kGitLab, {{"x-gitlab-event", "Merge Request Hook"}}, merged);
  ASSERT_TRUE(gl.ok() && gl->pullRequest);
  EXPECT_TRUE(gl->pullRequest->closed);
}

TEST(Webhook, MalformedRequestsAreErrorsAndLongTitlesAreCutOnACharacter) {
  Headers h{{"x-github-event", "pull_request"}};
  std::string noSha = kGitHubPullRequest;
  noSha.replace(noSha.find("aa218f56"), 8, "$(id)   ");
  EXPECT_EQ(parseWebhook(Forge::kGitHub, h, noSha).status().message(),
            "the request's head is not a commit id");
  std::string option = kGitHubPullRequest;
  option.replace(option.find("feature/fast"), 12, "--upload-pac");
  EXPECT_EQ(parseWebhook(Forge::kGitHub, h, option).status().code(), Code::kInvalid);
  EXPECT_EQ(parseWebhook(Forge::kGitHub, h, R"({"action":"opened"})").status().message(),
            "the payload has no 'pull_request'");

  std::string longTitle = kGitHubPullRequest;
  std::string title;
  for (int i = 0; i < 200; ++i) title += "\u00e9";  // 400 bytes of UTF-8
  longTitle.replace(longTitle.find("Faster reports"), 14, title);
  auto ev = parseWebhook(Forge::kGitHub, h, longTitle);
  ASSERT_TRUE(ev.ok() && ev->pullRequest);
  EXPECT_EQ(ev->pullRequest->title.size(), 300u);
  std::string odd = kGitHubPullRequest;
  odd.replace(odd.find("Faster reports"), 14, "a" + title);
  auto cut = parseWebhook(Forge::kGitHub, h, odd);
  ASSERT_TRUE(cut.ok() && cut->pullRequest);
  EXPECT_EQ(cut->pullRequest->title.size(), 299u);  // not inside the 150th é
}

}  // namespace
}  // namespace boucle::scm
