// cli/commands.h — the `tidegate` subcommands. Each command lives in its own file and registers
// itself on the app with one Register*Command call from src/exe/tidegate_main.cc.
//
// Contracts (../shared/DESIGN.md, "Command-line contracts"; keep them stable):
//   tidegate forecast --input F.csv --horizon H [--season M ...] [--model NAME] [--level 95 ...]
//                     [--output out.csv] [--timestamp-column C] [--value-column C]
//                     [--calibrate W] [--quiet]
//     Output CSV: with one level `step,timestamp,mean,lower,upper`; with several levels
//     `step,timestamp,mean,lower_<L>,upper_<L>,…` in the order given. The fit summary goes to
//     stderr (unless --quiet). Errors name the file and line; the exit code is 1 (2 for usage).
//   tidegate backtest --dataset m4-hourly --data DIR [--model NAME] [--output per-series.csv]
//                     [--limit N] [--horizon 48] [--level 95] [--calibrate W]
//     Prints sMAPE, MASE, OWA, MSIS, coverage and time for the model and for Naive2, with a
//     progress bar on stderr when it is a terminal; writes per-series rows to --output.
//
// The Run* functions are the commands without CLI11, for tests: they write to the given streams
// and return the error the command would print.
//
// Thread-safety: commands run on the calling thread.
#ifndef TIDEGATE_CLI_COMMANDS_H_
#define TIDEGATE_CLI_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace tidegate::cli {

void RegisterForecastCommand(CLI::App& app);
void RegisterBacktestCommand(CLI::App& app);
void RegisterImportCommand(CLI::App& app);  // cli/import_command.cc (collect engineer).

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
  bool progress = true;  // Draw the bar when stderr is a terminal.
};
absl::Status RunBacktestCommand(const BacktestCommandOptions& options, std::ostream& out,
                                std::ostream& err);

}  // namespace tidegate::cli

#endif  // TIDEGATE_CLI_COMMANDS_H_
