// Pull and merge requests against the real server: signed request events as GitHub, GitLab and
// Gitea send them, the request's head kept where each forge keeps it in the project's
// repository (refs/pull/N/head, refs/merge-requests/N/head), built and merged for real.
#include <gmock/gmock.h>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

// Each job says which files the commit it built has, which request it is, and how long the
// build secret it was given is (its value would be masked in the log).
constexpr const char* kPipeline = R"yml(jobs:
  look:
    run: |
      echo "files: $(ls | grep txt | tr '\n' ' ')"
      echo "request=$BOUCLE_PULL_REQUEST token-length=${#API_TOKEN}"
)yml";

constexpr const char* kSecret = "pr-hook-s3cret";
constexpr const char* kToken = "tok-abcdef1234";  // 14 characters

class PullRequestTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    repo_.write(".boucle.yml", kPipeline);
    repo_.write("main.txt", "main\n");
    repo_.commit("main: first");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--webhook-secret", kSecret,
                      "--poll", "0"})
                  .exitCode,
              0);
    Output secret =
        runCommand({"/usr/bin/sh", "-c", "printf '%s' \"$1\" | \"$0\" secret build web API_TOKEN",
                    BOUCLE_BIN, kToken},
                   repo_.scratch(), server_->clientEnv());
    ASSERT_EQ(secret.exitCode, 0) << secret.all();
  }

  // A branch off main with `file`, kept by the forge under `ref` (the branch itself is left out
  // of the repository, as a fork's is); main then moves on with `mainFile`.
  std::string requestCommit(const std::string& ref, const std::string& file,
                            const std::string& mainFile, const std::string& content = "x\n") {
    repo_.git({"checkout", "-q", "-b", "topic"});
    repo_.write(file, content);
    std::string head = repo_.commit("topic: " + file, "Contributor");
    repo_.git({"checkout", "-q", "main"});
    repo_.git({"branch", "-q", "-D", "topic"});
    repo_.git({"update-ref", ref, head});
    if (!mainFile.empty()) {
      repo_.write(mainFile, "main moved\n");
      repo_.commit("main: " + mainFile);
    }
    return head;
  }

  json github(const std::string& action, int number, const std::string& head, bool fork) {
    return {{"action", action},
            {"number", number},
            {"pull_request",
             {{"number", number},
              {"title", "Request " + std::to_string(number)},
              {"user", {{"login", "contributor"}}},
              {"head", {{"ref", "topic"}, {"sha", head}, {"repo", {{"id", fork ? 99 : 1}}}}},
              {"base", {{"ref", "main"}, {"repo", {{"id", 1}}}}}}}};
  }
  json gitlab(const std::string& action, int iid, const std::string& head, bool fork) {
    return {{"object_kind", "merge_request"},
            {"user", {{"username", "contributor"}}},
            {"object_attributes",
             {{"iid", iid},
              {"title", "Merge request " + std::to_string(iid)},
              {"action", action},
              {"source_branch", "topic"},
              {"target_branch", "main"},
              {"source_project_id", fork ? 99 : 1},
              {"target_project_id", 1},
              {"last_commit", {{"id", head}}}}}};
  }
  Http send(const std::string& forge, const json& payload) {
    std::string body = payload.dump();
    std::vector<std::string> headers{"Content-Type: application/json"};
    if (forge == "github") {
      headers.push_back("X-GitHub-Event: pull_request");
      headers.push_back("X-Hub-Signature-256: sha256=" + hmacHex(kSecret, body));
    } else if (forge == "gitea") {
      headers.push_back("X-Gitea-Event: pull_request");
      headers.push_back("X-Gitea-Signature: " + hmacHex(kSecret, body));
    } else {
      headers.push_back("X-Gitlab-Event: Merge Request Hook");
      headers.push_back(std::string("X-Gitlab-Token: ") + kSecret);
    }
    return curl("POST", server_->url() + "/hooks/" + forge + "/web", body, headers);
  }
  std::string log(int64_t run) {
    return curl("GET", server_->url() + "/api/runs/" + std::to_string(run) + "/jobs/look/log", "",
                {"Authorization: Bearer " + server_->token()})
        .body;
  }
};

TEST_F(PullRequestTest, ARequestsHeadAndItsMergeIntoTheTargetAreBuilt) {
  ASSERT_EQ(client({"project", "set", "web", "--pull-requests", "both"}).exitCode, 0);
  std::string head = requestCommit("refs/pull/7/head", "feature.txt", "later.txt");
  Http r = send("github", github("opened", 7, head, false));
  ASSERT_EQ(r.status, 202) << r.body;
  json runs = json::parse(r.body)["runs"];
  ASSERT_EQ(runs.size(), 2u) << r.body;

  json headRun = waitForRun(runs[0]["id"]);
  EXPECT_EQ(headRun["state"], "passed") << headRun.dump();
  EXPECT_EQ(headRun["branch"], "pr/7");
  EXPECT_EQ(headRun["trigger"], "pull_request");
  EXPECT_EQ(headRun["commit"], head);
  EXPECT_EQ(headRun["pull_request"]["number"], 7);
  EXPECT_EQ(headRun["pull_request"]["title"], "Request 7");
  EXPECT_EQ(headRun["pull_request"]["author"], "contributor");
  EXPECT_EQ(headRun["pull_request"]["source"], "topic");
  EXPECT_EQ(headRun["pull_request"]["target"], "main");
  EXPECT_EQ(headRun["pull_request"]["merge"], false);
  EXPECT_EQ(headRun["event"], "");  // judges no branch
  std::string headLog = log(headRun["id"]);
  EXPECT_THAT(headLog, HasSubstr("files: feature.txt main.txt \n"));
  EXPECT_THAT(headLog, HasSubstr("request=7 token-length=14"));
  EXPECT_THAT(headLog, Not(HasSubstr(kToken)));

  json mergeRun = waitForRun(runs[1]["id"]);
  EXPECT_EQ(mergeRun["state"], "passed") << mergeRun.dump();
  EXPECT_EQ(mergeRun["branch"], "pr/7/merge");
  EXPECT_EQ(mergeRun["pull_request"]["merge"], true);
  EXPECT_NE(mergeRun["commit"], head);
  EXPECT_EQ(mergeRun["pull_request"]["head"], head);
  // The target as it was when the run started: main with later.txt.
  std::string mainTip =
      api("/api/runs/" + std::to_string(runs[1]["id"].get<int64_t>()))["pull_request"]["base"];
  EXPECT_EQ(mainTip.size(), 40u);
  EXPECT_THAT(log(mergeRun["id"]), HasSubstr("files: feature.txt later.txt main.txt \n"));

  // Listed under the request by `boucle status`, and never released.
  Output status = client({"status", "web"});
  EXPECT_THAT(status.out, HasSubstr("pull request 7 by contributor: topic → main (merged)"));
  Output release =
      client({"release", "web", "--from", std::to_string(headRun["id"].get<int64_t>())});
  EXPECT_NE(release.exitCode, 0);
  EXPECT_THAT(release.all(), HasSubstr("released once merged"));

  // The same head told again builds nothing.
  Http again = send("github", github("synchronize", 7, head, false));
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_THAT(again.body, HasSubstr("already built"));
}

TEST_F(PullRequestTest, AMergeThatConflictsFailsSayingWhere) {
  ASSERT_EQ(client({"project", "set", "web", "--pull-requests", "merge"}).exitCode, 0);
  std::string head = requestCommit("refs/pull/8/head", "main.txt", "", "the request's\n");
  repo_.write("main.txt", "main's own\n");
  repo_.commit("main: change main.txt too");
  Http r = send("github", github("opened", 8, head, false));
  ASSERT_EQ(r.status, 202) << r.body;
  json runs = json::parse(r.body)["runs"];
  ASSERT_EQ(runs.size(), 1u);
  json run = waitForRun(runs[0]["id"]);
  EXPECT_EQ(run["state"], "failed");
  EXPECT_THAT(run["reason"].get<std::string>(), HasSubstr("into main at "));
  EXPECT_THAT(run["reason"].get<std::string>(),
              HasSubstr("does not merge cleanly: conflicts in main.txt"));
}

TEST_F(PullRequestTest, AForksRequestGetsNoSecretEvenWhenRunAgain) {
  std::string head = requestCommit("refs/merge-requests/5/head", "fork.txt", "");
  Http r = send("gitlab", gitlab("open", 5, head, true));
  ASSERT_EQ(r.status, 202) << r.body;
  int64_t id = json::parse(r.body)["runs"][0]["id"];
  json run = waitForRun(id);
  EXPECT_EQ(run["state"], "passed") << run.dump();
  EXPECT_EQ(run["pull_request"]["fork"], true);
  EXPECT_THAT(log(id), HasSubstr("request=5 token-length=0"));

  Output rerun = client({"rerun", std::to_string(id)});
  ASSERT_EQ(rerun.exitCode, 0) << rerun.all();
  json again = waitForRun(id + 1);
  EXPECT_EQ(again["pull_request"]["fork"], true);
  EXPECT_THAT(log(id + 1), HasSubstr("request=5 token-length=0"));

  // An admin may allow it for the project.
  ASSERT_EQ(client({"project", "set", "web", "--fork-secrets", "true"}).exitCode, 0);
  ASSERT_EQ(client({"rerun", std::to_string(id)}).exitCode, 0);
  waitForRun(id + 2);
  EXPECT_THAT(log(id + 2), HasSubstr("request=5 token-length=14"));
}

TEST_F(PullRequestTest, ANewPushToTheRequestCancelsItsRunStillGoing) {
  // The first head's pipeline waits: its run is still going when the second head comes.
  constexpr const char* kWaits = "jobs:\n  look: {run: 'sleep 300'}\n";
  repo_.write(".boucle.yml", kWaits);
  std::string first = requestCommit("refs/pull/9/head", "one.txt", "");
  Http r = send("gitea", github("opened", 9, first, false));
  ASSERT_EQ(r.status, 202) << r.body;
  int64_t firstRun = json::parse(r.body)["runs"][0]["id"];
  ASSERT_TRUE(waitFor([&] {
    json jobs = api("/api/runs/" + std::to_string(firstRun))["jobs"];
    return jobs.is_array() && !jobs.empty() && jobs[0].value("state", "") == "running";
  }));

  std::string second = requestCommit("refs/pull/9/head", "two.txt", "");
  Http s = send("gitea", github("synchronized", 9, second, false));
  ASSERT_EQ(s.status, 202) << s.body;
  json answer = json::parse(s.body);
  EXPECT_EQ(answer["cancelled"], json::array({firstRun}));
  EXPECT_EQ(waitForRun(firstRun)["state"], "cancelled");
  json secondRun = waitForRun(answer["runs"][0]["id"]);
  EXPECT_EQ(secondRun["state"], "passed") << secondRun.dump();
  EXPECT_EQ(secondRun["commit"], second);

  // Closing the request stops what it still has going.
  repo_.write(".boucle.yml", kWaits);
  std::string third = requestCommit("refs/pull/9/head", "three.txt", "");
  Http t = send("gitea", github("synchronized", 9, third, false));
  ASSERT_EQ(t.status, 202) << t.body;
  int64_t thirdRun = json::parse(t.body)["runs"][0]["id"];
  ASSERT_TRUE(waitFor([&] { return state(thirdRun) == "running"; }));
  Http closed = send("gitea", github("closed", 9, third, false));
  ASSERT_EQ(closed.status, 200) << closed.body;
  EXPECT_EQ(json::parse(closed.body)["cancelled"], json::array({thirdRun}));
  EXPECT_EQ(waitForRun(thirdRun)["state"], "cancelled");
}

TEST_F(PullRequestTest, AForksCodeStaysAForksWhateverItAsksFor) {
  // The project lets its own jobs run as plain processes; a fork's never do.
  ASSERT_EQ(client({"project", "set", "web", "--allow-process-jobs", "true"}).exitCode, 0);
  repo_.write(".boucle.yml", "jobs:\n  look: {run: 'id', isolation: process}\n");
  std::string head = requestCommit("refs/pull/11/head", "fork.txt", "");
  Http r = send("github", github("opened", 11, head, true));
  ASSERT_EQ(r.status, 202) << r.body;
  json run = waitForRun(json::parse(r.body)["runs"][0]["id"]);
  EXPECT_EQ(run["state"], "failed");
  EXPECT_THAT(run["jobs"][0]["reason"].get<std::string>(), HasSubstr("isolation: process"));

  // Its head, now in the mirror, is not the project's code: asked for by id it is refused.
  Http manual = curl("POST", server_->url() + "/api/projects/web/runs", json{{"ref", head}}.dump(),
                     {"Authorization: Bearer " + server_->token()});
  ASSERT_EQ(manual.status, 201) << manual.body;
  json refused = waitForRun(json::parse(manual.body)["id"]);
  EXPECT_EQ(refused["state"], "failed");
  EXPECT_THAT(refused["reason"].get<std::string>(), HasSubstr("is on no branch or tag"));

  // A git branch named like a request's runs is not built as one.
  repo_.git({"branch", "pr/11"});
  std::string push = json{{"ref", "refs/heads/pr/11"},
                          {"after", head},
                          {"head_commit", {{"id", head}, {"message", "x"}}}}
                         .dump();
  ASSERT_EQ(client({"project", "set", "web", "--branch", "**"}).exitCode, 0);
  Http pushed =
      curl("POST", server_->url() + "/hooks/github/web", push,
           {"X-GitHub-Event: push", "X-Hub-Signature-256: sha256=" + hmacHex(kSecret, push)});
  EXPECT_EQ(pushed.status, 200) << pushed.body;
  EXPECT_THAT(pushed.body, HasSubstr("names of the form pr/N are pull requests' here"));
}

TEST_F(PullRequestTest, ALateEventBuildsTheRequestAsItIsNowAndOffBuildsNothing) {
  std::string old = requestCommit("refs/pull/12/head", "one.txt", "");
  std::string now = requestCommit("refs/pull/12/head", "two.txt", "");
  // The forge's event for the older head comes late: the request is built as it is.
  Http r = send("github", github("synchronize", 12, old, false));
  ASSERT_EQ(r.status, 202) << r.body;
  json run = waitForRun(json::parse(r.body)["runs"][0]["id"]);
  EXPECT_EQ(run["state"], "passed") << run.dump();
  EXPECT_EQ(run["commit"], now);
  EXPECT_EQ(run["pull_request"]["head"], now);

  ASSERT_EQ(client({"project", "set", "web", "--pull-requests", "off"}).exitCode, 0);
  Http off = send("github", github("opened", 13, now, false));
  EXPECT_EQ(off.status, 200);
  EXPECT_THAT(off.body, HasSubstr("builds no pull requests"));
}

TEST_F(PullRequestTest, BuildSecretsAreNamedToReadersAndSetByAdminsOnly) {
  Output made = client({"token", "add", "vic", "--role", "viewer"});
  ASSERT_EQ(made.exitCode, 0) << made.err;
  std::string viewer = "Authorization: Bearer " + made.out.substr(0, made.out.find('\n'));
  std::string path = server_->url() + "/api/projects/web/build-secrets";
  Http listed = curl("GET", path, "", {viewer});
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(json::parse(listed.body)["secrets"], json::array({"API_TOKEN"}));
  EXPECT_THAT(listed.body, Not(HasSubstr(kToken)));
  EXPECT_EQ(curl("PUT", path + "/API_TOKEN", json{{"value", "mine-now"}}.dump(), {viewer}).status,
            403);
  EXPECT_EQ(curl("DELETE", path + "/API_TOKEN", "", {viewer}).status, 403);
  Http bad = curl("PUT", path + "/1BAD", json{{"value", "x"}}.dump(),
                  {"Authorization: Bearer " + server_->token()});
  EXPECT_EQ(bad.status, 400);
}

}  // namespace
}  // namespace boucle::testing
