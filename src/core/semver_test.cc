#include "core/semver.h"

#include <gtest/gtest.h>

namespace boucle {
namespace {

TEST(Semver, ParsesReleasesPreReleasesAndTags) {
  EXPECT_EQ(parseVersion("1.2.3"), (Version{1, 2, 3, ""}));
  EXPECT_EQ(parseVersion("v10.0.7"), (Version{10, 0, 7, ""}));
  EXPECT_EQ(parseVersion("1.0.0-rc.1"), (Version{1, 0, 0, "rc.1"}));
  EXPECT_EQ(parseVersion("2.0.0-x-y.7")->str(), "2.0.0-x-y.7");
  for (const char* bad : {"", "1", "1.2", "1.2.3.4", "01.2.3", "1.2.x", "1.2.3-", "1.2.3-a..b",
                          "1.2.3-01", "1.2.3+build", "v", "-1.2.3", "1.2.3-a b"}) {
    EXPECT_FALSE(parseVersion(bad)) << bad;
  }
}

TEST(Semver, OrdersAsTheSpecSays) {
  // semver.org §11's own example chain
  const char* chain[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                         "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
                         "1.0.0-rc.1",  "1.0.0",         "1.0.1",
                         "1.1.0",       "2.0.0",         "10.0.0"};
  for (size_t i = 0; i + 1 < std::size(chain); ++i) {
    EXPECT_LT(*parseVersion(chain[i]), *parseVersion(chain[i + 1]))
        << chain[i] << " < " << chain[i + 1];
  }
}

TEST(Semver, BumpsResetTheLowerParts) {
  Version v{1, 4, 2, ""};
  EXPECT_EQ(bumped(v, Bump::kPatch).str(), "1.4.3");
  EXPECT_EQ(bumped(v, Bump::kMinor).str(), "1.5.0");
  EXPECT_EQ(bumped(v, Bump::kMajor).str(), "2.0.0");
  EXPECT_EQ(bumped(v, Bump::kNone).str(), "1.4.2");
  EXPECT_EQ(bumped({0, 3, 1, ""}, Bump::kMajor).str(), "0.4.0") << "before 1.0 breaking = minor";
  EXPECT_EQ(bumped({2, 0, 0, "rc.2"}, Bump::kPatch).str(), "2.0.0");
}

}  // namespace
}  // namespace boucle
