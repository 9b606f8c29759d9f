#include "insight/bisect.h"

#include <gtest/gtest.h>

namespace boucle::insight {
namespace {

std::vector<std::string> commits(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("c" + std::to_string(i));
  return out;
}

// Runs the search against a history where commit `culprit` and every later one fail.
std::pair<int, int> search(int n, int culprit) {
  auto b = startBisection(7, commits(n));
  int steps = 0;
  while (auto probe = nextProbe(*b)) {
    b->probe = *probe;
    recordProbe(*b, *probe < culprit);
    ++steps;
  }
  return {b->bad, steps};
}

TEST(Bisect, NothingToSearchBelowTwoCommits) {
  EXPECT_FALSE(startBisection(1, {}).has_value());
  EXPECT_FALSE(startBisection(1, {"only"}).has_value());
}

TEST(Bisect, FindsEveryCulpritWithinLog2Runs) {
  for (int n : {2, 3, 5, 8, 13, 64, 100}) {
    for (int culprit = 0; culprit < n; ++culprit) {
      auto [found, steps] = search(n, culprit);
      EXPECT_EQ(found, culprit) << n << " commits";
      EXPECT_LE(steps, maxSteps(n)) << n << " commits, culprit " << culprit;
    }
  }
}

TEST(Bisect, MaxStepsIsTheCeilingOfLog2) {
  EXPECT_EQ(maxSteps(1), 0);
  EXPECT_EQ(maxSteps(2), 1);
  EXPECT_EQ(maxSteps(3), 2);
  EXPECT_EQ(maxSteps(8), 3);
  EXPECT_EQ(maxSteps(9), 4);
}

TEST(Bisect, AProbeResultMovesOneBound) {
  auto b = startBisection(1, commits(8));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->good, -1);
  EXPECT_EQ(b->bad, 7);
  b->probe = *nextProbe(*b);
  b->probeRun = 99;
  EXPECT_EQ(b->probe, 3);
  recordProbe(*b, true);
  EXPECT_EQ(b->good, 3);
  EXPECT_EQ(b->probe, -1);
  EXPECT_FALSE(b->probeRun.has_value());
}

}  // namespace
}  // namespace boucle::insight
