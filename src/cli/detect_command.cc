// tidegate detect --input F.csv [--output scores.csv] [--detector conformal|windowed_gaussian]
//                 [--set key=value ...] [--timestamp-column C] [--value-column C] [--kinds]
// Causal anomaly scores: each row is scored from the rows before it, in file order, and written
// as `timestamp,value,anomaly_score` (plus `flag,kind` with --kinds). Rows are kept as they are:
// gaps are not filled, timestamps are echoed verbatim. The detector's durations (its refractory
// period) are counted in the file's sampling interval, the median spacing of its first rows.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "cli/commands.h"
#include "cli/csv_series.h"
#include "tidegate/anomaly/detector.h"
#include "tidegate/common/status.h"

namespace tidegate::cli {
namespace {

std::vector<std::string_view> SplitComma(std::string_view line) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    const size_t end = line.find(',', start);
    out.push_back(line.substr(start, end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

}  // namespace

absl::Status RunDetectCommand(const DetectCommandOptions& o, std::istream& in, std::ostream& out,
                              std::ostream& log) {
  std::string line;
  int line_no = 0;
  int ts_col = -1, value_col = -1;
  while (ts_col < 0 && std::getline(in, line)) {
    ++line_no;
    if (Trim(line).empty()) continue;
    const auto header = SplitComma(Trim(line));
    for (size_t i = 0; i < header.size(); ++i) {
      if (Trim(header[i]) == o.timestamp_column) ts_col = static_cast<int>(i);
      if (Trim(header[i]) == o.value_column) value_col = static_cast<int>(i);
    }
    if (ts_col < 0 || value_col < 0) {
      return absl::InvalidArgumentError(
          fmt::format("{}:{}: header has no column \"{}\"", o.input, line_no,
                      ts_col < 0 ? o.timestamp_column : o.value_column));
    }
  }
  if (ts_col < 0) return absl::InvalidArgumentError(fmt::format("{}: empty file", o.input));

  // Every row is read and checked before any is scored, so a bad row writes nothing.
  struct Row {
    std::string timestamp, value_text;
    double value;
  };
  std::vector<Row> rows;
  std::vector<double> seconds;  // Row times, for the sampling interval.
  std::optional<WallTime> previous;
  int out_of_order = 0, first_out_of_order = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string_view row = Trim(line);
    if (row.empty()) continue;
    const auto cells = SplitComma(row);
    if (static_cast<int>(cells.size()) <= std::max(ts_col, value_col)) {
      return absl::InvalidArgumentError(fmt::format("{}:{}: {} columns, expected at least {}",
                                                    o.input, line_no, cells.size(),
                                                    std::max(ts_col, value_col) + 1));
    }
    const std::string_view ts_text = Trim(cells[ts_col]);
    const std::optional<WallTime> ts = ParseTimestamp(ts_text);
    if (!ts) {
      return absl::InvalidArgumentError(fmt::format(
          "{}:{}: timestamp \"{}\" is not ISO 8601 or Unix seconds", o.input, line_no, ts_text));
    }
    if (previous && *ts <= *previous && out_of_order++ == 0) first_out_of_order = line_no;
    previous = ts;
    std::string value_text(Trim(cells[value_col]));
    double value = std::nan("");
    if (!value_text.empty() && value_text != "NA" && value_text != "NaN" && value_text != "null") {
      char* end = nullptr;
      value = std::strtod(value_text.c_str(), &end);
      if (end == value_text.c_str() || *end != '\0') {
        return absl::InvalidArgumentError(
            fmt::format("{}:{}: value \"{}\" is not a number", o.input, line_no, value_text));
      }
    }
    rows.push_back({std::string(ts_text), std::move(value_text), value});
    seconds.push_back(std::chrono::duration<double>(ts->time_since_epoch()).count());
  }

  if (out_of_order > 0) {
    log << fmt::format(
        "{}: {} rows have a timestamp not after the previous row's (first at line {}); scored in "
        "file order\n",
        o.input, out_of_order, first_out_of_order);
  }
  // The series' own sampling interval scales the detector's durations (--set step_seconds=...
  // given by the caller wins).
  TIDEGATE_ASSIGN_OR_RETURN(
      std::unique_ptr<anomaly::Detector> detector,
      anomaly::MakeDetector(o.detector, o.settings, anomaly::MeasureStepSeconds(seconds)));
  out << "timestamp,value,anomaly_score" << (o.kinds ? ",flag,kind" : "") << "\n";
  for (const Row& r : rows) {
    const anomaly::AnomalyResult result = detector->Observe(r.value);
    out << r.timestamp << ',' << r.value_text << ',' << fmt::format("{:.6f}", result.score);
    if (o.kinds)
      out << ',' << (result.flag ? 1 : 0) << ',' << anomaly::AnomalyKindName(result.kind);
    out << '\n';
  }
  return absl::OkStatus();
}

void RegisterDetectCommand(CLI::App& app) {
  auto options = std::make_shared<DetectCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "detect", "Causal anomaly scores for a timestamp,value CSV (timestamp,value,anomaly_score)");
  cmd->add_option("--input", options->input, "CSV file to score")->required();
  cmd->add_option("--output", options->output, "Output CSV (default: standard output)");
  cmd->add_option("--detector", options->detector, "conformal (default) or windowed_gaussian");
  cmd->add_option("--set", options->settings, "Detector option key=value (repeatable)");
  cmd->add_option("--timestamp-column", options->timestamp_column, "Timestamp column name");
  cmd->add_option("--value-column", options->value_column, "Value column name");
  cmd->add_flag("--kinds", options->kinds, "Also write flag and kind columns");
  cmd->callback([options] {
    std::ifstream in(options->input);
    if (!in) {
      std::cerr << "tidegate detect: cannot open " << options->input << "\n";
      throw CLI::RuntimeError(1);
    }
    std::ofstream file;
    if (options->output != "-") {
      file.open(options->output);
      if (!file) {
        std::cerr << "tidegate detect: cannot write " << options->output << "\n";
        throw CLI::RuntimeError(1);
      }
    }
    const absl::Status s =
        RunDetectCommand(*options, in, options->output == "-" ? std::cout : file, std::cerr);
    if (!s.ok()) {
      std::cerr << "tidegate detect: " << s.message() << "\n";
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace tidegate::cli
