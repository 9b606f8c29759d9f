#include "insight/breakage.h"

#include <gtest/gtest.h>

namespace boucle::insight {
namespace {

TEST(Breakage, GreenToRedIsBrokenAtThisRun) {
  auto v = judge(PreviousRun{4, true, std::nullopt}, 5, false);
  EXPECT_EQ(v.event, "broken");
  EXPECT_EQ(v.brokenSince, 5);
}

TEST(Breakage, StillRedKeepsTheFirstFailingRun) {
  auto v = judge(PreviousRun{5, false, 5}, 6, false);
  EXPECT_EQ(v.event, "");
  EXPECT_EQ(v.brokenSince, 5);
  auto w = judge(PreviousRun{6, false, 5}, 7, false);
  EXPECT_EQ(w.brokenSince, 5);
}

TEST(Breakage, RedToGreenIsFixedAndNamesTheStreak) {
  auto v = judge(PreviousRun{7, false, 5}, 8, true);
  EXPECT_EQ(v.event, "fixed");
  EXPECT_EQ(v.brokenSince, 5);
}

TEST(Breakage, GreenStaysQuietAndAFirstFailureIsNews) {
  auto v = judge(PreviousRun{1, true, std::nullopt}, 2, true);
  EXPECT_EQ(v.event, "");
  EXPECT_FALSE(v.brokenSince);
  auto first = judge(std::nullopt, 1, false);
  EXPECT_EQ(first.event, "broken");
  EXPECT_EQ(judge(std::nullopt, 1, true).event, "");
}

}  // namespace
}  // namespace boucle::insight
