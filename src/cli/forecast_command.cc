// `tidegate forecast`: fit a model on a CSV series and write the forecast as CSV.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/csv_series.h"
#include "tidegate/common/status.h"
#include "tidegate/forecast/conformal.h"
#include "tidegate/forecast/horizons.h"
#include "tidegate/forecast/model_registry.h"

namespace tidegate::cli {

absl::Status RunForecastCommand(const ForecastCommandOptions& options, std::ostream& out,
                                std::ostream& err) {
  if (options.horizon < 1 || options.horizon > forecast::kMaxHorizon) {
    return absl::InvalidArgumentError(fmt::format("--horizon must be in [1, {}], got {}",
                                                  forecast::kMaxHorizon, options.horizon));
  }
  TIDEGATE_RETURN_IF_ERROR(forecast::ValidatePredictArgs(options.horizon, options.levels));
  if (options.levels.empty()) return absl::InvalidArgumentError("--level: at least one level");
  CsvSeriesOptions csv;
  csv.timestamp_column = options.timestamp_column;
  csv.value_column = options.value_column;
  TIDEGATE_ASSIGN_OR_RETURN(forecast::Series series, ReadSeriesCsv(options.input, csv));
  series.seasonal_periods = options.seasons.empty()
                                ? forecast::CalendarPeriods(series.step, series.values.size())
                                : options.seasons;
  TIDEGATE_RETURN_IF_ERROR(forecast::ValidateSeries(series));
  TIDEGATE_ASSIGN_OR_RETURN(forecast::ModelContext context, LoadModelContext(options.lstm_model));
  TIDEGATE_ASSIGN_OR_RETURN(auto model, forecast::MakeForecaster(options.model, context));
  TIDEGATE_ASSIGN_OR_RETURN(
      forecast::Forecast f,
      forecast::CalibratedForecast(*model, series, options.horizon, options.levels,
                                   options.calibrate, forecast::ConformalOptions{}));

  std::ofstream file;
  std::ostream* sink = &out;
  if (options.output != "-") {
    file.open(options.output, std::ios::trunc);
    if (!file) {
      return absl::PermissionDeniedError(fmt::format("cannot write '{}'", options.output));
    }
    sink = &file;
  }
  std::string header = "step,timestamp,mean";
  if (f.intervals.size() == 1) {
    header += ",lower,upper";
  } else {
    for (const auto& pi : f.intervals) header += fmt::format(",lower_{0},upper_{0}", pi.level);
  }
  *sink << header << "\n";
  for (int i = 0; i < f.horizon(); ++i) {
    std::string row = fmt::format("{},{},{:.10g}", i + 1,
                                  FormatTimestamp(series.end() + series.step * i), f.mean[i]);
    for (const auto& pi : f.intervals)
      row += fmt::format(",{:.10g},{:.10g}", pi.lower[i], pi.upper[i]);
    *sink << row << "\n";
  }
  sink->flush();
  if (!*sink) return absl::DataLossError(fmt::format("error writing '{}'", options.output));
  if (!options.quiet) {
    err << fmt::format("{}: {} values, step {} s, seasonal periods [{}]\n", options.input,
                       series.values.size(), std::chrono::duration<double>(series.step).count(),
                       fmt::join(series.seasonal_periods, ", "));
    err << model->Summary().ToString();
  }
  return absl::OkStatus();
}

void RegisterForecastCommand(CLI::App& app) {
  auto options = std::make_shared<ForecastCommandOptions>();
  CLI::App* cmd = app.add_subcommand("forecast", "Forecast a timestamp,value CSV series");
  cmd->add_option("--input", options->input, "Input CSV with a header row")->required();
  cmd->add_option("--horizon", options->horizon, "Steps to forecast")->required();
  cmd->add_option("--season", options->seasons,
                  "Seasonal period in steps (repeatable); default: day and week from the step");
  cmd->add_option("--model", options->model, "Model: " + forecast::RegisteredModelNames())
      ->capture_default_str();
  cmd->add_option("--level", options->levels, "Interval level in percent (repeatable)")
      ->capture_default_str();
  cmd->add_option("--output", options->output, "Output CSV ('-' = stdout)")->capture_default_str();
  cmd->add_option("--timestamp-column", options->timestamp_column)->capture_default_str();
  cmd->add_option("--value-column", options->value_column)->capture_default_str();
  cmd->add_option("--calibrate", options->calibrate,
                  "Adaptive conformal calibration over the last W steps (0 = off)")
      ->capture_default_str();
  cmd->add_flag("--quiet", options->quiet, "Do not print the fit summary on stderr");
  cmd->add_option("--lstm-model", options->lstm_model,
                  "Global LSTM model file for --model lstm, or to add the LSTM to auto (written "
                  "by `tidegate train`)");
  cmd->callback([options]() {
    absl::Status st = RunForecastCommand(*options, std::cout, std::cerr);
    if (!st.ok()) {
      std::cerr << "tidegate forecast: " << std::string(st.message()) << "\n";
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace tidegate::cli
