#include "core/duration.h"

#include <gtest/gtest.h>

namespace boucle {
namespace {

TEST(Duration, ParsesUnitsAndCompounds) {
  EXPECT_EQ(parseDuration("500ms"), Millis(500));
  EXPECT_EQ(parseDuration("30s"), Millis(30'000));
  EXPECT_EQ(parseDuration("10m"), Millis(600'000));
  EXPECT_EQ(parseDuration("1h30m"), Millis(5'400'000));
  EXPECT_EQ(parseDuration("2d"), Millis(172'800'000));
  EXPECT_EQ(parseDuration("1m500ms"), Millis(60'500));
  EXPECT_EQ(parseDuration("12w"), Millis(12LL * 7 * 86'400'000));
}

TEST(Duration, RefusesAmbiguousOrMalformed) {
  for (auto bad : {"", "10", "m", "-5s", "5 s", "1.5s", "5x", "s5", "99999999999s"}) {
    EXPECT_FALSE(parseDuration(bad).has_value()) << bad;
  }
}

TEST(Duration, ManyPartsCannotOverflow) {
  std::string many;
  for (int i = 0; i < 200; ++i) many += "999999999w";
  EXPECT_FALSE(parseDuration(many).has_value());
}

TEST(Duration, FormatsForHumans) {
  EXPECT_EQ(formatDuration(Millis(250)), "250ms");
  EXPECT_EQ(formatDuration(Millis(1500)), "1.5s");
  // Whole units read as they are written in a pipeline file.
  EXPECT_EQ(formatDuration(Millis(3000)), "3s");
  EXPECT_EQ(formatDuration(Millis(600'000)), "10m");
  EXPECT_EQ(formatDuration(Millis(7'200'000)), "2h");
  EXPECT_EQ(formatDuration(Millis(90'000)), "1m30s");
  EXPECT_EQ(formatDuration(Millis(3'660'000)), "1h01m");
}

TEST(ParseSize, UnitsAndWhatSixtyFourBitsCannotHold) {
  EXPECT_EQ(parseSize("500M"), 500ull << 20);
  EXPECT_EQ(parseSize("20G"), 20ull << 30);
  EXPECT_EQ(parseSize("1024"), 1024u);
  EXPECT_EQ(parseSize("16777215T"), 16777215ull << 40);
  EXPECT_EQ(parseSize("16777216T"), std::nullopt);  // 2^64: does not fit
  EXPECT_EQ(parseSize("99999999999999999999"), std::nullopt);
  EXPECT_EQ(parseSize("-5G"), std::nullopt);
  EXPECT_EQ(parseSize("0G"), std::nullopt);
  EXPECT_EQ(parseSize("5X"), std::nullopt);
  EXPECT_EQ(parseSize(""), std::nullopt);
}

}  // namespace
}  // namespace boucle
