#include "scm/git_repo.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "auth/tokens.h"
#include "os/files.h"

namespace boucle::scm {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// Runs a shell command line built by the test itself (fixed strings and temp paths only).
std::string sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  for (size_t n; p && (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int rc = p ? ::pclose(p) : -1;
  EXPECT_EQ(rc, 0) << cmd << "\n" << out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class GitRepoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("boucle-gitrepo-" + auth::randomHex(6));
    repo_ = dir_ / "repo";
    mirror_ = dir_ / "mirror.git";
    sh("git init -q -b main " + repo_.string());
    write("README", "hello\n");
    write("bin/run.sh", "#!/bin/sh\necho run\n");
    sh("chmod +x " + (repo_ / "bin/run.sh").string() + " && ln -s README " +
       (repo_ / "LINK").string());
    commit("first\n\nwith a body");
    sh("git clone -q --mirror " + repo_.string() + " " + mirror_.string());
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((repo_ / rel).parent_path());
    std::ofstream(repo_ / rel) << text;
  }
  std::string commit(const std::string& message, const std::string& author = "Ada") {
    sh("cd " + repo_.string() + " && git add -A && git -c user.name='" + author +
       "' -c user.email=a@b commit -q -m '" + message + "'");
    return sh("git -C " + repo_.string() + " rev-parse HEAD");
  }

  fs::path dir_, repo_, mirror_;
};

TEST_F(GitRepoTest, FetchBringsNewCommitsAndPrunesDeletedBranches) {
  sh("git -C " + repo_.string() + " branch topic");
  ASSERT_TRUE(fetchInto(mirror_, repo_.string(), {}).ok());
  ASSERT_TRUE(describeCommit(mirror_, "topic").ok());

  write("README", "changed\n");
  std::string head = commit("second", "Mallory");
  sh("git -C " + repo_.string() + " branch -D topic && git -C " + repo_.string() + " tag v1");
  ASSERT_TRUE(fetchInto(mirror_, "file://" + repo_.string(), {}).ok());

  auto main = describeCommit(mirror_, "main");
  ASSERT_TRUE(main.ok()) << main.status().message();
  EXPECT_EQ(main->sha, head);
  EXPECT_EQ(main->author, "Mallory");
  EXPECT_EQ(main->subject, "second");
  EXPECT_EQ(describeCommit(mirror_, "v1")->sha, head);
  EXPECT_FALSE(describeCommit(mirror_, "topic").ok()) << "a deleted branch is pruned";
  // git itself agrees with what libgit2 wrote
  EXPECT_EQ(sh("git -C " + mirror_.string() + " rev-parse refs/heads/main"), head);
  EXPECT_EQ(sh("git -C " + mirror_.string() + " fsck --no-dangling"), "");
}

TEST_F(GitRepoTest, DescribeGivesTheSubjectLineAndRefusesOptionsAndUnknownNames) {
  auto d = describeCommit(mirror_, "main");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->subject, "first");
  EXPECT_EQ(d->author, "Ada");
  EXPECT_EQ(describeCommit(mirror_, d->sha)->sha, d->sha);
  EXPECT_FALSE(describeCommit(mirror_, "--upload-pack=touch x").ok());
  EXPECT_FALSE(describeCommit(mirror_, "nosuch").ok());
  EXPECT_FALSE(describeCommit(mirror_, "").ok());
}

TEST_F(GitRepoTest, FetchErrorsNameTheUrlAndNeverTheToken) {
  auto st = fetchInto(mirror_, (dir_ / "missing").string(), {"token", "bot", "tok-s3cret"});
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr((dir_ / "missing").string()));
  EXPECT_THAT(st.message(), ::testing::Not(HasSubstr("tok-s3cret")));
  EXPECT_FALSE(fetchInto(mirror_, "git@host:x.git", {}).ok()) << "ssh stays with OpenSSH";
  EXPECT_FALSE(fetchesInProcess("ssh://host/x.git"));
  EXPECT_FALSE(fetchesInProcess("https://host/x.git")) << "network: git with its deadlines";
  EXPECT_TRUE(fetchesInProcess("file:///srv/x.git"));
}

TEST_F(GitRepoTest, CheckoutIsACleanDetachedCloneThatBorrowsObjects) {
  auto head = describeCommit(mirror_, "main");
  ASSERT_TRUE(head.ok());
  fs::path dest = dir_ / "ws";
  auto st = checkoutDetached(mirror_, "/srv/repo \"quoted\"", head->sha, dest);
  ASSERT_TRUE(st.ok()) << st.message();

  EXPECT_EQ(*os::readFile(dest / "README"), "hello\n");
  EXPECT_TRUE(fs::is_symlink(dest / "LINK"));
  EXPECT_NE(fs::status(dest / "bin/run.sh").permissions() & fs::perms::owner_exec, fs::perms::none);
  // git sees a clean, detached checkout of the commit, with origin as given
  EXPECT_EQ(sh("git -C " + dest.string() + " status --porcelain"), "");
  EXPECT_EQ(sh("git -C " + dest.string() + " rev-parse HEAD"), head->sha);
  EXPECT_EQ(sh("git -C " + dest.string() + " symbolic-ref -q HEAD || echo detached"), "detached");
  EXPECT_EQ(sh("git -C " + dest.string() + " remote get-url origin"), "/srv/repo \"quoted\"");
  EXPECT_EQ(sh("git -C " + dest.string() + " log --format=%s"), "first");
  // no copy of the history: the objects are the mirror's
  EXPECT_EQ(sh("find " + (dest / ".git/objects").string() + " -type f ! -path '*/info/*'"), "");
}

TEST_F(GitRepoTest, FileAtCommitReadsTheFileAsThatCommitHasIt) {
  std::string first = sh("git -C " + repo_.string() + " rev-parse HEAD");
  write("README", "changed\n");
  write("deep/er/config.yml", "a: 1\n");
  commit("second");
  ASSERT_TRUE(fetchInto(mirror_, repo_.string(), {}).ok());

  auto old = fileAtCommit(mirror_, first, "README");
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_EQ(*old, "hello\n");
  EXPECT_EQ(*fileAtCommit(mirror_, "main", "README"), "changed\n");
  EXPECT_EQ(*fileAtCommit(mirror_, "main", "deep/er/config.yml"), "a: 1\n");

  auto missing = fileAtCommit(mirror_, first, "deep/er/config.yml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "deep/er/config.yml is not in commit " + first.substr(0, 12));
  EXPECT_THAT(fileAtCommit(mirror_, "main", "deep").status().message(), HasSubstr("not a file"));
  EXPECT_FALSE(fileAtCommit(mirror_, "nosuchbranch", "README").ok());
  EXPECT_FALSE(fileAtCommit(mirror_, "--output=x", "README").ok());
}

// Whether libgit2 is mapped into this process.
bool gitLoaded() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("libgit2.so") != std::string::npos) return true;
  }
  return false;
}

TEST_F(GitRepoTest, LibgitIsUnloadedWhenQuietAndLoadedAgainByTheNextCall) {
  auto first = describeCommit(mirror_, "main");
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_TRUE(gitLoaded());
  // Used a moment ago: kept.
  EXPECT_FALSE(unloadGitWhenQuiet(std::chrono::hours(1)));
  EXPECT_TRUE(gitLoaded());
  ASSERT_TRUE(unloadGitWhenQuiet(std::chrono::milliseconds(0)));
  EXPECT_FALSE(gitLoaded());
  EXPECT_FALSE(unloadGitWhenQuiet(std::chrono::milliseconds(0)));  // nothing left to unload

  auto again = describeCommit(mirror_, "main");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->sha, first->sha);
  EXPECT_TRUE(gitLoaded());
  // Errors still read libgit2's message after a reload (its per-thread state is new).
  auto missing = describeCommit(mirror_, "no-such-branch");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("not found"));  // libgit2's own words
  auto text = fileAtCommit(mirror_, "main", "README");
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_EQ(*text, "hello\n");
}

TEST_F(GitRepoTest, CheckoutRefusesWhatIsNotAFullCommitId) {
  EXPECT_FALSE(checkoutDetached(mirror_, "o", "main", dir_ / "a").ok());
  EXPECT_FALSE(checkoutDetached(mirror_, "o", std::string(40, '0'), dir_ / "b").ok());
  EXPECT_FALSE(checkoutDetached(mirror_, "o\nx", std::string(40, 'a'), dir_ / "c").ok());
}

}  // namespace
}  // namespace boucle::scm
