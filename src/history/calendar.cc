// Calendar features and RFC 3339 parsing (see tidegate/history/calendar.h).
#include "tidegate/history/calendar.h"

#include <charconv>
#include <cmath>

#include "fmt/format.h"

namespace tidegate::history {
namespace {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::year_month_day;

// Floor division of a duration into days (correct before 1970).
sys_days FloorDays(WallTime t) { return std::chrono::floor<days>(t); }

class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  // Reads exactly `n` decimal digits.
  bool Digits(int n, int& value) {
    if (pos_ + n > text_.size()) return false;
    value = 0;
    for (int i = 0; i < n; ++i) {
      const char c = text_[pos_ + i];
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    pos_ += n;
    return true;
  }
  bool Char(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool AnyOf(std::string_view chars, char& got) {
    if (pos_ < text_.size() && chars.find(text_[pos_]) != std::string_view::npos) {
      got = text_[pos_++];
      return true;
    }
    return false;
  }
  bool AtEnd() const { return pos_ == text_.size(); }
  size_t pos() const { return pos_; }
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

absl::Status Expected(std::string_view text, size_t pos, std::string_view what) {
  return absl::InvalidArgumentError(
      fmt::format("timestamp \"{}\": expected {} at position {}", text, what, pos));
}

}  // namespace

absl::StatusOr<HolidayCalendar> HolidayCalendar::FromDates(const std::vector<std::string>& dates) {
  HolidayCalendar calendar;
  for (size_t i = 0; i < dates.size(); ++i) {
    Cursor c(dates[i]);
    int y = 0, m = 0, d = 0;
    if (!c.Digits(4, y) || !c.Char('-') || !c.Digits(2, m) || !c.Char('-') || !c.Digits(2, d) ||
        !c.AtEnd()) {
      return absl::InvalidArgumentError(
          fmt::format("holidays[{}]: \"{}\" is not a date in the form YYYY-MM-DD", i, dates[i]));
    }
    const year_month_day ymd{std::chrono::year(y), std::chrono::month(m), std::chrono::day(d)};
    if (!ymd.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("holidays[{}]: \"{}\" is not a valid calendar date", i, dates[i]));
    }
    calendar.Add(ymd);
  }
  return calendar;
}

std::chrono::year_month_day LocalDate(WallTime time, std::chrono::minutes utc_offset) {
  return year_month_day(FloorDays(time + utc_offset));
}

CalendarFeatures CalendarFeaturesAt(WallTime time, const HolidayCalendar& holidays,
                                    std::chrono::minutes utc_offset) {
  const WallTime local = time + utc_offset;
  const sys_days day = FloorDays(local);
  const year_month_day ymd(day);
  const auto since_midnight = std::chrono::floor<std::chrono::minutes>(local - day);
  CalendarFeatures f;
  f.minute_of_day = static_cast<int>(since_midnight.count());
  f.hour_of_day = f.minute_of_day / 60;
  f.day_of_week = static_cast<int>(std::chrono::weekday(day).iso_encoding()) - 1;
  f.day_of_month = static_cast<int>(static_cast<unsigned>(ymd.day()));
  f.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  f.day_of_year =
      static_cast<int>((day - sys_days(ymd.year() / std::chrono::January / 1)).count()) + 1;
  f.is_weekend = f.day_of_week >= 5;
  f.is_holiday = holidays.Contains(ymd);
  return f;
}

absl::StatusOr<WallTime> ParseRfc3339(std::string_view text) {
  Cursor c(text);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char sep = 0;
  if (!c.Digits(4, y)) return Expected(text, c.pos(), "a 4-digit year");
  if (!c.Char('-')) return Expected(text, c.pos(), "'-'");
  if (!c.Digits(2, mo)) return Expected(text, c.pos(), "a 2-digit month");
  if (!c.Char('-')) return Expected(text, c.pos(), "'-'");
  if (!c.Digits(2, d)) return Expected(text, c.pos(), "a 2-digit day");
  if (!c.AnyOf("Tt ", sep)) return Expected(text, c.pos(), "'T'");
  if (!c.Digits(2, h)) return Expected(text, c.pos(), "a 2-digit hour");
  if (!c.Char(':')) return Expected(text, c.pos(), "':'");
  if (!c.Digits(2, mi)) return Expected(text, c.pos(), "2-digit minutes");
  if (!c.Char(':')) return Expected(text, c.pos(), "':'");
  if (!c.Digits(2, s)) return Expected(text, c.pos(), "2-digit seconds");
  int64_t nanos = 0;
  if (c.Char('.')) {
    int digits = 0, digit = 0;
    while (c.Peek() >= '0' && c.Peek() <= '9') {
      c.Digits(1, digit);
      if (++digits > 9) return Expected(text, c.pos() - 1, "at most 9 fractional digits");
      nanos = nanos * 10 + digit;
    }
    if (digits == 0) return Expected(text, c.pos(), "fractional digits after '.'");
    for (int i = digits; i < 9; ++i) nanos *= 10;
  }
  int offset_minutes = 0;
  char zone = 0;
  if (!c.AnyOf("Zz+-", zone)) return Expected(text, c.pos(), "'Z' or a +hh:mm offset");
  if (zone == '+' || zone == '-') {
    int oh = 0, om = 0;
    if (!c.Digits(2, oh)) return Expected(text, c.pos(), "a 2-digit offset hour");
    if (!c.Char(':')) return Expected(text, c.pos(), "':'");
    if (!c.Digits(2, om)) return Expected(text, c.pos(), "2-digit offset minutes");
    if (oh > 23 || om > 59) return Expected(text, c.pos() - 5, "a valid offset");
    offset_minutes = (zone == '-' ? -1 : 1) * (oh * 60 + om);
  }
  if (!c.AtEnd()) return Expected(text, c.pos(), "the end of the timestamp");
  const year_month_day ymd{std::chrono::year(y), std::chrono::month(mo), std::chrono::day(d)};
  if (!ymd.ok()) return Expected(text, 0, "a valid calendar date");
  // Nanoseconds since 1970 in int64 cover 1677-09-21 to 2262-04-11: whole years 1678..2261.
  if (y < 1678 || y > 2261) return Expected(text, 0, "a year from 1678 to 2261");
  // 60 admits a leap second (it lands on the next second, as POSIX time has no leap seconds).
  if (h > 23 || mi > 59 || s > 60) return Expected(text, 11, "a valid time of day");
  return WallTime(sys_days(ymd)) + std::chrono::hours(h) + std::chrono::minutes(mi) +
         std::chrono::seconds(s) + Duration(nanos) - std::chrono::minutes(offset_minutes);
}

absl::StatusOr<WallTime> ParseTimestamp(std::string_view text) {
  if (text.size() >= 5 && text[4] == '-') return ParseRfc3339(text);
  double seconds = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, seconds);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(seconds)) {
    return absl::InvalidArgumentError(fmt::format(
        "timestamp \"{}\": expected RFC 3339 (2026-11-29T01:02:03Z) or Unix seconds", text));
  }
  // Beyond about year 2262 nanoseconds overflow int64.
  if (std::fabs(seconds) > 9.2e9) {
    return absl::InvalidArgumentError(
        fmt::format("timestamp \"{}\": out of range (more than 9.2e9 s from 1970)", text));
  }
  // Split into whole seconds and a fraction so large values keep nanosecond precision as far as
  // the double carries it.
  const double whole = std::floor(seconds);
  return WallTime(std::chrono::seconds(static_cast<int64_t>(whole)) +
                  Duration(std::llround((seconds - whole) * 1e9)));
}

}  // namespace tidegate::history
