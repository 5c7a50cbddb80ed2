// The usage example in README.md, compiled and run so that the README stays true to the code.
// Keep the two in sync: the body of ReadmeExample below is the README snippet.
#include <gtest/gtest.h>

#include "tidegate/shaping/registry.h"

namespace {

TEST(ReadmeExampleTest, CompilesAndBehavesAsDescribed) {
  using namespace tidegate;           // NOLINT(google-build-using-namespace): README style.
  using namespace tidegate::shaping;  // NOLINT(google-build-using-namespace)

  BucketConfig global{.rate_per_s = 10'000, .size = 2'000};
  BucketRegistry registry(global, RealClock().Now());
  // Tier 1 may not take the last 10 % of the tenant's tokens, tier 2 the last 30 %.
  (void)registry.UpsertTenant(
      "shop", {.rate_per_s = 5'000, .size = 1'000, .reserve_fraction = {0, 0.1, 0.3, 0.3}},
      RealClock().Now());
  auto checkout = *registry.UpsertClass({"shop", {{"class", "checkout"}}},
                                        {.rate_per_s = 500, .size = 100}, RealClock().Now());

  // Per request: charge an estimate, true it up when the request completes.
  Decision d = checkout->TryAcquire(/*cost=*/1.0, RealClock().Now(), /*tier=*/0);
  if (d.admitted()) {
    // ... serve ...
    (void)checkout->Settle(/*actual - estimate=*/0.4, RealClock().Now());
  } else {
    // d.verdict == Verdict::kRefused: retry after d.retry_after; other verdicts are input errors,
    // DecisionToStatus(d, cost, tier) explains them.
  }
  // The planner, from another thread, at any moment:
  (void)checkout->Replan({.rate_per_s = 800, .size = 160}, RealClock().Now());

  EXPECT_TRUE(d.admitted());
  EXPECT_NEAR(checkout->config().rate_per_s, 800, 1e-9);
  EXPECT_LE(registry.FindTenant("shop")->Available(RealClock().Now()), 1'000);
}

}  // namespace
