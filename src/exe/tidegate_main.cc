// `tidegate`: the command-line tool. A thin main: every command lives in tidegate::cli.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"tidegate — predictive request shaping: forecasts, backtests and tools"};
  app.require_subcommand(1);
  tidegate::cli::RegisterForecastCommand(app);
  tidegate::cli::RegisterBacktestCommand(app);
  tidegate::cli::RegisterImportCommand(app);
  tidegate::cli::RegisterSimulateCommand(app);
  tidegate::cli::RegisterDetectCommand(app);
  tidegate::cli::RegisterGenerateCommand(app);
  tidegate::cli::RegisterHashTokenCommand(app);
  tidegate::cli::RegisterTrainCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {  // A library we call threw: report, never crash.
    std::cerr << "tidegate: internal error: " << e.what() << "\n";
    return 3;
  }
  return 0;
}
