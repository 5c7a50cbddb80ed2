#include "tidegate/forecast/m4.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tidegate::forecast {
namespace {

using ::testing::HasSubstr;

TEST(M4Test, ParsesRaggedQuotedRows) {
  auto rows = ParseM4Csv(
      "\"V1\",\"V2\",\"V3\",\"V4\"\n\"H1\",\"1.5\",\"2\",\"3\"\r\n\"H2\",\"7\",,\n", "t.csv");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].id, "H1");
  EXPECT_EQ((*rows)[0].values, (std::vector<double>{1.5, 2, 3}));
  EXPECT_EQ((*rows)[1].values, (std::vector<double>{7}));
}

TEST(M4Test, ErrorsNameFileLineAndColumn) {
  auto rows = ParseM4Csv("\"V1\",\"V2\",\"V3\"\n\"H1\",\"1\",\"x2\"\n", "t.csv");
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(rows.status().message()), HasSubstr("t.csv:2: column 3: 'x2'"));
  rows = ParseM4Csv("h\n\"H1\",,\"3\"\n", "t.csv");
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(rows.status().message()), HasSubstr("value after an empty cell"));
  rows = ParseM4Csv("", "t.csv");
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(rows.status().message()), HasSubstr("no header"));
}

TEST(M4Test, MissingDirectoryIsNotFound) {
  auto data = LoadM4("/nonexistent-dir", "Hourly");
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("Hourly-train.csv"));
}

TEST(M4Test, ValidationSplitMovesTheLastTrainValuesToTest) {
  std::vector<M4Series> data = {{"H1", {1, 2, 3, 4, 5, 6}, {7, 8}}, {"H2", {1, 2, 3, 4}, {5}}};
  auto split = M4ValidationSplit(data, 2);
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ((*split)[0].train, (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ((*split)[0].test, (std::vector<double>{5, 6}));
  EXPECT_EQ((*split)[1].train, (std::vector<double>{1, 2}));
  EXPECT_EQ((*split)[1].test, (std::vector<double>{3, 4}));
  auto short_series = M4ValidationSplit(data, 3);
  EXPECT_EQ(short_series.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(short_series.status().message()), HasSubstr("series H2"));
  EXPECT_EQ(M4ValidationSplit(data, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tidegate::forecast
