// tidegate/history/calendar.h — calendar features of a timestamp for the forecasting side, and
// RFC 3339 timestamp parsing.
//
// Demand follows the calendar: the hour of the day, the day of the week, holidays. Given a WallTime
// (UTC) and a fixed UTC offset for the place whose calendar matters, CalendarFeaturesAt derives
// those features. Holidays are a list of local dates (from configuration), not a built-in table.
//
// Time zones: a fixed offset (e.g. +01:00), not a tz database rule, so daylight-saving changes are
// not followed; a site that observes DST configures the offset it wants its model to see.
//
// Civil-date arithmetic uses std::chrono::year_month_day (proleptic Gregorian calendar; the
// algorithms are H. Hinnant's "chrono-Compatible Low-Level Date Algorithms").
//
// Thread-safety: all functions are pure; a HolidayCalendar is immutable after construction and
// safe to share between threads.
#ifndef TIDEGATE_HISTORY_CALENDAR_H_
#define TIDEGATE_HISTORY_CALENDAR_H_

#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"

namespace tidegate::history {

// A set of local dates that are holidays.
class HolidayCalendar {
 public:
  HolidayCalendar() = default;

  // Parses dates "YYYY-MM-DD". InvalidArgument naming the entry's index and text when one is not a
  // valid date. Duplicates are allowed.
  static absl::StatusOr<HolidayCalendar> FromDates(const std::vector<std::string>& dates);

  void Add(std::chrono::year_month_day date) { days_.insert(std::chrono::sys_days(date)); }
  bool Contains(std::chrono::year_month_day date) const {
    return days_.count(std::chrono::sys_days(date)) != 0;
  }
  size_t size() const { return days_.size(); }

 private:
  std::set<std::chrono::sys_days> days_;
};

struct CalendarFeatures {
  int hour_of_day = 0;      // 0..23, local.
  int minute_of_day = 0;    // 0..1439, local.
  int day_of_week = 0;      // 0 = Monday .. 6 = Sunday (ISO 8601 order), local.
  int day_of_month = 1;     // 1..31.
  int day_of_year = 1;      // 1..366.
  int month = 1;            // 1..12.
  bool is_weekend = false;  // Saturday or Sunday.
  bool is_holiday = false;  // The local date is in the HolidayCalendar.

  friend bool operator==(const CalendarFeatures&, const CalendarFeatures&) = default;
};

// Features of `time` seen from a place at `utc_offset` (local = UTC + offset).
CalendarFeatures CalendarFeaturesAt(WallTime time, const HolidayCalendar& holidays = {},
                                    std::chrono::minutes utc_offset = std::chrono::minutes(0));

// The local date of `time` at `utc_offset`.
std::chrono::year_month_day LocalDate(WallTime time,
                                      std::chrono::minutes utc_offset = std::chrono::minutes(0));

// Parses an RFC 3339 timestamp: "2026-11-29T01:02:03Z", with optional fractional seconds (up to 9
// digits), 'T' or ' ' between date and time, and 'Z' or a "+hh:mm"/"-hh:mm" offset (required).
// InvalidArgument naming the offending character position and what was expected.
absl::StatusOr<WallTime> ParseRfc3339(std::string_view text);

// Parses a timestamp as written in usage logs: RFC 3339 (above) or a number of seconds since the
// Unix epoch (may be fractional, e.g. "1764378123.25"; rounded to the nearest nanosecond).
absl::StatusOr<WallTime> ParseTimestamp(std::string_view text);

}  // namespace tidegate::history

#endif  // TIDEGATE_HISTORY_CALENDAR_H_
