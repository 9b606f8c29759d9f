// Deploy verification through the real server: after a deploy's smoke checks, an environment
// with `verify: {for}` has the release's monitors and its own PromQL checks watched against a
// real service; a release that breaks it is rolled back with the evidence, one that does not
// succeeds, and the next environment (`after`) gets a release only once it was verified.
#include <gmock/gmock.h>
#include <signal.h>

#include <fstream>
#include <regex>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
namespace fs = std::filesystem;

// /health answers 200 while HEALTHY exists beside it, 503 then; /api/v1/query plays Prometheus:
// the error rate is what ERRORS holds (0 without it), and a query naming "ghost" has no series.
constexpr const char* kService = R"py(import http.server, json, os, sys, urllib.parse
here = os.path.dirname(os.path.abspath(__file__))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == '/health':
            ok = os.path.exists(os.path.join(here, 'HEALTHY'))
            code, body = (200, 'OK') if ok else (503, 'sick')
        elif url.path == '/api/v1/query':
            q = urllib.parse.parse_qs(url.query).get('query', [''])[0]
            try:
                rate = open(os.path.join(here, 'ERRORS')).read().strip()
            except OSError:
                rate = '0'
            result = [] if 'ghost' in q else [{'metric': {}, 'value': [1, rate]}]
            code, body = 200, json.dumps({'status': 'success',
                                          'data': {'resultType': 'vector', 'result': result}})
        else:
            code, body = 404, 'no'
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body.encode())
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
)py";

// The policy (the head of main) asks staging to be watched for 3 s with an error-rate check;
// prod takes what staging verified. `deploy` is the release's own method, `monitor` its own
// monitors.
std::string pipelineFile(const std::string& deploy, const std::string& monitor,
                         const std::string& query = "rate(errors_total[1m])") {
  return R"yml(jobs:
  build: {run: 'true'}
release: {branches: [main]}
environments:
  staging:
    auto: true
    verify:
      for: 3s
      checks:
        - name: error rate
          prometheus: "{{ env.url }}"
          query: )yml" +
         query + R"yml(
          below: 0.01
          every: 1s
          timeout: 1s
          fail_after: 2
  prod: {auto: true, after: staging}
deploy:
  driver: command
  command: ')yml" +
         deploy + R"yml('
)yml" + monitor;
}

constexpr const char* kHealthMonitor = R"yml(monitor:
  - name: health
    http: "{{ env.url }}/health"
    every: 1s
    timeout: 1s
    fail_after: 2
)yml";

class VerifyTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    serviceDir_ = repo_.scratch() / "service";
    fs::create_directories(serviceDir_);
    {
      std::ofstream(serviceDir_ / "serve.py") << kService;
      std::ofstream(serviceDir_ / "HEALTHY") << "yes\n";
    }
    port_ = freePort();
    service_ = startProcess({"/usr/bin/python3", "serve.py", std::to_string(port_)}, serviceDir_,
                            serviceDir_ / "log");
    ASSERT_TRUE(waitFor([&] { return curl("GET", url() + "/health").status == 200; }));
    // The first release makes the service healthy and writes which release runs.
    repo_.write(
        ".boucle.yml",
        pipelineFile(R"(touch "$BOUCLE_ENV_STATE/HEALTHY"; rm -f "$BOUCLE_ENV_STATE/ERRORS"; )"
                     R"(echo "$BOUCLE_RELEASE_VERSION" > "$BOUCLE_ENV_STATE/RUNS")",
                     kHealthMonitor));
    repo_.commit("feat: the service", "Ada");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
    for (const char* env : {"staging", "prod"}) {
      ASSERT_EQ(client({"env", "set", "web", env, "url=" + url(), "state=" + serviceDir_.string()})
                    .exitCode,
                0);
    }
  }
  void TearDown() override {
    ServerFixture::TearDown();
    if (service_ > 0) ::kill(service_, SIGTERM);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  json deploys(const std::string& env) {
    return api("/api/projects/web/deploys?env=" + env)["deploys"];
  }
  // The newest deploy to `env` once it has ended.
  json ended(const std::string& env, size_t count) {
    json found;
    waitFor([&] {
      json d = deploys(env);
      if (d.size() != count || d[0]["state"] == "queued" || d[0]["state"] == "running")
        return false;
      found = d[0];
      return true;
    });
    return found;
  }
  std::string runs() {
    std::ifstream in(serviceDir_ / "RUNS");
    std::string v;
    std::getline(in, v);
    return v;
  }
  // prod verified too (2 s) and deployed by hand; the first release run and in staging.
  void verifiedProdByHand() {
    std::string file = readFile(repo_.dir() / ".boucle.yml");
    file = std::regex_replace(file, std::regex("  prod: \\{auto: true, after: staging\\}"),
                              "  prod: {after: staging, verify: {for: 2s}}");
    repo_.write(".boucle.yml", file);
    repo_.commit("ci: prod by hand", "Ada");
    ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
    ASSERT_EQ(ended("staging", 1)["state"], "succeeded");
  }
  Http rollbackProd(const std::string& version) {
    return curl("POST", server_->url() + "/api/projects/web/environments/prod/rollback",
                R"({"version": ")" + version + R"("})",
                {"Authorization: Bearer " + server_->token(), "Content-Type: application/json"});
  }
  // The verification's probe named `name`.
  static json probe(const json& deploy, const std::string& name) {
    for (const auto& p : deploy["verification"]["probes"]) {
      if (p["name"] == name) return p;
    }
    return nullptr;
  }
  fs::path serviceDir_;
  int port_ = 0;
  pid_t service_ = -1;
};

TEST_F(VerifyTest, AVerifiedReleaseSucceedsAndOnlyThenGoesOn) {
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  // While staging verifies, the release is there but has not succeeded: prod waits.
  ASSERT_TRUE(waitFor([&] {
    json d = deploys("staging");
    return !d.empty() && d[0]["verification"].is_object();
  }));
  json verifying = deploys("staging")[0];
  EXPECT_EQ(verifying["state"], "running") << verifying.dump(2);
  EXPECT_THAT(verifying["reason"].get<std::string>(), HasSubstr("verifying for 3s"));
  EXPECT_EQ(verifying["verification"]["state"], "running");
  EXPECT_TRUE(deploys("prod").empty());
  EXPECT_EQ(runs(), "0.1.0");

  json staging = ended("staging", 1);
  ASSERT_EQ(staging["state"], "succeeded") << staging.dump(2);
  json v = staging["verification"];
  EXPECT_EQ(v["state"], "passed") << v.dump(2);
  EXPECT_EQ(v["for_ms"], 3000);
  EXPECT_GE(v["ended_at_ms"].get<int64_t>() - v["started_at_ms"].get<int64_t>(), 3000);
  json health = probe(staging, "health");
  EXPECT_EQ(health["source"], "monitor");
  EXPECT_GE(health["passes"].get<int>(), 1) << v.dump(2);
  EXPECT_EQ(health["failed"], false);
  json rate = probe(staging, "error rate");
  EXPECT_EQ(rate["source"], "check");
  EXPECT_EQ(rate["last"]["detail"], "value 0");
  // Verified: prod gets it, and prod (no verify) succeeds without a verification.
  json prod = ended("prod", 1);
  EXPECT_EQ(prod["state"], "succeeded") << prod.dump(2);
  EXPECT_TRUE(prod["verification"].is_null());

  // The CLI shows what was watched.
  Output shown = client({"deploys", "web", "--env", "staging"});
  ASSERT_EQ(shown.exitCode, 0) << shown.all();
  EXPECT_THAT(shown.out, HasSubstr("verification passed (watching 3s)"));
  EXPECT_THAT(shown.out, HasSubstr("ok health (monitor):"));
  EXPECT_THAT(shown.out, HasSubstr("ok error rate (check):"));
}

TEST_F(VerifyTest, AReleaseThatBreaksTheServiceIsRolledBackWithTheEvidence) {
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_EQ(ended("staging", 1)["state"], "succeeded");
  ASSERT_EQ(ended("prod", 1)["state"], "succeeded");
  // 0.2.0 passes its smoke checks (it has none) and breaks the health page.
  repo_.write(".boucle.yml",
              pipelineFile(R"(rm -f "$BOUCLE_ENV_STATE/HEALTHY"; )"
                           R"(echo "$BOUCLE_RELEASE_VERSION" > "$BOUCLE_ENV_STATE/RUNS")",
                           kHealthMonitor));
  repo_.commit("feat: a new health page", "Ada");
  ASSERT_EQ(triggerAndWait("web", 2)["state"], "passed");
  json staging = ended("staging", 2);
  ASSERT_EQ(staging["state"], "rolled_back") << staging.dump(2);
  EXPECT_EQ(staging["version"], "0.2.0");
  std::string reason = staging["reason"];
  EXPECT_THAT(reason, HasSubstr("verification failed: 'health' gave 2 verdicts in a row"));
  EXPECT_THAT(reason, HasSubstr("HTTP 503"));
  EXPECT_THAT(reason, HasSubstr("rolled back to 0.1.0"));
  json v = staging["verification"];
  EXPECT_EQ(v["state"], "failed");
  json health = probe(staging, "health");
  EXPECT_EQ(health["failed"], true);
  ASSERT_EQ(health["evidence"].size(), 2u) << v.dump(2);
  EXPECT_EQ(health["evidence"][0]["verdict"], "fail");
  EXPECT_THAT(health["evidence"][1]["detail"].get<std::string>(), HasSubstr("HTTP 503"));
  // 0.1.0's method ran again: the service is healthy, and staging's current release is 0.1.0.
  EXPECT_EQ(runs(), "0.1.0");
  EXPECT_TRUE(fs::exists(serviceDir_ / "HEALTHY"));
  json envs = api("/api/projects/web/environments");
  EXPECT_THAT(envs.dump(), HasSubstr("\"0.1.0\"")) << envs.dump(2);
  // Never verified, never promoted.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(deploys("prod").size(), 1u);
  // The deploy log tells the story.
  Http log =
      curl("GET",
           server_->url() + "/api/deploys/" + std::to_string(staging["id"].get<int64_t>()) + "/log",
           "", {"Authorization: Bearer " + server_->token()});
  EXPECT_THAT(log.body, HasSubstr("verifying for 3s: 2 probes (1 from the environment's checks)"));
  EXPECT_THAT(log.body, HasSubstr("verification FAILED: 'health'"));
  EXPECT_THAT(log.body, HasSubstr("rolling back to 0.1.0"));
  // DORA counts it as a failed change.
  json dora = api("/api/projects/web/dora?env=staging");
  EXPECT_THAT(dora["change_failure_rate"].dump(), HasSubstr("0.2.0")) << dora.dump(2);
}

// The environment's own check, from the policy, judges a release that brings no monitors of
// its own: it cannot escape verification by dropping them.
TEST_F(VerifyTest, ThePolicysCheckFailsAReleaseWithoutMonitors) {
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_EQ(ended("staging", 1)["state"], "succeeded");
  repo_.write(".boucle.yml",
              pipelineFile(R"(echo 0.5 > "$BOUCLE_ENV_STATE/ERRORS"; )"
                           R"(echo "$BOUCLE_RELEASE_VERSION" > "$BOUCLE_ENV_STATE/RUNS")",
                           ""));
  repo_.commit("feat: errors, no monitors", "Ada");
  ASSERT_EQ(triggerAndWait("web", 2)["state"], "passed");
  json staging = ended("staging", 2);
  ASSERT_EQ(staging["state"], "rolled_back") << staging.dump(2);
  EXPECT_THAT(
      staging["reason"].get<std::string>(),
      HasSubstr("'error rate' gave 2 verdicts in a row that were not passes (last: fail, "));
  EXPECT_THAT(staging["reason"].get<std::string>(), HasSubstr("is 0.5, not below 0.01"));
  EXPECT_TRUE(probe(staging, "health").is_null());  // 0.2.0 has no monitors
  EXPECT_EQ(runs(), "0.1.0");
  EXPECT_FALSE(fs::exists(serviceDir_ / "ERRORS"));
}

// A check whose query has no series is not a pass: the release is not verified.
TEST_F(VerifyTest, NoDataIsNotAPass) {
  repo_.write(".boucle.yml",
              pipelineFile(R"(echo "$BOUCLE_RELEASE_VERSION" > "$BOUCLE_ENV_STATE/RUNS")", "",
                           "ghost_metric"));
  repo_.commit("feat: watched by a query without series", "Ada");
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  json staging = ended("staging", 1);
  // The first release has nothing to go back to: it fails, and stays failed.
  ASSERT_EQ(staging["state"], "failed") << staging.dump(2);
  EXPECT_THAT(staging["reason"].get<std::string>(), HasSubstr("last: no_data"));
  EXPECT_EQ(probe(staging, "error rate")["no_data"], 2);
  EXPECT_TRUE(deploys("prod").empty());
}

// A probe that never passes fails the verification at its end, even below `fail_after`.
TEST_F(VerifyTest, AProbeThatNeverPassedFailsAtTheEnd) {
  repo_.write(".boucle.yml",
              pipelineFile(R"(echo "$BOUCLE_RELEASE_VERSION" > "$BOUCLE_ENV_STATE/RUNS")", "",
                           "ghost_metric"));
  std::string file = readFile(repo_.dir() / ".boucle.yml");
  repo_.write(".boucle.yml",
              std::regex_replace(file, std::regex("fail_after: 2"), "fail_after: 100"));
  repo_.commit("feat: watched by a query that never answers", "Ada");
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  json staging = ended("staging", 1);
  ASSERT_EQ(staging["state"], "failed") << staging.dump(2);
  EXPECT_THAT(staging["reason"].get<std::string>(), HasSubstr("'error rate' never passed in 3s"));
  EXPECT_GE(probe(staging, "error rate")["no_data"].get<int>(), 1);
}

// "Rolling back" to a release that never ran in a verified environment is a deploy like any
// other there: it is verified, and does not slip in as a rollback.
TEST_F(VerifyTest, ARollbackToAReleaseThatNeverRanHereIsVerified) {
  ASSERT_NO_FATAL_FAILURE(verifiedProdByHand());
  Http r = rollbackProd("0.1.0");
  ASSERT_EQ(r.status, 201) << r.body;
  json prod = ended("prod", 1);
  ASSERT_EQ(prod["state"], "succeeded") << prod.dump(2);
  EXPECT_EQ(prod["rollback"], true);
  ASSERT_TRUE(prod["verification"].is_object()) << prod.dump(2);
  EXPECT_EQ(prod["verification"]["state"], "passed");
  EXPECT_GE(probe(prod, "health")["passes"].get<int>(), 1);
}

// A rollback whose verification fails stays where it is: going back would reinstall the
// release the operator was leaving.
TEST_F(VerifyTest, ARollbackThatFailsItsVerificationIsNotUndone) {
  ASSERT_NO_FATAL_FAILURE(verifiedProdByHand());
  repo_.write("FEATURE", "1\n");
  repo_.commit("feat: a second release", "Ada");
  ASSERT_EQ(triggerAndWait("web", 2)["state"], "passed");
  ASSERT_EQ(ended("staging", 2)["state"], "succeeded");
  Output promoted = client({"promote", "web", "--from", "staging", "--to", "prod"});
  ASSERT_EQ(promoted.exitCode, 0) << promoted.all();
  ASSERT_EQ(ended("prod", 1)["state"], "succeeded");
  EXPECT_EQ(runs(), "0.2.0");
  // prod's service is now unreachable: 0.1.0, never run there, cannot be verified.
  ASSERT_EQ(
      client({"env", "set", "web", "prod", "url=http://127.0.0.1:" + std::to_string(freePort())})
          .exitCode,
      0);
  Http r = rollbackProd("0.1.0");
  ASSERT_EQ(r.status, 201) << r.body;
  json back = ended("prod", 2);
  ASSERT_EQ(back["state"], "failed") << back.dump(2);
  EXPECT_THAT(back["reason"].get<std::string>(), HasSubstr("verification failed: 'health'"));
  EXPECT_THAT(back["reason"].get<std::string>(), HasSubstr("0.1.0 stays in place"));
  EXPECT_EQ(runs(), "0.1.0");  // 0.2.0 was not put back
}

}  // namespace
}  // namespace boucle::testing
