// Private repositories: a token over HTTP (git's smart HTTP behind Basic auth) and an ssh key
// (a real OpenSSH server on a free loopback port). The secret gets git in, and is never shown.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "harness.h"
#include "server_fixture.h"

namespace boucle::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

class PrivateRepoTest : public ServerFixture {
 protected:
  void SetUp() override {
    repo_.write(".boucle.yml", "jobs:\n  test: {run: 'test -f secret-sauce'}\n");
    repo_.write("secret-sauce", "x\n");
    repo_.commit("feat: private");
    bare_ = repo_.scratch() / "served" / "app.git";
    fs::create_directories(bare_.parent_path());
    ASSERT_EQ(runCommand({"/usr/bin/git", "clone", "--bare", "--quiet", repo_.dir().string(),
                          bare_.string()},
                         repo_.scratch())
                  .exitCode,
              0);
    startServer();
  }
  void TearDown() override {
    for (pid_t pid : helpers_) {
      ::kill(pid, SIGTERM);
      waitExit(pid);
    }
  }
  nlohmann::json runOnce(int id) { return triggerAndWait("web", id); }
  // Everything a user or an attacker with the API or the files could read.
  void expectSecretNowhere(const std::string& secret) {
    EXPECT_THAT(client({"project", "show", "web"}).all(), Not(HasSubstr(secret)));
    EXPECT_THAT(client({"project", "list", "--json"}).all(), Not(HasSubstr(secret)));
    EXPECT_THAT(curl("GET", server_->url() + "/api/runs?project=web", "",
                     {"Authorization: Bearer " + server_->token()})
                    .body,
                Not(HasSubstr(secret)));
    EXPECT_THAT(server_->log(), Not(HasSubstr(secret)));
    EXPECT_THAT(readFile(server_->data() / "boucle.db"), Not(HasSubstr(secret)));
    EXPECT_THAT(readFile(server_->data() / "boucle.db-wal"), Not(HasSubstr(secret)));
    // An ssh key lives on disk only while git runs.
    if (fs::exists(server_->data() / "git/keys")) {
      EXPECT_TRUE(fs::is_empty(server_->data() / "git/keys"));
    }
  }

  fs::path bare_;
  std::vector<pid_t> helpers_;
};

TEST_F(PrivateRepoTest, ATokenOpensAnHttpRepositoryAndIsNeverShown) {
  const std::string token = "glpat-s3cr3tT0kenValue42";
  pid_t http =
      startProcess({"/usr/bin/python3", GIT_HTTP_PY, bare_.parent_path().string(), "ci-bot", token},
                   repo_.scratch(), repo_.scratch() / "http.out");
  helpers_.push_back(http);
  std::smatch m;
  std::string out;
  static const std::regex port(R"(http (\d+)\n)");
  ASSERT_TRUE(waitFor([&] {
    out = readFile(repo_.scratch() / "http.out");
    return std::regex_search(out, m, port);
  })) << out;
  std::string url = "http://127.0.0.1:" + m[1].str() + "/app.git";
  ASSERT_EQ(client({"project", "add", "web", url, "--poll", "0"}).exitCode, 0);
  json refused = runOnce(1);
  EXPECT_EQ(refused["state"], "failed");
  EXPECT_THAT(refused["reason"].get<std::string>(), HasSubstr("could not read Username"));

  fs::path tokenFile = repo_.scratch() / "token";
  std::ofstream(tokenFile) << token << "\n";
  Output set = client(
      {"project", "credential", "web", "--token-file", tokenFile.string(), "--username", "ci-bot"});
  ASSERT_EQ(set.exitCode, 0) << set.all();
  EXPECT_THAT(set.out, HasSubstr("token credential stored"));
  json project = api("/api/projects/web");
  EXPECT_EQ(project["credential"]["kind"], "token");
  EXPECT_EQ(project["credential"]["username"], "ci-bot");
  json run = runOnce(2);
  EXPECT_EQ(run["state"], "passed") << run.dump(2);
  expectSecretNowhere(token);

  // A wrong token is refused, and its text is not echoed back either.
  std::ofstream(tokenFile) << "wrong-token-value-1234\n";
  ASSERT_EQ(client({"project", "credential", "web", "--token-file", tokenFile.string()}).exitCode,
            0);
  EXPECT_EQ(runOnce(3)["state"], "failed");
  EXPECT_THAT(server_->log(), Not(HasSubstr("wrong-token-value-1234")));
}

TEST_F(PrivateRepoTest, AnSshKeyOpensAnSshRepositoryAndIsNeverShown) {
  fs::path s = repo_.scratch() / "ssh";
  fs::create_directories(s);
  fs::create_directories("/run/sshd");  // sshd's privilege-separation directory
  for (const char* key : {"host", "client"}) {
    ASSERT_EQ(runCommand({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                          (s / key).string(), "-C", key},
                         s)
                  .exitCode,
              0);
  }
  fs::copy_file(s / "client.pub", s / "authorized_keys");
  int port = freePort();
  std::ofstream(s / "sshd_config")
      << "Port " << port << "\nListenAddress 127.0.0.1\nHostKey " << (s / "host").string()
      << "\nPidFile " << (s / "sshd.pid").string() << "\nAuthorizedKeysFile "
      << (s / "authorized_keys").string()
      << "\nPermitRootLogin prohibit-password\n"
         "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
         "UsePAM no\nStrictModes no\n";
  pid_t sshd = startProcess({"/usr/sbin/sshd", "-D", "-e", "-f", (s / "sshd_config").string()}, s,
                            s / "sshd.log");
  helpers_.push_back(sshd);
  ASSERT_TRUE(waitFor([&] { return fs::exists(s / "sshd.pid"); })) << readFile(s / "sshd.log");
  std::string user = ::getpwuid(::getuid())->pw_name;
  std::string url = "ssh://" + user + "@127.0.0.1:" + std::to_string(port) + bare_.string();
  ASSERT_EQ(client({"project", "add", "web", url, "--poll", "0"}).exitCode, 0);
  json refused = runOnce(1);
  EXPECT_EQ(refused["state"], "failed");
  EXPECT_THAT(refused["reason"].get<std::string>(), HasSubstr("Permission denied"));

  std::string key = readFile(s / "client");
  Output set = client({"project", "credential", "web", "--ssh-key", (s / "client").string()});
  ASSERT_EQ(set.exitCode, 0) << set.all();
  json run = runOnce(2);
  EXPECT_EQ(run["state"], "passed") << run.dump(2) << readFile(s / "sshd.log");
  // The key's body (its armour lines are public knowledge).
  std::string body = key.substr(key.find('\n') + 1, 40);
  expectSecretNowhere(body);
  EXPECT_TRUE(fs::exists(server_->data() / "git/known_hosts"));  // the host was remembered

  // Removing the credential closes the door again.
  ASSERT_EQ(client({"project", "credential", "web", "--remove"}).exitCode, 0);
  EXPECT_TRUE(api("/api/projects/web")["credential"].is_null());
  EXPECT_EQ(runOnce(3)["state"], "failed");
}

TEST_F(PrivateRepoTest, PasswordsInUrlsAndBadCredentialsAreRefused) {
  Output pw = client({"project", "add", "web", "https://bob:hunter2@git.example/app.git"});
  EXPECT_EQ(pw.exitCode, 1);
  EXPECT_THAT(pw.all(), HasSubstr("the URL carries a password"));
  fs::path notAKey = repo_.scratch() / "not-a-key";
  std::ofstream(notAKey) << "hello\n";
  Output bad = client({"project", "add", "web", bare_.string(), "--ssh-key", notAKey.string()});
  EXPECT_EQ(bad.exitCode, 1);
  EXPECT_THAT(bad.all(), HasSubstr("not a private key"));
  Output both =
      client({"project", "add", "web", bare_.string(), "--ssh-key", "a", "--token-file", "b"});
  EXPECT_EQ(both.exitCode, 2);
  EXPECT_EQ(api("/api/projects")["projects"].size(), 0u);
}

}  // namespace
}  // namespace boucle::testing
