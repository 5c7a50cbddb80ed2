// `tidegate import FILE [--format jsonl|csv] [--data-dir DIR] [--step-s 10]`: aggregate a usage log
// (docs/formats/usage-logs.md) into the embedded history store. All or nothing: a malformed line
// rejects the whole file (file:line: reason on stderr, exit code 1) and stores nothing.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/progress.h"
#include "tidegate/common/status.h"
#include "tidegate/history/import.h"
#include "tidegate/history/sqlite_store.h"

namespace tidegate::cli {
namespace {

struct ImportCommandOptions {
  std::string file;
  std::string format;  // Empty: from the extension.
  std::string data_dir = "./tidegate-data";
  int step_s = 10;
};

absl::Status RunImportCommand(const ImportCommandOptions& options, std::ostream& out) {
  history::ImportOptions io;
  if (options.format.empty()) {
    TIDEGATE_ASSIGN_OR_RETURN(io.format, history::ImportFormatFromPath(options.file));
  } else {
    TIDEGATE_ASSIGN_OR_RETURN(io.format, history::ParseImportFormat(options.format));
  }
  if (options.step_s <= 0 || 86400 % options.step_s != 0) {
    return absl::InvalidArgumentError(
        fmt::format("--step-s must be > 0 and divide 86400, got {}", options.step_s));
  }
  io.step = std::chrono::seconds(options.step_s);
  TIDEGATE_ASSIGN_OR_RETURN(std::unique_ptr<history::SqliteStore> store,
                            history::SqliteStore::Open(options.data_dir));
  // The bar counts bytes; it is drawn only when stderr is a terminal.
  std::unique_ptr<ProgressBar> bar;
  io.progress = [&bar, &options](uint64_t done, uint64_t total) {
    if (total == 0) return;
    if (bar == nullptr) {
      bar = std::make_unique<ProgressBar>(fmt::format("import {}", options.file),
                                          static_cast<size_t>(total), stderr,
                                          isatty(fileno(stderr)) != 0);
    }
    bar->Update(static_cast<size_t>(std::min(done, total)));
  };
  absl::StatusOr<history::ImportSummary> summary =
      history::ImportUsageFile(options.file, *store, io);
  if (bar != nullptr) bar->Finish();
  if (!summary.ok()) return summary.status();
  out << fmt::format("imported {}: {} reports from {} lines -> {} samples in {}", options.file,
                     summary->reports, summary->lines, summary->samples, options.data_dir);
  if (summary->reports > 0) {
    out << fmt::format(" ({} .. {})", history::FormatWallTime(summary->first),
                       history::FormatWallTime(summary->last));
  }
  out << "\n";
  return absl::OkStatus();
}

}  // namespace

void RegisterImportCommand(CLI::App& app) {
  auto options = std::make_shared<ImportCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "import", "Import a usage log (JSON lines or CSV) into the history store; all or nothing");
  cmd->add_option("file", options->file, "Usage log (docs/formats/usage-logs.md)")->required();
  cmd->add_option("--format", options->format, "jsonl or csv (default: from the extension)")
      ->check(CLI::IsMember({"jsonl", "json", "ndjson", "csv"}));
  cmd->add_option("--data-dir", options->data_dir, "Data directory of the embedded store")
      ->capture_default_str();
  cmd->add_option("--step-s", options->step_s, "Aggregation step in seconds")
      ->capture_default_str();
  cmd->callback([options]() {
    absl::Status st = RunImportCommand(*options, std::cout);
    if (!st.ok()) {
      std::cerr << "tidegate import: " << std::string(st.message()) << "\n";
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace tidegate::cli
