// tidegate/server/cron.h — five-field cron expressions (UTC) for the daemon's schedules.
//
// Syntax (as crontab(5), without names or `@` shortcuts): "minute hour day-of-month month
// day-of-week", each field a comma-separated list of `*`, `N`, `A-B`, `*/S` or `A-B/S`. Ranges:
// minute 0-59, hour 0-23, day-of-month 1-31, month 1-12, day-of-week 0-7 (0 and 7 are Sunday).
// As in cron, when both day-of-month and day-of-week are restricted (neither is `*`), a day matches
// when EITHER matches. Times are UTC.
//
//   "0 3 * * *"      every day at 03:00 (the default training schedule)
//   "*/15 * * * 1-5" every quarter hour on weekdays
//
// Thread-safety: a CronSchedule is an immutable value.
#ifndef TIDEGATE_SERVER_CRON_H_
#define TIDEGATE_SERVER_CRON_H_

#include <bitset>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"

namespace tidegate::server {

class CronSchedule {
 public:
  // InvalidArgument naming the field ("hour: 24 is not in 0-23") for a malformed expression.
  static absl::StatusOr<CronSchedule> Parse(std::string_view text);

  // The first matching minute strictly after `after` (whole minutes, UTC), or nullopt when none
  // exists within the next five years (e.g. "0 0 31 2 *").
  std::optional<WallTime> Next(WallTime after) const;

  const std::string& text() const { return text_; }

 private:
  CronSchedule() = default;
  bool DayMatches(int day_of_month, int month, int day_of_week) const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<8> weekdays_;  // 0..6 (7 folded into 0)
  bool days_any_ = true;
  bool weekdays_any_ = true;
};

}  // namespace tidegate::server

#endif  // TIDEGATE_SERVER_CRON_H_
