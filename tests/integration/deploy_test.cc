// Deploys with the local driver against the real server: a small HTTP service released, put in
// dev automatically, promoted, approved, smoke-tested, rolled back, with secrets masked.
#include <gmock/gmock.h>
#include <signal.h>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;
namespace fs = std::filesystem;

// The service: answers /health with "OK VERSION" when built healthy, 500 otherwise.
constexpr const char* kServe = R"py(import http.server, os, sys
version = open('VERSION').read().strip()
healthy = os.path.exists('HEALTHY')
conf = open('app.conf').read()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ('OK ' + version + '\n' + conf) if healthy else 'sick\n'
        self.send_response(200 if healthy else 500)
        self.end_headers()
        self.wfile.write(body.encode())
    def log_message(self, *a):
        pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
)py";

// restart: stop the environment's running copy, start this release's, wait until it listens.
constexpr const char* kCtl = R"sh(#!/bin/sh
set -e
pidfile="$BOUCLE_ENV_DIR/app.pid"
if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; sleep 0.3; fi
nohup python3 serve.py "$BOUCLE_ENV_PORT" > "$BOUCLE_ENV_DIR/app.log" 2>&1 &
echo $! > "$pidfile"
echo "started $BOUCLE_RELEASE_VERSION on $BOUCLE_ENV_PORT with token $BOUCLE_ENV_API_TOKEN"
for i in $(seq 50); do
  python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])))' \
    "$BOUCLE_ENV_PORT" 2>/dev/null && exit 0
  sleep 0.1
done
exit 1
)sh";

class DeployTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    repo_.write(".boucle.yml", R"yml(jobs:
  build:
    run: |
      mkdir -p dist/pkg
      cp app/serve.py app/ctl MARK dist/pkg/
      mv dist/pkg/MARK dist/pkg/VERSION
      [ -e SICK ] || touch dist/pkg/HEALTHY
      tar czf dist/app.tar.gz -C dist/pkg .
    artifacts: [dist/app.tar.gz]
environments:
  dev: {auto: true}
  qa: {after: dev}
  prod: {after: qa, approval: [ops], four_eyes: true}
deploy:
  driver: local
  config:
    - template: deploy/app.conf.mustache
      to: "{{ release.dir }}/app.conf"
  steps:
    - ./ctl restart
  smoke:
    - http: "{{ env.url }}/health"
      expect: {status: 200, contains: OK, within: 2s}
  on_failure: rollback
)yml");
    repo_.write("app/serve.py", kServe);
    repo_.write("app/ctl", kCtl);
    runCommand({"/usr/bin/chmod", "+x", (repo_.dir() / "app/ctl").string()}, repo_.dir());
    repo_.write("deploy/app.conf.mustache", "env={{ env.name }} greeting={{ env.greeting }}\n");
    repo_.write("MARK", "1\n");
    repo_.commit("feat: the service", "Ada");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
    for (const char* env : {"dev", "qa", "prod"}) {
      int port = freePort();
      fs::path dir = repo_.scratch() / env;
      dirs_.push_back(dir);
      ports_[env] = port;
      Output set =
          client({"env", "set", "web", env, "dir=" + dir.string(), "port=" + std::to_string(port),
                  "url=http://127.0.0.1:" + std::to_string(port),
                  std::string("greeting=hello from ") + env});
      ASSERT_EQ(set.exitCode, 0) << set.err;
    }
  }
  void TearDown() override {
    ServerFixture::TearDown();
    for (const auto& dir : dirs_) {  // the services the deploys started
      std::string pid = readFile(dir / "app.pid");
      if (!pid.empty()) ::kill(std::stoi(pid), SIGTERM);
    }
  }
  // Releases the newest passing run, returns its version.
  std::string release() {
    Output r = client({"release", "web", "--json"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return json::parse(r.out, nullptr, false).value("version", "");
  }
  json waitForDeploy(int64_t id) {
    json d;
    waitFor([&] {
      d = api("/api/deploys/" + std::to_string(id));
      std::string s = d.value("state", "");
      return s != "queued" && s != "running" && !s.empty();
    });
    return d;
  }
  std::string health(const std::string& env) {
    return curl("GET", "http://127.0.0.1:" + std::to_string(ports_[env]) + "/health").body;
  }
  std::vector<fs::path> dirs_;
  std::map<std::string, int> ports_;
};

TEST_F(DeployTest, AReleaseGoesToDevThenIsPromotedAndApprovedIntoProd) {
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  std::string v1 = release();
  ASSERT_EQ(v1, "0.1.0");
  // dev takes every release by itself
  json dev = waitForDeploy(1);
  ASSERT_EQ(dev["state"], "succeeded") << dev.dump() << readFile(server_->data() / "deploys/1.log");
  EXPECT_EQ(dev["env"], "dev");
  EXPECT_THAT(health("dev"), HasSubstr("OK 1"));
  EXPECT_THAT(health("dev"), HasSubstr("env=dev greeting=hello from dev"));
  fs::path current = dirs_[0] / "current";
  EXPECT_TRUE(fs::is_symlink(current));
  EXPECT_EQ(fs::read_symlink(current), fs::path("releases/0.1.0"));
  EXPECT_EQ(dev["smoke"][0]["ok"], true);

  // qa comes after dev; prod after qa, with an approval by someone else than who asked
  Output early = client({"deploy", "web", v1, "--to", "prod"});
  EXPECT_EQ(early.exitCode, 1);
  EXPECT_THAT(early.err, HasSubstr("has not succeeded in qa yet"));
  Output qa = client({"promote", "web", "--from", "dev", "--to", "qa"});
  EXPECT_EQ(qa.exitCode, 0) << qa.out << qa.err;
  EXPECT_THAT(qa.out, HasSubstr("boucle: step: ./ctl restart"));
  EXPECT_THAT(qa.out, HasSubstr("smoke ok"));
  EXPECT_THAT(health("qa"), HasSubstr("OK 1"));

  Output asked = client({"promote", "web", "--from", "qa", "--to", "prod", "--json"});
  ASSERT_EQ(asked.exitCode, 0) << asked.err;
  json waiting = json::parse(asked.out);
  EXPECT_EQ(waiting["state"], "waiting");
  std::string id = std::to_string(waiting["id"].get<int64_t>());
  Output self = client({"approve", id});
  EXPECT_EQ(self.exitCode, 1);
  EXPECT_THAT(self.err, HasSubstr("four eyes"));

  // a second person (token) approves
  Output other = client({"token", "add", "olivia (ops)", "--role", "ops"});
  ASSERT_EQ(other.exitCode, 0) << other.err;
  std::string secondToken = other.out.substr(0, other.out.find('\n'));
  EXPECT_THAT(secondToken, ::testing::StartsWith("bcl_"));
  auto approved = curl("POST", server_->url() + "/api/deploys/" + id + "/approve", "",
                       {"Authorization: Bearer " + secondToken});
  ASSERT_EQ(approved.status, 200) << approved.body;
  json prod = waitForDeploy(std::stoll(id));
  EXPECT_EQ(prod["state"], "succeeded");
  EXPECT_EQ(prod["approved_by"], "olivia (ops)");
  EXPECT_THAT(health("prod"), HasSubstr("OK 1"));

  json where = api("/api/projects/web/environments");
  ASSERT_EQ(where["environments"].size(), 3u);
  EXPECT_EQ(where["environments"][2]["current"]["version"], "0.1.0");
  Output envs = client({"environments", "web"});
  EXPECT_THAT(envs.out, HasSubstr("prod       0.1.0"));
  Output audit = client({"audit", "web"});
  EXPECT_THAT(audit.out, HasSubstr("approve"));
  EXPECT_THAT(audit.out, HasSubstr("olivia (ops)"));
}

TEST_F(DeployTest, AFailingSmokeCheckPutsThePreviousReleaseBack) {
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_EQ(release(), "0.1.0");
  ASSERT_EQ(waitForDeploy(1)["state"], "succeeded");

  repo_.write("SICK", "1");
  repo_.write("MARK", "2\n");
  repo_.commit("fix: something that breaks the health check", "Mallory");
  ASSERT_EQ(triggerAndWait("web", 2)["state"], "passed");
  ASSERT_EQ(release(), "0.1.1");
  json d = waitForDeploy(2);
  EXPECT_EQ(d["state"], "rolled_back") << d.dump();
  EXPECT_THAT(d["reason"].get<std::string>(), HasSubstr("rolled back to 0.1.0"));
  EXPECT_EQ(d["smoke"][0]["ok"], false);
  EXPECT_THAT(health("dev"), HasSubstr("OK 1")) << "the old release answers again";
  EXPECT_EQ(fs::read_symlink(dirs_[0] / "current"), fs::path("releases/0.1.0"));
  std::string log = readFile(server_->data() / "deploys/2.log");
  EXPECT_THAT(log, HasSubstr("smoke FAILED"));
  EXPECT_THAT(log, HasSubstr("rolling back to 0.1.0"));
  json where = api("/api/projects/web/environments");
  EXPECT_EQ(where["environments"][0]["current"]["version"], "0.1.0");
  EXPECT_EQ(where["environments"][0]["current"]["releases_behind"], 1);
}

TEST_F(DeployTest, ManualRollbackSecretsMaskedAndMissingValuesStopFirst) {
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_EQ(release(), "0.1.0");
  ASSERT_EQ(waitForDeploy(1)["state"], "succeeded");
  Output secret =
      runCommand({"/usr/bin/sh", "-c",
                  "printf 'tok-9f8e7d6c5b' | \"$0\" secret set web dev api_token", BOUCLE_BIN},
                 repo_.dir(), server_->clientEnv());
  ASSERT_EQ(secret.exitCode, 0) << secret.err;
  repo_.write("MARK", "2\n");
  repo_.commit("feat: two", "Ada");
  ASSERT_EQ(triggerAndWait("web", 2)["state"], "passed");
  ASSERT_EQ(release(), "0.2.0");
  ASSERT_EQ(waitForDeploy(2)["state"], "succeeded");
  EXPECT_THAT(health("dev"), HasSubstr("OK 2"));
  std::string log = readFile(server_->data() / "deploys/2.log");
  EXPECT_THAT(log, HasSubstr("with token ***"));
  EXPECT_THAT(log, Not(HasSubstr("tok-9f8e7d6c5b")));

  Output back = client({"rollback", "web", "dev"});
  EXPECT_EQ(back.exitCode, 0) << back.err;
  EXPECT_THAT(health("dev"), HasSubstr("OK 1"));
  json d = api("/api/deploys/3");
  EXPECT_EQ(d["version"], "0.1.0");
  EXPECT_EQ(d["rollback"], true);
  EXPECT_EQ(d["from_version"], "0.2.0");

  // a value the config template needs is missing: nothing is touched
  ASSERT_EQ(client({"env", "unset", "web", "dev", "greeting"}).exitCode, 0);
  Output again = client({"deploy", "web", "0.2.0", "--to", "dev"});
  EXPECT_EQ(again.exitCode, 1);
  EXPECT_THAT(again.out, HasSubstr("no value for {{ env.greeting }}"));
  EXPECT_EQ(fs::read_symlink(dirs_[0] / "current"), fs::path("releases/0.1.0"));
  Output dry = client({"deploy", "web", "0.1.0", "--to", "qa", "--dry-run"});
  EXPECT_THAT(dry.out, HasSubstr("would switch"));
  EXPECT_FALSE(fs::exists(dirs_[1] / "current")) << "a dry run touches nothing";
}

TEST_F(DeployTest, AnAutomaticEnvironmentAfterAnotherGetsTheReleaseOnceItSucceededThere) {
  std::string file = readFile(repo_.dir() / ".boucle.yml");
  auto at = file.find("qa: {after: dev}");
  ASSERT_NE(at, std::string::npos);
  file.replace(at, 16, "qa: {after: dev, auto: true}");
  repo_.write(".boucle.yml", file);
  repo_.commit("ci: qa follows dev", "Ada");
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_EQ(release(), "0.1.0");
  EXPECT_EQ(waitForDeploy(1)["env"], "dev");
  json qa = waitForDeploy(2);
  EXPECT_EQ(qa["env"], "qa");
  EXPECT_EQ(qa["state"], "succeeded");
  // The chain asks in the name of who started it (four eyes sees them), not "boucle".
  EXPECT_EQ(qa["requested_by"], "initial admin token");
  EXPECT_THAT(health("qa"), HasSubstr("OK 1"));
  EXPECT_EQ(api("/api/deploys/3").value("state", ""), "") << "prod waits for a person";
}

TEST_F(DeployTest, TheCommandDriverRunsItsCommandWithTheReleaseUnpacked) {
  fs::path out = repo_.scratch() / "applied.txt";
  repo_.write(".boucle.yml", R"yml(jobs:
  build:
    run: mkdir -p dist/pkg && echo manifest > dist/pkg/app.yaml && tar czf dist/app.tgz -C dist/pkg .
    artifacts: [dist/app.tgz]
environments:
  staging: {auto: true}
deploy:
  driver: command
  command: 'echo "apply $(cat app.yaml) $BOUCLE_RELEASE_VERSION to $BOUCLE_ENVIRONMENT" >> "$BOUCLE_ENV_OUT"'
  smoke:
    - run: grep -q "to staging" "$BOUCLE_ENV_OUT"
)yml");
  repo_.commit("feat: kubernetes-style deploy", "Ada");
  ASSERT_EQ(client({"env", "set", "web", "staging", "out=" + out.string()}).exitCode, 0);
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_EQ(release(), "0.1.0");
  json d = waitForDeploy(1);
  EXPECT_EQ(d["state"], "succeeded") << readFile(server_->data() / "deploys/1.log");
  EXPECT_EQ(readFile(out), "apply manifest 0.1.0 to staging\n");
  EXPECT_EQ(d["smoke"][0]["ok"], true);
}

}  // namespace
}  // namespace boucle::testing
