#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "cli/commands.h"
#include "cli/csv_series.h"

namespace tidegate::cli {
namespace {

using ::testing::HasSubstr;

std::string Csv(int rows, int spike_at) {
  std::ostringstream s;
  s << "timestamp,value\n";
  for (int i = 0; i < rows; ++i) {
    s << 1'700'000'000 + 300 * i << ',' << (i == spike_at ? 500.0 : 100.0 + (i * 7919 % 13))
      << '\n';
  }
  return s.str();
}

TEST(DetectCommandTest, WritesOneScoredRowPerInputRowAndFlagsTheSpike) {
  DetectCommandOptions o;
  o.input = "in.csv";
  o.kinds = true;
  std::istringstream in(Csv(2000, 1500));
  std::ostringstream out, log;
  ASSERT_TRUE(RunDetectCommand(o, in, out, log).ok());
  std::istringstream lines(out.str());
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "timestamp,value,anomaly_score,flag,kind");
  int rows = 0;
  std::string spike_row;
  while (std::getline(lines, line)) {
    if (rows == 1500) spike_row = line;
    ++rows;
  }
  EXPECT_EQ(rows, 2000);
  EXPECT_THAT(spike_row, HasSubstr(",1,spike"));
}

// Two spikes 20 rows apart: 100 minutes at one row every 5 minutes, inside the default refractory
// period (16 h 40 min), so only the first flags; at one row a day both flag, as they do when the
// caller sets a short period.
TEST(DetectCommandTest, TheRefractoryPeriodIsCountedInTheFilesInterval) {
  auto flags = [](int spacing, std::vector<std::string> settings) {
    std::ostringstream s;
    s << "timestamp,value\n";
    for (int i = 0; i < 2000; ++i) {
      const double v = i == 1500 ? 500.0 : i == 1520 ? 900.0 : 100.0 + (i * 7919 % 13);
      s << 1'700'000'000LL + static_cast<long long>(spacing) * i << ',' << v << '\n';
    }
    DetectCommandOptions o;
    o.input = "in.csv";
    o.kinds = true;
    o.settings = std::move(settings);
    std::istringstream in(s.str());
    std::ostringstream out, log;
    EXPECT_TRUE(RunDetectCommand(o, in, out, log).ok());
    int n = 0;
    std::istringstream lines(out.str());
    for (std::string line; std::getline(lines, line);) n += line.find(",1,") != std::string::npos;
    return n;
  };
  EXPECT_EQ(flags(300, {}), 1);
  EXPECT_EQ(flags(86400, {}), 2);
  EXPECT_EQ(flags(300, {"refractory_seconds=3000"}), 2);
  EXPECT_EQ(flags(86400, {"step_seconds=300"}), 1);  // The caller's interval wins.
}

TEST(DetectCommandTest, BadRowsNameFileAndLine) {
  DetectCommandOptions o;
  o.input = "in.csv";
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {"time,value\n1,2\n", "in.csv:1: header has no column \"timestamp\""},
      {"timestamp,value\n1,2\n2,abc\n", "in.csv:3: value \"abc\" is not a number"},
      {"timestamp,value\nyesterday,2\n", "in.csv:2: timestamp \"yesterday\""},
      {"timestamp,value\n5\n", "in.csv:2: 1 columns"},
  };
  for (const Case& c : cases) {
    std::istringstream in(c.text);
    std::ostringstream out, log;
    const absl::Status s = RunDetectCommand(o, in, out, log);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message));
  }
  o.detector = "nope";
  std::istringstream in("timestamp,value\n");
  std::ostringstream out, log;
  EXPECT_EQ(RunDetectCommand(o, in, out, log).code(), absl::StatusCode::kNotFound);
}

// Real exports repeat a timestamp at a clock change or hold a row out of order: each row is
// scored where it stands, as a stream would see it, and the count is logged.
TEST(DetectCommandTest, RowsOutOfOrderAreScoredInFileOrderAndCounted) {
  DetectCommandOptions o;
  o.input = "in.csv";
  std::istringstream in("timestamp,value\n1,1\n3,2\n3,3\n2,4\n5,5\n");
  std::ostringstream out, log;
  ASSERT_TRUE(RunDetectCommand(o, in, out, log).ok());
  EXPECT_EQ(out.str(),
            "timestamp,value,anomaly_score\n1,1,0.000000\n3,2,0.000000\n3,3,0.000000\n"
            "2,4,0.000000\n5,5,0.000000\n");
  EXPECT_THAT(log.str(), HasSubstr("in.csv: 2 rows have a timestamp not after the previous row's "
                                   "(first at line 4); scored in file order"));
}

TEST(DetectCommandTest, MissingValuesScoreZero) {
  DetectCommandOptions o;
  o.input = "in.csv";
  std::istringstream in("timestamp,value\n1,1\n2,NA\n3,\n");
  std::ostringstream out, log;
  ASSERT_TRUE(RunDetectCommand(o, in, out, log).ok());
  EXPECT_EQ(out.str(), "timestamp,value,anomaly_score\n1,1,0.000000\n2,NA,0.000000\n3,,0.000000\n");
}

TEST(GenerateCommandTest, WritesAnImportableLogEndingNowAndGroundTruth) {
  GenerateCommandOptions o;
  o.days = 2;
  o.step_s = 60;
  const WallTime now{std::chrono::seconds(1'700'000'000)};
  std::ostringstream out, truth;
  const absl::Status status = RunGenerateCommand(o, now, out, &truth, false);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(out.str(), HasSubstr(R"("tenant":"shop","descriptors":[["class","checkout"]])"));
  EXPECT_THAT(truth.str(), HasSubstr("class,kind,begin,end\nshop/class=browse,flash_crowd,"));
  // Reports come every --step-s: the first two checkout lines are 60 s apart.
  const std::string text = out.str();
  const size_t first = text.find("\"class\",\"checkout\"");
  const size_t second = text.find("\"class\",\"checkout\"", first + 1);
  ASSERT_NE(second, std::string::npos);
  const auto stamp = [&](size_t at) {
    const size_t line = text.rfind('\n', at);
    const size_t begin = text.find("\"timestamp\":\"", line == std::string::npos ? 0 : line) + 13;
    return ParseTimestamp(text.substr(begin, text.find('"', begin) - begin));
  };
  ASSERT_TRUE(stamp(first) && stamp(second));
  EXPECT_EQ(*stamp(second) - *stamp(first), std::chrono::seconds(60));
  std::ostringstream again, truth2;
  ASSERT_TRUE(RunGenerateCommand(o, now, again, &truth2, false).ok());
  EXPECT_EQ(out.str(), again.str());  // Deterministic under the default seed.
}

TEST(GenerateCommandTest, RefusesImpossibleParameters) {
  const WallTime now{std::chrono::seconds(1'700'000'000)};
  std::ostringstream out;
  GenerateCommandOptions o;
  o.days = -1;
  EXPECT_THAT(std::string(RunGenerateCommand(o, now, out, nullptr, false).message()),
              HasSubstr("--days = -1"));
  o.days = 1;
  o.step_s = 0;
  EXPECT_THAT(std::string(RunGenerateCommand(o, now, out, nullptr, false).message()),
              HasSubstr("--step-s = 0"));
  o.step_s = 10;
  o.start = "someday";
  EXPECT_THAT(std::string(RunGenerateCommand(o, now, out, nullptr, false).message()),
              HasSubstr("--start = \"someday\""));
  o.start = "";
  o.days = 3000;
  o.step_s = 0.01;
  EXPECT_THAT(std::string(RunGenerateCommand(o, now, out, nullptr, false).message()),
              HasSubstr("class-steps"));
}

}  // namespace
}  // namespace tidegate::cli
