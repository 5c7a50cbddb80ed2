#include "tidegate/plan/planner.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "fmt/format.h"
#include "tidegate/common/status.h"
#include "tidegate/shaping/borrowing.h"

namespace tidegate::plan {

namespace {

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

absl::Status Bad(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

bool Finite(double x) { return std::isfinite(x); }

// A capacity or quota entry: > 0 (kUnlimited allowed).
absl::Status CheckCapacity(std::string_view field, const ResourceVector& v) {
  for (int r = 0; r < kNumResources; ++r) {
    if (!(v[r] > 0) || std::isnan(v[r])) {
      return Bad(
          fmt::format("{}.{} = {}: must be > 0 (inf = unlimited)", field, ResourceName(r), v[r]));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCost(std::string_view field, const ResourceVector& v) {
  bool any = false;
  for (int r = 0; r < kNumResources; ++r) {
    if (!Finite(v[r]) || v[r] < 0) {
      return Bad(fmt::format("{}.{} = {}: must be finite and >= 0", field, ResourceName(r), v[r]));
    }
    any = any || v[r] > 0;
  }
  if (!any) return Bad(fmt::format("{}: every entry is 0; a request must cost something", field));
  return absl::OkStatus();
}

absl::Status CheckClass(const ClassConfig& c, size_t i) {
  const std::string f = fmt::format("classes[{}] '{}'", i, c.name);
  if (c.name.empty()) return Bad(fmt::format("classes[{}].name: must not be empty", i));
  if (c.tier < 0 || c.tier >= kMaxTiers) {
    return Bad(fmt::format("{}.tier = {}: must be in [0, {})", f, c.tier, kMaxTiers));
  }
  if (!(c.weight > 0) || !Finite(c.weight)) {
    return Bad(fmt::format("{}.weight = {}: must be finite and > 0", f, c.weight));
  }
  if (!(c.floor_per_s >= 0) || !Finite(c.floor_per_s)) {
    return Bad(fmt::format("{}.floor_per_s = {}: must be finite and >= 0", f, c.floor_per_s));
  }
  if (!(c.ceiling_per_s >= c.floor_per_s)) {
    return Bad(fmt::format("{}.ceiling_per_s = {} is below floor_per_s = {}", f, c.ceiling_per_s,
                           c.floor_per_s));
  }
  if (!(c.static_rate_per_s > 0) || !Finite(c.static_rate_per_s)) {
    return Bad(
        fmt::format("{}.static_rate_per_s = {}: must be finite and > 0", f, c.static_rate_per_s));
  }
  if (!(c.static_size > 0) || !Finite(c.static_size)) {
    return Bad(fmt::format("{}.static_size = {}: must be finite and > 0", f, c.static_size));
  }
  if (!(c.margin >= 0) || !Finite(c.margin)) {
    return Bad(fmt::format("{}.margin = {}: must be finite and >= 0", f, c.margin));
  }
  if (!(c.cap_fraction > 0 && c.cap_fraction <= 1)) {
    return Bad(fmt::format("{}.cap_fraction = {}: must be in (0, 1]", f, c.cap_fraction));
  }
  if (!(c.base_burst > 0) || !Finite(c.base_burst)) {
    return Bad(fmt::format("{}.base_burst = {}: must be finite and > 0", f, c.base_burst));
  }
  if (!(c.min_burst > 0) || !Finite(c.min_burst) || !(c.max_burst >= c.min_burst) ||
      !Finite(c.max_burst)) {
    return Bad(fmt::format("{}.min_burst = {}, max_burst = {}: need 0 < min_burst <= max_burst", f,
                           c.min_burst, c.max_burst));
  }
  if (!(c.spread_gain >= 0) || !Finite(c.spread_gain)) {
    return Bad(fmt::format("{}.spread_gain = {}: must be finite and >= 0", f, c.spread_gain));
  }
  if (c.lead_time < Duration::zero()) {
    return Bad(fmt::format("{}.lead_time = {} s: must be >= 0", f, Seconds(c.lead_time)));
  }
  return CheckCost(f + ".cost", c.cost);
}

// Index of every tenant's parent, refusing unknown parents and cycles.
absl::StatusOr<std::vector<int>> TenantParents(const std::vector<TenantConfig>& tenants) {
  std::unordered_map<std::string, int> index;
  for (size_t t = 0; t < tenants.size(); ++t) {
    if (tenants[t].name.empty()) return Bad(fmt::format("tenants[{}].name: must not be empty", t));
    auto [it, fresh] = index.emplace(tenants[t].name, static_cast<int>(t));
    if (!fresh) {
      return Bad(fmt::format("tenants[{}].name = '{}': duplicate of tenants[{}]", t,
                             tenants[t].name, it->second));
    }
    TIDEGATE_RETURN_IF_ERROR(CheckCapacity(fmt::format("tenants[{}].quota", t), tenants[t].quota));
  }
  std::vector<int> parent(tenants.size(), -1);
  for (size_t t = 0; t < tenants.size(); ++t) {
    if (tenants[t].parent.empty()) continue;
    auto it = index.find(tenants[t].parent);
    if (it == index.end()) {
      return Bad(fmt::format("tenants[{}].parent = '{}': unknown tenant", t, tenants[t].parent));
    }
    parent[t] = it->second;
  }
  for (size_t t = 0; t < tenants.size(); ++t) {
    std::string chain = tenants[t].name;
    int cur = parent[t];
    for (size_t hops = 0; cur >= 0; cur = parent[cur], ++hops) {
      chain += " -> " + tenants[cur].name;
      if (cur == static_cast<int>(t) || hops > tenants.size()) {
        return Bad(fmt::format("tenants[{}].parent: the tenant tree has a cycle: {}", t, chain));
      }
    }
  }
  return parent;
}

}  // namespace

std::string_view StatisticName(Statistic s) { return s == Statistic::kMean ? "mean" : "upper"; }
std::string_view AggregationName(Aggregation a) {
  return a == Aggregation::kMax ? "max" : "average";
}

std::string_view ReasonText(Reason r) {
  switch (r) {
    case Reason::kForecast:
      return "forecast";
    case Reason::kFallbackNoForecast:
      return "fallback: no forecast";
    case Reason::kFallbackInvalidForecast:
      return "fallback: invalid forecast";
    case Reason::kFallbackStaleForecast:
      return "fallback: forecast does not cover the window";
  }
  return "?";
}

absl::Status PlannerConfig::Validate() const {
  TIDEGATE_RETURN_IF_ERROR(CheckCapacity("capacity", capacity));
  if (!(reserve_fraction >= 0 && reserve_fraction < 1)) {
    return Bad(fmt::format("reserve_fraction = {}: must be in [0, 1)", reserve_fraction));
  }
  if (window <= Duration::zero()) {
    return Bad(fmt::format("window = {} s: must be > 0", Seconds(window)));
  }
  if (validity < Duration::zero()) {
    return Bad(fmt::format("validity = {} s: must be >= 0", Seconds(validity)));
  }
  TIDEGATE_RETURN_IF_ERROR(feedback.Validate());
  if (borrow.enabled) {
    if (borrow.resource < 0 || borrow.resource >= kNumResources) {
      return Bad(fmt::format("borrow.resource = {}: unknown resource", borrow.resource));
    }
    const double cap = capacity[borrow.resource];
    if (!std::isfinite(cap)) {
      return Bad(fmt::format("borrow.resource = {}: capacity.{} is unlimited, nothing to borrow",
                             ResourceName(borrow.resource), ResourceName(borrow.resource)));
    }
    if (!(borrow.horizon > Duration::zero())) {
      return Bad(fmt::format("borrow.horizon = {} s: must be > 0", Seconds(borrow.horizon)));
    }
    if (!(borrow.cost_headroom >= 0) || !std::isfinite(borrow.cost_headroom)) {
      return Bad(
          fmt::format("borrow.cost_headroom = {}: must be finite and >= 0", borrow.cost_headroom));
    }
    auto pool = shaping::PoolConfig(cap, Seconds(borrow.horizon), borrow.tier_reserve);
    if (!pool.ok()) {
      return Bad(fmt::format("borrow.tier_reserve: {}", std::string(pool.status().message())));
    }
  }
  auto parents = TenantParents(tenants);
  if (!parents.ok()) return parents.status();
  std::unordered_map<std::string_view, int> tenant_index;
  for (size_t t = 0; t < tenants.size(); ++t) tenant_index.emplace(tenants[t].name, t);

  std::unordered_map<std::string_view, size_t> seen;
  for (size_t i = 0; i < classes.size(); ++i) {
    const ClassConfig& c = classes[i];
    TIDEGATE_RETURN_IF_ERROR(CheckClass(c, i));
    auto [it, fresh] = seen.emplace(c.name, i);
    if (!fresh) {
      const ClassConfig& other = classes[it->second];
      if (other.tier != c.tier) {
        return Bad(fmt::format(
            "classes[{}].tier = {} and classes[{}].tier = {}: class '{}' is in two tiers", i,
            c.tier, it->second, other.tier, c.name));
      }
      return Bad(
          fmt::format("classes[{}].name = '{}': duplicate of classes[{}]", i, c.name, it->second));
    }
    if (!c.tenant.empty() && !tenant_index.contains(c.tenant)) {
      return Bad(fmt::format("classes[{}].tenant = '{}': unknown tenant", i, c.tenant));
    }
  }

  // Floors must fit capacity * (1 - reserve) and every tenant quota, with the configured costs.
  const int nt = static_cast<int>(tenants.size());
  std::vector<ResourceVector> tenant_floor(nt, ResourceVector{});
  ResourceVector total{};
  for (const ClassConfig& c : classes) {
    for (int r = 0; r < kNumResources; ++r) {
      const double need = c.floor_per_s * c.cost[r];
      total[r] += need;
      if (c.tenant.empty()) continue;
      for (int t = tenant_index.at(c.tenant); t >= 0; t = (*parents)[t]) tenant_floor[t][r] += need;
    }
  }
  for (int r = 0; r < kNumResources; ++r) {
    const double avail = capacity[r] * (1 - reserve_fraction);
    if (total[r] > avail) {
      return Bad(fmt::format(
          "classes[*].floor_per_s: floors need {} {}/s but capacity.{} * (1 - reserve_fraction) "
          "= {}",
          total[r], ResourceName(r), ResourceName(r), avail));
    }
    for (int t = 0; t < nt; ++t) {
      if (tenant_floor[t][r] > tenants[t].quota[r]) {
        return Bad(fmt::format(
            "classes[*].floor_per_s: floors of tenant '{}' need {} {}/s but tenants[{}].quota.{} = "
            "{}",
            tenants[t].name, tenant_floor[t][r], ResourceName(r), t, ResourceName(r),
            tenants[t].quota[r]));
      }
    }
  }
  return absl::OkStatus();
}

Planner::Planner(PlannerConfig config) : config_(std::move(config)) {}

absl::StatusOr<Planner> Planner::Create(PlannerConfig config) {
  TIDEGATE_RETURN_IF_ERROR(config.Validate());
  Planner p(std::move(config));
  TIDEGATE_ASSIGN_OR_RETURN(p.tenant_parent_, TenantParents(p.config_.tenants));
  std::unordered_map<std::string, int> tenant_index;
  for (size_t t = 0; t < p.config_.tenants.size(); ++t) {
    tenant_index.emplace(p.config_.tenants[t].name, t);
  }
  p.class_tenant_.reserve(p.config_.classes.size());
  for (size_t i = 0; i < p.config_.classes.size(); ++i) {
    const ClassConfig& c = p.config_.classes[i];
    p.class_tenant_.push_back(c.tenant.empty() ? -1 : tenant_index.at(c.tenant));
    p.class_index_.emplace(c.name, static_cast<int>(i));
  }
  return p;
}

int Planner::ClassIndex(std::string_view name) const {
  auto it = class_index_.find(std::string(name));
  return it == class_index_.end() ? -1 : it->second;
}

namespace {

// What a forecast says about [from, to).
struct WindowSummary {
  double statistic = 0;
  double spread = 0;
};

// Empty string if `f` is usable, else what is wrong with it.
std::string CheckForecast(const DemandForecast& f) {
  if (f.step <= Duration::zero()) return fmt::format("step = {} s: must be > 0", Seconds(f.step));
  if (f.lower.size() != f.mean.size() || f.upper.size() != f.mean.size()) {
    return fmt::format("mean, lower, upper have {}, {}, {} steps: must be equal", f.mean.size(),
                       f.lower.size(), f.upper.size());
  }
  for (size_t i = 0; i < f.mean.size(); ++i) {
    const double l = f.lower[i], m = f.mean[i], u = f.upper[i];
    if (!Finite(l) || !Finite(m) || !Finite(u) || !(l <= m && m <= u) || l < 0) {
      return fmt::format(
          "step {}: lower {}, mean {}, upper {}: need finite 0 <= lower <= mean <= "
          "upper",
          i, l, m, u);
    }
  }
  return {};
}

// Reduces the bias-corrected forecast over [from, to) (nanoseconds). Returns false when no step
// overlaps the window.
bool Summarise(const DemandForecast& f, const ClassConfig& c, double bias, int64_t from, int64_t to,
               WindowSummary* out) {
  const int64_t origin = f.origin.time_since_epoch().count();
  const int64_t step = f.step.count();
  const int64_t n = static_cast<int64_t>(f.mean.size());
  // First and last step overlapping [from, to).
  int64_t first = from <= origin ? 0 : (from - origin) / step;
  int64_t last = to <= origin ? -1 : (to - origin - 1) / step;
  first = std::max<int64_t>(first, 0);
  last = std::min(last, n - 1);
  if (first > last) return false;
  const bool single = first == last;
  double total_w = 0, weighted = 0, max_v = 0, width = 0, mean_mass = 0;
  for (int64_t i = first; i <= last; ++i) {
    const int64_t s0 = std::max(from, origin + i * step);
    const int64_t s1 = std::min(to, origin + (i + 1) * step);
    const double w = static_cast<double>(s1 - s0);
    const double m = std::max(0.0, f.mean[i] + bias);
    const double l = std::max(0.0, f.lower[i] + bias);
    const double u = std::max(0.0, f.upper[i] + bias);
    const double v = c.statistic == Statistic::kUpper ? u : m;
    max_v = std::max(max_v, v);
    weighted += v * w;
    total_w += w;
    width += (u - l) * w;
    mean_mass += m * w;
  }
  if (c.aggregation == Aggregation::kMax) {
    out->statistic = max_v;
  } else if (single) {
    // One step: its value exactly (no v * w / w rounding), which keeps the seed's rule bit-exact.
    out->statistic = max_v;
  } else {
    out->statistic = weighted / total_w;
  }
  out->spread = mean_mass > 0 ? width / mean_mass : (width > 0 ? kUnlimited : 0.0);
  return true;
}

double ClassCap(const ClassConfig& c, const ResourceVector& capacity, const ResourceVector& cost) {
  double cap = kUnlimited;
  for (int r = 0; r < kNumResources; ++r) {
    if (cost[r] > 0 && std::isfinite(capacity[r])) cap = std::min(cap, capacity[r] / cost[r]);
  }
  return std::isfinite(cap) ? c.cap_fraction * cap : kUnlimited;
}

bool ValidCost(const ResourceVector& v) {
  bool any = false;
  for (double x : v) {
    if (!Finite(x) || x < 0) return false;
    any = any || x > 0;
  }
  return any;
}

}  // namespace

absl::StatusOr<Plan> Planner::MakePlan(std::span<const ClassInput> inputs,
                                       std::span<const FeedbackState> feedback, MonoTime now) {
  const size_t n = config_.classes.size();
  if (inputs.size() != n) {
    return Bad(fmt::format("MakePlan: {} inputs for {} classes", inputs.size(), n));
  }
  if (!feedback.empty() && feedback.size() != n) {
    return Bad(
        fmt::format("MakePlan: {} feedback states for {} classes (pass none or one per "
                    "class)",
                    feedback.size(), n));
  }
  Plan plan;
  plan.made_at = now;
  plan.classes.resize(n);
  plan.stats.classes = static_cast<int64_t>(n);
  const MonoTime valid_until =
      now + (config_.validity > Duration::zero() ? config_.validity : config_.window);
  static const FeedbackState kNoHistory{};

  AllocationProblem problem;
  for (int r = 0; r < kNumResources; ++r) {
    problem.capacity[r] = config_.capacity[r] * (1 - config_.reserve_fraction);
  }
  problem.tenant_parent = tenant_parent_;
  problem.tenant_quota.reserve(config_.tenants.size());
  for (const TenantConfig& t : config_.tenants) problem.tenant_quota.push_back(t.quota);
  problem.requests.resize(n);

  const int64_t now_ns = now.time_since_epoch().count();
  for (size_t i = 0; i < n; ++i) {
    const ClassConfig& c = config_.classes[i];
    const ClassInput& in = inputs[i];
    const FeedbackState& fb = feedback.empty() ? kNoHistory : feedback[i];
    ClassPlan& out = plan.classes[i];
    Explanation& why = out.why;
    why.statistic = c.statistic;
    why.aggregation = c.aggregation;
    why.margin = c.margin;
    why.tier = c.tier;
    why.weight = c.weight;
    why.floor_per_s = c.floor_per_s;
    why.ceiling_per_s = c.ceiling_per_s;

    ResourceVector cost = c.cost;
    if (in.cost.has_value()) {
      if (ValidCost(*in.cost)) {
        cost = *in.cost;
        why.learned_cost = true;
      } else {
        ++plan.stats.invalid_costs;
      }
    }

    WindowSummary summary;
    if (!in.forecast.has_value()) {
      why.reason = Reason::kFallbackNoForecast;
    } else if (std::string problem_text = CheckForecast(*in.forecast); !problem_text.empty()) {
      why.reason = Reason::kFallbackInvalidForecast;
      why.detail = std::move(problem_text);
    } else {
      const double bias = config_.feedback.bias_gain * fb.bias_per_s;
      const int64_t to = now_ns + config_.window.count() + c.lead_time.count();
      if (Summarise(*in.forecast, c, bias, now_ns, to, &summary)) {
        why.reason = Reason::kForecast;
        why.level = in.forecast->level;
        why.bias_correction_per_s = bias;
      } else {
        why.reason = Reason::kFallbackStaleForecast;
      }
    }

    double target;
    if (why.reason == Reason::kForecast) {
      why.forecast_per_s = summary.statistic;
      why.spread = summary.spread;
      target = summary.statistic * (1 + c.margin);
      why.surge = fb.surge;
      why.surge_rate_per_s = fb.surge_rate_per_s;
      if (fb.surge == SurgeMode::kUp) {
        target = std::max(target, fb.surge_rate_per_s);
        ++plan.stats.surging_up;
      } else if (fb.surge == SurgeMode::kDown) {
        target = std::min(target, fb.surge_rate_per_s * (1 + c.margin));
        ++plan.stats.surging_down;
      }
      out.size =
          std::clamp(c.base_burst * (1 + c.spread_gain * summary.spread), c.min_burst, c.max_burst);
    } else {
      ++plan.stats.fallbacks;
      target = c.static_rate_per_s;
      out.size = c.static_size;
    }
    why.target_per_s = target;
    why.cap_per_s = ClassCap(c, config_.capacity, cost);
    why.demand_per_s = std::min({target, why.cap_per_s, c.ceiling_per_s});
    out.valid_until = valid_until;

    AllocationRequest& q = problem.requests[i];
    q.tier = c.tier;
    q.tenant = class_tenant_[i];
    q.weight = c.weight;
    q.floor = c.floor_per_s;
    q.demand = why.demand_per_s;
    q.cost = cost;
  }

  AllocationResult alloc = Allocate(problem);
  plan.stats.floors_feasible = alloc.floors_feasible;
  plan.stats.committed = alloc.used;
  // The marginal tier: the highest-priority tier with a class held below its target by capacity
  // (frozen by a global resource, or asking for its capacity cap). By strict priority the tiers
  // below hold what it left, so its burst spends its own future tokens and displaces only lower
  // tiers — but on a shared server a burst also queues in front of every higher tier, so the
  // rule applies only when no higher tier has demand (the marginal tier is the top active one).
  auto capacity_limited = [&](size_t i) {
    const Explanation& w = plan.classes[i].why;
    return w.reason == Reason::kForecast &&
           (alloc.classes[i].limit == Limit::kCapacity ||
            (alloc.classes[i].limit == Limit::kDemand && w.cap_per_s < w.target_per_s &&
             w.cap_per_s <= w.ceiling_per_s));
  };
  int marginal_tier = kMaxTiers;
  for (size_t i = 0; i < n; ++i) {
    ClassPlan& out = plan.classes[i];
    out.rate_per_s = alloc.classes[i].rate;
    out.why.allocation = alloc.classes[i];
    if (alloc.classes[i].limit != Limit::kDemand) ++plan.stats.limited;
    if (capacity_limited(i)) marginal_tier = std::min(marginal_tier, config_.classes[i].tier);
  }
  // Shortfall burst (docs/design/planner.md §5): a marginal-tier class granted less than its
  // forecast gets a bucket that holds the forecast's excess over the window, so that demand which
  // averages near the granted rate is smoothed by the bucket rather than refused tick by tick.
  for (size_t i = 0; i < n; ++i) {
    if (config_.classes[i].tier < marginal_tier && plan.classes[i].why.demand_per_s > 0) {
      marginal_tier = kMaxTiers;  // A higher tier is active: no shortfall burst this tick.
      break;
    }
  }
  const double window_s = Seconds(config_.window);
  for (size_t i = 0; i < n; ++i) {
    ClassPlan& out = plan.classes[i];
    const ClassConfig& c = config_.classes[i];
    if (c.tier != marginal_tier || !capacity_limited(i)) continue;
    const double shortfall = std::max(0.0, out.why.forecast_per_s - out.rate_per_s) * window_s;
    if (shortfall > out.size) {
      out.why.shortfall_size = shortfall;
      out.size = std::clamp(shortfall, c.min_burst, c.max_burst);
    }
  }

  ++stats_.ticks;
  stats_.fallbacks += plan.stats.fallbacks;
  stats_.invalid_costs += plan.stats.invalid_costs;
  stats_.surge_class_ticks += plan.stats.surging_up + plan.stats.surging_down;
  stats_.limited_class_ticks += plan.stats.limited;
  if (config_.borrow.enabled) {
    // Validated at Create: the resource's capacity is finite and the reserves are in range.
    auto pool = shaping::PoolConfig(config_.capacity[config_.borrow.resource],
                                    Seconds(config_.borrow.horizon), config_.borrow.tier_reserve);
    if (!pool.ok()) return pool.status();
    plan.pool = *pool;
  }
  return plan;
}

std::string Planner::Describe(int class_index, const ClassPlan& plan) const {
  const ClassConfig& c = config_.classes.at(class_index);
  const Explanation& w = plan.why;
  std::string s = fmt::format("{} (tier {}, weight {}): {:.6g}/s, size {:.6g}; ", c.name, w.tier,
                              w.weight, plan.rate_per_s, plan.size);
  if (w.reason == Reason::kForecast) {
    s += fmt::format("{}({}%) {} over window = {:.6g}/s", StatisticName(w.statistic), w.level,
                     AggregationName(w.aggregation), w.forecast_per_s);
    if (w.bias_correction_per_s != 0) {
      s += fmt::format(" (bias correction {:+.6g}/s)", w.bias_correction_per_s);
    }
    s += fmt::format(", margin {:.6g}%", 100 * w.margin);
    if (w.surge != SurgeMode::kNone) {
      s += fmt::format(", surge {} to {:.6g}/s", SurgeModeName(w.surge), w.surge_rate_per_s);
    }
    s += fmt::format(" -> target {:.6g}/s, spread {:.4g}", w.target_per_s, w.spread);
    if (w.shortfall_size > 0) s += fmt::format(", shortfall burst {:.6g}", w.shortfall_size);
  } else {
    s += std::string(ReasonText(w.reason));
    if (!w.detail.empty()) s += " (" + w.detail + ")";
    s += fmt::format(": static {:.6g}/s", w.target_per_s);
  }
  s += fmt::format("; cap {:.6g}/s, demand {:.6g}/s; ", w.cap_per_s, w.demand_per_s);
  const Allocation& a = w.allocation;
  switch (a.limit) {
    case Limit::kDemand:
      s += "demand met";
      break;
    case Limit::kCapacity:
      s += fmt::format("limited by capacity.{}", ResourceName(a.resource));
      break;
    case Limit::kTenantQuota:
      s += fmt::format("limited by tenant '{}' quota.{}", config_.tenants.at(a.tenant).name,
                       ResourceName(a.resource));
      break;
    case Limit::kFloorsScaled:
      s += "floors infeasible: scaled floor only";
      break;
  }
  s += fmt::format(" (dominant share {:.4g}, floor granted {:.6g}/s)", a.dominant_share,
                   a.floor_granted);
  return s;
}

shaping::BucketConfig ToBucketConfig(const ClassPlan& plan) {
  shaping::BucketConfig b;
  b.rate_per_s = std::clamp(plan.rate_per_s, shaping::kMinRatePerS, shaping::kMaxRatePerS);
  const double max_size = b.rate_per_s * Seconds(shaping::kMaxBurstTime) * 0.999;
  b.size = std::clamp(plan.size, 1e-3, max_size);
  return b;
}

}  // namespace tidegate::plan
