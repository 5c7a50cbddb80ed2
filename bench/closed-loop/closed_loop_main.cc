// `closed_loop_sim simulate …`: the `tidegate simulate` command (src/cli/simulate_command.cc)
// without the rest of the CLI, so the closed-loop experiments build only what they need.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

namespace tidegate::cli {
void RegisterSimulateCommand(CLI::App& app);  // src/cli/simulate_command.cc
}  // namespace tidegate::cli

int main(int argc, char** argv) {
  CLI::App app{"closed_loop_sim — tidegate simulate, standalone"};
  app.require_subcommand(1);
  tidegate::cli::RegisterSimulateCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "closed_loop_sim: internal error: " << e.what() << "\n";
    return 3;
  }
  return 0;
}
