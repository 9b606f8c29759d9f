#include "store/sql/packed_results.h"

#include <gtest/gtest.h>

namespace boucle::store {
namespace {

TEST(PackedResults, RoundTripSortedByTestWithDurationsToATenthOfAMillisecond) {
  std::vector<TestResult> in{{900, 1, 2'500'049}, {3, 0, 0}, {4, 3, 149}, {1'000'000'000, 2, 1}};
  auto out = unpackResults(packResults(in));
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->size(), 4u);
  EXPECT_EQ((*out)[0].test, 3);
  EXPECT_EQ((*out)[1].test, 4);
  EXPECT_EQ((*out)[1].outcome, 3);
  EXPECT_EQ((*out)[1].micros, 100);  // 149 µs, to the nearest tenth of a millisecond
  EXPECT_EQ((*out)[2].micros, 2'500'000);
  EXPECT_EQ((*out)[2].outcome, 1);
  EXPECT_EQ((*out)[3].test, 1'000'000'000);
  EXPECT_EQ((*out)[3].outcome, 2);
  EXPECT_TRUE(unpackResults(packResults({}))->empty());
}

TEST(PackedResults, FiveThousandFastCasesTakeAboutThreeBytesEach) {
  std::vector<TestResult> in;
  for (int i = 1; i <= 5000; ++i) in.push_back({i, 0, (i % 40) * 100});
  EXPECT_LT(packResults(in).size(), 5000u * 3 * 4 / 3 + 8);  // base64 of < 3 bytes a case
}

TEST(PackedResults, WhatIsNotPackedResultsIsRefused) {
  EXPECT_FALSE(unpackResults("").ok());
  EXPECT_FALSE(unpackResults("not base64!").ok());
  EXPECT_FALSE(unpackResults("Ag==").ok());  // another version
  EXPECT_FALSE(unpackResults("AYA=").ok());  // a varint cut short
}

}  // namespace
}  // namespace boucle::store
