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
  EXPECT_EQ(ping->ignored, "event 'ping' is not a push");
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

}  // namespace
}  // namespace boucle::scm
