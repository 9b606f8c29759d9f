// Push webhooks against the real server: real signed requests as GitHub, GitLab and Gitea send
// them, and forged ones.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "harness.h"
#include "server_harness.h"

namespace boucle::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_.write(".boucle.yml", "jobs:\n  build: {run: 'echo built $BOUCLE_BRANCH'}\n");
    sha_ = repo_.commit("feat: pushed commit");
    server_ = std::make_unique<ServerProcess>(repo_.scratch() / "server-data");
    std::string log;
    ASSERT_TRUE(server_->start(&log)) << log;
    Output add = repo_.boucle(
        {"project", "add", "web", repo_.dir().string(), "--webhook-secret", kSecret, "--poll", "0"},
        server_->clientEnv());
    ASSERT_EQ(add.exitCode, 0) << add.all();
  }
  std::string push(const std::string& branch) {
    return json{{"ref", "refs/heads/" + branch},
                {"before", std::string(40, '0')},
                {"after", sha_},
                {"head_commit",
                 {{"id", sha_}, {"message", "feat: pushed commit"}, {"author", {{"name", "Dev"}}}}}}
        .dump();
  }
  Http post(const std::string& forge, const std::string& body,
            const std::vector<std::string>& headers) {
    return curl("POST", server_->url() + "/hooks/" + forge + "/web", body, headers);
  }
  size_t runCount() {
    auto r = curl("GET", server_->url() + "/api/runs", "",
                  {"Authorization: Bearer " + server_->token()});
    return json::parse(r.body)["runs"].size();
  }

  static constexpr const char* kSecret = "webhook-s3cret";
  TempRepo repo_;
  std::string sha_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(WebhookTest, SignedGitHubPushQueuesARunOfThatCommit) {
  std::string body = push("main");
  Http r = post("github", body,
                {"X-GitHub-Event: push", "X-Hub-Signature-256: sha256=" + hmacHex(kSecret, body),
                 "Content-Type: application/json"});
  ASSERT_EQ(r.status, 202) << r.body;
  json run = json::parse(r.body);
  EXPECT_EQ(run["trigger"], "push");
  EXPECT_EQ(run["branch"], "main");
  int64_t id = run["id"];
  json done;
  ASSERT_TRUE(waitFor([&] {
    auto g = curl("GET", server_->url() + "/api/runs/" + std::to_string(id), "",
                  {"Authorization: Bearer " + server_->token()});
    done = json::parse(g.body);
    return done["state"] == "passed" || done["state"] == "failed";
  }));
  EXPECT_EQ(done["state"], "passed");
  EXPECT_EQ(done["commit"], sha_);
  EXPECT_EQ(done["author"], "Dev");

  // /metrics measured the wait from the webhook to the run's start, and the job's duration.
  Http metrics =
      curl("GET", server_->url() + "/metrics", "", {"Authorization: Bearer " + server_->token()});
  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("# TYPE boucle_webhook_to_start_seconds histogram\n"));
  EXPECT_THAT(metrics.body,
              HasSubstr("boucle_webhook_to_start_seconds_bucket{project=\"web\",le=\"+Inf\"} 1\n"));
  EXPECT_THAT(metrics.body,
              HasSubstr("boucle_webhook_to_start_seconds_count{project=\"web\"} 1\n"));
  EXPECT_THAT(metrics.body, HasSubstr("boucle_job_duration_seconds_count{project=\"web\","
                                      "state=\"passed\"} 1\n"));
  fs::path file = repo_.scratch() / "metrics.txt";
  std::ofstream(file) << metrics.body;
  Output lint = runCommand({"/usr/bin/sh", "-c", "promtool check metrics < \"$0\"", file.string()},
                           repo_.scratch());
  EXPECT_EQ(lint.exitCode, 0) << lint.all();
}

TEST_F(WebhookTest, ForgedOrMissingSignaturesAre401AndQueueNothing) {
  std::string body = push("main");
  EXPECT_EQ(post("github", body,
                 {"X-GitHub-Event: push", "X-Hub-Signature-256: sha256=" + hmacHex("guess", body)})
                .status,
            401);
  EXPECT_EQ(post("github", body, {"X-GitHub-Event: push"}).status, 401);
  EXPECT_EQ(post("gitlab", body, {"X-Gitlab-Event: Push Hook", "X-Gitlab-Token: guess"}).status,
            401);
  EXPECT_EQ(post("gitea", body, {"X-Gitea-Event: push", "X-Gitea-Signature: 00"}).status, 401);
  EXPECT_EQ(runCount(), 0u);
}

TEST_F(WebhookTest, PingsUnwatchedBranchesAndBadPayloads) {
  std::string ping = R"({"zen":"Keep it logically awesome."})";
  Http p = post("github", ping,
                {"X-GitHub-Event: ping", "X-Hub-Signature-256: sha256=" + hmacHex(kSecret, ping)});
  EXPECT_EQ(p.status, 200);
  EXPECT_THAT(p.body, HasSubstr("ignored"));
  std::string other = push("feature/x");
  Http o = post("github", other,
                {"X-GitHub-Event: push", "X-Hub-Signature-256: sha256=" + hmacHex(kSecret, other)});
  EXPECT_EQ(o.status, 200);
  EXPECT_THAT(o.body, HasSubstr("not watched"));
  std::string bad = "{\"ref\": 42";
  EXPECT_EQ(post("github", bad,
                 {"X-GitHub-Event: push", "X-Hub-Signature-256: sha256=" + hmacHex(kSecret, bad)})
                .status,
            400);
  std::string huge(3 << 20, 'x');
  EXPECT_EQ(post("github", huge, {"X-GitHub-Event: push"}).status, 413);
  EXPECT_EQ(post("bitbucket", other, {}).status, 404);
  EXPECT_EQ(runCount(), 0u);
}

TEST_F(WebhookTest, GitLabTokenAndGiteaSignatureAreAccepted) {
  std::string body = push("main");
  EXPECT_EQ(
      post("gitlab", body, {"X-Gitlab-Event: Push Hook", std::string("X-Gitlab-Token: ") + kSecret})
          .status,
      202);
  // The same commit announced twice (here by two forges, in bodies that differ) is built once.
  std::string other = "{\"via\": \"gitea\", " + body.substr(1);
  Http again = post("gitea", other,
                    {"X-Gitea-Event: push", "X-Gitea-Signature: " + hmacHex(kSecret, other)});
  EXPECT_EQ(again.status, 200);
  EXPECT_THAT(again.body, HasSubstr("already seen"));
  EXPECT_EQ(runCount(), 1u);
}

}  // namespace
}  // namespace boucle::testing
