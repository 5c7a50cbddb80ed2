// A deliberately simple, single-threaded token bucket in floating-point tokens: the oracle the
// property tests and the fuzzer compare tidegate::shaping::TokenBucket against. It states the
// semantics of token_bucket.h directly, without the GCRA transformation or fixed-point time.
#ifndef TIDEGATE_TEST_SHAPING_REFERENCE_BUCKET_H_
#define TIDEGATE_TEST_SHAPING_REFERENCE_BUCKET_H_

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <vector>

#include "tidegate/shaping/token_bucket.h"

namespace tidegate::shaping::testing {

struct ReferenceLevel {
  BucketConfig config;
  double tokens = 0;
  double last_s = 0;
  // Bound on how far the fixed-point implementation may legitimately differ, in tokens: each
  // operation rounds time to a nanosecond (rate * 1e-9 tokens); a proportional carry-over to a
  // bigger size scales what was accumulated before it.
  double carried_error = 0;
  int ops = 0;

  void Refill(double now_s) {
    if (now_s > last_s) {
      // A balance above size never exists; refill stops at size.
      tokens = std::min(config.size, tokens + (now_s - last_s) * config.rate_per_s);
      last_s = now_s;
    }
  }
  double Reserve(int tier) const { return config.size * config.reserve_fraction[tier]; }
  // Debt is capped at kMaxDebtTime of refill.
  double MaxDebt() const {
    return config.rate_per_s * std::chrono::duration<double>(kMaxDebtTime).count();
  }
  double Tolerance() const {
    return carried_error + (ops + 1) * 2e-9 * config.rate_per_s + 1e-9 * config.size + 1e-12;
  }
};

// Levels [0] = the bucket asked, [1] = its parent, ...
class ReferenceHierarchy {
 public:
  explicit ReferenceHierarchy(std::vector<BucketConfig> configs, double now_s) {
    for (const BucketConfig& c : configs) levels_.push_back({c, c.size, now_s});
  }

  // The verdict for `cost` at `tier`. *ambiguous is set when some level's balance is within its
  // rounding tolerance of the threshold, so that either verdict is correct.
  Verdict Decide(double cost, int tier, double now_s, bool* ambiguous) {
    *ambiguous = false;
    for (auto& l : levels_) {
      l.Refill(now_s);
      ++l.ops;
      const double usable = l.config.size - l.Reserve(tier);
      if (std::fabs(cost - usable) <= l.Tolerance()) *ambiguous = true;
      if (cost > usable) return Verdict::kCostTooLarge;
    }
    Verdict v = Verdict::kAdmitted;
    for (auto& l : levels_) {
      const double margin = l.tokens - cost - l.Reserve(tier);
      if (std::fabs(margin) <= l.Tolerance()) *ambiguous = true;
      if (margin < 0) v = Verdict::kRefused;
    }
    return v;
  }
  void Charge(double cost) {
    for (auto& l : levels_) l.tokens -= cost;
  }
  void Settle(double delta, double now_s) {
    for (auto& l : levels_) {
      l.Refill(now_s);
      ++l.ops;
      l.tokens = std::max(std::min(l.config.size, l.tokens - delta), -l.MaxDebt());
    }
  }
  void Replan(int level, const BucketConfig& c, double now_s) {
    ReferenceLevel& l = levels_[level];
    l.Refill(now_s);
    // The bucket carries a positive balance over in proportion to the sizes and a debt as it is.
    // Within tolerance of zero the bucket's own balance may lie on the other side of zero from
    // this model's, so its error may have been scaled by the ratio while this balance was not.
    const double ratio = l.tokens > -l.Tolerance() ? c.size / l.config.size : 1.0;
    l.carried_error = l.Tolerance() * std::max(1.0, ratio);
    l.ops = 0;
    l.tokens = l.tokens > 0 ? l.tokens * c.size / l.config.size : l.tokens;
    l.config = c;
    l.tokens = std::max(l.tokens, -l.MaxDebt());
  }
  double Tokens(int level, double now_s) {
    levels_[level].Refill(now_s);
    return levels_[level].tokens;
  }
  double Tolerance(int level) const { return levels_[level].Tolerance(); }
  const BucketConfig& config(int level) const { return levels_[level].config; }
  size_t depth() const { return levels_.size(); }

 private:
  std::vector<ReferenceLevel> levels_;
};

}  // namespace tidegate::shaping::testing

#endif  // TIDEGATE_TEST_SHAPING_REFERENCE_BUCKET_H_
