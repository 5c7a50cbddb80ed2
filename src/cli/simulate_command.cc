// `tidegate simulate`: replay a trace against a simulated server under admission policies.
//
//   tidegate simulate --trace T.csv --capacity cpu_ms=1000,requests=500
//                     [--policy static|reactive|aimd|gradient|predictive|oracle|all ...]
//                     [--cost-resource cpu_ms] [--warmup S] [--timeout S] [--slo S]
//                     [--model naive] [--level 95] [--margin 0.1] [--plan-step S] [--seed N]
//                     [--background B.csv] [--json out.json] [--svg plot.svg]
//
// Prints the per-tier and per-class results as a table, then the same as JSON (to --json FILE
// instead when given). Trace and background formats and errors: tidegate/sim/simulator.h.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <fstream>
#include <iostream>
#include <memory>

#include "tidegate/common/status.h"
#include "tidegate/sim/simulator.h"

namespace tidegate::cli {

// Declared in cli/commands.h; repeated here so that bench/closed-loop's standalone driver builds
// with this file alone.
void RegisterSimulateCommand(CLI::App& app);

namespace {

struct SimulateCommandOptions {
  std::string trace;
  std::string background;
  std::string capacity;
  std::vector<std::string> policies = {"all"};
  std::string cost_resource = "cpu_ms";
  std::vector<double> borrow_reserve;  // Empty = SimConfig's default.
  std::string borrow_cost = "declared";
  sim::SimConfig config;
  std::string json;
  std::string svg;
};

absl::StatusOr<int> ResourceIndex(std::string_view name, std::string_view flag) {
  for (int r = 0; r < plan::kNumResources; ++r) {
    if (plan::ResourceName(r) == name) return r;
  }
  return absl::InvalidArgumentError(
      fmt::format("{}: unknown resource '{}' (known: cpu_ms, mem, io, net, requests)", flag, name));
}

// "cpu_ms=1000,requests=500" (a bare number means requests/s).
absl::StatusOr<plan::ResourceVector> ParseCapacity(std::string_view text) {
  plan::ResourceVector v = plan::UnlimitedCapacity();
  if (text.empty()) return absl::InvalidArgumentError("--capacity is required");
  size_t b = 0;
  while (b <= text.size()) {
    size_t e = text.find(',', b);
    if (e == std::string_view::npos) e = text.size();
    std::string_view item = text.substr(b, e - b);
    const size_t eq = item.find('=');
    std::string_view name = eq == std::string_view::npos ? "requests" : item.substr(0, eq);
    std::string_view number = eq == std::string_view::npos ? item : item.substr(eq + 1);
    TIDEGATE_ASSIGN_OR_RETURN(int r, ResourceIndex(name, "--capacity"));
    double x = 0;
    auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), x);
    if (ec != std::errc() || p != number.data() + number.size() || !(x > 0)) {
      return absl::InvalidArgumentError(
          fmt::format("--capacity: '{}' is not a positive number (in '{}')", number, item));
    }
    v[r] = x;
    b = e + 1;
  }
  return v;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  if (!f) return absl::PermissionDeniedError(fmt::format("cannot write '{}'", path));
  f << text;
  if (!f) return absl::DataLossError(fmt::format("error writing '{}'", path));
  return absl::OkStatus();
}

absl::Status RunSimulateCommand(SimulateCommandOptions options, std::ostream& out) {
  TIDEGATE_ASSIGN_OR_RETURN(options.config.capacity, ParseCapacity(options.capacity));
  TIDEGATE_ASSIGN_OR_RETURN(options.config.cost_resource,
                            ResourceIndex(options.cost_resource, "--cost-resource"));
  if (!options.borrow_reserve.empty()) {
    if (options.borrow_reserve.size() != options.config.borrow_tier_reserve.size()) {
      return absl::InvalidArgumentError(
          fmt::format("--borrow-reserve: {} values given, one per tier ({}) needed",
                      options.borrow_reserve.size(), options.config.borrow_tier_reserve.size()));
    }
    std::copy(options.borrow_reserve.begin(), options.borrow_reserve.end(),
              options.config.borrow_tier_reserve.begin());
  }
  TIDEGATE_ASSIGN_OR_RETURN(options.config.borrow_cost, sim::ParseBorrowCost(options.borrow_cost));
  std::vector<sim::PolicyKind> policies;
  for (const std::string& p : options.policies) {
    if (p == "all") {
      policies = {sim::PolicyKind::kStatic, sim::PolicyKind::kAimd, sim::PolicyKind::kGradient,
                  sim::PolicyKind::kPredictive, sim::PolicyKind::kOracle};
      break;
    }
    TIDEGATE_ASSIGN_OR_RETURN(sim::PolicyKind k, sim::ParsePolicy(p));
    policies.push_back(k);
  }
  TIDEGATE_ASSIGN_OR_RETURN(sim::Trace trace, sim::LoadTrace(options.trace, options.config.seed));
  if (!options.background.empty()) {
    TIDEGATE_ASSIGN_OR_RETURN(trace.background, sim::LoadBackground(options.background));
  }
  std::vector<sim::SimResult> results;
  for (sim::PolicyKind p : policies) {
    TIDEGATE_ASSIGN_OR_RETURN(sim::SimResult r, sim::Simulate(trace, options.config, p));
    results.push_back(std::move(r));
  }
  out << sim::FormatTable(results);
  const std::string json = sim::ToJson(results);
  if (options.json.empty()) {
    out << json;
  } else {
    TIDEGATE_RETURN_IF_ERROR(WriteFile(options.json, json));
  }
  if (!options.svg.empty()) {
    TIDEGATE_RETURN_IF_ERROR(WriteFile(options.svg, sim::ToSvg(results, trace)));
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterSimulateCommand(CLI::App& app) {
  auto o = std::make_shared<SimulateCommandOptions>();
  CLI::App* cmd =
      app.add_subcommand("simulate", "Replay a trace against a simulated server and policies");
  cmd->add_option("--trace", o->trace,
                  "Trace CSV: time_s,class,tier,cost (per request) or "
                  "time_s,class,tier,rate_per_s,cost[,interval_s] (Poisson per interval)")
      ->required();
  cmd->add_option("--background", o->background,
                  "Background load CSV time_s,fraction: the share of the server taken by work "
                  "outside admission, from time_s on");
  cmd->add_option("--capacity", o->capacity,
                  "Server capacity per second, e.g. cpu_ms=1000,requests=500")
      ->required();
  cmd->add_option("--policy", o->policies,
                  "static|reactive|aimd|gradient|predictive|oracle|all (repeatable)")
      ->capture_default_str();
  cmd->add_option("--cost-resource", o->cost_resource, "Resource the trace's cost is in")
      ->capture_default_str();
  cmd->add_option("--warmup", o->config.warmup_s, "Training period in seconds")
      ->capture_default_str();
  cmd->add_option("--timeout", o->config.timeout_s, "Queueing timeout in seconds")
      ->capture_default_str();
  cmd->add_option("--slo", o->config.slo_s, "Latency objective in seconds")->capture_default_str();
  cmd->add_option("--tick", o->config.tick_s, "Reactive controllers' interval in seconds")
      ->capture_default_str();
  cmd->add_option("--plan-step", o->config.plan_step_s, "Planner tick and forecast step (s)")
      ->capture_default_str();
  cmd->add_option("--model", o->config.model, "Forecasting model for the predictive policy")
      ->capture_default_str();
  cmd->add_option("--level", o->config.level, "Forecast interval level (%)")->capture_default_str();
  cmd->add_option("--margin", o->config.margin, "Planner safety margin")->capture_default_str();
  cmd->add_option("--reserve", o->config.reserve_fraction, "Planner reserve fraction")
      ->capture_default_str();
  cmd->add_option("--borrow-horizon", o->config.borrow_horizon_s,
                  "Predictive: backlog (s of capacity) up to which a class refused by its own "
                  "bucket may borrow unused capacity; tier t stops at horizon * (1 - reserve[t]); "
                  "< 0 = the SLO, 0 = no borrowing")
      ->capture_default_str();
  cmd->add_option("--borrow-reserve", o->borrow_reserve,
                  "Predictive: share of the borrowing horizon tiers 0, 1, 2, 3 may not fill "
                  "(four values; default 0 0.2 0.3 0.4)")
      ->expected(4);
  cmd->add_option("--borrow-headroom", o->config.borrow_cost_headroom,
                  "Predictive: a borrower needs (1 + this) times its cost free below its tier's "
                  "limit")
      ->capture_default_str();
  cmd->add_option("--borrow-cost", o->borrow_cost,
                  "Predictive: what the pool is charged at admission, settled at completion: "
                  "declared (the trace's known_cost plus the class's learned estimate of the "
                  "rest), foresight (the whole cost), mean (the class's training mean cost); "
                  "the last one given counts")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->capture_default_str();
  cmd->add_option("--borrow-cost-spread", o->config.borrow_cost_spread,
                  "Predictive, declared: estimate of the unknown part = its mean + this many "
                  "standard deviations over the class's completed requests")
      ->capture_default_str();
  cmd->add_option("--borrow-cost-weight", o->config.borrow_cost_weight,
                  "Predictive, declared: weight of the newest completion in that mean (running "
                  "mean over the first 1/weight)")
      ->capture_default_str();
  cmd->add_option("--borrow-sync", o->config.borrow_sync,
                  "Predictive: keep the pool's backlog in step with completion times")
      ->capture_default_str();
  cmd->add_option("--seed", o->config.seed, "Seed for Poisson arrivals")->capture_default_str();
  cmd->add_option("--json", o->json, "Write the JSON here instead of stdout");
  cmd->add_option("--svg", o->svg, "Write a plot of demand, plan and admitted rate (SVG)");
  cmd->callback([o]() {
    absl::Status st = RunSimulateCommand(*o, std::cout);
    if (!st.ok()) {
      std::cerr << "tidegate simulate: " << std::string(st.message()) << "\n";
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace tidegate::cli
