// tidegate/shaping/borrowing.h — work-conserving admission: classes borrow unused capacity from a
// shared pool in real time, as hierarchical token buckets (HTB) do.
//
// Each class keeps its own bucket, refilled at its assured rate (the planner's allocation). A
// request its own bucket refuses may *borrow* from a pool bucket shared by all classes: the pool
// holds the system's capacity in units of one resource (CPU-ms, requests, …), and admits a
// borrower when it can pay the request's cost on top of everything already charged to it, less
// the reserve of the borrower's tier.
//
// The pool is the server's backlog. Every admitted request, assured or borrowed, is charged to
// the pool. With the pool refilling at the server's capacity C and holding C·h tokens, write the
// GCRA empty time z (token_bucket.h) as busy_until − h: a charge c moves busy_until' =
// max(busy_until, now) + c / C, the completion time of a work-conserving FIFO server. So
//
//   * an assured request (its class bucket admits it) is admitted unless the backlog with it
//     would exceed the whole horizon h — it could not be served within h; then its class
//     bucket's charge is refunded;
//   * a borrower of tier t is admitted when the backlog plus (1 + cost_headroom) times its cost
//     is at most h·(1 − reserve_fraction[t]); only its cost is kept.
//
// Tier 0 (reserve 0) may borrow up to the whole horizon; lower tiers stop earlier, leaving the
// last part of the horizon to the tiers above them, and a higher tier's work already admitted is
// in the pool's balance, so a borrower never takes it. The cost headroom makes a large request
// borrow only from an emptier queue than a small one: admitting a request of service time s
// delays everything behind it by s, so where a count of requests on time is what matters, small
// requests are the better loan.
//
// Costs: the pool is charged the request's cost as known at admission (declared by the caller —
// the part it knows plus UnknownCostEstimator's estimate of the rest, below — or the class's
// learned mean cost); callers true it up with pool.Settle(actual − charged) when the actual cost
// is known, and refund the charge of a request that was never served.
//
// Borrowed requests are charged to the pool only, not to the class's bucket nor its parents.
//
// Thread-safety: as TokenBucket (lock-free). Between the class bucket's decision and the pool's,
// another thread may change the pool; the outcome is that of the two requests in another order.
#ifndef TIDEGATE_SHAPING_BORROWING_H_
#define TIDEGATE_SHAPING_BORROWING_H_

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>

#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"
#include "tidegate/shaping/token_bucket.h"

namespace tidegate::shaping {

struct BorrowDecision {
  // The class bucket's decision, or the pool's when by_pool (a borrow, or the pool's refusal).
  Decision decision;
  bool borrowed = false;  // Admitted by the pool after the class's own bucket refused.
  bool by_pool = false;   // The pool decided (borrowed, or refused an assured or a borrower).

  bool admitted() const { return decision.admitted(); }
};

// Admits a request of `tier` costing `cost` tokens at the class bucket `own` and `pool_cost` at
// `pool`, by the rules in the file comment. With a null `pool`, exactly own.TryAcquire. An invalid
// cost, pool cost, headroom or tier is refused (kInvalidCost / kInvalidTier) without charging
// anything. Lock-free; never allocates or throws.
BorrowDecision AcquireOrBorrow(TokenBucket& own, double cost, TokenBucket* pool, double pool_cost,
                               MonoTime now, int tier, double cost_headroom = 0) noexcept;

// Keeps a pool's backlog in step with the FIFO server it models, from completion times. The pool
// is a model: when the server is slower than its configured capacity (contention, a background
// load), requests finish later than the pool predicts, and borrowers would fill a queue longer
// than the pool knows. Every admission records the pool's predicted completion time of the
// request (a Ticket); when the request completes, the lag of its actual completion behind the
// prediction, less the shifts applied since its admission, moves every later completion, and so
// the pool's backlog (or, when the server was faster, brings it forward):
//
//   predicted done_j = now + (size − available) / rate           (at admission, after its charge)
//   lag_j            = (done_j − predicted done_j) − (S − S_j)   (S = sum of shifts so far)
//   M                = predicted done of the latest admission + (S − S_latest)   (the model's end)
//   pool.Settle(rate · (max(done_j, M + lag_j) − max(done_j, M)));   S += lag_j
//
// (The max with done_j: once the server has finished j, a queue the model thinks ended before
// done_j holds at most what the lag pushed past done_j.)
//
// Every other correction of the pool's balance (cost true-ups, refunds of abandoned requests) goes
// through Settle here too, so that it counts in S and is not corrected twice. Thread-safe (S is
// an atomic); a lag found on one thread and another's admission may interleave, which at worst
// applies one correction a second time, once.
class BacklogSync {
 public:
  struct Ticket {
    MonoTime predicted_done{};
    double shift_s = 0;  // S at admission.
  };

  // Call right after an admission charged to `pool`.
  Ticket Admitted(const TokenBucket& pool, MonoTime now) noexcept;
  // Call when the request of `ticket` completed at `done`; returns the shift applied, in seconds.
  double Completed(TokenBucket& pool, const Ticket& ticket, MonoTime done) noexcept;
  // A correction of `delta` tokens to the pool's balance (actual − charged cost; a refund < 0).
  // InvalidArgument for a non-finite delta (nothing changes).
  absl::Status Settle(TokenBucket& pool, double delta, MonoTime now) noexcept;

  double shift_s() const noexcept { return shift_s_.load(std::memory_order_acquire); }

 private:
  void AddShift(double s) noexcept;
  std::atomic<double> shift_s_{0};
  // The latest admission's ticket (predicted done in ns since the clock's epoch, and S then).
  std::atomic<int64_t> last_done_ns_{0};
  std::atomic<double> last_shift_s_{0};
};

// A class's estimate of the part of a request's cost that is not known at admission — an LLM
// request's generated tokens, where the prompt's tokens are known — learned from the class's
// completed requests only (causal: nothing about a request is used before it completes). The
// pool is charged the declared cost
//
//   declared = known + m + k·σ
//
// and the difference to the actual cost is settled when the request completes. m and σ are the
// mean and standard deviation of the unknown part over the class's completions: the plain running
// mean and variance over the first 1/w completions, exponentially weighted with weight w after
// that (so the estimate starts unbiased and then follows drift):
//
//   n ← n + 1;   a = max(1/n, w);   d = x − m;   m ← m + a·d;   v ← (1 − a)·(v + a·d²);   σ = √v
//
// k (`spread`) ≥ 0 is a cost-uncertainty headroom: k = 0 declares the mean; k > 0 charges a
// request more when the class's unknown part is spread wide, which keeps the pool's backlog from
// running short of the server's. Before the first completion m = σ = 0 (the known part alone).
//
// Thread-safety: none; one owner per class (or a lock around it).
class UnknownCostEstimator {
 public:
  // InvalidArgument naming the field unless 0 < weight <= 1 and spread is finite and >= 0.
  static absl::StatusOr<UnknownCostEstimator> Create(double weight, double spread);

  // Folds the unknown part of a completed request (actual − known) in. Not finite or < 0:
  // InvalidArgument, nothing changes.
  absl::Status Observe(double unknown) noexcept;
  // m + k·σ: what to declare on top of the known part (0 before any completion).
  double Estimate() const noexcept { return mean_ + spread_ * std::sqrt(var_); }
  double mean() const noexcept { return mean_; }
  double stddev() const noexcept { return std::sqrt(var_); }
  int64_t completions() const noexcept { return n_; }

 private:
  UnknownCostEstimator(double weight, double spread) : weight_(weight), spread_(spread) {}
  double weight_, spread_;
  double mean_ = 0, var_ = 0;
  int64_t n_ = 0;
};

// The pool's configuration for a server of `capacity_per_s` (the pool's resource per second) and
// a backlog horizon of `horizon_s` seconds: rate = capacity, size = capacity · horizon, the
// tiers' reserves as given. InvalidArgument naming the field for a capacity or horizon that is
// not finite and > 0, or reserves that ValidateBucketConfig refuses.
absl::StatusOr<BucketConfig> PoolConfig(double capacity_per_s, double horizon_s,
                                        const std::array<double, kMaxTiers>& tier_reserve);

}  // namespace tidegate::shaping

#endif  // TIDEGATE_SHAPING_BORROWING_H_
