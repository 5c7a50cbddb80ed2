// tidegate/forecast/m4.h — reads the M4 competition's Train/Test CSV files.
//
// Format (M4-methods Dataset/): a header row ("V1","V2",…), then one row per series: the quoted
// id ("H1"), then quoted values; rows are ragged, trailing cells are empty. Train and Test rows
// are matched by id. Missing cells inside a row are an error (M4 has none).
//
// Thread-safety: pure functions.
#ifndef TIDEGATE_FORECAST_M4_H_
#define TIDEGATE_FORECAST_M4_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tidegate::forecast {

struct M4Series {
  std::string id;
  std::vector<double> train;
  std::vector<double> test;
};

struct M4Row {
  std::string id;
  std::vector<double> values;
};

// Parses one M4 CSV text. InvalidArgument naming `file_name`, line and column for a non-numeric
// cell, an empty cell followed by a value, a missing id, or no header.
absl::StatusOr<std::vector<M4Row>> ParseM4Csv(std::string_view text, std::string_view file_name);

// Loads DIR/Train/<Name>-train.csv and DIR/Test/<Name>-test.csv (`frequency_name` e.g. "Hourly")
// and pairs the rows by id, in Train order. NotFound for a missing file; InvalidArgument for a
// parse error or a Train id without a Test row.
absl::StatusOr<std::vector<M4Series>> LoadM4(const std::string& dir,
                                             std::string_view frequency_name);

// The validation split used to choose models without looking at Test: each series' last `h`
// Train values become its test part and the rest its train part (the official Test is dropped).
// InvalidArgument for h < 1; FailedPrecondition naming the series when its Train part has fewer
// than 2h values.
absl::StatusOr<std::vector<M4Series>> M4ValidationSplit(std::vector<M4Series> data, int h);

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_M4_H_
