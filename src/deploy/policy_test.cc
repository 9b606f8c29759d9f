#include "deploy/policy.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "auth/tokens.h"

namespace boucle::deploy {
namespace {

namespace fs = std::filesystem;

// Runs a shell command line built by the test itself (fixed strings and temp paths only).
void sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  for (size_t n; p && (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ASSERT_EQ(p ? ::pclose(p) : -1, 0) << cmd << "\n" << out;
}

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("boucle-policy-" + auth::randomHex(6));
    repo_ = dir_ / "repo";
    mirror_ = dir_ / "mirror.git";
    sh("git init -q -b main " + repo_.string());
    commitRules("environments:\n  dev: {}\n");
    sh("git clone -q --mirror " + repo_.string() + " " + mirror_.string());
    store_ = std::move(store::openSqliteStore((dir_ / "db").string())).value();
    store::Project p;
    p.name = "web";
    p.url = repo_.string();
    p.branches = {"main"};
    ASSERT_TRUE(store_->addProject(p).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  void commitRules(const std::string& environments) {
    std::ofstream(repo_ / ".boucle.yml")
        << "jobs:\n  build: {run: 'true'}\n"
        << environments << "deploy: {driver: command, command: 'true'}\n";
    sh("cd " + repo_.string() + " && git add -A && git -c user.name=a -c user.email=a@b " +
       "commit -q -m rules");
  }

  std::string envNames() {
    auto p = loadPolicy(*store_, "web", mirror_);
    if (!p.ok()) return "error: " + p.status().message();
    return p->envNames();
  }

  fs::path dir_, repo_, mirror_;
  std::unique_ptr<store::Store> store_;
};

// The rules are kept between reads while the branch stays where it is, and read again as soon
// as a fetch moves it, whether git wrote the ref as a file of its own or into packed-refs.
TEST_F(PolicyTest, TheRulesFollowThePolicyBranchAcrossFetches) {
  EXPECT_EQ(envNames(), "dev");
  // Read again while the branch stays put: from what was read, not from git (which could not
  // read the mirror's objects now).
  fs::rename(mirror_ / "objects", dir_ / "objects-away");
  EXPECT_EQ(envNames(), "dev");
  fs::rename(dir_ / "objects-away", mirror_ / "objects");

  commitRules("environments:\n  dev: {}\n  prod: {after: dev}\n");
  EXPECT_EQ(envNames(), "dev");  // not fetched yet
  sh("git -C " + mirror_.string() + " fetch -q origin '+refs/heads/*:refs/heads/*'");
  EXPECT_EQ(envNames(), "dev, prod");

  commitRules("environments:\n  qa: {}\n");
  sh("git -C " + mirror_.string() + " fetch -q origin '+refs/heads/*:refs/heads/*' && git -C " +
     mirror_.string() + " pack-refs --all --prune");
  ASSERT_FALSE(fs::exists(mirror_ / "refs/heads/main"));
  EXPECT_EQ(envNames(), "qa");
  commitRules("environments:\n  staging: {}\n");
  sh("git -C " + mirror_.string() + " fetch -q origin '+refs/heads/*:refs/heads/*' && git -C " +
     mirror_.string() + " pack-refs --all --prune");
  EXPECT_EQ(envNames(), "staging");  // only packed-refs changed

  // A broken file on the branch is an error, not the rules read before it.
  std::ofstream(repo_ / ".boucle.yml") << "jobs: [\n";
  sh("cd " + repo_.string() + " && git add -A && git -c user.name=a -c user.email=a@b " +
     "commit -q -m broken && git -C " + mirror_.string() +
     " fetch -q origin '+refs/heads/*:refs/heads/*'");
  EXPECT_NE(envNames().find("error: "), std::string::npos);
}

}  // namespace
}  // namespace boucle::deploy
