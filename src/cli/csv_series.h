// cli/csv_series.h — reads a `timestamp,value` CSV file into a regularly spaced Series.
//
// Input: a header row naming the columns (the timestamp and value column names are
// configurable; other columns are ignored), then one row per observation. Timestamps are ISO 8601
// ("2024-05-01T13:00:00Z", "2024-05-01 13:00:00", optional fractional seconds and ±HH:MM offset;
// no offset = UTC) or Unix seconds (a plain number). Values are numbers; an empty cell, "NA",
// "NaN" or "null" is a missing value.
// The step is the smallest difference between consecutive timestamps. A larger difference that is
// a whole multiple of the step is a gap (filled with missing values, at most kMaxGapSteps);
// anything else is an error.
//
// Errors (InvalidArgument) name the file and the 1-based line: a missing column, a bad
// timestamp, a non-numeric value, a timestamp not after the previous one (unsorted or
// duplicate), spacing that is not a multiple of the step, or fewer than 2 rows.
//
// Thread-safety: pure functions.
#ifndef TIDEGATE_CLI_CSV_SERIES_H_
#define TIDEGATE_CLI_CSV_SERIES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"
#include "tidegate/forecast/forecaster.h"

namespace tidegate::cli {

inline constexpr int64_t kMaxGapSteps = 1'000'000;

struct CsvSeriesOptions {
  std::string timestamp_column = "timestamp";
  std::string value_column = "value";
};

// Parses `text` (the file's contents; `file_name` is used in errors only).
absl::StatusOr<forecast::Series> ParseSeriesCsv(std::string_view text, std::string_view file_name,
                                                const CsvSeriesOptions& options);

// Reads and parses a file. NotFound when it cannot be opened.
absl::StatusOr<forecast::Series> ReadSeriesCsv(const std::string& path,
                                               const CsvSeriesOptions& options);

// ISO 8601 or Unix seconds, as above; nullopt when malformed.
std::optional<WallTime> ParseTimestamp(std::string_view text);

// "2024-05-01T13:00:00Z" (fractional seconds only when non-zero).
std::string FormatTimestamp(WallTime t);

}  // namespace tidegate::cli

#endif  // TIDEGATE_CLI_CSV_SERIES_H_
