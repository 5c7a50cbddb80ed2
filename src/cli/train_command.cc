// `tidegate train`: train the global LSTM on many series and save it.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/csv_series.h"
#include "tidegate/common/status.h"
#include "tidegate/forecast/m4.h"
#include "tidegate/learn/lstm.h"

namespace tidegate::cli {

absl::StatusOr<forecast::ModelContext> LoadModelContext(const std::string& lstm_model) {
  forecast::ModelContext context;
  if (lstm_model.empty()) return context;
  TIDEGATE_ASSIGN_OR_RETURN(auto model, learn::LstmModel::LoadFile(lstm_model));
  context.Add(std::move(model));
  return context;
}

absl::Status RunTrainCommand(const TrainCommandOptions& options, std::ostream& out,
                             std::ostream& err) {
  if (options.output.empty()) return absl::InvalidArgumentError("--output FILE is required");
  if (options.inputs.empty() == options.data_dir.empty()) {
    return absl::InvalidArgumentError(
        "give either --input F.csv (repeatable) or --dataset m4-hourly --data DIR");
  }
  std::vector<forecast::Series> series;
  if (!options.data_dir.empty()) {
    if (options.dataset != "m4-hourly") {
      return absl::InvalidArgumentError(
          fmt::format("--dataset: unknown dataset '{}' (known: m4-hourly)", options.dataset));
    }
    TIDEGATE_ASSIGN_OR_RETURN(auto data, forecast::LoadM4(options.data_dir, "Hourly"));
    const size_t n = options.limit ? std::min(options.limit, data.size()) : data.size();
    for (size_t i = 0; i < n; ++i) {
      forecast::Series s;  // Training values only: the Test part is never seen.
      s.values = std::move(data[i].train);
      s.step = std::chrono::hours(1);
      series.push_back(std::move(s));
    }
  } else {
    CsvSeriesOptions csv;
    csv.timestamp_column = options.timestamp_column;
    csv.value_column = options.value_column;
    for (const std::string& path : options.inputs) {
      TIDEGATE_ASSIGN_OR_RETURN(forecast::Series s, ReadSeriesCsv(path, csv));
      series.push_back(std::move(s));
    }
  }
  learn::TrainOptions train = options.train;
  if (!options.quiet) {
    train.progress = [&err](int step, int steps, double loss) {
      err << fmt::format("step {}/{}: pinball loss {:.5f}\n", step, steps, loss);
    };
    train.progress_every = std::max(1, train.steps / 20);
  }
  const MonoTime t0 = RealClock().Now();
  TIDEGATE_ASSIGN_OR_RETURN(auto model, learn::LstmModel::Train(series, options.lstm, train));
  const double seconds = std::chrono::duration<double>(RealClock().Now() - t0).count();
  TIDEGATE_RETURN_IF_ERROR(model->SaveFile(options.output));
  out << model->summary().ToString();
  out << fmt::format("  {}\n  trained in {:.1f} s; saved to {} (fingerprint {})\n",
                     model->Describe(), seconds, options.output, model->Fingerprint());
  return absl::OkStatus();
}

void RegisterTrainCommand(CLI::App& app) {
  auto o = std::make_shared<TrainCommandOptions>();
  CLI::App* cmd =
      app.add_subcommand("train", "Train the global LSTM forecaster on many series and save it");
  cmd->add_option("--output", o->output, "Model file to write")->required();
  cmd->add_option("--input", o->inputs, "Training series, a timestamp,value CSV (repeatable)");
  cmd->add_option("--dataset", o->dataset, "Dataset for --data: m4-hourly")->capture_default_str();
  cmd->add_option("--data", o->data_dir, "Dataset directory (with Train/); its Train part only");
  cmd->add_option("--limit", o->limit, "Only the first N dataset series (0 = all)")
      ->capture_default_str();
  cmd->add_option("--timestamp-column", o->timestamp_column)->capture_default_str();
  cmd->add_option("--value-column", o->value_column)->capture_default_str();
  cmd->add_option("--period", o->lstm.period, "Seasonal period = patch length, in steps")
      ->capture_default_str();
  cmd->add_option("--patches", o->lstm.patches, "Input window in periods")->capture_default_str();
  cmd->add_option("--horizon", o->lstm.horizon, "Steps forecast by one pass")
      ->capture_default_str();
  cmd->add_option("--hidden", o->lstm.hidden, "LSTM hidden units")->capture_default_str();
  cmd->add_option("--layers", o->lstm.layers, "LSTM layers")->capture_default_str();
  cmd->add_option("--steps", o->train.steps, "Minibatch updates")->capture_default_str();
  cmd->add_option("--batch", o->train.batch, "Windows per minibatch")->capture_default_str();
  cmd->add_option("--learning-rate", o->train.learning_rate, "Peak Adam step size")
      ->capture_default_str();
  cmd->add_option("--seed", o->train.seed, "Seed of initialisation and sampling")
      ->capture_default_str();
  cmd->add_option("--threads", o->train.threads, "libtorch intra-op threads")
      ->capture_default_str();
  cmd->add_flag(
      "--no-hold-out", [o](int64_t) { o->train.hold_out = false; },
      "Train on every value (default: the last horizon of each series is held out to validate)");
  cmd->add_flag("--quiet", o->quiet, "Do not print training progress on stderr");
  cmd->callback([o]() {
    absl::Status st = RunTrainCommand(*o, std::cout, std::cerr);
    if (!st.ok()) {
      std::cerr << "tidegate train: " << std::string(st.message()) << "\n";
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace tidegate::cli
