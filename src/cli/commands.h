// cli/commands.h — the `tidegate` subcommands. Each command lives in its own file and registers
// itself on the app with one Register*Command call from src/exe/tidegate_main.cc.
//
// Contracts (../shared/DESIGN.md, "Command-line contracts"; keep them stable):
//   tidegate forecast --input F.csv --horizon H [--season M ...] [--model NAME] [--level 95 ...]
//                     [--output out.csv] [--timestamp-column C] [--value-column C]
//                     [--calibrate W] [--quiet] [--lstm-model FILE]
//     Output CSV: with one level `step,timestamp,mean,lower,upper`; with several levels
//     `step,timestamp,mean,lower_<L>,upper_<L>,…` in the order given. The fit summary goes to
//     stderr (unless --quiet). Errors name the file and line; the exit code is 1 (2 for usage).
//   tidegate backtest --dataset m4-hourly --data DIR [--model NAME] [--output per-series.csv]
//                     [--limit N] [--horizon 48] [--level 95] [--calibrate W]
//                     [--split test|validation] [--lstm-model FILE]
//     --lstm-model loads a model trained by `tidegate train` for --model lstm, and adds the LSTM
//     to --model auto. --split validation scores the last horizon of Train instead of Test.
//     Prints sMAPE, MASE, OWA, MSIS, coverage and time for the model and for Naive2, with a
//     progress bar on stderr when it is a terminal; writes per-series rows to --output.
//
// The Run* functions are the commands without CLI11, for tests: they write to the given streams
// and return the error the command would print.
//
// Thread-safety: commands run on the calling thread.
#ifndef TIDEGATE_CLI_COMMANDS_H_
#define TIDEGATE_CLI_COMMANDS_H_

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"
#include "tidegate/forecast/global_model.h"
#include "tidegate/learn/lstm.h"

namespace CLI {
class App;
}  // namespace CLI

namespace tidegate::cli {

void RegisterForecastCommand(CLI::App& app);
void RegisterBacktestCommand(CLI::App& app);
void RegisterImportCommand(CLI::App& app);    // cli/import_command.cc (collect engineer).
void RegisterSimulateCommand(CLI::App& app);  // cli/simulate_command.cc (plan engineer).

void RegisterDetectCommand(CLI::App& app);     // cli/detect_command.cc
void RegisterGenerateCommand(CLI::App& app);   // cli/generate_command.cc
void RegisterHashTokenCommand(CLI::App& app);  // cli/hash_token_command.cc
void RegisterTrainCommand(CLI::App& app);      // cli/train_command.cc

// tidegate hash-token [--generate]
// Reads a secret from stdin (one trailing newline is dropped) and prints its SHA-256 as 64 hex
// digits, for tidegated's auth.tokens[].sha256. The secret must be visible ASCII without spaces
// (it travels in "Authorization: Bearer <token>") and at least kMinTokenLength long. --generate
// prints "token:  tg_..." and "sha256: ..." for a new token from OpenSSL's CSPRNG instead.
inline constexpr size_t kMinTokenLength = 16;
struct HashTokenCommandOptions {
  bool generate = false;
};
absl::Status RunHashTokenCommand(const HashTokenCommandOptions& options, std::istream& in,
                                 std::ostream& out);

// tidegate train --output model.tglstm (--input F.csv ... | --dataset m4-hourly --data DIR
//                [--limit N]) [--period 24] [--patches 7] [--horizon 48] [--hidden 48]
//                [--layers 1] [--steps 3000] [--batch 256] [--learning-rate 0.003] [--seed 1]
//                [--threads 1] [--no-hold-out] [--quiet]
// Trains the global LSTM (learn/lstm.h) on every series given (M4: the Train part only), saves it
// and prints the training summary and time. Progress goes to stderr.
struct TrainCommandOptions {
  std::string output;
  std::vector<std::string> inputs;
  std::string dataset = "m4-hourly";
  std::string data_dir;
  size_t limit = 0;
  std::string timestamp_column = "timestamp";
  std::string value_column = "value";
  learn::LstmOptions lstm;
  learn::TrainOptions train;
  bool quiet = false;
};
absl::Status RunTrainCommand(const TrainCommandOptions& options, std::ostream& out,
                             std::ostream& err);

// The ModelContext for `--lstm-model FILE` (empty path: an empty context). Errors from
// learn::LstmModel::LoadFile.
absl::StatusOr<forecast::ModelContext> LoadModelContext(const std::string& lstm_model);

// tidegate detect --input F.csv [--output scores.csv] [--detector NAME] [--set key=value ...]
//                 [--timestamp-column C] [--value-column C] [--kinds]
// Writes `timestamp,value,anomaly_score` (plus `flag,kind` with --kinds), one row per input row,
// each scored causally in file order. Errors name the file and line. A timestamp that is not after
// the previous row's (a duplicate from a clock change, a row out of order) is scored where it
// stands, as a stream would see it; their count is written to `log`.
struct DetectCommandOptions {
  std::string input;
  std::string output = "-";
  std::string detector = "conformal";
  std::vector<std::string> settings;  // key=value options of the conformal detector.
  std::string timestamp_column = "timestamp";
  std::string value_column = "value";
  bool kinds = false;
};
absl::Status RunDetectCommand(const DetectCommandOptions& options, std::istream& in,
                              std::ostream& out, std::ostream& log);

// tidegate generate --output usage.jsonl [--days 14] [--step-s 10] [--seed 42] [--start TS]
//                   [--truth anomalies.csv]
struct GenerateCommandOptions {
  std::string output;
  double days = 14;
  double step_s = 10;
  uint64_t seed = 42;
  std::string start;  // Empty: the log ends at `now`.
  std::string truth;  // Ground-truth CSV; empty = none.
};
absl::Status RunGenerateCommand(const GenerateCommandOptions& options, WallTime now,
                                std::ostream& out, std::ostream* truth_out, bool progress);

struct ForecastCommandOptions {
  std::string input;
  int horizon = 0;
  std::vector<int> seasons;  // Empty = calendar periods (day, week) from the step.
  std::string model = "auto";
  std::vector<double> levels = {95};
  std::string output = "-";  // "-" = stdout.
  std::string timestamp_column = "timestamp";
  std::string value_column = "value";
  int calibrate = 0;  // Conformal warm-up steps; 0 = model intervals.
  bool quiet = false;
  std::string lstm_model;  // Trained global LSTM for --model lstm or auto (tidegate train).
};
absl::Status RunForecastCommand(const ForecastCommandOptions& options, std::ostream& out,
                                std::ostream& err);

struct BacktestCommandOptions {
  std::string dataset = "m4-hourly";
  std::string data_dir;
  std::string model = "auto";
  std::string output;  // Per-series CSV; empty = none.
  size_t limit = 0;
  int horizon = 48;
  double level = 95;
  int calibrate = 0;
  bool progress = true;        // Draw the bar when stderr is a terminal.
  std::string split = "test";  // "test" or "validation" (forecast::M4ValidationSplit).
  std::string lstm_model;      // Trained global LSTM for --model lstm or auto (tidegate train).
};
absl::Status RunBacktestCommand(const BacktestCommandOptions& options, std::ostream& out,
                                std::ostream& err);

}  // namespace tidegate::cli

#endif  // TIDEGATE_CLI_COMMANDS_H_
