#include "tidegate/history/calendar.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tidegate/history/history_store.h"

namespace tidegate::history {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;

TEST(CalendarTest, FeaturesOfAKnownInstant) {
  // 2026-11-29T01:02:03Z is a Sunday.
  const WallTime t = *ParseRfc3339("2026-11-29T01:02:03Z");
  CalendarFeatures f = CalendarFeaturesAt(t);
  EXPECT_EQ(f.hour_of_day, 1);
  EXPECT_EQ(f.minute_of_day, 62);
  EXPECT_EQ(f.day_of_week, 6);
  EXPECT_TRUE(f.is_weekend);
  EXPECT_EQ(f.day_of_month, 29);
  EXPECT_EQ(f.month, 11);
  EXPECT_EQ(f.day_of_year, 333);
  EXPECT_FALSE(f.is_holiday);
  // At UTC-02:00 it is still Saturday evening.
  f = CalendarFeaturesAt(t, {}, minutes(-120));
  EXPECT_EQ(f.hour_of_day, 23);
  EXPECT_EQ(f.day_of_week, 5);
  EXPECT_EQ(f.day_of_month, 28);
}

TEST(CalendarTest, EpochAndBeforeIt) {
  CalendarFeatures f = CalendarFeaturesAt(WallTime(seconds(0)));
  EXPECT_EQ(f.day_of_week, 3);  // 1970-01-01 was a Thursday.
  EXPECT_EQ(f.day_of_year, 1);
  f = CalendarFeaturesAt(WallTime(seconds(-1)));
  EXPECT_EQ(f.hour_of_day, 23);
  EXPECT_EQ(f.day_of_week, 2);
  EXPECT_EQ(f.day_of_year, 365);
}

TEST(CalendarTest, HolidaysFollowTheLocalDate) {
  auto cal = HolidayCalendar::FromDates({"2026-12-25", "2026-01-01"});
  ASSERT_TRUE(cal.ok());
  EXPECT_EQ(cal->size(), 2u);
  const WallTime xmas_eve_late = *ParseRfc3339("2026-12-24T23:30:00Z");
  EXPECT_FALSE(CalendarFeaturesAt(xmas_eve_late, *cal).is_holiday);
  EXPECT_TRUE(CalendarFeaturesAt(xmas_eve_late, *cal, minutes(60)).is_holiday);
  EXPECT_TRUE(CalendarFeaturesAt(xmas_eve_late + hours(1), *cal).is_holiday);
}

TEST(CalendarTest, BadHolidayNamesEntry) {
  auto cal = HolidayCalendar::FromDates({"2026-12-25", "2026-02-30"});
  EXPECT_EQ(cal.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cal.status().message(), HasSubstr("holidays[1]"));
  EXPECT_THAT(cal.status().message(), HasSubstr("not a valid calendar date"));
  cal = HolidayCalendar::FromDates({"25.12.2026"});
  EXPECT_THAT(cal.status().message(), HasSubstr("YYYY-MM-DD"));
}

TEST(Rfc3339Test, ParsesFractionsAndOffsets) {
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:00:00Z"), WallTime(seconds(0)));
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:00:01.5Z"), WallTime(std::chrono::milliseconds(1500)));
  EXPECT_EQ(*ParseRfc3339("1970-01-01 00:00:00.000000001z"), WallTime(Duration(1)));
  EXPECT_EQ(*ParseRfc3339("1970-01-01T01:00:00+01:00"), WallTime(seconds(0)));
  EXPECT_EQ(*ParseRfc3339("1969-12-31T23:00:00-01:00"), WallTime(seconds(0)));
  EXPECT_EQ(FormatWallTime(*ParseRfc3339("2026-11-29T01:02:03.25Z")),
            "2026-11-29T01:02:03.250000000Z");
}

TEST(Rfc3339Test, RejectsWithPosition) {
  auto r = ParseRfc3339("2026-11-29T01:02:03");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("'Z' or a +hh:mm offset at position 19"));
  r = ParseRfc3339("2026-13-01T00:00:00Z");
  EXPECT_THAT(r.status().message(), HasSubstr("valid calendar date"));
  r = ParseRfc3339("2026-11-29T24:00:00Z");
  EXPECT_THAT(r.status().message(), HasSubstr("valid time of day"));
  r = ParseRfc3339("2026-11-29T01:02:03.1234567890Z");
  EXPECT_THAT(r.status().message(), HasSubstr("at most 9 fractional digits"));
  r = ParseRfc3339("2026-11-29T01:02:03Zjunk");
  EXPECT_THAT(r.status().message(), HasSubstr("end of the timestamp at position 20"));
  // Beyond the int64-nanosecond range (found by usage_import_fuzz: year 5908 overflowed).
  r = ParseRfc3339("5908-11-29T01:02:03Z");
  EXPECT_THAT(r.status().message(), HasSubstr("a year from 1678 to 2261"));
  r = ParseRfc3339("1677-12-31T00:00:00Z");
  EXPECT_THAT(r.status().message(), HasSubstr("a year from 1678 to 2261"));
  EXPECT_TRUE(ParseRfc3339("2261-12-31T23:59:59Z").ok());
  EXPECT_TRUE(ParseRfc3339("1678-01-01T00:00:00Z").ok());
}

TEST(TimestampTest, UnixSecondsOrRfc3339) {
  EXPECT_EQ(*ParseTimestamp("1764378123"), WallTime(seconds(1764378123)));
  EXPECT_EQ(*ParseTimestamp("1764378123.25"),
            WallTime(seconds(1764378123) + std::chrono::milliseconds(250)));
  EXPECT_EQ(*ParseTimestamp("-1.5"), WallTime(std::chrono::milliseconds(-1500)));
  EXPECT_EQ(*ParseTimestamp("2026-11-29T01:02:03Z"), *ParseRfc3339("2026-11-29T01:02:03Z"));
  EXPECT_THAT(ParseTimestamp("").status().message(), HasSubstr("Unix seconds"));
  EXPECT_THAT(ParseTimestamp("12abc").status().message(), HasSubstr("Unix seconds"));
  EXPECT_THAT(ParseTimestamp("1e300").status().message(), HasSubstr("out of range"));
}

}  // namespace
}  // namespace tidegate::history
