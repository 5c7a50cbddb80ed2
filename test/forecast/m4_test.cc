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

}  // namespace
}  // namespace tidegate::forecast
