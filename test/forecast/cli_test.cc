// Tests of the forecast/backtest commands (src/cli), on files generated here.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/csv_series.h"
#include "cli/progress.h"

namespace tidegate::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::trunc) << text;
  return path;
}

std::string HourlyCsv(int n) {
  std::string csv = "timestamp,value\n";
  for (int t = 0; t < n; ++t) {
    csv += fmt::format("{},{}\n", 1'700'000'000 + 3600 * t,
                       100 + 10 * std::sin(2 * M_PI * t / 24) + (t % 5));
  }
  return csv;
}

TEST(CsvSeriesTest, TimestampsRoundTrip) {
  auto t = ParseTimestamp("2024-05-01T13:00:00Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatTimestamp(*t), "2024-05-01T13:00:00Z");
  EXPECT_EQ(ParseTimestamp("2024-05-01 13:00:00"), t);
  EXPECT_EQ(ParseTimestamp("2024-05-01T15:00:00+02:00"), t);
  EXPECT_EQ(ParseTimestamp("1714568400"), t);
  EXPECT_EQ(FormatTimestamp(*ParseTimestamp("1970-01-01T00:00:00.25Z")), "1970-01-01T00:00:00.25Z");
  EXPECT_EQ(FormatTimestamp(*ParseTimestamp("1969-12-31T23:59:59Z")), "1969-12-31T23:59:59Z");
  EXPECT_FALSE(ParseTimestamp("2024-13-01").has_value());
  EXPECT_FALSE(ParseTimestamp("yesterday").has_value());
  EXPECT_FALSE(ParseTimestamp("2024-05-01T13:00:00Q").has_value());
}

TEST(CsvSeriesTest, GapsBecomeMissingValuesAndMissingCellsAreNaN) {
  auto s = ParseSeriesCsv("ts,v,other\n0,1,x\n10,NA,x\n30,3,x\n", "f.csv", {"ts", "v"});
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->values.size(), 4u);
  EXPECT_EQ(s->step, std::chrono::seconds(10));
  EXPECT_EQ(s->values[0], 1);
  EXPECT_TRUE(std::isnan(s->values[1]));
  EXPECT_TRUE(std::isnan(s->values[2]));
  EXPECT_EQ(s->values[3], 3);
}

TEST(CsvSeriesTest, ErrorsNameTheLine) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"timestamp,value\n0,1\n10,abc\n", "f.csv:3: column 'value': 'abc' is not a finite number"},
      {"timestamp,value\n0,1\n20,2\n10,3\n", "f.csv:4: timestamp 10 is earlier"},
      {"timestamp,value\n0,1\n10,2\n10,3\n", "f.csv:4: duplicate timestamp 10 (also on line 3)"},
      {"timestamp,value\n0,1\n10,2\n25,3\n", "f.csv:4: irregular spacing"},
      {"timestamp,value\nnoon,1\n", "f.csv:2: column 'timestamp': 'noon' is not a timestamp"},
      {"time,value\n0,1\n", "f.csv:1: header has no 'timestamp' column"},
      {"timestamp,value\n0,1\n", "need at least 2 rows"},
      {"timestamp,value\n0,1\n10\n", "f.csv:3: expected 2 columns, found 1"},
      {"timestamp,value\n0,1\n10,inf\n", "f.csv:3: column 'value': 'inf'"},
  };
  for (const auto& c : cases) {
    auto s = ParseSeriesCsv(c.text, "f.csv", CsvSeriesOptions{});
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(c.message)) << c.text;
  }
}

TEST(ForecastCommandTest, WritesTheContractColumns) {
  ForecastCommandOptions o;
  o.input = WriteFile("hourly.csv", HourlyCsv(24 * 14));
  o.horizon = 5;
  o.model = "snaive";
  std::ostringstream out, err;
  ASSERT_TRUE(RunForecastCommand(o, out, err).ok());
  std::istringstream lines(out.str());
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "step,timestamp,mean,lower,upper");
  std::getline(lines, line);
  // Step 1 lands one hour after the last input row: 1.7e9 s + 336 h.
  EXPECT_THAT(line, StartsWith("1,2023-11-28T22:13:20Z,"));
  int rows = 1;
  while (std::getline(lines, line)) ++rows;
  EXPECT_EQ(rows, 5);
  EXPECT_THAT(err.str(), HasSubstr("seasonal periods [24, 168]"));
  EXPECT_THAT(err.str(), HasSubstr("model: snaive"));

  o.levels = {80, 95};
  o.output = ::testing::TempDir() + "/out.csv";
  o.quiet = true;
  std::ostringstream out2, err2;
  ASSERT_TRUE(RunForecastCommand(o, out2, err2).ok());
  EXPECT_EQ(out2.str(), "");
  EXPECT_EQ(err2.str(), "");
  std::ifstream written(o.output);
  std::getline(written, line);
  EXPECT_EQ(line, "step,timestamp,mean,lower_80,upper_80,lower_95,upper_95");
}

TEST(ForecastCommandTest, CalibratedIntervalsAreFinite) {
  ForecastCommandOptions o;
  o.input = WriteFile("hourly_cal.csv", HourlyCsv(24 * 20));
  o.horizon = 24;
  o.model = "snaive";
  o.calibrate = 24 * 7;
  o.quiet = true;
  std::ostringstream out, err;
  absl::Status st = RunForecastCommand(o, out, err);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_THAT(out.str(), Not(HasSubstr("nan")));
  EXPECT_THAT(out.str(), Not(HasSubstr("inf")));
}

TEST(ForecastCommandTest, BadInputsFailWithSpecificErrors) {
  ForecastCommandOptions o;
  o.input = WriteFile("bad.csv", "timestamp,value\n0,1\n3600,x\n");
  o.horizon = 3;
  std::ostringstream out, err;
  absl::Status st = RunForecastCommand(o, out, err);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("bad.csv:3: column 'value': 'x'"));
  o.input = ::testing::TempDir() + "/does-not-exist.csv";
  st = RunForecastCommand(o, out, err);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  o.input = WriteFile("ok.csv", HourlyCsv(48));
  o.model = "no-such-model";
  st = RunForecastCommand(o, out, err);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(st.message()), HasSubstr("unknown forecasting model 'no-such-model'"));
  o.model = "snaive";
  o.horizon = 0;
  st = RunForecastCommand(o, out, err);
  EXPECT_THAT(std::string(st.message()), HasSubstr("--horizon"));
}

TEST(BacktestCommandTest, ScoresAGeneratedM4StyleSplit) {
  const std::string dir = ::testing::TempDir() + "/m4";
  std::string train = "\"V1\",\"V2\"\n", test = "\"V1\",\"V2\"\n";
  for (int s = 0; s < 3; ++s) {
    train += fmt::format("\"H{}\"", s + 1);
    test += fmt::format("\"H{}\"", s + 1);
    for (int t = 0; t < 24 * 10 + 48; ++t) {
      const double v = 50 + 10 * s + 8 * std::sin(2 * M_PI * t / 24) + (t * 7 % 11) * 0.3;
      (t < 240 ? train : test) += fmt::format(",\"{}\"", v);
    }
    train += "\n";
    test += "\n";
  }
  std::filesystem::create_directories(dir + "/Train");
  std::filesystem::create_directories(dir + "/Test");
  std::ofstream(dir + "/Train/Hourly-train.csv") << train;
  std::ofstream(dir + "/Test/Hourly-test.csv") << test;
  BacktestCommandOptions o;
  o.data_dir = dir;
  o.model = "snaive";
  o.output = ::testing::TempDir() + "/per_series.csv";
  o.progress = false;
  std::ostringstream out, err;
  absl::Status st = RunBacktestCommand(o, out, err);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_THAT(out.str(), HasSubstr("M4 hourly: 3 series"));
  EXPECT_THAT(out.str(), HasSubstr("sMAPE"));
  std::ifstream per(o.output);
  std::string line;
  int rows = 0;
  while (std::getline(per, line)) ++rows;
  EXPECT_EQ(rows, 4);
  // The validation split scores the last 48 Train values instead of Test.
  o.split = "validation";
  std::ostringstream out_validation;
  st = RunBacktestCommand(o, out_validation, err);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_THAT(out_validation.str(), HasSubstr("validation split"));
  EXPECT_NE(out_validation.str(), out.str());
  o.split = "train";
  EXPECT_THAT(std::string(RunBacktestCommand(o, out, err).message()),
              HasSubstr("unknown split 'train'"));
  o.split = "test";
  o.dataset = "m5";
  EXPECT_THAT(std::string(RunBacktestCommand(o, out, err).message()),
              HasSubstr("unknown dataset 'm5'"));
}

TEST(ProgressBarTest, RendersAndStaysSilentWhenDisabled) {
  ProgressBar bar("backtest", 414, stderr, /*enabled=*/false);
  EXPECT_FALSE(bar.enabled());
  EXPECT_EQ(bar.Render(207), "backtest [###############...............] 207/414  50%");
  bar.Update(10);  // Draws nothing.
}

}  // namespace
}  // namespace tidegate::cli
