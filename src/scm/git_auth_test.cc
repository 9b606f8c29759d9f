#include "scm/git_auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "auth/tokens.h"

namespace boucle::scm {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string envValue(const GitAuth& a, const std::string& name) {
  for (const auto& e : a.env()) {
    if (e.rfind(name + "=", 0) == 0) return e.substr(name.size() + 1);
  }
  return "";
}

TEST(GitAuth, ATokenBecomesABasicHeaderInGitsEnvironment) {
  auto a = GitAuth::prepare({"token", "ci-bot", "s3cret"}, fs::temp_directory_path());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(envValue(*a, "GIT_CONFIG_KEY_0"), "http.extraHeader");
  // base64("ci-bot:s3cret")
  EXPECT_EQ(envValue(*a, "GIT_CONFIG_VALUE_0"), "Authorization: Basic Y2ktYm90OnMzY3JldA==");
  EXPECT_EQ(a->redact("fatal: s3cret was refused"), "fatal: *** was refused");
}

TEST(GitAuth, AnSshKeyIsAPrivateFileOnlyWhileItIsNeeded) {
  fs::path dir = fs::temp_directory_path() / ("boucle-gitauth-" + auth::randomHex(6));
  fs::path key;
  {
    auto a = GitAuth::prepare({"ssh-key", "", "-----BEGIN OPENSSH PRIVATE KEY-----\nabc"}, dir);
    ASSERT_TRUE(a.ok());
    std::string ssh = envValue(*a, "GIT_SSH_COMMAND");
    EXPECT_THAT(ssh, HasSubstr("BatchMode=yes"));
    EXPECT_THAT(ssh, HasSubstr("StrictHostKeyChecking=accept-new"));
    auto at = ssh.find("-i '");
    ASSERT_NE(at, std::string::npos);
    key = ssh.substr(at + 4, ssh.find('\'', at + 4) - at - 4);
    struct stat st {};
    ASSERT_EQ(::stat(key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    GitAuth moved = std::move(*a);  // ownership moves with it
    EXPECT_TRUE(fs::exists(key));
  }
  EXPECT_FALSE(fs::exists(key));
  fs::remove_all(dir);
}

TEST(GitAuth, QuotesInTheDataPathStayInsideSshsArguments) {
  fs::path dir = fs::temp_directory_path() / ("it's-" + auth::randomHex(6));
  auto a = GitAuth::prepare({}, dir);
  ASSERT_TRUE(a.ok());
  EXPECT_THAT(envValue(*a, "GIT_SSH_COMMAND"), HasSubstr("'\\''s-"));
  fs::remove_all(dir);
}

TEST(GitAuth, CredentialsAndUrlsAreChecked) {
  EXPECT_EQ(checkCredential({}), "");
  EXPECT_EQ(checkCredential({"token", "u", "t"}), "");
  EXPECT_THAT(checkCredential({"password", "u", "t"}), HasSubstr("token or ssh-key"));
  EXPECT_THAT(checkCredential({"token", "u", ""}), HasSubstr("empty"));
  EXPECT_THAT(checkCredential({"token", "u", "a\nb"}), HasSubstr("one line"));
  EXPECT_THAT(checkCredential({"token", "a:b", "t"}), HasSubstr("':'"));
  EXPECT_THAT(checkCredential({"ssh-key", "", "hello"}), HasSubstr("not a private key"));
  EXPECT_EQ(checkUrl("https://git.example/a.git"), "");
  EXPECT_EQ(checkUrl("ssh://git@git.example:22/a.git"), "");
  EXPECT_EQ(checkUrl("https://user@git.example/a.git"), "");
  EXPECT_EQ(checkUrl("https://git.example/a@b:c"), "");
  EXPECT_THAT(checkUrl("https://bob:hunter2@git.example/a.git"), HasSubstr("password"));
}

}  // namespace
}  // namespace boucle::scm
