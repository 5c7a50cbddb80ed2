#include "tidegate/server/cron.h"

#include <charconv>
#include <chrono>
#include <vector>

#include "fmt/format.h"

namespace tidegate::server {
namespace {

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t from = 0;
  for (;;) {
    const size_t at = s.find(sep, from);
    out.push_back(s.substr(from, at == std::string_view::npos ? s.npos : at - from));
    if (at == std::string_view::npos) return out;
    from = at + 1;
  }
}

absl::StatusOr<int> Number(std::string_view field, std::string_view text) {
  int v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) {
    return absl::InvalidArgumentError(fmt::format("{}: '{}' is not a number", field, text));
  }
  return v;
}

// Parses one field into `bits` (indices lo..hi); `any` is set when the field is a bare `*`.
template <size_t N>
absl::Status ParseField(std::string_view field, std::string_view text, int lo, int hi,
                        std::bitset<N>& bits, bool& any) {
  any = text == "*";
  for (std::string_view item : Split(text, ',')) {
    int step = 1;
    if (const size_t slash = item.find('/'); slash != std::string_view::npos) {
      absl::StatusOr<int> s = Number(field, item.substr(slash + 1));
      if (!s.ok()) return s.status();
      if (*s < 1)
        return absl::InvalidArgumentError(fmt::format("{}: step {} must be >= 1", field, *s));
      step = *s;
      item = item.substr(0, slash);
    }
    int from = lo, to = hi;
    if (item != "*") {
      const size_t dash = item.find('-');
      absl::StatusOr<int> a = Number(field, item.substr(0, dash));
      if (!a.ok()) return a.status();
      from = to = *a;
      if (dash != std::string_view::npos) {
        absl::StatusOr<int> b = Number(field, item.substr(dash + 1));
        if (!b.ok()) return b.status();
        to = *b;
      } else if (step > 1) {
        to = hi;  // "A/S" = from A to the end, every S.
      }
    }
    if (from < lo || from > hi || to < lo || to > hi) {
      return absl::InvalidArgumentError(
          fmt::format("{}: '{}' is not in {}-{}", field, item, lo, hi));
    }
    if (from > to) {
      return absl::InvalidArgumentError(fmt::format("{}: range '{}' is empty", field, item));
    }
    for (int v = from; v <= to; v += step) bits.set(static_cast<size_t>(v == 7 && N == 8 ? 0 : v));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CronSchedule> CronSchedule::Parse(std::string_view text) {
  std::vector<std::string_view> fields;
  for (std::string_view f : Split(text, ' ')) {
    if (!f.empty()) fields.push_back(f);
  }
  if (fields.size() != 5) {
    return absl::InvalidArgumentError(fmt::format(
        "'{}': a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
        "found {}",
        text, fields.size()));
  }
  CronSchedule c;
  c.text_ = std::string(text);
  bool ignored;
  absl::Status s = ParseField("minute", fields[0], 0, 59, c.minutes_, ignored);
  if (s.ok()) s = ParseField("hour", fields[1], 0, 23, c.hours_, ignored);
  if (s.ok()) s = ParseField("day-of-month", fields[2], 1, 31, c.days_, c.days_any_);
  if (s.ok()) s = ParseField("month", fields[3], 1, 12, c.months_, ignored);
  if (s.ok()) s = ParseField("day-of-week", fields[4], 0, 7, c.weekdays_, c.weekdays_any_);
  if (!s.ok())
    return absl::InvalidArgumentError(fmt::format("'{}': {}", text, std::string(s.message())));
  return c;
}

bool CronSchedule::DayMatches(int day_of_month, int month, int day_of_week) const {
  if (!months_.test(static_cast<size_t>(month))) return false;
  const bool dom = days_.test(static_cast<size_t>(day_of_month));
  const bool dow = weekdays_.test(static_cast<size_t>(day_of_week));
  if (days_any_ || weekdays_any_) return dom && dow;
  return dom || dow;
}

std::optional<WallTime> CronSchedule::Next(WallTime after) const {
  using namespace std::chrono;
  const auto start = floor<minutes>(after) + minutes(1);
  auto day = floor<days>(start);
  for (int d = 0; d < 5 * 366; ++d, day += days(1)) {
    const year_month_day ymd{day};
    const int dow = static_cast<int>(weekday{day}.c_encoding());
    if (!DayMatches(static_cast<int>(static_cast<unsigned>(ymd.day())),
                    static_cast<int>(static_cast<unsigned>(ymd.month())), dow)) {
      continue;
    }
    for (int h = 0; h < 24; ++h) {
      if (!hours_.test(static_cast<size_t>(h))) continue;
      for (int m = 0; m < 60; ++m) {
        if (!minutes_.test(static_cast<size_t>(m))) continue;
        const auto t = day + hours(h) + minutes(m);
        if (t >= start) return time_point_cast<Duration>(WallTime(t.time_since_epoch()));
      }
    }
  }
  return std::nullopt;
}

}  // namespace tidegate::server
