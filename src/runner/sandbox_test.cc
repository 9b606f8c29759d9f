#include "runner/sandbox.h"

#include <gmock/gmock.h>

#include <algorithm>

namespace boucle::runner {
namespace {

using ::testing::Contains;
using ::testing::Not;

// The argument after `flag` whose value is `value`, as a pair: bwrap reads them so.
bool hasPair(const std::vector<std::string>& argv, const std::string& flag,
             const std::string& value) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag && argv[i + 1] == value) return true;
  }
  return false;
}

TEST(Sandbox, HiddenFoldersAreCoveredReadOnlyUnlessAlreadyPrivate) {
  SandboxSpec spec;
  spec.workspace = "/srv/boucle/runs/1/ws/build";
  spec.hidden = {"/srv/boucle", "/home/boucle", "/tmp/data", "relative", "/srv/../etc"};
  spec.command = {"/bin/sh", "-c", "true"};
  auto argv = sandboxArgv("/usr/bin/bwrap", spec);
  EXPECT_TRUE(hasPair(argv, "--tmpfs", "/srv/boucle"));
  EXPECT_TRUE(hasPair(argv, "--remount-ro", "/srv/boucle"));
  for (const char* kept : {"/home/boucle", "/tmp/data", "relative", "/srv/../etc"}) {
    EXPECT_FALSE(hasPair(argv, "--tmpfs", kept)) << kept;
    EXPECT_FALSE(hasPair(argv, "--remount-ro", kept)) << kept;
  }
  // Covered before the workspace is bound inside it, made read-only after.
  auto at = [&](const std::string& flag, const std::string& v) {
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
      if (argv[i] == flag && argv[i + 1] == v) return i;
    }
    return argv.size();
  };
  EXPECT_LT(at("--tmpfs", "/srv/boucle"), at("--bind", spec.workspace.string()));
  EXPECT_GT(at("--remount-ro", "/srv/boucle"), at("--bind", spec.workspace.string()));
}

TEST(Sandbox, AHiddenFolderInsideAnotherIsCoveredByItAlone) {
  SandboxSpec spec;
  spec.workspace = "/var/lib/agent/pi/jobs/1-1/run/ws/build";
  spec.hidden = {"/var/lib/agent/pi", "/var/lib/agent", "/etc/boucle", "/etc/boucle"};
  spec.command = {"/bin/sh", "-c", "true"};
  auto argv = sandboxArgv("/usr/bin/bwrap", spec);
  EXPECT_TRUE(hasPair(argv, "--tmpfs", "/var/lib/agent"));
  EXPECT_FALSE(hasPair(argv, "--tmpfs", "/var/lib/agent/pi"));
  EXPECT_FALSE(hasPair(argv, "--remount-ro", "/var/lib/agent/pi"));
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "/etc/boucle"), 2) << "one cover, one remount";
}

TEST(Sandbox, EnvironmentTravelsInTheArgumentsTextAndCachesBound) {
  SandboxSpec spec;
  spec.workspace = "/d/ws/j";
  spec.env = {"TOKEN=s3cret", "LD_PRELOAD=/tmp/evil.so"};
  spec.binds = {{"/d/caches/p/main/home/.npm", "/home/boucle/.npm"}};
  spec.command = {"/bin/sh", "-c", "echo $TOKEN"};
  auto argv = sandboxArgv("/usr/bin/bwrap", spec);
  EXPECT_THAT(argv, Contains("--clearenv"));
  EXPECT_TRUE(hasPair(argv, "--setenv", "TOKEN"));
  EXPECT_TRUE(hasPair(argv, "--bind", "/d/caches/p/main/home/.npm"));
  EXPECT_EQ(argv.back(), "echo $TOKEN");
  // What bwrap reads from --args: its options, each ended by a NUL; the command stays outside.
  auto launch = throughArgsDescriptor(argv);
  ASSERT_TRUE(launch.ok());
  EXPECT_THAT(launch->commandLine, ::testing::ElementsAre("/usr/bin/bwrap", "--args", "3", "--",
                                                          "/bin/sh", "-c", "echo $TOKEN"));
  EXPECT_EQ(launch->options.find("/usr/bin/bwrap"), std::string::npos);
  EXPECT_EQ(launch->options.find("echo $TOKEN"), std::string::npos);
  EXPECT_NE(launch->options.find(std::string("--setenv\0TOKEN\0s3cret\0", 22)), std::string::npos);
  EXPECT_EQ(launch->options.back(), '\0');
  // A value with a NUL would smuggle options in: "--bind / /host" here.
  spec.env = {std::string("X=a\0--bind\0/\0/host", 19)};
  EXPECT_FALSE(throughArgsDescriptor(sandboxArgv("/usr/bin/bwrap", spec)).ok());
}

TEST(Sandbox, EtcEntriesOthersCannotReadAreListed) {
  char dir[] = "/tmp/boucle-etc-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string root = dir;
  ASSERT_EQ(::system(("mkdir -p " + root + "/ssl/private " + root + "/open && touch " + root +
                      "/shadow " + root + "/passwd " + root + "/ssl/private/key && chmod 640 " +
                      root + "/shadow && chmod 700 " + root + "/ssl/private")
                         .c_str()),
            0);
  const auto& found = unreadableEntries(root);
  std::vector<std::pair<std::string, bool>> expected{{root + "/shadow", false},
                                                     {root + "/ssl/private", true}};
  EXPECT_THAT(found, ::testing::UnorderedElementsAreArray(expected));
  // One removed since is no longer covered: bwrap could not make its mount point.
  ASSERT_EQ(::unlink((root + "/shadow").c_str()), 0);
  EXPECT_THAT(unreadableEntries(root),
              ::testing::ElementsAre(std::pair<std::string, bool>{root + "/ssl/private", true}));
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace boucle::runner
