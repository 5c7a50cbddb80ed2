// The discrete-event loop and the five admission policies (see simulator.h for the model).
#include "tidegate/sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <queue>

#include "fmt/format.h"
#include "tidegate/common/status.h"
#include "tidegate/forecast/model_registry.h"
#include "tidegate/plan/planner.h"
#include "tidegate/shaping/borrowing.h"
#include "tidegate/shaping/token_bucket.h"

namespace tidegate::sim {

std::string_view PolicyName(PolicyKind p) {
  switch (p) {
    case PolicyKind::kStatic:
      return "static";
    case PolicyKind::kAimd:
      return "aimd";
    case PolicyKind::kGradient:
      return "gradient";
    case PolicyKind::kPredictive:
      return "predictive";
    case PolicyKind::kOracle:
      return "oracle";
  }
  return "?";
}

absl::StatusOr<PolicyKind> ParsePolicy(std::string_view name) {
  if (name == "static") return PolicyKind::kStatic;
  if (name == "reactive" || name == "aimd") return PolicyKind::kAimd;
  if (name == "gradient") return PolicyKind::kGradient;
  if (name == "predictive") return PolicyKind::kPredictive;
  if (name == "oracle") return PolicyKind::kOracle;
  return absl::InvalidArgumentError(fmt::format(
      "--policy: unknown policy '{}' (known: static, reactive, aimd, gradient, predictive, "
      "oracle, all)",
      name));
}

std::string_view BorrowCostName(BorrowCost c) {
  switch (c) {
    case BorrowCost::kDeclared:
      return "declared";
    case BorrowCost::kForesight:
      return "foresight";
    case BorrowCost::kClassMean:
      return "mean";
  }
  return "?";
}

absl::StatusOr<BorrowCost> ParseBorrowCost(std::string_view name) {
  if (name == "declared") return BorrowCost::kDeclared;
  if (name == "foresight") return BorrowCost::kForesight;
  if (name == "mean") return BorrowCost::kClassMean;
  return absl::InvalidArgumentError(
      fmt::format("--borrow-cost: unknown mode '{}' (known: declared, foresight, mean)", name));
}

absl::Status SimConfig::Validate() const {
  auto bad = [](std::string_view field, double v, std::string_view rule) {
    return absl::InvalidArgumentError(fmt::format("{} = {}: {}", field, v, rule));
  };
  for (int r = 0; r < plan::kNumResources; ++r) {
    if (!(capacity[r] > 0)) {
      return bad(fmt::format("capacity.{}", plan::ResourceName(r)), capacity[r], "must be > 0");
    }
  }
  if (cost_resource < 0 || cost_resource >= plan::kNumResources) {
    return bad("cost_resource", cost_resource, "unknown resource");
  }
  bool limited = false;
  for (double c : capacity) limited = limited || std::isfinite(c);
  if (!limited) return absl::InvalidArgumentError("capacity: every resource is unlimited");
  if (!(warmup_s >= 0)) return bad("warmup_s", warmup_s, "must be >= 0");
  if (!(timeout_s > 0)) return bad("timeout_s", timeout_s, "must be > 0");
  if (!(slo_s > 0)) return bad("slo_s", slo_s, "must be > 0");
  if (!(tick_s > 0)) return bad("tick_s", tick_s, "must be > 0");
  if (!(plan_step_s > 0)) return bad("plan_step_s", plan_step_s, "must be > 0");
  if (!(level > 0 && level < 100)) return bad("level", level, "must be in (0, 100)");
  if (!(margin >= 0)) return bad("margin", margin, "must be >= 0");
  if (!(reserve_fraction >= 0 && reserve_fraction < 1)) {
    return bad("reserve_fraction", reserve_fraction, "must be in [0, 1)");
  }
  if (!std::isfinite(borrow_horizon_s)) {
    return bad("borrow_horizon_s", borrow_horizon_s, "must be finite (< 0: the SLO, 0: off)");
  }
  if (!(borrow_cost_headroom >= 0) || !std::isfinite(borrow_cost_headroom)) {
    return bad("borrow_cost_headroom", borrow_cost_headroom, "must be finite and >= 0");
  }
  if (absl::Status s =
          shaping::UnknownCostEstimator::Create(borrow_cost_weight, borrow_cost_spread).status();
      !s.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("borrow_cost_weight / borrow_cost_spread: {}", std::string(s.message())));
  }
  if (borrow_horizon_s != 0) {
    if (absl::Status s = shaping::PoolConfig(1, 1, borrow_tier_reserve).status(); !s.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("borrow_tier_reserve: {}", std::string(s.message())));
    }
  }
  return absl::OkStatus();
}

namespace {

MonoTime Mono(double s) {
  return MonoTime(std::chrono::seconds(1000)) + Duration(static_cast<int64_t>(s * 1e9));
}

double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// A completion or abandonment the policies learn about when simulated time reaches it.
struct Signal {
  double time_s;
  double latency_s;       // < 0: timed out.
  double pool_delta = 0;  // Borrowing pool: actual cost - estimate charged at admission.
  std::optional<shaping::BacklogSync::Ticket> ticket;  // Borrowing pool: completion to sync.
  int32_t cls = -1;     // Completed: the class whose unknown-cost estimate learns ...
  double unknown = -1;  // ... this unknown part of the cost (< 0: nothing to learn).
  bool operator>(const Signal& o) const { return time_s > o.time_s; }
};

class Run {
 public:
  Run(const Trace& trace, const SimConfig& config, PolicyKind policy)
      : trace_(trace), cfg_(config), policy_(policy), n_(trace.classes.size()) {}

  absl::StatusOr<SimResult> Go() {
    if (n_ == 0) return absl::InvalidArgumentError("trace has no classes");
    if (cfg_.warmup_s >= trace_.end_s) {
      return absl::InvalidArgumentError(
          fmt::format("warmup_s = {}: the trace ends at {} s, nothing is left to test",
                      cfg_.warmup_s, trace_.end_s));
    }
    Train();
    TIDEGATE_RETURN_IF_ERROR(Setup());
    if (policy_ == PolicyKind::kOracle) {
      oracle_ = OracleAdmissions(trace_, cfg_);
      for (size_t i = 0; i < oracle_.size(); ++i) {
        if (oracle_[i]) {
          const Arrival& a = trace_.arrivals[i];
          ++oracle_steps_[a.cls][static_cast<size_t>(a.time_s / cfg_.plan_step_s)];
        }
      }
    }
    test_s_ = trace_.end_s - cfg_.warmup_s;
    const size_t bins = static_cast<size_t>(std::ceil(test_s_)) + 1;
    violated_.assign(n_, std::vector<uint8_t>(bins, 0));
    latencies_.assign(n_, {});
    result_.classes.assign(n_, Metrics{});
    result_.series.assign(n_, {});
    step_offered_.assign(n_, 0);
    step_admitted_.assign(n_, 0);

    double next_tick = cfg_.tick_s, next_plan = 0;
    for (size_t i = 0; i < trace_.arrivals.size(); ++i) {
      const Arrival& a = trace_.arrivals[i];
      while (std::min(next_tick, next_plan) <= a.time_s) {
        if (next_plan <= next_tick) {
          TIDEGATE_RETURN_IF_ERROR(PlanStep(next_plan));
          next_plan += cfg_.plan_step_s;
        } else {
          Drain(next_tick);
          Tick(next_tick);
          next_tick += cfg_.tick_s;
        }
      }
      Drain(a.time_s);
      Arrive(a, i);
    }
    TIDEGATE_RETURN_IF_ERROR(PlanStep(next_plan));  // Closes the last step's series.
    Finish();
    return std::move(result_);
  }

 private:
  // Per class over the warm-up: peak 1-second count and mean cost.
  void Train() {
    peak_.assign(n_, 0);
    mean_rate_.assign(n_, 0);
    mean_cost_.assign(n_, 0);
    std::vector<double> cost_sum(n_, 0), count(n_, 0);
    const double train_s = cfg_.warmup_s > 0 ? cfg_.warmup_s : trace_.end_s;
    std::vector<std::vector<int>> per_second(n_,
                                             std::vector<int>(static_cast<size_t>(train_s) + 1));
    for (const Arrival& a : trace_.arrivals) {
      if (a.time_s >= train_s) break;
      ++per_second[a.cls][static_cast<size_t>(a.time_s)];
      cost_sum[a.cls] += a.cost;
      ++count[a.cls];
    }
    for (size_t c = 0; c < n_; ++c) {
      peak_[c] = std::max(
          1.0, static_cast<double>(*std::max_element(per_second[c].begin(), per_second[c].end())));
      mean_rate_[c] = count[c] / train_s;
      mean_cost_[c] = count[c] > 0 ? cost_sum[c] / count[c] : 1;
    }
    const size_t steps = static_cast<size_t>(trace_.end_s / cfg_.plan_step_s) + 3;
    oracle_steps_.assign(n_, std::vector<double>(steps, 0));
  }

  // Time-average of the background fraction over [t0, t1).
  double MeanBackground(double t0, double t1) const {
    const auto& b = trace_.background;
    auto it = std::upper_bound(b.begin(), b.end(), t0,
                               [](double x, const BackgroundStep& st) { return x < st.time_s; });
    double sum = 0, t = t0, f = it == b.begin() ? 0 : std::prev(it)->fraction;
    for (; it != b.end() && it->time_s < t1; ++it) {
      sum += f * (it->time_s - t);
      t = it->time_s;
      f = it->fraction;
    }
    return (sum + f * (t1 - t)) / (t1 - t0);
  }

  absl::Status Setup() {
    rate_.resize(n_);
    for (size_t c = 0; c < n_; ++c) {
      rate_[c] = policy_ == PolicyKind::kGradient ? shaping::kMaxRatePerS / 10 : peak_[c];
      shaping::BucketConfig b{rate_[c], std::max(1.0, rate_[c]), {}};
      TIDEGATE_ASSIGN_OR_RETURN(auto bucket, shaping::TokenBucket::Create(b, Mono(0)));
      buckets_.push_back(std::move(bucket));
    }
    if (policy_ == PolicyKind::kPredictive) {
      plan::PlannerConfig& pc = planner_config_;
      pc.capacity = cfg_.capacity;
      pc.reserve_fraction = cfg_.reserve_fraction;
      pc.window =
          std::chrono::duration_cast<Duration>(std::chrono::duration<double>(cfg_.plan_step_s));
      for (size_t c = 0; c < n_; ++c) {
        plan::ClassConfig cc;
        cc.name = trace_.classes[c].name;
        cc.tier = trace_.classes[c].tier;
        cc.static_rate_per_s = peak_[c];
        cc.static_size = std::max(1.0, peak_[c]);
        cc.margin = cfg_.margin;
        cc.cap_fraction = 1;
        cc.base_burst = std::max(1.0, mean_rate_[c]);
        cc.max_burst = std::max(1.0, 10 * peak_[c]);
        cc.lead_time = pc.window;
        cc.cost = plan::RequestsOnly();
        cc.cost[cfg_.cost_resource] = std::max(mean_cost_[c], 1e-9);
        pc.classes.push_back(cc);
      }
      const double horizon_s = cfg_.borrow_horizon_s < 0 ? cfg_.slo_s : cfg_.borrow_horizon_s;
      if (horizon_s > 0) {
        // The pool is on the resource a request's cost is in, else on the request count.
        pool_resource_ = std::isfinite(cfg_.capacity[cfg_.cost_resource])
                             ? cfg_.cost_resource
                             : static_cast<int>(plan::Resource::kRequests);
        pc.borrow.enabled = true;
        pc.borrow.resource = pool_resource_;
        pc.borrow.horizon =
            std::chrono::duration_cast<Duration>(std::chrono::duration<double>(horizon_s));
        pc.borrow.tier_reserve = cfg_.borrow_tier_reserve;
        pc.borrow.cost_headroom = cfg_.borrow_cost_headroom;
        TIDEGATE_ASSIGN_OR_RETURN(shaping::BucketConfig pool,
                                  shaping::PoolConfig(cfg_.capacity[pool_resource_], horizon_s,
                                                      cfg_.borrow_tier_reserve));
        TIDEGATE_ASSIGN_OR_RETURN(pool_, shaping::TokenBucket::Create(pool, Mono(0)));
        for (size_t c = 0; c < n_; ++c) {
          TIDEGATE_ASSIGN_OR_RETURN(auto e, shaping::UnknownCostEstimator::Create(
                                                cfg_.borrow_cost_weight, cfg_.borrow_cost_spread));
          unknown_cost_.push_back(e);
        }
      }
      TIDEGATE_ASSIGN_OR_RETURN(auto planner, plan::Planner::Create(pc));
      planner_.emplace(std::move(planner));
      feedback_.assign(n_, plan::FeedbackState{});
      inputs_.assign(n_, plan::ClassInput{});
      last_forecast_.assign(n_, std::nullopt);
      history_.assign(n_, {});
      models_.resize(n_);
    }
    return absl::OkStatus();
  }

  // Delivers completions and abandonments up to `t` to the policies' signals.
  void Drain(double t) {
    while (!signals_.empty() && signals_.top().time_s <= t) {
      const Signal s = signals_.top();
      signals_.pop();
      --in_flight_;
      if (pool_ != nullptr) {
        // The cost true-up first, so that the completion's lag does not count it twice.
        if (s.pool_delta != 0) (void)sync_.Settle(*pool_, s.pool_delta, Mono(s.time_s));
        if (s.ticket.has_value() && cfg_.borrow_sync) {
          sync_.Completed(*pool_, *s.ticket, Mono(s.time_s));
        }
        if (s.unknown >= 0) (void)unknown_cost_[s.cls].Observe(s.unknown);
      }
      if (s.latency_s < 0 || s.latency_s > cfg_.slo_s) tick_bad_ = true;
      if (s.latency_s >= 0) {
        tick_latency_sum_ += s.latency_s;
        ++tick_samples_;
      }
    }
  }

  void Arrive(const Arrival& a, size_t index) {
    const bool test = a.time_s >= cfg_.warmup_s;
    Metrics& m = result_.classes[a.cls];
    ++step_offered_[a.cls];
    if (test) ++m.offered;
    bool admit = true;
    std::optional<shaping::BacklogSync::Ticket> ticket;
    const double charged = PoolEstimate(a);
    if (policy_ == PolicyKind::kGradient && in_flight_ >= limit_) admit = false;
    if (policy_ == PolicyKind::kOracle) {
      admit = oracle_[index];
    } else if (admit) {
      const shaping::BorrowDecision d =
          shaping::AcquireOrBorrow(*buckets_[a.cls], 1.0, pool_.get(), charged, Mono(a.time_s),
                                   trace_.classes[a.cls].tier, cfg_.borrow_cost_headroom);
      admit = d.admitted();
      if (admit && pool_ != nullptr) ticket = sync_.Admitted(*pool_, Mono(a.time_s));
      if (d.borrowed && test) ++m.borrowed;
    }
    if (!admit) {
      if (test) ++m.rejected;
      return;
    }
    ++step_admitted_[a.cls];
    if (test) ++m.admitted;
    ++in_flight_;
    const double start = std::max(a.time_s, busy_until_);
    const double wait = start - a.time_s;
    const size_t bin = test ? static_cast<size_t>(a.time_s - cfg_.warmup_s) : 0;
    if (wait > cfg_.timeout_s) {
      // Abandoned: consumes nothing, so the pool gets its estimate back.
      signals_.push({a.time_s + cfg_.timeout_s, -1, -charged, std::nullopt, -1, -1.0});
      if (test) {
        ++m.timed_out;
        violated_[a.cls][bin] = 1;
      }
      return;
    }
    const double s = ServiceSeconds(trace_, cfg_, a);
    busy_until_ = start + s;
    const double latency = wait + s;
    if (pool_ != nullptr) {
      signals_.push({busy_until_, latency, PoolCost(a) - charged, ticket, a.cls, a.unknown_cost});
    } else {
      signals_.push({busy_until_, latency, 0.0, std::nullopt, -1, -1.0});
    }
    // Busy time inside the test period (a service may straddle either end).
    busy_s_ += std::max(0.0, std::min(busy_until_, trace_.end_s) - std::max(start, cfg_.warmup_s));
    if (test) {
      ++m.completed;
      latencies_[a.cls].push_back(latency);
      if (latency <= cfg_.slo_s) {
        ++m.good;
      } else {
        violated_[a.cls][bin] = 1;
      }
    }
  }

  // The reactive controllers, every tick_s.
  void Tick(double t) {
    if (policy_ == PolicyKind::kAimd) {
      // AIMD on latency: any request above the SLO (or timed out) in the last tick halves every
      // class's rate (x0.7); otherwise each grows by 2 % of its training peak.
      const MonoTime now = Mono(t);
      for (size_t c = 0; c < n_; ++c) {
        rate_[c] = tick_bad_ ? std::max(0.5, rate_[c] * 0.7) : rate_[c] + 0.02 * peak_[c];
        (void)buckets_[c]->Replan({rate_[c], std::max(1.0, rate_[c]), {}}, now);
      }
    } else if (policy_ == PolicyKind::kGradient && tick_samples_ > 0) {
      // Gradient2 (Netflix concurrency-limits): gradient = clamp(tolerance * long_rtt /
      // short_rtt, 0.5, 1); new = limit * gradient + sqrt(limit); limit smoothed by 0.2.
      const double short_rtt = tick_latency_sum_ / static_cast<double>(tick_samples_);
      long_rtt_ = long_rtt_ <= 0 ? short_rtt : 0.95 * long_rtt_ + 0.05 * short_rtt;
      if (long_rtt_ / short_rtt > 2) long_rtt_ *= 0.95;  // Drift down after a recovery.
      const double gradient = std::clamp(1.5 * long_rtt_ / short_rtt, 0.5, 1.0);
      const double proposed = limit_ * gradient + std::sqrt(limit_);
      limit_ = std::clamp(0.8 * limit_ + 0.2 * proposed, 1.0, 1e5);
    }
    tick_bad_ = false;
    tick_latency_sum_ = 0;
    tick_samples_ = 0;
  }

  absl::Status PlanStep(double t) {
    const size_t step = static_cast<size_t>(std::llround(t / cfg_.plan_step_s));
    // Close the step that just ended.
    if (step > 0) {
      for (size_t c = 0; c < n_; ++c) {
        const double actual = step_offered_[c] / cfg_.plan_step_s;
        result_.series[c].push_back(
            {t - cfg_.plan_step_s, actual, plan_rate(c), step_admitted_[c] / cfg_.plan_step_s});
        if (planner_.has_value()) TIDEGATE_RETURN_IF_ERROR(Observe(c, actual));
        step_offered_[c] = step_admitted_[c] = 0;
      }
      if (planner_.has_value() && !trace_.background.empty()) {
        const double b = MeanBackground(t - cfg_.plan_step_s, t);
        background_history_.push_back(b);
        if (background_model_ != nullptr) TIDEGATE_RETURN_IF_ERROR(background_model_->Update(b));
      }
    }
    if (policy_ == PolicyKind::kOracle) {
      for (size_t c = 0; c < n_; ++c) rate_[c] = oracle_steps_[c][step] / cfg_.plan_step_s;
      return absl::OkStatus();
    }
    if (!planner_.has_value() || t >= trace_.end_s) return absl::OkStatus();
    const MonoTime now = Mono(t);
    if (!trace_.background.empty()) TIDEGATE_RETURN_IF_ERROR(FollowBackground(step));
    for (size_t c = 0; c < n_; ++c) inputs_[c].forecast = Forecast(c, step, now);
    TIDEGATE_ASSIGN_OR_RETURN(plan::Plan p, planner_->MakePlan(inputs_, feedback_, now));
    result_.plan_fallbacks += p.stats.fallbacks;
    for (size_t c = 0; c < n_; ++c) {
      rate_[c] = p.classes[c].rate_per_s;
      TIDEGATE_RETURN_IF_ERROR(buckets_[c]->Replan(plan::ToBucketConfig(p.classes[c]), now));
      last_forecast_[c] = inputs_[c].forecast;
    }
    if (pool_ != nullptr && p.pool.has_value()) {
      TIDEGATE_RETURN_IF_ERROR(pool_->Replan(*p.pool, now));
    }
    return absl::OkStatus();
  }

  // With a background load, the planner plans against what the background leaves: capacity *
  // (1 - b), b = the largest mean forecast of the background fraction over the next two steps
  // (the forecaster of --model, fitted on the warm-up's per-step means; the last step's mean
  // during the warm-up). Not the upper bound: an upper bound on the background is a lower bound
  // on capacity, and with strict priority it refuses critical requests whenever the background's
  // interval is wide; the planner's reserve absorbs the forecast's error instead.
  absl::Status FollowBackground(size_t step) {
    double b = background_history_.empty() ? 0 : background_history_.back();
    if (static_cast<double>(step) * cfg_.plan_step_s >= cfg_.warmup_s) {
      if (background_model_ == nullptr && !background_history_.empty()) {
        TIDEGATE_ASSIGN_OR_RETURN(background_model_, forecast::MakeForecaster(cfg_.model));
        forecast::Series s;
        s.values = background_history_;
        s.step =
            std::chrono::duration_cast<Duration>(std::chrono::duration<double>(cfg_.plan_step_s));
        TIDEGATE_RETURN_IF_ERROR(background_model_->Fit(s));
      }
      if (background_model_ != nullptr) {
        const double level = cfg_.level;
        TIDEGATE_ASSIGN_OR_RETURN(
            auto fc, background_model_->Predict(2, std::span<const double>(&level, 1)));
        for (int k = 0; k < fc.horizon(); ++k) b = std::max(b, fc.mean[k]);
      }
    }
    plan::PlannerConfig pc = planner_config_;
    for (double& c : pc.capacity) c *= 1 - std::clamp(b, 0.0, 0.99);
    TIDEGATE_ASSIGN_OR_RETURN(auto planner, plan::Planner::Create(std::move(pc)));
    planner_.emplace(std::move(planner));
    return absl::OkStatus();
  }

  // What the borrowing pool is charged at admission (SimConfig::borrow_cost): the known part of
  // the cost plus the class's estimate of the rest (declared by the caller, as `hits_addend` in
  // a rate-limit request), the whole trace cost (foresight), or the class's training mean cost;
  // the difference to the actual cost is settled at completion.
  double PoolEstimate(const Arrival& a) const {
    if (pool_ == nullptr) return 0;
    if (pool_resource_ != cfg_.cost_resource) return 1.0;
    switch (cfg_.borrow_cost) {
      case BorrowCost::kForesight:
        return a.cost;
      case BorrowCost::kClassMean:
        return mean_cost_[a.cls];
      case BorrowCost::kDeclared:
        break;
    }
    return a.cost - a.unknown_cost + unknown_cost_[a.cls].Estimate();
  }
  double PoolCost(const Arrival& a) const {
    return pool_resource_ == cfg_.cost_resource ? a.cost : 1.0;
  }

  double plan_rate(size_t c) const { return policy_ == PolicyKind::kGradient ? 0 : rate_[c]; }

  // Online model update and feedback for the step that ended with `actual` requests/s.
  absl::Status Observe(size_t c, double actual) {
    history_[c].push_back(actual);
    if (models_[c] != nullptr) TIDEGATE_RETURN_IF_ERROR(models_[c]->Update(actual));
    if (last_forecast_[c].has_value()) {
      const plan::DemandForecast& f = *last_forecast_[c];
      plan::Observation o{actual, f.mean[0], f.lower[0], f.upper[0], rate_[c], false};
      TIDEGATE_RETURN_IF_ERROR(plan::UpdateFeedback(planner_->config().feedback, o, &feedback_[c]));
    }
    return absl::OkStatus();
  }

  std::optional<plan::DemandForecast> Forecast(size_t c, size_t step, MonoTime now) {
    plan::DemandForecast f;
    f.origin = now;
    f.step = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(cfg_.plan_step_s));
    f.level = cfg_.level;
    // Predictive: no forecast during the warm-up (static fallback); fitted once it ends.
    if (static_cast<double>(step) * cfg_.plan_step_s < cfg_.warmup_s) return std::nullopt;
    if (models_[c] == nullptr) {
      auto model = forecast::MakeForecaster(cfg_.model);
      if (!model.ok()) return std::nullopt;
      forecast::Series s;
      s.values = history_[c];
      s.step = f.step;
      if (!(*model)->Fit(s).ok()) return std::nullopt;
      models_[c] = std::move(*model);
    }
    if (models_[c] == nullptr) return std::nullopt;
    const double level = cfg_.level;
    auto fc = models_[c]->Predict(2, std::span<const double>(&level, 1));
    if (!fc.ok() || fc->intervals.empty()) return std::nullopt;
    for (int k = 0; k < fc->horizon(); ++k) {
      f.mean.push_back(std::max(0.0, fc->mean[k]));
      f.lower.push_back(std::clamp(fc->intervals[0].lower[k], 0.0, f.mean.back()));
      f.upper.push_back(std::max(f.mean.back(), fc->intervals[0].upper[k]));
    }
    return f;
  }

  void Finish() {
    result_.policy = std::string(PolicyName(policy_));
    result_.test_s = test_s_;
    result_.utilisation = busy_s_ / test_s_;
    const size_t bins = violated_.empty() ? 0 : violated_[0].size();
    std::vector<std::vector<double>> tier_lat(shaping::kMaxTiers);
    std::vector<std::vector<uint8_t>> tier_bad(shaping::kMaxTiers, std::vector<uint8_t>(bins, 0));
    std::vector<uint8_t> all_bad(bins, 0);
    std::vector<double> all_lat;
    std::vector<bool> tier_used(shaping::kMaxTiers, false);
    result_.tiers.assign(shaping::kMaxTiers, Metrics{});
    Metrics& total = result_.total;
    total.name = "total";
    for (size_t c = 0; c < n_; ++c) {
      Metrics& m = result_.classes[c];
      const int tier = trace_.classes[c].tier;
      m.name = trace_.classes[c].name;
      m.tier = tier;
      tier_used[tier] = true;
      Metrics& t = result_.tiers[tier];
      for (Metrics* agg : {&t, &total}) {
        agg->offered += m.offered;
        agg->admitted += m.admitted;
        agg->rejected += m.rejected;
        agg->timed_out += m.timed_out;
        agg->completed += m.completed;
        agg->good += m.good;
        agg->borrowed += m.borrowed;
      }
      for (size_t b = 0; b < bins; ++b) {
        tier_bad[tier][b] |= violated_[c][b];
        all_bad[b] |= violated_[c][b];
      }
      tier_lat[tier].insert(tier_lat[tier].end(), latencies_[c].begin(), latencies_[c].end());
      all_lat.insert(all_lat.end(), latencies_[c].begin(), latencies_[c].end());
      Summarise(m, latencies_[c], violated_[c]);
    }
    std::vector<Metrics> tiers;
    for (int t = 0; t < shaping::kMaxTiers; ++t) {
      if (!tier_used[t]) continue;
      result_.tiers[t].name = fmt::format("tier {}", t);
      result_.tiers[t].tier = t;
      Summarise(result_.tiers[t], tier_lat[t], tier_bad[t]);
      tiers.push_back(result_.tiers[t]);
    }
    result_.tiers = std::move(tiers);
    total.tier = -1;
    Summarise(total, all_lat, all_bad);
  }

  void Summarise(Metrics& m, std::vector<double>& lat, const std::vector<uint8_t>& bad) const {
    m.goodput_per_s = static_cast<double>(m.good) / test_s_;
    m.p50_s = Percentile(lat, 0.5);
    m.p99_s = Percentile(lat, 0.99);
    m.p999_s = Percentile(lat, 0.999);
    m.slo_violation_s = static_cast<double>(std::count(bad.begin(), bad.end(), 1));
  }

  const Trace& trace_;
  const SimConfig& cfg_;
  const PolicyKind policy_;
  const size_t n_;
  SimResult result_;
  double test_s_ = 0;

  std::vector<double> peak_, mean_rate_, mean_cost_, rate_;
  std::vector<std::vector<double>> oracle_steps_;  // Oracle: admitted per class and step.
  std::vector<bool> oracle_;                       // Oracle: admit flag per arrival.
  std::vector<std::shared_ptr<shaping::TokenBucket>> buckets_;
  std::shared_ptr<shaping::TokenBucket> pool_;  // Predictive with borrowing; else null.
  shaping::BacklogSync sync_;
  std::vector<shaping::UnknownCostEstimator> unknown_cost_;  // Per class, with a pool.
  int pool_resource_ = 0;

  // Server and signals.
  double busy_until_ = 0, busy_s_ = 0;
  std::priority_queue<Signal, std::vector<Signal>, std::greater<Signal>> signals_;
  int64_t in_flight_ = 0;
  bool tick_bad_ = false;
  double tick_latency_sum_ = 0;
  int64_t tick_samples_ = 0;
  double limit_ = 20, long_rtt_ = 0;  // Gradient controller.

  // Planner policies.
  plan::PlannerConfig planner_config_;
  std::optional<plan::Planner> planner_;
  std::vector<double> background_history_;  // Mean background per plan step.
  std::unique_ptr<forecast::Forecaster> background_model_;
  std::vector<plan::ClassInput> inputs_;
  std::vector<plan::FeedbackState> feedback_;
  std::vector<std::optional<plan::DemandForecast>> last_forecast_;
  std::vector<std::vector<double>> history_;
  std::vector<std::unique_ptr<forecast::Forecaster>> models_;

  // Metrics.
  std::vector<double> step_offered_, step_admitted_;
  std::vector<std::vector<double>> latencies_;
  std::vector<std::vector<uint8_t>> violated_;
};

}  // namespace

absl::StatusOr<SimResult> Simulate(const Trace& trace, const SimConfig& config, PolicyKind policy) {
  TIDEGATE_RETURN_IF_ERROR(config.Validate());
  return Run(trace, config, policy).Go();
}

}  // namespace tidegate::sim
