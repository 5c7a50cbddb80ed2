// tidegate/plan/planner.h — turns demand forecasts into token-bucket settings, every tick.
//
// The planner is a pure function of its inputs: the validated configuration (classes, tenants,
// capacity, reserve), per class a demand forecast (or none), a learned per-request cost vector and
// a feedback state (feedback.h), and `now`. For every class it returns a refill rate, a bucket
// size, a validity deadline and a structured explanation of how they were reached. Nothing here
// reads a clock, touches a bucket or logs; the caller applies the plan (ToBucketConfig +
// shaping::TokenBucket::Replan) and feeds observations back with UpdateFeedback.
//
// Algorithm (docs/design/planner.md has every formula):
//   1. Window statistic. Over the lead-time shifted window [now, now + window + lead_time), the
//      forecast steps are bias-corrected, v' = max(0, v + bias_gain * bias), and reduced to one
//      rate F: by default the maximum of the interval's upper bound (Statistic::kUpper,
//      Aggregation::kMax), so a rise is planned lead_time before it arrives; the seed's rule is
//      Statistic::kMean with Aggregation::kAverage (time-weighted mean).
//   2. Target T = F * (1 + margin); in surge up T = max(T, surge_rate), in surge down
//      T = min(T, surge_rate * (1 + margin)).
//   3. Demand D = min(T, ceiling, cap), cap = cap_fraction * min_r capacity[r] / cost[r].
//      (With margin 0.2, cap_fraction 0.8, one step and the mean, D is exactly the seed's
//      calculate_refill_rate(predicted, window, capacity) = min(predicted / window * 1.2,
//      0.8 * capacity).)
//   4. Allocation (allocation.h) of D against capacity * (1 - reserve_fraction) and the tenant
//      quotas: floors first, strict tiers, weighted dominant-resource fairness inside a tier.
//      The refill rate is the allocation.
//   5. Size = clamp(base_burst * (1 + spread_gain * S), min_burst, max_burst) with the relative
//      spread S = sum (upper - lower) dt / sum mean dt over the window; in the marginal tier (the
//      highest tier with a class frozen by capacity) a class given rate < F gets at least
//      clamp((F - rate) * window, min_burst, max_burst).
//   6. Borrowing (BorrowConfig, when enabled): the plan also carries a pool bucket at the borrow
//      resource's full capacity holding `horizon` of it, through which classes borrow unused
//      capacity request by request (shaping/borrowing.h).
//   Fallback: a class without a usable forecast (absent, malformed, or not covering the window)
//   asks for its static rate and gets its static size; the tick's stats count it and its
//   explanation says why.
//
// Invariants: the committed usage sum_i rate_i * cost_i[r] never exceeds
// capacity[r] * (1 - reserve_fraction) nor any tenant quota (up to 1e-9 relative rounding);
// 0 <= rate_i <= D_i; rate_i >= min(floor_i, D_i) when the floors fit (Validate() refuses
// configurations whose floors do not fit with the configured costs).
//
// Thread-safety: a Planner is immutable after Create() except for its cumulative stats; MakePlan
// must not run concurrently on the same Planner. Distinct Planners are independent.
#ifndef TIDEGATE_PLAN_PLANNER_H_
#define TIDEGATE_PLAN_PLANNER_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"
#include "tidegate/plan/allocation.h"
#include "tidegate/plan/feedback.h"
#include "tidegate/shaping/token_bucket.h"

namespace tidegate::plan {

inline constexpr int kMaxTiers = shaping::kMaxTiers;

// Which forecast value the target follows.
enum class Statistic : uint8_t { kMean, kUpper };
// How the per-step values over the window become one rate.
enum class Aggregation : uint8_t { kMax, kAverage };

std::string_view StatisticName(Statistic s);
std::string_view AggregationName(Aggregation a);

// One request class. Rates are requests per second; sizes are tokens (requests).
struct ClassConfig {
  std::string name;    // Unique (e.g. a shaping::ClassKey's canonical form).
  std::string tenant;  // Must name a TenantConfig; empty = no tenant.
  int tier = 0;        // 0 = critical … kMaxTiers - 1 = best effort.
  double weight = 1;   // Share inside the tier, > 0.
  double floor_per_s = 0;
  double ceiling_per_s = kUnlimited;
  double static_rate_per_s = 1;  // Fallback limit when there is no forecast, > 0.
  double static_size = 1;        // Fallback bucket size, > 0.
  double margin = 0.2;           // Safety margin, >= 0.
  Statistic statistic = Statistic::kUpper;
  Aggregation aggregation = Aggregation::kMax;
  double cap_fraction = 0.8;  // No class may plan more than this share of capacity, (0, 1].
  double base_burst = 10;     // Bucket size at zero spread, > 0.
  double min_burst = 1;       // 0 < min_burst <= max_burst.
  double max_burst = 1e6;
  double spread_gain = 1;  // d(size/base)/d(spread), >= 0.
  Duration lead_time{0};   // >= 0; a rise is planned this long before it arrives.
  // Per-request cost used when no learned cost is supplied, and for validating floors.
  ResourceVector cost = RequestsOnly();
};

// A node of the tenant tree.
struct TenantConfig {
  std::string name;
  std::string parent;                          // Empty = root.
  ResourceVector quota = UnlimitedCapacity();  // Per second; kUnlimited = no quota.
};

// Work-conserving borrowing (docs/design/planner.md §9, shaping/borrowing.h): a pool bucket
// shared by all classes, in units of one resource, refilled at that resource's full capacity and
// holding `horizon` of it, so that its balance is the server's estimated backlog. A request its
// class bucket refuses may borrow from the pool while that backlog plus (1 + cost_headroom) times
// its cost stays within horizon · (1 − tier_reserve[tier]); a request its class bucket admits is
// refused only if the backlog with it would pass the whole horizon. The plan carries the pool's
// settings (Plan::pool); the caller owns the pool bucket and calls shaping::AcquireOrBorrow.
struct BorrowConfig {
  bool enabled = false;
  int resource = static_cast<int>(Resource::kCpuMs);  // Must have a finite capacity.
  // Backlog the pool admits up to, > 0: the latency objective (a request queued behind more than
  // that cannot meet it).
  Duration horizon = std::chrono::seconds(1);
  // Share of the horizon tier t may not fill: [0] = 0, non-decreasing, each in [0, 1).
  std::array<double, kMaxTiers> tier_reserve{0, 0.2, 0.3, 0.4};
  // A borrower needs (1 + cost_headroom) × its cost free below its tier's limit, >= 0: the
  // larger a request, the emptier the queue it may borrow from.
  double cost_headroom = 5;
};

struct PlannerConfig {
  ResourceVector capacity = UnlimitedCapacity();  // Per second, per resource, > 0.
  double reserve_fraction = 0.1;                  // Kept free for unexpected spikes, in [0, 1).
  Duration window = std::chrono::seconds(60);     // Planning window, > 0.
  Duration validity{0};                           // How long a plan is valid; 0 = the window.
  std::vector<TenantConfig> tenants;
  std::vector<ClassConfig> classes;
  FeedbackConfig feedback;
  BorrowConfig borrow;  // Off by default.

  // OK, or InvalidArgument naming the fields: a negative margin ("classes[2].margin = -0.1: must
  // be >= 0"), a class in two tiers, a duplicate name, an unknown tenant, a cycle in the tenant
  // tree, floors (with the configured costs) summing above capacity * (1 - reserve) or a tenant
  // quota, and every out-of-range number.
  absl::Status Validate() const;
};

// A class's demand forecast in requests/s. Step i covers [origin + i*step, origin + (i+1)*step).
struct DemandForecast {
  MonoTime origin{};
  Duration step = std::chrono::seconds(10);
  double level = 95;                       // Interval level of lower/upper, percent.
  std::vector<double> mean, lower, upper;  // Same length, finite, 0 <= lower <= mean <= upper.
};

// Per-tick input of one class (index-aligned with PlannerConfig::classes).
struct ClassInput {
  std::optional<DemandForecast> forecast;             // Absent = fallback.
  std::optional<ResourceVector> cost = std::nullopt;  // Learned per-request cost; absent =
                                                      // configured.
};

enum class Reason : uint8_t {
  kForecast,                 // Planned from the forecast.
  kFallbackNoForecast,       // "fallback: no forecast"
  kFallbackInvalidForecast,  // "fallback: invalid forecast" (detail says what)
  kFallbackStaleForecast,    // "fallback: forecast does not cover the window"
};
std::string_view ReasonText(Reason r);

// Everything a plan did for one class.
struct Explanation {
  Reason reason = Reason::kForecast;
  std::string detail;  // Only for kFallbackInvalidForecast.
  Statistic statistic = Statistic::kUpper;
  Aggregation aggregation = Aggregation::kMax;
  double level = 0;                  // Interval level of the forecast used.
  double forecast_per_s = 0;         // F, after bias correction (0 in fallback).
  double bias_correction_per_s = 0;  // Added to every forecast value.
  double margin = 0;
  SurgeMode surge = SurgeMode::kNone;
  double surge_rate_per_s = 0;
  double target_per_s = 0;        // T.
  double cap_per_s = kUnlimited;  // cap_fraction * capacity in this class's requests.
  double ceiling_per_s = kUnlimited;
  double demand_per_s = 0;  // D = min(T, cap, ceiling), asked of the allocator.
  double spread = 0;        // S.
  // (F - rate) * window when the marginal-tier shortfall rule raised the size above the spread
  // rule's (docs/design/planner.md §5); 0 otherwise.
  double shortfall_size = 0;
  int tier = 0;
  double weight = 1;
  double floor_per_s = 0;
  bool learned_cost = false;  // The input's cost vector was used.
  Allocation allocation;      // Share, floor granted, what limited it.
};

struct ClassPlan {
  double rate_per_s = 0;
  double size = 0;
  MonoTime valid_until{};
  Explanation why;
};

// Counters of one tick.
struct TickStats {
  int64_t classes = 0;
  int64_t fallbacks = 0;      // Classes on their static limit.
  int64_t invalid_costs = 0;  // Learned costs refused (configured cost used instead).
  int64_t surging_up = 0;
  int64_t surging_down = 0;
  int64_t limited = 0;  // Classes given less than their demand.
  bool floors_feasible = true;
  ResourceVector committed{};  // sum_i rate_i * cost_i[r].
};

struct Plan {
  MonoTime made_at{};
  std::vector<ClassPlan> classes;  // Index-aligned with PlannerConfig::classes.
  TickStats stats;
  // The borrowing pool's settings (shaping::PoolConfig of the borrow resource's capacity and the
  // horizon) when PlannerConfig::borrow is enabled; costs charged to it are in that resource.
  std::optional<shaping::BucketConfig> pool;
};

// Cumulative counters over the Planner's life.
struct PlannerStats {
  int64_t ticks = 0;
  int64_t fallbacks = 0;
  int64_t invalid_costs = 0;
  int64_t surge_class_ticks = 0;
  int64_t limited_class_ticks = 0;
};

class Planner {
 public:
  // Validates `config` (PlannerConfig::Validate) and indexes it.
  static absl::StatusOr<Planner> Create(PlannerConfig config);

  // Plans every class. `inputs` must have one entry per class; `feedback` one per class or be
  // empty (no history). InvalidArgument on a size mismatch; a bad forecast or cost of one class
  // never fails the tick (that class falls back, and it is counted).
  absl::StatusOr<Plan> MakePlan(std::span<const ClassInput> inputs,
                                std::span<const FeedbackState> feedback, MonoTime now);

  const PlannerConfig& config() const { return config_; }
  const PlannerStats& stats() const { return stats_; }
  // Index of the class named `name`, or -1.
  int ClassIndex(std::string_view name) const;

  // One line for people: "checkout (tier 0): 120/s, size 14 — upper(95%) max 100/s +20% …".
  std::string Describe(int class_index, const ClassPlan& plan) const;

 private:
  explicit Planner(PlannerConfig config);

  PlannerConfig config_;
  std::vector<int> class_tenant_;   // Index into config_.tenants or -1.
  std::vector<int> tenant_parent_;  // Index or -1.
  std::unordered_map<std::string, int> class_index_;
  PlannerStats stats_;
};

// The shaping bucket settings for a plan: rate at least shaping::kMinRatePerS, size at least one
// request's worth (1e-3 tokens) and at most rate * shaping::kMaxBurstTime.
shaping::BucketConfig ToBucketConfig(const ClassPlan& plan);

}  // namespace tidegate::plan

#endif  // TIDEGATE_PLAN_PLANNER_H_
