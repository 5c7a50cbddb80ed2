// tidegate generate --output usage.jsonl [--days 14] [--step-s 10] [--seed 42] [--start TS]
//                   [--truth anomalies.csv]
// Writes the built-in demo workload (workload::DemoSpec: three tenants, eight classes over four
// tiers, daily and weekly cycles, bursts, a flash crowd and injected anomalies) as a usage log
// that `tidegate import` reads, and optionally the injected anomalies as ground truth.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/csv_series.h"
#include "cli/progress.h"
#include "tidegate/common/status.h"
#include "tidegate/workload/generator.h"
#include "tidegate/workload/usage_jsonl.h"

namespace tidegate::cli {

absl::Status RunGenerateCommand(const GenerateCommandOptions& o, WallTime now, std::ostream& out,
                                std::ostream* truth_out, bool progress) {
  if (!(o.days > 0 && o.days <= 3660)) {
    return absl::InvalidArgumentError(fmt::format("--days = {}: must be in (0, 3660]", o.days));
  }
  if (!(o.step_s >= 0.001 && o.step_s <= 86400)) {
    return absl::InvalidArgumentError(
        fmt::format("--step-s = {}: must be in [0.001, 86400]", o.step_s));
  }
  const Duration length = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double, std::ratio<86400>>(o.days));
  const Duration step =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.step_s));
  WallTime start;
  if (o.start.empty()) {
    // Default: the history ends now, aligned to the step, so a daemon can continue it live.
    start = now - length;
    start -= start.time_since_epoch() % step;
  } else {
    const std::optional<WallTime> parsed = ParseTimestamp(o.start);
    if (!parsed) {
      return absl::InvalidArgumentError(
          fmt::format("--start = \"{}\": expected ISO 8601 or Unix seconds", o.start));
    }
    start = *parsed;
  }
  workload::WorkloadSpec spec = workload::DemoSpec(start, length, o.seed);
  spec.step = step;
  const size_t steps = static_cast<size_t>(length / step);
  ProgressBar bar("generate", steps, stderr, progress && isatty(fileno(stderr)));
  size_t done = 0;
  TIDEGATE_ASSIGN_OR_RETURN(
      std::vector<workload::GroundTruth> truth,
      workload::Generate(spec, [&](const std::vector<history::UsageReport>& batch) {
        for (const history::UsageReport& r : batch) out << workload::FormatUsageJsonLine(r) << '\n';
        bar.Update(++done);
        return out ? absl::OkStatus() : absl::DataLossError("error writing the usage log");
      }));
  bar.Finish();
  if (truth_out != nullptr) {
    *truth_out << "class,kind,begin,end\n";
    for (const workload::GroundTruth& t : truth) {
      const workload::ClassSpec& c = spec.classes[t.class_index];
      *truth_out << c.tenant << '/' << c.descriptors[0].key << '=' << c.descriptors[0].value << ','
                 << workload::EventKindName(t.kind) << ',' << FormatTimestamp(t.begin) << ','
                 << FormatTimestamp(t.end) << '\n';
    }
  }
  return absl::OkStatus();
}

void RegisterGenerateCommand(CLI::App& app) {
  auto options = std::make_shared<GenerateCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "generate", "Write a realistic multi-class usage log (for `tidegate import`)");
  cmd->add_option("--output", options->output, "Usage log to write (JSON lines)")->required();
  cmd->add_option("--days", options->days, "Length of the history in days (default 14)");
  cmd->add_option("--step-s", options->step_s, "Seconds between reports per class (default 10)");
  cmd->add_option("--seed", options->seed, "Random seed (default 42)");
  cmd->add_option("--start", options->start, "Start time (default: so that the log ends now)");
  cmd->add_option("--truth", options->truth, "Also write the injected anomalies to this CSV");
  cmd->callback([options] {
    std::ofstream out(options->output);
    if (!out) {
      std::cerr << "tidegate generate: cannot write " << options->output << "\n";
      throw CLI::RuntimeError(1);
    }
    std::ofstream truth;
    if (!options->truth.empty()) {
      truth.open(options->truth);
      if (!truth) {
        std::cerr << "tidegate generate: cannot write " << options->truth << "\n";
        throw CLI::RuntimeError(1);
      }
    }
    const absl::Status s = RunGenerateCommand(*options, RealClock().WallNow(), out,
                                              options->truth.empty() ? nullptr : &truth, true);
    if (!s.ok()) {
      std::cerr << "tidegate generate: " << s.message() << "\n";
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace tidegate::cli
