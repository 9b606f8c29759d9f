#include "core/cron.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace boucle {
namespace {

class CronTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
  static time_t at(int y, int mo, int d, int h, int mi) {
    tm t{};
    t.tm_year = y - 1900;
    t.tm_mon = mo - 1;
    t.tm_mday = d;
    t.tm_hour = h;
    t.tm_min = mi;
    return timegm(&t);
  }
  static time_t next(const char* expr, time_t after) {
    std::string err;
    auto c = Cron::parse(expr, &err);
    EXPECT_TRUE(c) << err;
    return c ? c->next(after) : 0;
  }
};

TEST_F(CronTest, NightlyAndEveryMinute) {
  EXPECT_EQ(next("0 2 * * *", at(2026, 11, 26, 10, 5)), at(2026, 11, 27, 2, 0));
  EXPECT_EQ(next("0 2 * * *", at(2026, 11, 26, 1, 59)), at(2026, 11, 26, 2, 0));
  EXPECT_EQ(next("* * * * *", at(2026, 11, 26, 10, 5) + 30), at(2026, 11, 26, 10, 6));
  EXPECT_EQ(next("@daily", at(2026, 12, 31, 23, 0)), at(2027, 1, 1, 0, 0));
}

TEST_F(CronTest, StepsRangesListsAndNames) {
  EXPECT_EQ(next("*/15 9-17 * * mon-fri", at(2026, 11, 27, 17, 50)),  // Friday evening
            at(2026, 11, 30, 9, 0));                                  // → Monday 9:00
  EXPECT_EQ(next("30 4 1,15 * *", at(2026, 11, 2, 0, 0)), at(2026, 11, 15, 4, 30));
  EXPECT_EQ(next("0 0 * feb sun", at(2026, 11, 26, 0, 0)), at(2027, 2, 7, 0, 0));
  EXPECT_EQ(next("0 12 * * 7", at(2026, 11, 26, 0, 0)), at(2026, 11, 29, 12, 0));  // 7 = Sunday
}

TEST_F(CronTest, BothDayFieldsMeanEither) {
  // The 13th, or any Friday: Friday Nov 27 comes first.
  EXPECT_EQ(next("0 0 13 * 5", at(2026, 11, 26, 1, 0)), at(2026, 11, 27, 0, 0));
}

TEST_F(CronTest, RefusesWhatIsNotCron) {
  std::string err;
  for (auto bad : {"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
                   "*/0 * * * *", "5-1 * * * *", "a b c d e", "0 2 * * * *"}) {
    EXPECT_FALSE(Cron::parse(bad, &err)) << bad;
  }
  EXPECT_FALSE(Cron::parse("61 * * * *", &err));
  EXPECT_EQ(err, "the minute field allows 0-59");
  std::string e2;
  auto never = Cron::parse("0 0 30 feb *", &e2);
  ASSERT_TRUE(never);
  EXPECT_EQ(never->next(at(2026, 1, 1, 0, 0)), static_cast<time_t>(-1));
}

}  // namespace
}  // namespace boucle
