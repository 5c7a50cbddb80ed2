// `tidegate train`, then `tidegate forecast --model lstm --lstm-model`, on generated CSV files.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numbers>
#include <sstream>

#include "cli/commands.h"

namespace tidegate::cli {
namespace {

using ::testing::HasSubstr;

std::string WriteCsv(const std::string& name, double level, double phase) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream f(path);
  f << "timestamp,value\n";
  for (int t = 0; t < 24 * 12; ++t) {
    f << 1'700'000'000 + 3600 * t << ","
      << level * (1 + 0.3 * std::sin(2 * std::numbers::pi * t / 24 + phase)) << "\n";
  }
  return path;
}

TEST(TrainCommandTest, TrainsSavesAndForecastsThroughTheCli) {
  TrainCommandOptions train;
  for (int i = 0; i < 3; ++i) {
    train.inputs.push_back(WriteCsv(fmt::format("train{}.csv", i), 100 + 50 * i, i));
  }
  train.output = ::testing::TempDir() + "/cli.tglstm";
  train.lstm.hidden = 8;
  train.lstm.patches = 3;
  train.lstm.horizon = 12;
  train.train.steps = 20;
  train.train.batch = 16;
  train.quiet = true;
  std::ostringstream out, err;
  ASSERT_TRUE(RunTrainCommand(train, out, err).ok());
  EXPECT_THAT(out.str(), HasSubstr("3 series (0 too short, skipped)"));
  EXPECT_THAT(out.str(), HasSubstr("saved to " + train.output));

  ForecastCommandOptions fc;
  fc.input = train.inputs[0];
  fc.horizon = 6;
  fc.model = "lstm";
  fc.lstm_model = train.output;
  fc.quiet = true;
  std::ostringstream csv, log;
  absl::Status st = RunForecastCommand(fc, csv, log);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_THAT(csv.str(), HasSubstr("step,timestamp,mean,lower,upper\n1,"));

  fc.lstm_model.clear();
  st = RunForecastCommand(fc, csv, log);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(st.message()), HasSubstr("--lstm-model"));
}

TEST(TrainCommandTest, BadArgumentsAreInvalidArgument) {
  TrainCommandOptions train;
  train.output = ::testing::TempDir() + "/never.tglstm";
  std::ostringstream out, err;
  absl::Status st = RunTrainCommand(train, out, err);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("--input"));
  train.inputs = {WriteCsv("one.csv", 10, 0)};
  train.train.steps = -1;
  st = RunTrainCommand(train, out, err);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("steps = -1"));
}

}  // namespace
}  // namespace tidegate::cli
