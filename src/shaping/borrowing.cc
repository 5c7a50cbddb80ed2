// Work-conserving admission through a shared pool (see borrowing.h).
#include "tidegate/shaping/borrowing.h"

#include <algorithm>
#include <cmath>

#include "fmt/format.h"

namespace tidegate::shaping {

BorrowDecision AcquireOrBorrow(TokenBucket& own, double cost, TokenBucket* pool, double pool_cost,
                               MonoTime now, int tier, double cost_headroom) noexcept {
  BorrowDecision out;
  if (pool == nullptr) {
    out.decision = own.TryAcquire(cost, now, tier);
    return out;
  }
  if (!(pool_cost >= 0) || !std::isfinite(pool_cost) || !(cost_headroom >= 0) ||
      !std::isfinite(cost_headroom)) {
    out.decision.verdict = Verdict::kInvalidCost;
    out.by_pool = true;
    return out;
  }
  out.decision = own.TryAcquire(cost, now, tier);
  if (out.decision.admitted()) {
    // Assured: refused only if the backlog with it would pass the whole horizon (tier 0's
    // limit, whatever the request's tier); then the class's charge is refunded.
    const Decision at_pool = pool->TryAcquire(pool_cost, now, /*tier=*/0);
    if (!at_pool.admitted()) {
      (void)own.Settle(-cost, now);  // Finite: TryAcquire admitted it.
      out.decision = at_pool;
      out.by_pool = true;
    }
    return out;
  }
  // Invalid requests are not retried at the pool.
  if (out.decision.verdict == Verdict::kInvalidCost ||
      out.decision.verdict == Verdict::kInvalidTier) {
    return out;
  }
  // Borrow: ask for (1 + headroom) × the cost under the tier's reserve, keep only the cost.
  const double ask = pool_cost * (1 + cost_headroom);
  const Decision at_pool = pool->TryAcquire(ask, now, tier);
  out.by_pool = true;
  out.decision = at_pool;
  if (at_pool.admitted()) {
    if (ask > pool_cost) (void)pool->Settle(pool_cost - ask, now);
    out.decision.remaining = at_pool.remaining + (ask - pool_cost);
    out.borrowed = true;
  }
  return out;
}

BacklogSync::Ticket BacklogSync::Admitted(const TokenBucket& pool, MonoTime now) noexcept {
  const BucketConfig c = pool.config();
  const double backlog_s = (c.size - pool.Available(now)) / c.rate_per_s;
  const Ticket t{
      now + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(backlog_s)),
      shift_s()};
  last_done_ns_.store(t.predicted_done.time_since_epoch().count(), std::memory_order_release);
  last_shift_s_.store(t.shift_s, std::memory_order_release);
  return t;
}

double BacklogSync::Completed(TokenBucket& pool, const Ticket& ticket, MonoTime done) noexcept {
  const double s_now = shift_s();
  const double late_s = std::chrono::duration<double>(done - ticket.predicted_done).count();
  const double lag_s = late_s - (s_now - ticket.shift_s);
  if (lag_s == 0 || !std::isfinite(lag_s)) return 0;
  // The model's end of queue, relative to `done`, before and after the shift.
  const double end_s = static_cast<double>(last_done_ns_.load(std::memory_order_acquire) -
                                           done.time_since_epoch().count()) /
                           1e9 +
                       (s_now - last_shift_s_.load(std::memory_order_acquire));
  const double move_s = std::max(0.0, end_s + lag_s) - std::max(0.0, end_s);
  if (move_s != 0) (void)pool.Settle(move_s * pool.config().rate_per_s, done);  // Finite.
  AddShift(lag_s);
  return lag_s;
}

absl::Status BacklogSync::Settle(TokenBucket& pool, double delta, MonoTime now) noexcept {
  if (!std::isfinite(delta)) return pool.Settle(delta, now);  // The same InvalidArgument.
  (void)pool.Settle(delta, now);
  AddShift(delta / pool.config().rate_per_s);
  return absl::OkStatus();
}

void BacklogSync::AddShift(double s) noexcept {
  double cur = shift_s_.load(std::memory_order_relaxed);
  while (!shift_s_.compare_exchange_weak(cur, cur + s, std::memory_order_acq_rel,
                                         std::memory_order_relaxed)) {
  }
}

absl::StatusOr<UnknownCostEstimator> UnknownCostEstimator::Create(double weight, double spread) {
  if (!(weight > 0 && weight <= 1)) {
    return absl::InvalidArgumentError(
        fmt::format("unknown-cost weight = {}: must be in (0, 1]", weight));
  }
  if (!(spread >= 0) || !std::isfinite(spread)) {
    return absl::InvalidArgumentError(
        fmt::format("unknown-cost spread = {}: must be finite and >= 0", spread));
  }
  return UnknownCostEstimator(weight, spread);
}

absl::Status UnknownCostEstimator::Observe(double unknown) noexcept {
  if (!(unknown >= 0) || !std::isfinite(unknown)) {
    return absl::InvalidArgumentError(
        fmt::format("unknown cost = {}: must be finite and >= 0", unknown));
  }
  ++n_;
  const double a = std::max(1.0 / static_cast<double>(n_), weight_);
  const double d = unknown - mean_;
  mean_ += a * d;
  var_ = (1 - a) * (var_ + a * d * d);
  return absl::OkStatus();
}

absl::StatusOr<BucketConfig> PoolConfig(double capacity_per_s, double horizon_s,
                                        const std::array<double, kMaxTiers>& tier_reserve) {
  if (!(capacity_per_s > 0) || !std::isfinite(capacity_per_s)) {
    return absl::InvalidArgumentError(
        fmt::format("pool capacity = {}/s: must be finite and > 0", capacity_per_s));
  }
  if (!(horizon_s > 0) || !std::isfinite(horizon_s)) {
    return absl::InvalidArgumentError(
        fmt::format("pool horizon = {} s: must be finite and > 0", horizon_s));
  }
  BucketConfig c{capacity_per_s, capacity_per_s * horizon_s, tier_reserve};
  if (absl::Status s = ValidateBucketConfig(c); !s.ok()) return s;
  return c;
}

}  // namespace tidegate::shaping
