#include "core/cron.h"

#include <array>
#include <cstdlib>
#include <vector>

namespace boucle {

namespace {

constexpr std::array<std::string_view, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                      "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kDays = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = std::min(s.find(sep, start), s.size());
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// A number or, for months and weekdays, a three-letter name.
bool value(std::string_view s, int offset, const std::string_view* names, size_t nameCount,
           int* out) {
  if (s.empty()) return false;
  if (names && s.size() == 3) {
    std::string lower;
    for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (size_t i = 0; i < nameCount; ++i) {
      if (names[i] == lower) {
        *out = static_cast<int>(i) + offset;
        return true;
      }
    }
  }
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
    if (v > 1000) return false;
  }
  *out = v;
  return true;
}

// Fills `bits` for one field; `lo`..`hi` is its range.
template <size_t N>
bool field(std::string_view text, int lo, int hi, const std::string_view* names, size_t nameCount,
           int nameOffset, std::bitset<N>* bits, bool* any, std::string* error, const char* what) {
  *any = text == "*";
  for (auto part : split(text, ',')) {
    int step = 1;
    auto slash = part.find('/');
    if (slash != std::string_view::npos) {
      if (!value(part.substr(slash + 1), 0, nullptr, 0, &step) || step < 1) {
        *error = std::string("bad step in the ") + what + " field";
        return false;
      }
      part = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (part != "*") {
      auto dash = part.find('-');
      if (!value(part.substr(0, dash), nameOffset, names, nameCount, &a) ||
          (dash != std::string_view::npos &&
           !value(part.substr(dash + 1), nameOffset, names, nameCount, &b))) {
        *error = std::string("cannot read '") + std::string(part) + "' in the " + what + " field";
        return false;
      }
      if (dash == std::string_view::npos) b = slash == std::string_view::npos ? a : hi;
    }
    if (a < lo || b > hi || a > b) {
      *error = std::string("the ") + what + " field allows " + std::to_string(lo) + "-" +
               std::to_string(hi);
      return false;
    }
    for (int v = a; v <= b; v += step) bits->set(static_cast<size_t>(v));
  }
  return true;
}

}  // namespace

std::optional<Cron> Cron::parse(std::string_view text, std::string* error) {
  std::string expr(text);
  if (expr == "@hourly") expr = "0 * * * *";
  if (expr == "@daily" || expr == "@midnight") expr = "0 0 * * *";
  if (expr == "@weekly") expr = "0 0 * * 0";
  if (expr == "@monthly") expr = "0 0 1 * *";
  if (expr == "@yearly" || expr == "@annually") expr = "0 0 1 1 *";
  std::vector<std::string_view> f;
  for (auto p : split(expr, ' ')) {
    if (!p.empty()) f.push_back(p);
  }
  if (f.size() != 5) {
    *error = "expected 5 fields (minute hour day-of-month month day-of-week), e.g. \"0 2 * * *\"";
    return std::nullopt;
  }
  Cron c;
  c.text_ = std::string(text);
  bool anyMin, anyHour, anyMonth;
  std::bitset<8> weekdays;  // 7 is Sunday too
  if (!field(f[0], 0, 59, nullptr, 0, 0, &c.minutes_, &anyMin, error, "minute") ||
      !field(f[1], 0, 23, nullptr, 0, 0, &c.hours_, &anyHour, error, "hour") ||
      !field(f[2], 1, 31, nullptr, 0, 0, &c.days_, &c.anyDay_, error, "day-of-month") ||
      !field(f[3], 1, 12, kMonths.data(), kMonths.size(), 1, &c.months_, &anyMonth, error,
             "month") ||
      !field(f[4], 0, 7, kDays.data(), kDays.size(), 0, &weekdays, &c.anyWeekday_, error,
             "day-of-week")) {
    return std::nullopt;
  }
  for (size_t d = 0; d < 7; ++d) c.weekdays_[d] = weekdays[d];
  if (weekdays[7]) c.weekdays_[0] = true;
  return c;
}

bool Cron::dayMatches(const tm& t) const {
  bool dom = days_[static_cast<size_t>(t.tm_mday)];
  bool dow = weekdays_[static_cast<size_t>(t.tm_wday)];
  if (anyDay_ && anyWeekday_) return true;
  if (anyDay_) return dow;
  if (anyWeekday_) return dom;
  return dom || dow;
}

time_t Cron::next(time_t after) const {
  tm t{};
  localtime_r(&after, &t);
  t.tm_sec = 0;
  t.tm_min += 1;
  t.tm_isdst = -1;
  time_t cur = mktime(&t);
  // At most five years of days are looked at; every step skips a whole month, day, hour or
  // minute that cannot match, so this ends quickly (a schedule for Feb 30 never fires).
  for (int guard = 0; guard < 5 * 366 * 24 * 60 && guard >= 0; ++guard) {
    localtime_r(&cur, &t);
    t.tm_isdst = -1;
    if (!months_[static_cast<size_t>(t.tm_mon + 1)]) {
      t.tm_mon += 1;
      t.tm_mday = 1;
      t.tm_hour = 0;
      t.tm_min = 0;
    } else if (!dayMatches(t)) {
      t.tm_mday += 1;
      t.tm_hour = 0;
      t.tm_min = 0;
    } else if (!hours_[static_cast<size_t>(t.tm_hour)]) {
      t.tm_hour += 1;
      t.tm_min = 0;
    } else if (!minutes_[static_cast<size_t>(t.tm_min)]) {
      t.tm_min += 1;
    } else {
      return cur;
    }
    cur = mktime(&t);
    if (t.tm_year > 1100) break;  // far future: give up rather than loop
  }
  return static_cast<time_t>(-1);
}

}  // namespace boucle
