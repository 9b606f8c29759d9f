#pragma once
// Cron schedules as in crontab(5): "MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK" with *, lists,
// ranges, steps and three-letter month/day names, or @hourly, @daily (@midnight), @weekly,
// @monthly, @yearly (@annually). When both day fields are restricted, a day matching either
// one fires, as in Vixie cron. Times are the server's local time.

#include <bitset>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace boucle {

class Cron {
 public:
  // nullopt with `*error` set when the expression is malformed.
  static std::optional<Cron> parse(std::string_view text, std::string* error);
  // The first whole minute strictly after `after` at which the schedule fires.
  time_t next(time_t after) const;
  const std::string& text() const { return text_; }

 private:
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1-31
  std::bitset<13> months_;   // 1-12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool anyDay_ = true, anyWeekday_ = true;
  std::string text_;
  bool dayMatches(const tm& t) const;
};

}  // namespace boucle
