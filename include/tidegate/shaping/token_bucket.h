// tidegate/shaping/token_bucket.h — lock-free hierarchical token buckets (GCRA), the admission
// core.
//
// A TokenBucket holds up to `size` tokens and refills at `rate_per_s` tokens per second. A request
// asks for `cost` tokens with TryAcquire; it is admitted when the bucket — and every parent bucket
// it is linked to (tenant, global) — can pay, and then it is charged at every level. A refusal at
// any level leaves no charge anywhere. A request charged an estimate can later be trued up with
// Settle(actual - estimate); the balance may go negative (debt), which refill pays back.
//
// Priority tiers: tier 0 is critical, higher numbers are less important (at most kMaxTiers).
// Each bucket keeps `reserve_fraction[t] * size` tokens that a request of tier t may not take, so
// the last tokens of a shared bucket stay with the higher tiers. Tier 0 reserves nothing.
//
// Re-planning: Replan() swaps rate, size and reserves at any moment, from any thread, without
// blocking admission. The balance carries over proportionally: a bucket that was 40 % full is 40 %
// full of the new size; a debt carries over unchanged (it is cost already consumed).
//
// Time: every call takes `now` (a MonoTime); the bucket never reads a clock. Callers on several
// threads may pass slightly different `now`s; a `now` older than the bucket's last update is
// treated as that update's time (no refill, no un-refill).
//
// Algorithm (see docs/design/shaping.md for the math and the memory-order argument):
//   The state is one instant z, the "empty time": the moment the bucket was (or will be) empty if
//   nothing else happened. With T = 1/rate (ns per token) and tau = size * T,
//     tokens(now)      = min(size, (now - z) / T)            (negative while in debt: z > now)
//     charge c         : z' = max(z, now - tau) + c * T
//     admit c, tier t  : z' <= now - reserve_fraction[t] * tau
//   which is the Generic Cell Rate Algorithm (ITU-T I.371) in token units.
//
// Invariants:
//   * Admitted cost over any interval of length d is at most size + rate * d (plus the debt any
//     Settle added, minus what it refunded).
//   * The state word changes only by compare-and-swap; a failed CAS changes nothing.
//
// Thread-safety: all methods are safe to call concurrently. TryAcquire, Settle and Available are
// lock-free and never allocate, block or throw. Replan serialises writers of the same bucket among
// themselves (a spin flag); readers never wait for it. A parent must outlive its children: children
// hold a shared_ptr to their parent.
#ifndef TIDEGATE_SHAPING_TOKEN_BUCKET_H_
#define TIDEGATE_SHAPING_TOKEN_BUCKET_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"

namespace tidegate::shaping {

// Number of priority tiers. Tier 0 is critical; kMaxTiers - 1 is best effort.
inline constexpr int kMaxTiers = 4;

// Limits that keep the fixed-point arithmetic exact; ValidateBucketConfig enforces them.
inline constexpr double kMinRatePerS = 1e-6;  // One token every ~11.6 days.
inline constexpr double kMaxRatePerS = 1e9;   // One token per nanosecond.
inline constexpr Duration kMaxBurstTime = std::chrono::hours(24 * 30);  // size / rate
// Debt is capped at this much refill (rate * kMaxDebtTime tokens): a Settle or a Replan that
// would owe more leaves the balance at -rate * kMaxDebtTime. A year of owed refill already blocks
// a class for a year; the cap keeps the fixed-point state within its range.
inline constexpr Duration kMaxDebtTime = std::chrono::hours(24 * 365);

struct BucketConfig {
  double rate_per_s = 0;  // Refill, tokens per second. > 0, finite.
  double size = 0;        // Capacity (burst), tokens. > 0, finite.
  // reserve_fraction[t]: share of `size` that tier t may not consume. [0] must be 0; values in
  // [0, 1) and non-decreasing with t (a lower tier never reaches further than a higher one).
  std::array<double, kMaxTiers> reserve_fraction{};

  friend bool operator==(const BucketConfig&, const BucketConfig&) = default;
};

// OK, or InvalidArgument naming the offending field and value.
absl::Status ValidateBucketConfig(const BucketConfig& config);

enum class Verdict : uint8_t {
  kAdmitted,
  kRefused,       // Not enough tokens now; retry_after says when there will be.
  kInvalidCost,   // Cost negative, NaN or infinite.
  kCostTooLarge,  // Cost exceeds what the tier may ever take at some level: never admissible.
  kInvalidTier,   // Tier outside [0, kMaxTiers).
};

// The outcome of one TryAcquire. Small and trivially copyable: returned by value on the hot path.
struct Decision {
  Verdict verdict = Verdict::kRefused;
  // Level at which the request was refused or found invalid: 0 = the bucket asked, 1 = its parent…
  uint8_t level = 0;
  // Tokens left at the bucket asked (level 0) after the decision; may be negative (debt).
  double remaining = 0;
  // On kRefused: the earliest wait after which the same request could be admitted at the refusing
  // level, if nothing else happened. Zero otherwise.
  Duration retry_after{0};

  bool admitted() const { return verdict == Verdict::kAdmitted; }
};

// A readable error for a non-admitted decision: ResourceExhausted for kRefused (with retry-after),
// InvalidArgument for the others. OK when admitted. Allocates: not for the hot path.
absl::Status DecisionToStatus(const Decision& decision, double cost, int tier);

class TokenBucket {
 public:
  // Creates a full bucket. `parent` may be null (a root). InvalidArgument if config is invalid.
  static absl::StatusOr<std::shared_ptr<TokenBucket>> Create(
      const BucketConfig& config, MonoTime now, std::shared_ptr<TokenBucket> parent = nullptr);

  TokenBucket(const TokenBucket&) = delete;
  TokenBucket& operator=(const TokenBucket&) = delete;

  // Admits `cost` tokens for a request of `tier` at this bucket and every ancestor, charging each,
  // or charges nothing. Lock-free; never allocates, blocks or throws. A cost of 0 asks whether the
  // bucket is not in debt (and, with a reserve, above it) without charging.
  Decision TryAcquire(double cost, MonoTime now, int tier = 0) noexcept;

  // Adds `delta` tokens of charge (positive: the request cost more than estimated; negative: a
  // refund) at this bucket and every ancestor. A charge may push the balance into debt; a refund
  // never fills a bucket past `size`. InvalidArgument for NaN or infinite delta (nothing changes).
  absl::Status Settle(double delta, MonoTime now) noexcept;

  // Replaces rate, size and reserves of this bucket only (not its ancestors), carrying the balance
  // over proportionally (debt unchanged). InvalidArgument (nothing changes) if config is invalid.
  absl::Status Replan(const BucketConfig& config, MonoTime now);

  // Re-plans with the current config (which changes no balance) when the bucket's time base is
  // older than kRebaseAfter, so that its fixed-point offset never saturates however long the
  // bucket lives without a Replan (docs/design/shaping.md). Returns whether it re-planned. Owners
  // of long-lived buckets call it now and then (tidegated: every Service tick).
  bool RebaseIfOld(MonoTime now);
  // Whether RebaseIfOld would re-plan (lock-free; for owners that serialise their Replans).
  bool NeedsRebase(MonoTime now) const noexcept;
  static constexpr Duration kRebaseAfter = std::chrono::hours(24 * 180);

  // Tokens available now at this bucket (negative in debt, at most size).
  double Available(MonoTime now) const noexcept;

  // The configuration in force.
  BucketConfig config() const noexcept;

  TokenBucket* parent() const noexcept { return parent_.get(); }

 private:
  // One parameter set. Two of them alternate: Replan writes the one not in use, then publishes it
  // by bumping the generation in state_. Fields are atomics so that a reader racing a writer of the
  // *other* generation reads no torn value (it then fails its CAS or re-validation and retries).
  struct Slot {
    std::atomic<double> ns_per_token{0};   // T
    std::atomic<int64_t> tolerance_ns{0};  // tau = size * T; size is derived as tau / T.
    std::atomic<int64_t> epoch_ns{0};      // Origin of the offsets stored in state_.
    std::array<std::atomic<double>, kMaxTiers - 1> reserve_fraction{};  // Tiers 1..; tier 0 is 0.
  };
  struct Params {  // A plain copy of a Slot.
    double ns_per_token;
    int64_t tolerance_ns;
    int64_t epoch_ns;
    std::array<double, kMaxTiers> reserve_fraction;  // [0] == 0.
    double size() const { return static_cast<double>(tolerance_ns) / ns_per_token; }
    // The part of tau that `tier` may not consume.
    int64_t ReserveNs(int tier) const {
      return static_cast<int64_t>(static_cast<double>(tolerance_ns) * reserve_fraction[tier]);
    }
  };

  // state_ layout: [generation: 8 bits][offset of z from the slot's epoch, ns: 56 bits].
  static constexpr int kOffsetBits = 56;
  static constexpr uint64_t kOffsetMask = (uint64_t{1} << kOffsetBits) - 1;

  TokenBucket(const BucketConfig& config, MonoTime now, std::shared_ptr<TokenBucket> parent);

  static uint64_t Pack(uint64_t generation, int64_t z_ns, int64_t epoch_ns) noexcept;
  static int64_t UnpackZ(uint64_t state, int64_t epoch_ns) noexcept {
    return epoch_ns + static_cast<int64_t>(state & kOffsetMask);
  }
  static uint64_t Generation(uint64_t state) noexcept { return state >> kOffsetBits; }

  // Reads the slot of `state`'s generation. Returns false if a concurrent Replan may have torn it.
  bool LoadParams(uint64_t state, Params* params) const noexcept;
  static void StoreParams(Slot& slot, const BucketConfig& config, int64_t epoch_ns) noexcept;

  // Single-level operations used by the hierarchy.
  Decision AcquireLocal(double cost, int64_t now_ns, int tier) noexcept;
  // True if `cost` exceeds what `tier` may ever take here (size less the tier's reserve).
  bool CostTooLarge(double cost, int tier) const noexcept;
  // Turns a refusal at `refused` (at depth `level`) into kCostTooLarge if some ancestor above it
  // can never admit the cost, so that callers are not invited to retry the impossible.
  static void CheckAncestorsCanEverAdmit(const TokenBucket* refused, uint8_t level, double cost,
                                         int tier, Decision* d) noexcept;
  void SettleLocal(double delta, int64_t now_ns) noexcept;

  alignas(64) std::atomic<uint64_t> state_;
  Slot slots_[2];
  std::atomic<bool> replan_busy_{false};
  std::shared_ptr<TokenBucket> parent_;
};

}  // namespace tidegate::shaping

#endif  // TIDEGATE_SHAPING_TOKEN_BUCKET_H_
