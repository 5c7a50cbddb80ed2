#include "tidegate/shaping/token_bucket.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

namespace tidegate::shaping {
namespace {

// Offsets are measured from an epoch tau + this slack before the instant a slot is published, so
// that a full bucket's z = now - tau, and a caller's `now` somewhat older than another thread's,
// still map to a non-negative offset.
constexpr int64_t kEpochSlackNs = int64_t{3600} * 1'000'000'000;

int64_t EpochFor(int64_t now_ns, int64_t tolerance_ns) {
  return now_ns - tolerance_ns - kEpochSlackNs;
}

int64_t ToNs(MonoTime t) { return t.time_since_epoch().count(); }

constexpr int64_t kMaxDebtNs =
    std::chrono::duration_cast<std::chrono::nanoseconds>(kMaxDebtTime).count();

// Converts a token count to nanoseconds of refill, saturating far beyond any valid state.
inline int64_t TokensToNs(double tokens, double ns_per_token) {
  constexpr double kLimit = 4e18;
  const double ns = std::clamp(tokens * ns_per_token, -kLimit, kLimit);
  // Round half away from zero without a libm call (this is on the admission path).
  return static_cast<int64_t>(ns >= 0 ? ns + 0.5 : ns - 0.5);
}

}  // namespace

absl::Status ValidateBucketConfig(const BucketConfig& c) {
  if (!std::isfinite(c.rate_per_s) || c.rate_per_s < kMinRatePerS || c.rate_per_s > kMaxRatePerS) {
    return absl::InvalidArgumentError(
        fmt::format("bucket rate_per_s = {}: must be a finite number in [{}, {}]", c.rate_per_s,
                    kMinRatePerS, kMaxRatePerS));
  }
  if (!std::isfinite(c.size) || c.size <= 0) {
    return absl::InvalidArgumentError(
        fmt::format("bucket size = {}: must be a finite number > 0", c.size));
  }
  const double burst_s = c.size / c.rate_per_s;
  const double max_burst_s = std::chrono::duration<double>(kMaxBurstTime).count();
  if (burst_s > max_burst_s) {
    return absl::InvalidArgumentError(
        fmt::format("bucket size / rate_per_s = {} s: a full bucket must refill within {} s",
                    burst_s, max_burst_s));
  }
  if (c.reserve_fraction[0] != 0) {
    return absl::InvalidArgumentError(fmt::format(
        "bucket reserve_fraction[0] = {}: tier 0 (critical) reserves nothing, must be 0",
        c.reserve_fraction[0]));
  }
  for (int t = 1; t < kMaxTiers; ++t) {
    const double f = c.reserve_fraction[t];
    if (!std::isfinite(f) || f < 0 || f >= 1) {
      return absl::InvalidArgumentError(
          fmt::format("bucket reserve_fraction[{}] = {}: must be in [0, 1)", t, f));
    }
    if (f < c.reserve_fraction[t - 1]) {
      return absl::InvalidArgumentError(fmt::format(
          "bucket reserve_fraction[{}] = {} is below reserve_fraction[{}] = {}: a lower tier "
          "must reserve at least as much as a higher one",
          t, f, t - 1, c.reserve_fraction[t - 1]));
    }
  }
  return absl::OkStatus();
}

absl::Status DecisionToStatus(const Decision& d, double cost, int tier) {
  switch (d.verdict) {
    case Verdict::kAdmitted:
      return absl::OkStatus();
    case Verdict::kRefused:
      return absl::ResourceExhaustedError(fmt::format(
          "refused at level {}: cost {} for tier {} exceeds available tokens; retry after {:.3f} s",
          d.level, cost, tier, std::chrono::duration<double>(d.retry_after).count()));
    case Verdict::kInvalidCost:
      return absl::InvalidArgumentError(
          fmt::format("cost = {}: must be a finite number >= 0", cost));
    case Verdict::kCostTooLarge:
      return absl::InvalidArgumentError(fmt::format(
          "cost = {} exceeds what tier {} may ever take from the bucket at level {} (its size "
          "less the tier's reserve)",
          cost, tier, d.level));
    case Verdict::kInvalidTier:
      return absl::InvalidArgumentError(
          fmt::format("tier = {}: must be in [0, {})", tier, kMaxTiers));
  }
  return absl::InternalError("unknown verdict");
}

absl::StatusOr<std::shared_ptr<TokenBucket>> TokenBucket::Create(
    const BucketConfig& config, MonoTime now, std::shared_ptr<TokenBucket> parent) {
  if (absl::Status s = ValidateBucketConfig(config); !s.ok()) return s;
  return std::shared_ptr<TokenBucket>(new TokenBucket(config, now, std::move(parent)));
}

TokenBucket::TokenBucket(const BucketConfig& config, MonoTime now,
                         std::shared_ptr<TokenBucket> parent)
    : parent_(std::move(parent)) {
  const int64_t now_ns = ToNs(now);
  const double ns_per_token = 1e9 / config.rate_per_s;
  const int64_t tolerance_ns = TokensToNs(config.size, ns_per_token);
  const int64_t epoch = EpochFor(now_ns, tolerance_ns);
  StoreParams(slots_[0], config, epoch);
  state_.store(Pack(0, now_ns - tolerance_ns, epoch), std::memory_order_release);
}

uint64_t TokenBucket::Pack(uint64_t generation, int64_t z_ns, int64_t epoch_ns) noexcept {
  // z earlier than the epoch means "at least full": clamp (Available caps at size anyway).
  // z beyond the 56-bit range (~834 days after the epoch) saturates: debt is capped at
  // kMaxDebtTime (365 days) and the epoch moves at every Replan, so only a bucket never re-planned
  // for more than ~400 days gets there (docs/design/shaping.md).
  const int64_t offset = std::clamp<int64_t>(z_ns - epoch_ns, 0, static_cast<int64_t>(kOffsetMask));
  return (generation << kOffsetBits) | static_cast<uint64_t>(offset);
}

void TokenBucket::StoreParams(Slot& slot, const BucketConfig& config, int64_t epoch_ns) noexcept {
  const double ns_per_token = 1e9 / config.rate_per_s;
  // Release stores: a reader that sees any of these values also sees the state_ generation bump
  // that preceded this write (see LoadParams' validation).
  slot.ns_per_token.store(ns_per_token, std::memory_order_release);
  slot.tolerance_ns.store(TokensToNs(config.size, ns_per_token), std::memory_order_release);
  slot.epoch_ns.store(epoch_ns, std::memory_order_release);
  for (int t = 1; t < kMaxTiers; ++t) {
    slot.reserve_fraction[t - 1].store(config.reserve_fraction[t], std::memory_order_release);
  }
}

bool TokenBucket::LoadParams(uint64_t state, Params* p) const noexcept {
  const Slot& slot = slots_[Generation(state) & 1];
  // Seqlock-style validation without a fence. Each load is an acquire: if it returns a value that
  // a later Replan stored (with release) while preparing the *next* use of this slot, then that
  // Replan's earlier generation bump happens-before the state_ load below, which therefore sees a
  // different generation and we report a possibly torn read. Acquire loads are plain moves on
  // x86-64 and cheap on ARM (ldar).
  p->ns_per_token = slot.ns_per_token.load(std::memory_order_acquire);
  p->tolerance_ns = slot.tolerance_ns.load(std::memory_order_acquire);
  p->epoch_ns = slot.epoch_ns.load(std::memory_order_acquire);
  p->reserve_fraction[0] = 0;
  for (int t = 1; t < kMaxTiers; ++t) {
    p->reserve_fraction[t] = slot.reserve_fraction[t - 1].load(std::memory_order_acquire);
  }
  const uint64_t again = state_.load(std::memory_order_acquire);
  return Generation(again) == Generation(state);
}

Decision TokenBucket::AcquireLocal(double cost, int64_t now_ns, int tier) noexcept {
  Decision d;
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    // Only the fields this decision needs (see LoadParams for the ordering argument). A torn read
    // cannot lead to an admission: the slot in use is rewritten only after the generation moved
    // on, so the CAS below, which expects this generation, would fail. Refusals re-validate.
    const Slot& slot = slots_[Generation(s) & 1];
    const double ns_per_token = slot.ns_per_token.load(std::memory_order_acquire);
    const int64_t tolerance_ns = slot.tolerance_ns.load(std::memory_order_acquire);
    const int64_t epoch_ns = slot.epoch_ns.load(std::memory_order_acquire);
    const int64_t reserve_ns =
        tier == 0
            ? 0
            : static_cast<int64_t>(static_cast<double>(tolerance_ns) *
                                   slot.reserve_fraction[tier - 1].load(std::memory_order_acquire));
    const int64_t cost_ns = TokensToNs(cost, ns_per_token);
    const int64_t z = UnpackZ(s, epoch_ns);
    const int64_t z_new = std::max(z, now_ns - tolerance_ns) + cost_ns;
    const int64_t limit = now_ns - reserve_ns;
    if (z_new <= limit && cost_ns <= tolerance_ns - reserve_ns) {
      if (state_.compare_exchange_weak(s, Pack(Generation(s), z_new, epoch_ns),
                                       std::memory_order_acq_rel, std::memory_order_acquire)) {
        d.verdict = Verdict::kAdmitted;
        d.remaining = static_cast<double>(now_ns - z_new) / ns_per_token;
        return d;
      }
      continue;  // `s` now holds the fresh state (maybe a new generation): recompute.
    }
    // Not admissible with what we read. Make sure the read was not torn before saying so.
    const uint64_t again = state_.load(std::memory_order_acquire);
    if (Generation(again) != Generation(s)) {
      s = again;
      continue;
    }
    if (cost_ns > tolerance_ns - reserve_ns) {
      d.verdict = Verdict::kCostTooLarge;
      return d;
    }
    d.verdict = Verdict::kRefused;
    d.retry_after = Duration(z_new - limit);
    d.remaining = std::min(static_cast<double>(tolerance_ns) / ns_per_token,
                           static_cast<double>(now_ns - z) / ns_per_token);
    return d;
  }
}

bool TokenBucket::CostTooLarge(double cost, int tier) const noexcept {
  for (;;) {
    const uint64_t s = state_.load(std::memory_order_acquire);
    Params p;
    if (!LoadParams(s, &p)) continue;
    return TokensToNs(cost, p.ns_per_token) > p.tolerance_ns - p.ReserveNs(tier);
  }
}

void TokenBucket::CheckAncestorsCanEverAdmit(const TokenBucket* refused, uint8_t level, double cost,
                                             int tier, Decision* d) noexcept {
  for (const TokenBucket* b = refused->parent_.get(); b != nullptr; b = b->parent_.get()) {
    ++level;
    if (b->CostTooLarge(cost, tier)) {
      d->verdict = Verdict::kCostTooLarge;
      d->level = level;
      d->retry_after = Duration(0);
      return;
    }
  }
}

void TokenBucket::SettleLocal(double delta, int64_t now_ns) noexcept {
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    Params p;
    if (!LoadParams(s, &p)) {
      s = state_.load(std::memory_order_acquire);
      continue;
    }
    const int64_t floor = now_ns - p.tolerance_ns;  // z at a full bucket.
    const int64_t z = std::max(UnpackZ(s, p.epoch_ns), floor);
    // A charge may push z into the future (debt), at most kMaxDebtTime ahead of now.
    const int64_t z_new =
        std::clamp(z + TokensToNs(delta, p.ns_per_token), floor, now_ns + kMaxDebtNs);
    if (state_.compare_exchange_weak(s, Pack(Generation(s), z_new, p.epoch_ns),
                                     std::memory_order_acq_rel, std::memory_order_acquire)) {
      return;
    }
  }
}

Decision TokenBucket::TryAcquire(double cost, MonoTime now, int tier) noexcept {
  Decision d;
  if (!(cost >= 0) || !std::isfinite(cost)) {
    d.verdict = Verdict::kInvalidCost;
    return d;
  }
  if (tier < 0 || tier >= kMaxTiers) {
    d.verdict = Verdict::kInvalidTier;
    return d;
  }
  const int64_t now_ns = ToNs(now);
  Decision first = AcquireLocal(cost, now_ns, tier);
  if (first.verdict == Verdict::kRefused) CheckAncestorsCanEverAdmit(this, 0, cost, tier, &first);
  if (!first.admitted() || parent_ == nullptr) return first;

  uint8_t level = 1;
  for (TokenBucket* b = parent_.get(); b != nullptr; b = b->parent_.get(), ++level) {
    Decision at = b->AcquireLocal(cost, now_ns, tier);
    if (at.admitted()) continue;
    // Undo the charges already made, from the bucket asked up to the one below the refusal. A
    // charge followed by an equal refund restores the same token balance (see shaping.md).
    for (TokenBucket* u = this; u != b; u = u->parent_.get()) u->SettleLocal(-cost, now_ns);
    at.level = level;
    at.remaining = first.remaining + cost;
    if (at.verdict == Verdict::kRefused) CheckAncestorsCanEverAdmit(b, level, cost, tier, &at);
    return at;
  }
  return first;
}

absl::Status TokenBucket::Settle(double delta, MonoTime now) noexcept {
  if (!std::isfinite(delta)) {
    return absl::InvalidArgumentError(
        fmt::format("settle delta = {}: must be a finite number", delta));
  }
  const int64_t now_ns = ToNs(now);
  for (TokenBucket* b = this; b != nullptr; b = b->parent_.get()) b->SettleLocal(delta, now_ns);
  return absl::OkStatus();
}

absl::Status TokenBucket::Replan(const BucketConfig& config, MonoTime now) {
  if (absl::Status s = ValidateBucketConfig(config); !s.ok()) return s;
  const int64_t now_ns = ToNs(now);
  // Writers of one bucket take turns; a Replan is rare (once per planning tick) and short.
  while (replan_busy_.exchange(true, std::memory_order_acquire)) std::this_thread::yield();

  uint64_t s = state_.load(std::memory_order_acquire);
  Params old;
  // Only a Replan changes the generation, and we hold the writer flag: this read is never torn.
  LoadParams(s, &old);
  const uint64_t next_gen = (Generation(s) + 1) & 0xff;
  const double ns_per_token = 1e9 / config.rate_per_s;
  const int64_t epoch = EpochFor(now_ns, TokensToNs(config.size, ns_per_token));
  Slot& next = slots_[next_gen & 1];
  StoreParams(next, config, epoch);
  const double ratio = config.size / old.size();
  for (;;) {
    const int64_t z = std::max(UnpackZ(s, old.epoch_ns), now_ns - old.tolerance_ns);
    const double tokens = static_cast<double>(now_ns - z) / old.ns_per_token;
    // Proportional carry-over of a positive balance; a debt is owed cost and carries unchanged.
    const double carried = tokens > 0 ? tokens * ratio : tokens;
    // At a lower rate a debt takes longer to pay back; it stays capped at kMaxDebtTime.
    const int64_t z_new = std::min(now_ns - TokensToNs(carried, ns_per_token), now_ns + kMaxDebtNs);
    if (state_.compare_exchange_weak(s, Pack(next_gen, z_new, epoch), std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
      break;
    }
  }
  replan_busy_.store(false, std::memory_order_release);
  return absl::OkStatus();
}

bool TokenBucket::NeedsRebase(MonoTime now) const noexcept {
  constexpr int64_t kAfterNs =
      std::chrono::duration_cast<std::chrono::nanoseconds>(kRebaseAfter).count();
  for (;;) {
    const uint64_t s = state_.load(std::memory_order_acquire);
    Params p;
    if (!LoadParams(s, &p)) continue;
    return ToNs(now) - p.epoch_ns > kAfterNs;
  }
}

bool TokenBucket::RebaseIfOld(MonoTime now) {
  return NeedsRebase(now) && Replan(config(), now).ok();
}

double TokenBucket::Available(MonoTime now) const noexcept {
  for (;;) {
    const uint64_t s = state_.load(std::memory_order_acquire);
    Params p;
    if (!LoadParams(s, &p)) continue;
    const double tokens = static_cast<double>(ToNs(now) - UnpackZ(s, p.epoch_ns)) / p.ns_per_token;
    return std::min(p.size(), tokens);
  }
}

BucketConfig TokenBucket::config() const noexcept {
  for (;;) {
    const uint64_t s = state_.load(std::memory_order_acquire);
    Params p;
    if (!LoadParams(s, &p)) continue;
    BucketConfig c;
    c.rate_per_s = 1e9 / p.ns_per_token;
    c.size = p.size();
    for (int t = 0; t < kMaxTiers; ++t) c.reserve_fraction[t] = p.reserve_fraction[t];
    return c;
  }
}

}  // namespace tidegate::shaping
