// tidegate/sim/simulator.h — a trace-driven, discrete-event admission simulator.
//
// Replays per-class arrivals (with a cost per request) against one server with a capacity vector
// and a FIFO queue, with the real shaping library (shaping::TokenBucket, one bucket per class) in
// front, under one admission policy, entirely on simulated time. It measures what each policy does
// to each class and priority tier: admitted, rejected, timed out, goodput, latency percentiles,
// SLO-violation time and utilisation.
//
// Model (docs/design/simulator.md):
//   * A request of class c with cost w needs s = max(w / C[cost_resource], 1 / C[requests]) seconds
//     of the server (the bottleneck resource; unlimited resources do not count).
//   * The server is work-conserving FIFO: start = max(arrival, busy_until). A request whose wait
//     start - arrival exceeds timeout_s is abandoned (timed out, no service). Otherwise its latency
//     is wait + s. A background load (Trace::background, fraction b at the request's arrival)
//     slows service to s / (1 - b).
//   * Goodput: requests completed with latency <= slo_s, per second of the test period.
//   * SLO-violation time: seconds (1 s bins) of the test period in which a class had a request
//     time out or finish above slo_s.
//   * Metrics count only arrivals at or after warmup_s; the policy sees the whole trace in time
//     order (the oracle also sees the future).
// Policies (PolicyKind): static buckets at each class's training-period peak rate; AIMD on
// latency; a gradient concurrency limiter (Netflix concurrency-limits Gradient2 / Envoy adaptive
// concurrency); tidegate's planner fed by a forecaster from the model registry fitted on the
// warm-up and updated online (with a background load, the planner's capacity follows a forecast
// of the background too); and the perfect-foresight oracle (OracleAdmissions), an upper bound on
// goodput.
//
// Thread-safety: Simulate is a pure function of its arguments; run several in parallel freely.
#ifndef TIDEGATE_SIM_SIMULATOR_H_
#define TIDEGATE_SIM_SIMULATOR_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tidegate/plan/allocation.h"
#include "tidegate/shaping/token_bucket.h"

namespace tidegate::sim {

struct ClassInfo {
  std::string name;
  int tier = 0;
};

struct Arrival {
  double time_s = 0;  // Seconds from the trace's origin.
  int32_t cls = 0;    // Index into Trace::classes.
  double cost = 1;    // Units of SimConfig::cost_resource.
  // The part of `cost` not known at admission (an LLM request's generated tokens; the prompt's
  // are known): the caller declares cost - unknown_cost. 0 = the whole cost is known.
  double unknown_cost = 0;
};

// Background load: from time_s until the next step, `fraction` of the server is taken by work
// that no policy admits or sees (e.g. co-located batch jobs); before the first step, none.
struct BackgroundStep {
  double time_s = 0;
  double fraction = 0;  // In [0, 1).
};

// Arrivals sorted by time.
struct Trace {
  std::vector<ClassInfo> classes;
  std::vector<Arrival> arrivals;
  double end_s = 0;                        // Last arrival (or end of the last interval).
  std::vector<BackgroundStep> background;  // Sorted by time; empty = an idle server.
};

// Parses a trace CSV (the header picks the format; columns in any order, extra columns ignored):
//   per request:  time_s,class,tier,cost[,known_cost]    one row per request
//   per interval: time_s,class,tier,rate_per_s,cost[,interval_s][,known_cost]
//                 Poisson arrivals at rate_per_s over [time_s, time_s + interval_s) (interval_s
//                 default 1), each request costing `cost`; seeded by `seed`.
// known_cost (optional, default = cost) is the part of the cost known at admission, in
// [0, cost]; Arrival::unknown_cost = cost - known_cost.
// Errors: InvalidArgument "<name>:<line>: <reason>" (missing column, not a number, negative
// time/cost/rate/known_cost, known_cost above cost, tier outside [0, 4), a class given two
// tiers); NotFound for a missing file.
absl::StatusOr<Trace> ParseTrace(std::string_view text, std::string_view name, uint64_t seed);
absl::StatusOr<Trace> LoadTrace(const std::string& path, uint64_t seed);

// Parses a background-load CSV, header `time_s,fraction` (columns in any order, `#` comments),
// into steps sorted by time. Errors: InvalidArgument "<name>:<line>: <reason>" (missing column,
// not a number, negative time, fraction outside [0, 1), a time given twice); NotFound for a
// missing file.
absl::StatusOr<std::vector<BackgroundStep>> ParseBackground(std::string_view text,
                                                            std::string_view name);
absl::StatusOr<std::vector<BackgroundStep>> LoadBackground(const std::string& path);

// The background fraction in force at time t.
double BackgroundAt(const Trace& trace, double t);

// How the borrowing pool learns a request's cost at admission (SimConfig::borrow_cost).
enum class BorrowCost { kDeclared, kForesight, kClassMean };
std::string_view BorrowCostName(BorrowCost c);
// "declared", "foresight", "mean".
absl::StatusOr<BorrowCost> ParseBorrowCost(std::string_view name);

enum class PolicyKind { kStatic, kAimd, kGradient, kPredictive, kOracle };
std::string_view PolicyName(PolicyKind p);
// "static", "reactive" (= AIMD), "aimd", "gradient", "predictive", "oracle".
absl::StatusOr<PolicyKind> ParsePolicy(std::string_view name);

struct SimConfig {
  plan::ResourceVector capacity = plan::UnlimitedCapacity();     // Per second.
  int cost_resource = static_cast<int>(plan::Resource::kCpuMs);  // What a trace cost is in.
  double warmup_s = 0;          // Training period; metrics count from here.
  double timeout_s = 5;         // Queueing timeout.
  double slo_s = 1;             // Latency objective.
  double tick_s = 1;            // Control interval of the reactive policies.
  double plan_step_s = 10;      // Planner tick and forecast step.
  std::string model = "naive";  // Forecaster for kPredictive (forecast::MakeForecaster).
  double level = 95;            // Forecast interval level.
  double margin = 0.1;          // Planner safety margin.
  double reserve_fraction = 0.05;
  // Predictive: work-conserving borrowing (plan::BorrowConfig, shaping/borrowing.h) with this
  // backlog horizon in seconds; < 0 = the SLO; 0 = off (classes get only their planned rates).
  double borrow_horizon_s = -1;
  std::array<double, shaping::kMaxTiers> borrow_tier_reserve{0, 0.2, 0.3, 0.4};
  double borrow_cost_headroom = 5;
  // What the pool is charged at admission (settled to the actual cost at completion):
  //   kDeclared: the known part of the cost (cost - unknown_cost) plus the class's estimate of
  //     the unknown part (shaping::UnknownCostEstimator over its completed requests: mean +
  //     borrow_cost_spread standard deviations, weight borrow_cost_weight);
  //   kForesight: the whole trace cost (a bound: the caller knows the unknown part too);
  //   kClassMean: the class's mean cost over the training period.
  BorrowCost borrow_cost = BorrowCost::kDeclared;
  double borrow_cost_spread = 0;
  double borrow_cost_weight = 0.01;
  // Shift the pool by each completion's lag behind its predicted time (shaping::BacklogSync).
  bool borrow_sync = false;
  uint64_t seed = 1;

  // OK, or InvalidArgument naming the field.
  absl::Status Validate() const;
};

struct Metrics {
  std::string name;  // Class name, or "tier N".
  int tier = 0;
  int64_t offered = 0, admitted = 0, rejected = 0, timed_out = 0, completed = 0, good = 0;
  int64_t borrowed = 0;      // Admitted by borrowing (predictive with a pool), of `admitted`.
  double goodput_per_s = 0;  // good / test seconds.
  double p50_s = 0, p99_s = 0, p999_s = 0;  // Over completed requests.
  double slo_violation_s = 0;
};

// Per class and plan step, for plots.
struct SeriesPoint {
  double time_s = 0;
  double demand_per_s = 0, plan_per_s = 0, admitted_per_s = 0;
};

struct SimResult {
  std::string policy;
  std::vector<Metrics> classes;
  std::vector<Metrics> tiers;
  Metrics total;
  double utilisation = 0;  // Busy fraction of the server over the test period.
  double test_s = 0;
  std::vector<std::vector<SeriesPoint>> series;  // [class][step]
  int64_t plan_fallbacks = 0;                    // Planner fallbacks (predictive/oracle).
};

absl::StatusOr<SimResult> Simulate(const Trace& trace, const SimConfig& config, PolicyKind policy);

// Seconds of the server a request needs: max(cost / C[cost_resource], 1 / C[requests]) / (1 - b)
// with b the background fraction at its arrival (unlimited resources do not count).
double ServiceSeconds(const Trace& trace, const SimConfig& config, const Arrival& a);

// The perfect-foresight admission set (PolicyKind::kOracle), one flag per trace arrival: the
// largest set of test-period arrivals (time >= warmup_s) that the FIFO server completes within
// the SLO, i.e. C_j <= d_j = r_j + min(slo_s, timeout_s + s_j). Warm-up arrivals are refused (they
// are not measured and would only delay measured ones). Algorithm (Kise, Ibaraki & Mine, 1978,
// for release and due dates in the same order, which holds when slo_s <= timeout_s): add the
// arrivals in time order; when the newest would finish late, drop the admitted request whose
// removal leaves the earliest completion time (ties: the lowest-priority tier, then the latest).
// Its count of requests within the SLO is therefore at least that of any admission policy on the
// same server (each policy admits some subset; its timed-out and late requests only delay others).
std::vector<bool> OracleAdmissions(const Trace& trace, const SimConfig& config);

// A fixed-width table (one block per policy, rows per tier and class).
std::string FormatTable(const std::vector<SimResult>& results);
// JSON: {"policies": [{"policy": …, "utilisation": …, "tiers": [...], "classes": [...]}]}.
std::string ToJson(const std::vector<SimResult>& results);
// An SVG with one panel per class: demand, plan and admitted rate over time, per policy.
std::string ToSvg(const std::vector<SimResult>& results, const Trace& trace);

}  // namespace tidegate::sim

#endif  // TIDEGATE_SIM_SIMULATOR_H_
