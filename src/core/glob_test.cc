#include "core/glob.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace boucle {
namespace {
namespace fs = std::filesystem;

TEST(Glob, MatchesSegmentsAndDoubleStar) {
  EXPECT_TRUE(globMatches("dist/*.tar.gz", "dist/app.tar.gz"));
  EXPECT_FALSE(globMatches("dist/*.tar.gz", "dist/sub/app.tar.gz"));
  EXPECT_TRUE(globMatches("build/**/test-*.xml", "build/test-a.xml"));
  EXPECT_TRUE(globMatches("build/**/test-*.xml", "build/x/y/test-a.xml"));
  EXPECT_FALSE(globMatches("build/**/test-*.xml", "other/test-a.xml"));
  EXPECT_TRUE(globMatches("**", "a/b/c"));
  EXPECT_TRUE(globMatches("out/[ab].txt", "out/a.txt"));
}

TEST(Glob, ValidatesPatterns) {
  EXPECT_TRUE(validateGlob("dist/*.tar.gz").ok());
  EXPECT_TRUE(validateGlob("a/[]x]").ok());
  EXPECT_FALSE(validateGlob("").ok());
  EXPECT_FALSE(validateGlob("/etc/passwd").ok());
  EXPECT_FALSE(validateGlob("../secret").ok());
  EXPECT_FALSE(validateGlob("a/../../b").ok());
  EXPECT_FALSE(validateGlob("a/[bc").ok());
  EXPECT_FALSE(validateGlob("a**/b").ok());
}

class GlobFs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/boucle-glob-XXXXXX";
    root_ = mkdtemp(tmpl);
    fs::create_directories(root_ / "dist/sub");
    fs::create_directories(root_ / "build/x");
    for (auto p : {"dist/a.tar.gz", "dist/b.tar.gz", "dist/sub/c.tar.gz", "build/x/test-1.xml",
                   "build/test-2.xml", "README"}) {
      std::ofstream(root_ / p) << p;
    }
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(GlobFs, ExpandsSortedRelativePaths) {
  auto r = expandGlob(root_, "dist/*.tar.gz");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, (std::vector<std::string>{"dist/a.tar.gz", "dist/b.tar.gz"}));
  auto deep = expandGlob(root_, "build/**/test-*.xml");
  ASSERT_TRUE(deep.ok());
  EXPECT_EQ(*deep, (std::vector<std::string>{"build/test-2.xml", "build/x/test-1.xml"}));
  auto none = expandGlob(root_, "nothing/*.zip");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(GlobFs, RefusesSymlinkEscapingTheWorkspace) {
  fs::create_symlink("/etc/hostname", root_ / "dist/evil.tar.gz");
  auto r = expandGlob(root_, "dist/*.tar.gz");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("outside the workspace"), std::string::npos);
}

TEST_F(GlobFs, FollowsSymlinkStayingInside) {
  fs::create_symlink("../README", root_ / "dist/readme.tar.gz");
  auto r = expandGlob(root_, "dist/*.tar.gz");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 3u);
}

}  // namespace
}  // namespace boucle

namespace boucle {
namespace {

// One rule wherever a branch is filtered: watching, releasing, only/except.
TEST(BranchMatches, StarStaysInOnePartAndDoubleStarCrossesThem) {
  EXPECT_TRUE(branchMatches("main", "main"));
  EXPECT_TRUE(branchMatches("release/*", "release/1.2"));
  EXPECT_FALSE(branchMatches("release/*", "release/1.2/hotfix"));
  EXPECT_FALSE(branchMatches("*", "feature/x"));
  EXPECT_TRUE(branchMatches("*", "feature-x"));
  EXPECT_TRUE(branchMatches("**", "feature/x/y"));
  EXPECT_TRUE(branchMatches("feature/**", "feature/x/y"));
  EXPECT_FALSE(branchMatches("main", ""));
}

}  // namespace
}  // namespace boucle
