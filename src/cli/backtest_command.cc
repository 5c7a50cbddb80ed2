// `tidegate backtest`: score a model on a public benchmark split (M4 hourly).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/progress.h"
#include "tidegate/common/status.h"
#include "tidegate/forecast/backtest.h"
#include "tidegate/forecast/model_registry.h"

namespace tidegate::cli {

absl::Status RunBacktestCommand(const BacktestCommandOptions& options, std::ostream& out,
                                std::ostream& err) {
  if (options.dataset != "m4-hourly") {
    return absl::InvalidArgumentError(
        fmt::format("--dataset: unknown dataset '{}' (known: m4-hourly)", options.dataset));
  }
  if (options.data_dir.empty()) return absl::InvalidArgumentError("--data DIR is required");
  TIDEGATE_ASSIGN_OR_RETURN(forecast::ModelContext context, LoadModelContext(options.lstm_model));
  TIDEGATE_RETURN_IF_ERROR(forecast::MakeForecaster(options.model, context).status());
  TIDEGATE_ASSIGN_OR_RETURN(auto data, forecast::LoadM4(options.data_dir, "Hourly"));
  if (options.split == "validation") {
    TIDEGATE_ASSIGN_OR_RETURN(data, forecast::M4ValidationSplit(std::move(data), options.horizon));
  } else if (options.split != "test") {
    return absl::InvalidArgumentError(
        fmt::format("--split: unknown split '{}' (known: test, validation)", options.split));
  }
  forecast::BacktestOptions bo;
  bo.model = options.model;
  bo.horizon = options.horizon;
  bo.period = 24;
  bo.level = options.level;
  bo.limit = options.limit;
  bo.calibrate = options.calibrate;
  bo.context = std::move(context);
  const size_t total = options.limit ? std::min(options.limit, data.size()) : data.size();
  ProgressBar bar(fmt::format("backtest {}", options.model), total, stderr,
                  options.progress && isatty(fileno(stderr)));
  TIDEGATE_ASSIGN_OR_RETURN(
      forecast::BacktestResult r,
      forecast::RunBacktest(data, bo, RealClock(),
                            [&bar](size_t done, size_t) { bar.Update(done); }));
  bar.Finish();

  if (!options.output.empty()) {
    std::ofstream file(options.output, std::ios::trunc);
    if (!file) return absl::PermissionDeniedError(fmt::format("cannot write '{}'", options.output));
    file << "id,model,spec,smape,mase,msis,coverage,seconds,failed,note\n";
    for (const auto& s : r.series) {
      std::string note = s.fallback;
      for (char& c : note) {
        if (c == '"') c = '\'';
      }
      file << fmt::format("{},{},\"{}\",{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{},\"{}\"\n", s.id,
                          options.model, s.spec, s.scores.smape, s.scores.mase, s.scores.msis,
                          s.scores.coverage, s.seconds, s.failed ? 1 : 0, note);
    }
    if (!file) return absl::DataLossError(fmt::format("error writing '{}'", options.output));
  }
  out << fmt::format(
      "M4 hourly{}: {} series, horizon {}, {}% intervals{}\n",
      options.split == "validation" ? " (validation split: last horizon of Train)" : "",
      r.model.count(), options.horizon, options.level,
      options.calibrate ? fmt::format(", conformal warm-up {}", options.calibrate) : std::string());
  out << fmt::format("{:<16} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}\n", "model", "sMAPE", "MASE",
                     "OWA", "MSIS", "cover", "seconds");
  out << fmt::format("{:<16} {:>8.3f} {:>8.3f} {:>8.3f} {:>8.3f} {:>8.3f} {:>10.2f}\n",
                     options.model, r.model.smape(), r.model.mase(), r.owa, r.model.msis(),
                     r.model.coverage(), r.seconds);
  out << fmt::format("{:<16} {:>8.3f} {:>8.3f} {:>8.3f} {:>8.3f} {:>8.3f} {:>10}\n", "naive2",
                     r.naive2.smape(), r.naive2.mase(), 1.0, r.naive2.msis(), r.naive2.coverage(),
                     "-");
  out << fmt::format("OWA vs official Naive2 ({} / {}): {:.3f}; ACD {:.3f}; failures {}\n",
                     forecast::kM4HourlyNaive2SMape, forecast::kM4HourlyNaive2Mase, r.owa_official,
                     std::fabs(r.model.coverage() - options.level / 100), r.failures);
  if (r.model.skipped_scale() > 0) {
    out << fmt::format("{} series with a zero MASE scale were left out of MASE/MSIS\n",
                       r.model.skipped_scale());
  }
  (void)err;
  return absl::OkStatus();
}

void RegisterBacktestCommand(CLI::App& app) {
  auto options = std::make_shared<BacktestCommandOptions>();
  CLI::App* cmd = app.add_subcommand("backtest", "Score a model on a benchmark split (M4 hourly)");
  cmd->add_option("--dataset", options->dataset, "Dataset: m4-hourly")->capture_default_str();
  cmd->add_option("--data", options->data_dir, "Dataset directory (with Train/ and Test/)")
      ->required();
  cmd->add_option("--model", options->model, "Model: " + forecast::RegisteredModelNames())
      ->capture_default_str();
  cmd->add_option("--output", options->output, "Per-series results CSV");
  cmd->add_option("--limit", options->limit, "Only the first N series (0 = all)")
      ->capture_default_str();
  cmd->add_option("--horizon", options->horizon, "Forecast horizon")->capture_default_str();
  cmd->add_option("--level", options->level, "Interval level in percent")->capture_default_str();
  cmd->add_option("--calibrate", options->calibrate,
                  "Adaptive conformal calibration warm-up in steps (0 = off)")
      ->capture_default_str();
  cmd->add_flag(
      "--no-progress", [options](int64_t) { options->progress = false; },
      "Never draw the progress bar");
  cmd->add_option("--split", options->split,
                  "test (fit Train, score Test) or validation (hold out the last horizon of Train)")
      ->capture_default_str();
  cmd->add_option("--lstm-model", options->lstm_model,
                  "Global LSTM model file for --model lstm, or to add the LSTM to auto (written "
                  "by `tidegate train`)");
  cmd->callback([options]() {
    absl::Status st = RunBacktestCommand(*options, std::cout, std::cerr);
    if (!st.ok()) {
      std::cerr << "tidegate backtest: " << std::string(st.message()) << "\n";
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace tidegate::cli
