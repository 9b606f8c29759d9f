// A secret appears nowhere: not in a deploy's reason, a smoke check's result, the audit log,
// an API answer, the database, a process's command line, a log in any usual encoding, or a
// file left behind — tried through the real server with a value a template renders into a
// step and a smoke check, and through `boucle run` with a job that prints it every way.
#include <gmock/gmock.h>

#include <atomic>
#include <thread>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

// 60 bytes: base64 (80 characters) wraps at 76 columns.
const std::string kSecret = "tok-9f8e7d6c5b4a-3928-SECRET-value-that-is-long-enough-to-wrap";

// Whether any process's command line holds `text`, sampled until `stop`.
class CmdlineWatch {
 public:
  explicit CmdlineWatch(std::string text) : text_(std::move(text)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        std::error_code ec;
        for (const auto& e : fs::directory_iterator("/proc", ec)) {
          if (readFile(e.path() / "cmdline").find(text_) != std::string::npos) seen_ = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  bool stopAndSeen() {
    stop_ = true;
    thread_.join();
    return seen_;
  }

 private:
  std::string text_;
  std::atomic<bool> stop_{false}, seen_{false};
  std::thread thread_;
};

std::string everythingUnder(const fs::path& dir) {
  std::string all;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) all += readFile(e.path());
  }
  return all;
}

class SecretTest : public ServerFixture {};

TEST_F(SecretTest, ADeploySecretShowsInNoReasonResultAuditAnswerDatabaseOrCommandLine) {
  repo_.write(".boucle.yml", R"yml(jobs:
  build: {run: echo x > app.txt, artifacts: [app.txt]}
environments:
  dev: {}
deploy:
  driver: local
  steps:
    - run: |
        [ "$BOUCLE_ENV_MODE" = smoke ] && exit 0
        printf '%s' "$BOUCLE_ENV_API_TOKEN" | base64 -w 76
        printf '%s' "$BOUCLE_ENV_API_TOKEN" | od -An -tx1 | tr -d ' \n'; echo
        sleep 1; echo "{{ env.api_token }}" > /dev/null; exit 3
  smoke:
    - run: 'sleep 1; echo "token={{ env.api_token }}"; exit 1'
)yml");
  repo_.commit("feat: app", "Ada");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  Output set =
      runCommand({"/usr/bin/sh", "-c", "printf '%s' \"$1\" | \"$0\" secret set web dev api_token",
                  BOUCLE_BIN, kSecret},
                 repo_.dir(), server_->clientEnv());
  ASSERT_EQ(set.exitCode, 0) << set.err;
  fs::path dir = repo_.scratch() / "dev";
  ASSERT_EQ(client({"env", "set", "web", "dev", "dir=" + dir.string()}).exitCode, 0);
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_EQ(client({"release", "web", "--version", "1.0.0"}).exitCode, 0);

  // First a step fails, then (mode=smoke) the smoke check does.
  for (const std::string mode : {"step", "smoke"}) {
    ASSERT_EQ(client({"env", "set", "web", "dev", "mode=" + mode}).exitCode, 0);
    CmdlineWatch watch(kSecret);
    Output d = client({"deploy", "web", "1.0.0", "--to", "dev"});
    EXPECT_NE(d.exitCode, 0) << d.all();
    EXPECT_FALSE(watch.stopAndSeen()) << mode << ": the secret was on a command line";
    EXPECT_THAT(d.all(), Not(HasSubstr(kSecret)));
  }
  json deploys = api("/api/projects/web/deploys");
  ASSERT_EQ(deploys["deploys"].size(), 2u);
  EXPECT_THAT(deploys["deploys"][1]["reason"].get<std::string>(), HasSubstr("step '"));
  EXPECT_THAT(deploys["deploys"][1]["reason"].get<std::string>(), HasSubstr("***"));
  EXPECT_THAT(deploys["deploys"][0]["smoke"][0]["detail"].get<std::string>(),
              HasSubstr("token=***"));
  std::string answers = deploys.dump() + api("/api/audit").dump() +
                        api("/api/projects/web/environments").dump() +
                        client({"audit", "web"}).out + client({"deploys", "web"}).out;
  EXPECT_THAT(answers, Not(HasSubstr(kSecret)));
  // Every file of the server's: database, WAL, logs, deploy logs, working folders.
  std::string files = everythingUnder(server_->data()) + everythingUnder(dir);
  EXPECT_THAT(files, Not(HasSubstr(kSecret)));
  EXPECT_THAT(files, Not(HasSubstr("dG9rLTlmOGU3ZDZjNWI0YS0zOTI4LVNFQ1JFVC12YWx1ZS10aGF0LWlzLWxv")))
      << "base64";
  EXPECT_THAT(files, Not(HasSubstr("746f6b2d3966386537643663")));  // hex
  EXPECT_THAT(readFile(server_->data() / "deploys" / "1.log"), HasSubstr("***"));
}

// A job's own secret, printed every way a tool would and written into its test report and an
// artifact's name: none of it reaches the log, run.json or the artifact list.
TEST(JobSecret, NoEncodingReportOrArtifactNameLetsAJobsSecretOut) {
  TempRepo repo;
  repo.write(".boucle.yml", R"yml(jobs:
  leak:
    run: |
      printf '%s' "$TOKEN" | base64 -w 76
      printf '%s' "$TOKEN" | od -An -tx1 | tr -d ' \n' | tr a-f A-F; echo
      python3 -c 'import json,os; print(json.dumps({"t": os.environ["TOKEN"] + "/\u00e9"}))'
      python3 -c 'import urllib.parse,os; print(urllib.parse.quote(os.environ["TOKEN"]))'
      mkdir -p reports
      printf '<testsuite><testcase classname="s" name="t"><failure message="bad %s">%s</failure></testcase></testsuite>' "$TOKEN" "$TOKEN" > reports/t.xml
    reports: {junit: reports/*.xml}
  name:
    run: touch "out-$NAME.txt"
    artifacts: ["out-*.txt"]
)yml");
  repo.commit("c");
  const std::string token = kSecret + "/x y";
  Output o = repo.boucle({"run", "--json", "--secret", "TOKEN", "--secret", "NAME"},
                         {"TOKEN=" + token, "NAME=name-secret-4242"});
  EXPECT_EQ(o.exitCode, 1) << o.all();  // the artifact named after the secret is refused
  std::string everything = o.all() + readFile(repo.runDir(1) / "run.json") +
                           repo.readLog(1, "leak") + repo.readLog(1, "name");
  EXPECT_THAT(everything, Not(HasSubstr(kSecret)));
  EXPECT_THAT(everything,
              Not(HasSubstr("dG9rLTlmOGU3ZDZjNWI0YS0zOTI4LVNFQ1JFVC12YWx1ZS10aGF0LWlzLWxv")));
  EXPECT_THAT(everything, Not(HasSubstr("746F6B2D3966386537643663")));
  EXPECT_THAT(everything, Not(HasSubstr("tok-9f8e7d6c5b4a-3928-SECRET")));
  EXPECT_THAT(everything, Not(HasSubstr("name-secret-4242")));
  EXPECT_THAT(everything, HasSubstr("a file's name holds a secret"));
  EXPECT_THAT(readFile(repo.runDir(1) / "run.json"), HasSubstr("bad ***"));
}

}  // namespace
}  // namespace boucle::testing
