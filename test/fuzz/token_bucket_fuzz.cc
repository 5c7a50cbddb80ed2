// libFuzzer target: replays random traces of acquire / settle / re-plan / advance-time actions on
// a three-level hierarchy and checks each step against the reference model (reference_bucket.h)
// and the invariants of token_bucket.h. Inputs also include invalid values (NaN, negative, huge)
// which must be rejected with an error verdict/status and change nothing.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "shaping/reference_bucket.h"
#include "tidegate/shaping/token_bucket.h"

namespace {

using tidegate::MonoTime;
using tidegate::shaping::BucketConfig;
using tidegate::shaping::Decision;
using tidegate::shaping::kMaxTiers;
using tidegate::shaping::TokenBucket;
using tidegate::shaping::ValidateBucketConfig;
using tidegate::shaping::Verdict;
using tidegate::shaping::testing::ReferenceHierarchy;

void Fail(const char* what, double got, double want) {
  std::fprintf(stderr, "token_bucket_fuzz: %s: got %.12g want %.12g\n", what, got, want);
  std::abort();
}

// A value that is usually sensible but sometimes hostile.
double PickDouble(FuzzedDataProvider& in, double lo, double hi) {
  switch (in.ConsumeIntegralInRange<int>(0, 15)) {
    case 0:
      return std::numeric_limits<double>::quiet_NaN();
    case 1:
      return -in.ConsumeFloatingPointInRange<double>(0, hi);
    case 2:
      return std::numeric_limits<double>::infinity();
    case 3:
      return 0;
    default:
      return in.ConsumeFloatingPointInRange<double>(lo, hi);
  }
}

BucketConfig PickConfig(FuzzedDataProvider& in) {
  BucketConfig c;
  c.rate_per_s = PickDouble(in, 0.01, 1e5);
  c.size = PickDouble(in, 0.01, 1e4);
  double f = 0;
  for (int t = 1; t < kMaxTiers; ++t) {
    f += in.ConsumeFloatingPointInRange<double>(0, 0.3);
    c.reserve_fraction[t] = in.ConsumeIntegralInRange<int>(0, 20) == 0 ? -f : f;
  }
  return c;
}

// TIDEGATE_FUZZ_TRACE=1 prints every step: replay a crash file with it to see the trace.
const bool kTrace = std::getenv("TIDEGATE_FUZZ_TRACE") != nullptr;

double Seconds(MonoTime t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  tidegate::SimulatedClock clock;
  std::vector<BucketConfig> configs;
  for (int i = 0; i < 3; ++i) {
    BucketConfig c = PickConfig(in);
    if (!ValidateBucketConfig(c).ok()) {
      // Invalid configs must be refused by Create with a status, never crash.
      if (TokenBucket::Create(c, clock.Now()).ok()) Fail("invalid config accepted", 0, 0);
      return 0;
    }
    configs.push_back(c);
  }
  auto root = *TokenBucket::Create(configs[2], clock.Now());
  auto mid = *TokenBucket::Create(configs[1], clock.Now(), root);
  auto leaf = *TokenBucket::Create(configs[0], clock.Now(), mid);
  TokenBucket* levels[3] = {leaf.get(), mid.get(), root.get()};
  ReferenceHierarchy ref(configs, Seconds(clock.Now()));
  int step = 0;

  while (in.remaining_bytes() > 0 && step < 2000) {
    ++step;
    const double now_s = Seconds(clock.Now());
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
      case 0: {
        const double cost = PickDouble(in, 0, ref.config(0).size);
        const int tier = in.ConsumeIntegralInRange<int>(-1, kMaxTiers);
        const Decision d = leaf->TryAcquire(cost, clock.Now(), tier);
        if (!(cost >= 0) || !std::isfinite(cost)) {
          if (d.verdict != Verdict::kInvalidCost) Fail("bad cost not rejected", cost, 0);
          break;
        }
        if (tier < 0 || tier >= kMaxTiers) {
          if (d.verdict != Verdict::kInvalidTier) Fail("bad tier not rejected", tier, 0);
          break;
        }
        bool ambiguous;
        const Verdict want = ref.Decide(cost, tier, now_s, &ambiguous);
        if (!ambiguous && d.verdict != want) {
          Fail("verdict", static_cast<double>(d.verdict), static_cast<double>(want));
        }
        if (d.admitted()) ref.Charge(cost);
        break;
      }
      case 1: {
        const double delta = PickDouble(in, -ref.config(0).size, ref.config(0).size);
        const bool ok = leaf->Settle(delta, clock.Now()).ok();
        if (ok != std::isfinite(delta)) Fail("settle validity", ok, std::isfinite(delta));
        if (ok) ref.Settle(delta, now_s);
        break;
      }
      case 2: {
        const int level = in.ConsumeIntegralInRange<int>(0, 2);
        const BucketConfig c = PickConfig(in);
        const bool valid = ValidateBucketConfig(c).ok();
        const bool ok = levels[level]->Replan(c, clock.Now()).ok();
        if (ok != valid) Fail("replan validity", ok, valid);
        if (ok) {
          ref.Replan(level, c, now_s);
        }
        break;
      }
      default:
        clock.Advance(std::chrono::microseconds(in.ConsumeIntegralInRange<int64_t>(0, 10'000'000)));
        break;
    }
    const double after_s = Seconds(clock.Now());
    if (kTrace) {
      std::fprintf(stderr, "step %d t=%.9f:", step, after_s);
      for (int i = 0; i < 3; ++i) {
        std::fprintf(stderr, " [rate %g size %g tokens %.6f ref %.6f]", ref.config(i).rate_per_s,
                     ref.config(i).size, levels[i]->Available(clock.Now()), ref.Tokens(i, after_s));
      }
      std::fprintf(stderr, "\n");
    }
    for (int i = 0; i < 3; ++i) {
      const double want = ref.Tokens(i, after_s);
      const double got = levels[i]->Available(clock.Now());
      const double tol = ref.Tolerance(i);
      if (std::fabs(got - want) > tol) Fail("tokens", got, want);
      if (got > ref.config(i).size + tol) Fail("tokens above size", got, ref.config(i).size);
    }
  }
  return 0;
}
