// Allocation: hand-checked cases for every rule, then seeded property sweeps of the invariants in
// allocation.h (capacity per resource and per tenant, floors, strict priority). A failing sweep
// prints its seed.
#include "tidegate/plan/allocation.h"

#include <gtest/gtest.h>

#include <random>

namespace tidegate::plan {
namespace {

constexpr int kCpu = static_cast<int>(Resource::kCpuMs);
constexpr int kReq = static_cast<int>(Resource::kRequests);

AllocationRequest Req(int tier, double demand, double weight = 1, double floor = 0,
                      ResourceVector cost = RequestsOnly(), int tenant = -1) {
  AllocationRequest q;
  q.tier = tier;
  q.demand = demand;
  q.weight = weight;
  q.floor = floor;
  q.cost = cost;
  q.tenant = tenant;
  return q;
}

AllocationProblem RequestsCapacity(double cap) {
  AllocationProblem p;
  p.capacity[kReq] = cap;
  return p;
}

TEST(AllocationTest, EveryoneGetsDemandWhenItFits) {
  AllocationProblem p = RequestsCapacity(100);
  p.requests = {Req(0, 30), Req(1, 40), Req(2, 29.5)};
  AllocationResult r = Allocate(p);
  EXPECT_EQ(r.classes[0].rate, 30);
  EXPECT_EQ(r.classes[1].rate, 40);
  EXPECT_EQ(r.classes[2].rate, 29.5);
  for (const Allocation& a : r.classes) EXPECT_EQ(a.limit, Limit::kDemand);
  EXPECT_DOUBLE_EQ(r.used[kReq], 99.5);
}

TEST(AllocationTest, StrictPriorityCriticalFirstLowerTierGetsTheRest) {
  AllocationProblem p = RequestsCapacity(100);
  p.requests = {Req(1, 80), Req(0, 70)};
  AllocationResult r = Allocate(p);
  EXPECT_DOUBLE_EQ(r.classes[1].rate, 70);
  EXPECT_DOUBLE_EQ(r.classes[0].rate, 30);
  EXPECT_EQ(r.classes[0].limit, Limit::kCapacity);
  EXPECT_EQ(r.classes[0].resource, kReq);
}

TEST(AllocationTest, UnusedCapacityIsLentDownwardAndTakenBack) {
  AllocationProblem p = RequestsCapacity(100);
  p.requests = {Req(0, 10), Req(1, 500)};
  EXPECT_DOUBLE_EQ(Allocate(p).classes[1].rate, 90);  // Tier 0 uses 10; tier 1 borrows 90.
  p.requests[0].demand = 60;                          // Next tick: tier 0 needs more.
  EXPECT_DOUBLE_EQ(Allocate(p).classes[1].rate, 40);
  EXPECT_DOUBLE_EQ(Allocate(p).classes[0].rate, 60);
}

TEST(AllocationTest, WeightedFairShareInsideATier) {
  AllocationProblem p = RequestsCapacity(90);
  p.requests = {Req(0, 100, 1), Req(0, 100, 2)};
  AllocationResult r = Allocate(p);
  EXPECT_NEAR(r.classes[0].rate, 30, 1e-9);
  EXPECT_NEAR(r.classes[1].rate, 60, 1e-9);
}

TEST(AllocationTest, WaterFillingGivesSmallDemandsInFull) {
  AllocationProblem p = RequestsCapacity(100);
  p.requests = {Req(0, 10), Req(0, 100), Req(0, 100)};
  AllocationResult r = Allocate(p);
  EXPECT_DOUBLE_EQ(r.classes[0].rate, 10);
  EXPECT_EQ(r.classes[0].limit, Limit::kDemand);
  EXPECT_NEAR(r.classes[1].rate, 45, 1e-9);
  EXPECT_NEAR(r.classes[2].rate, 45, 1e-9);
}

TEST(AllocationTest, DominantResourceFairnessAcrossTwoResources) {
  // The DRF paper's example (Ghodsi et al., NSDI 2011): 9 CPUs, 18 GB; A needs <1 CPU, 4 GB>,
  // B needs <3 CPU, 1 GB> per task. DRF gives A 3 tasks and B 2 tasks.
  AllocationProblem p;
  p.capacity[kCpu] = 9;
  p.capacity[static_cast<int>(Resource::kMem)] = 18;
  p.requests = {Req(0, 100, 1, 0, {1, 4, 0, 0, 0}), Req(0, 100, 1, 0, {3, 1, 0, 0, 0})};
  AllocationResult r = Allocate(p);
  EXPECT_NEAR(r.classes[0].rate, 3, 1e-9);
  EXPECT_NEAR(r.classes[1].rate, 2, 1e-9);
  EXPECT_NEAR(r.classes[0].dominant_share, 2.0 / 3, 1e-9);
  EXPECT_NEAR(r.classes[1].dominant_share, 2.0 / 3, 1e-9);
}

TEST(AllocationTest, FreezingOnOneResourceLetsOthersGrowOnAnother) {
  AllocationProblem p;
  p.capacity[kCpu] = 10;
  p.capacity[kReq] = 400;
  // Level L: x_A = L / (1/10) = 10 L (CPU-dominant), x_B = 0.1 * L / (1/400) = 40 L. CPU runs out
  // at L = 1 (x_A = 10, x_B = 40, requests 50 <= 400); A freezes on CPU and B, which uses no CPU,
  // keeps growing alone until requests run out at x_B = 390.
  p.requests = {Req(0, 500, 1, 0, {1, 0, 0, 0, 1}), Req(0, 500, 0.1, 0, {0, 0, 0, 0, 1})};
  AllocationResult r = Allocate(p);
  EXPECT_NEAR(r.classes[0].rate, 10, 1e-9);
  EXPECT_EQ(r.classes[0].limit, Limit::kCapacity);
  EXPECT_EQ(r.classes[0].resource, kCpu);
  EXPECT_NEAR(r.classes[1].rate, 390, 1e-9);
  EXPECT_EQ(r.classes[1].resource, kReq);
}

TEST(AllocationTest, FloorsComeBeforeHigherTiersShares) {
  AllocationProblem p = RequestsCapacity(100);
  p.requests = {Req(0, 200), Req(2, 50, 1, 20)};
  AllocationResult r = Allocate(p);
  EXPECT_DOUBLE_EQ(r.classes[1].rate, 20);
  EXPECT_DOUBLE_EQ(r.classes[1].floor_granted, 20);
  EXPECT_DOUBLE_EQ(r.classes[0].rate, 80);
}

TEST(AllocationTest, FloorIsCappedByDemand) {
  AllocationProblem p = RequestsCapacity(100);
  p.requests = {Req(0, 200), Req(1, 5, 1, 20)};
  AllocationResult r = Allocate(p);
  EXPECT_DOUBLE_EQ(r.classes[1].rate, 5);
  EXPECT_DOUBLE_EQ(r.classes[0].rate, 95);
}

TEST(AllocationTest, InfeasibleFloorsAreScaledTierByTier) {
  AllocationProblem p = RequestsCapacity(100);
  p.requests = {Req(0, 80, 1, 80), Req(1, 60, 1, 40), Req(1, 60, 1, 40)};
  AllocationResult r = Allocate(p);
  EXPECT_FALSE(r.floors_feasible);
  EXPECT_DOUBLE_EQ(r.classes[0].rate, 80);
  EXPECT_NEAR(r.classes[1].rate, 10, 1e-9);
  EXPECT_NEAR(r.classes[2].rate, 10, 1e-9);
  EXPECT_EQ(r.classes[1].limit, Limit::kFloorsScaled);
}

TEST(AllocationTest, TenantQuotaBoundsItsClassesAndFreesCapacityForOthers) {
  AllocationProblem p = RequestsCapacity(100);
  p.tenant_parent = {-1, 0};  // Tenant 1 is a child of tenant 0.
  p.tenant_quota = {UnlimitedCapacity(), UnlimitedCapacity()};
  p.tenant_quota[1][kReq] = 20;
  p.requests = {Req(0, 100, 1, 0, RequestsOnly(), 1), Req(0, 100, 1, 0, RequestsOnly(), 0)};
  AllocationResult r = Allocate(p);
  EXPECT_NEAR(r.classes[0].rate, 20, 1e-9);
  EXPECT_EQ(r.classes[0].limit, Limit::kTenantQuota);
  EXPECT_EQ(r.classes[0].tenant, 1);
  EXPECT_NEAR(r.classes[1].rate, 80, 1e-9);
}

TEST(AllocationTest, ParentTenantQuotaCoversItsChildren) {
  AllocationProblem p = RequestsCapacity(1000);
  p.tenant_parent = {-1, 0, 0};
  p.tenant_quota.assign(3, UnlimitedCapacity());
  p.tenant_quota[0][kReq] = 50;
  p.requests = {Req(0, 100, 1, 0, RequestsOnly(), 1), Req(0, 100, 3, 0, RequestsOnly(), 2)};
  AllocationResult r = Allocate(p);
  EXPECT_NEAR(r.classes[0].rate, 12.5, 1e-9);
  EXPECT_NEAR(r.classes[1].rate, 37.5, 1e-9);
  EXPECT_EQ(r.classes[1].tenant, 0);
}

TEST(AllocationTest, ZeroDemandAndEmptyProblem) {
  EXPECT_TRUE(Allocate(RequestsCapacity(10)).classes.empty());
  AllocationProblem p = RequestsCapacity(10);
  p.requests = {Req(0, 0), Req(1, 0, 1, 5)};
  AllocationResult r = Allocate(p);
  EXPECT_EQ(r.classes[0].rate, 0);
  EXPECT_EQ(r.classes[1].rate, 0);
}

// ---- Property sweeps -----------------------------------------------------------------------

struct Sweep {
  AllocationProblem problem;
  bool floors_fit = true;
};

Sweep RandomProblem(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> n_classes(1, 60), n_tenants(0, 5), tier(0, 3), coin(0, 3);
  std::uniform_real_distribution<double> u01(0, 1);
  Sweep s;
  AllocationProblem& p = s.problem;
  for (int r = 0; r < kNumResources; ++r) {
    p.capacity[r] = coin(rng) == 0 ? kUnlimited : 10 + 1000 * u01(rng);
  }
  const int nt = n_tenants(rng);
  for (int t = 0; t < nt; ++t) {
    p.tenant_parent.push_back(t > 0 && coin(rng) == 0 ? static_cast<int>(rng() % t) : -1);
    ResourceVector q = UnlimitedCapacity();
    for (int r = 0; r < kNumResources; ++r) {
      if (coin(rng) == 0) q[r] = 5 + 500 * u01(rng);
    }
    p.tenant_quota.push_back(q);
  }
  const int n = n_classes(rng);
  for (int i = 0; i < n; ++i) {
    AllocationRequest q;
    q.tier = tier(rng);
    q.tenant = nt > 0 && coin(rng) != 0 ? static_cast<int>(rng() % nt) : -1;
    q.weight = 0.1 + 5 * u01(rng);
    q.demand = coin(rng) == 0 ? 0 : 200 * u01(rng);
    q.floor = coin(rng) == 0 ? 10 * u01(rng) : 0;
    for (int r = 0; r < kNumResources; ++r) q.cost[r] = coin(rng) == 0 ? 0 : 3 * u01(rng);
    q.cost[kReq] = 1;
    p.requests.push_back(q);
  }
  return s;
}

void CheckInvariants(const AllocationProblem& p, const AllocationResult& r, uint64_t seed) {
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  ASSERT_EQ(r.classes.size(), p.requests.size());
  constexpr double kRel = 1e-9;
  ResourceVector used{};
  std::vector<ResourceVector> tenant_used(p.tenant_parent.size(), ResourceVector{});
  for (size_t i = 0; i < p.requests.size(); ++i) {
    const AllocationRequest& q = p.requests[i];
    const double x = r.classes[i].rate;
    ASSERT_GE(x, 0);
    ASSERT_LE(x, q.demand * (1 + kRel) + 1e-12);
    if (r.floors_feasible) {
      ASSERT_GE(x, std::min(q.floor, q.demand) * (1 - kRel) - 1e-12) << "class " << i;
    }
    for (int k = 0; k < kNumResources; ++k) {
      used[k] += x * q.cost[k];
      for (int t = q.tenant; t >= 0; t = p.tenant_parent[t]) tenant_used[t][k] += x * q.cost[k];
    }
  }
  for (int k = 0; k < kNumResources; ++k) {
    ASSERT_LE(used[k], p.capacity[k] * (1 + kRel) + 1e-9) << ResourceName(k);
    for (size_t t = 0; t < p.tenant_parent.size(); ++t) {
      ASSERT_LE(tenant_used[t][k], p.tenant_quota[t][k] * (1 + kRel) + 1e-9)
          << "tenant " << t << " " << ResourceName(k);
    }
  }
  // Strict priority: a class cut by a global resource means no lower-tier class using that
  // resource holds more than its floor.
  for (size_t i = 0; i < p.requests.size(); ++i) {
    const Allocation& a = r.classes[i];
    if (a.limit != Limit::kCapacity || a.rate >= p.requests[i].demand * (1 - 1e-9)) continue;
    for (size_t j = 0; j < p.requests.size(); ++j) {
      if (p.requests[j].tier <= p.requests[i].tier || p.requests[j].cost[a.resource] <= 0) {
        continue;
      }
      ASSERT_LE(r.classes[j].rate,
                std::min(p.requests[j].floor, p.requests[j].demand) * (1 + 1e-9) + 1e-9)
          << "tier " << p.requests[i].tier << " class " << i << " cut on "
          << ResourceName(a.resource) << " while tier " << p.requests[j].tier << " class " << j
          << " keeps more than its floor";
    }
  }
}

TEST(AllocationPropertyTest, RandomProblemsKeepEveryInvariant) {
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    std::mt19937_64 rng(seed);
    Sweep s = RandomProblem(rng);
    AllocationResult r = Allocate(s.problem);
    CheckInvariants(s.problem, r, seed);
    if (testing::Test::HasFatalFailure()) return;
  }
}

TEST(AllocationPropertyTest, FloorsHonouredWhenTheyFit) {
  for (uint64_t seed = 1; seed <= 500; ++seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u01(0, 1);
    AllocationProblem p = RequestsCapacity(100);
    double floors = 0;
    for (int i = 0; i < 20; ++i) {
      AllocationRequest q =
          Req(static_cast<int>(rng() % 4), 100 * u01(rng), 0.5 + u01(rng), 4 * u01(rng));
      floors += std::min(q.floor, q.demand);
      p.requests.push_back(q);
    }
    ASSERT_LE(floors, 100);
    AllocationResult r = Allocate(p);
    ASSERT_TRUE(r.floors_feasible) << "seed " << seed;
    for (size_t i = 0; i < p.requests.size(); ++i) {
      ASSERT_GE(r.classes[i].rate,
                std::min(p.requests[i].floor, p.requests[i].demand) * (1 - 1e-12))
          << "seed " << seed << " class " << i;
    }
    // The pool is used in full when demand exceeds it (work conservation).
    double demand = 0;
    for (const auto& q : p.requests) demand += q.demand;
    if (demand > 100) {
      EXPECT_NEAR(r.used[kReq], 100, 1e-6) << "seed " << seed;
    }
  }
}

TEST(AllocationPropertyTest, HigherWeightNeverGetsLessInsideATier) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u01(0, 1);
    AllocationProblem p = RequestsCapacity(50);
    for (int i = 0; i < 10; ++i) p.requests.push_back(Req(0, 1000, 0.1 + u01(rng)));
    AllocationResult r = Allocate(p);
    for (size_t i = 0; i < p.requests.size(); ++i) {
      for (size_t j = 0; j < p.requests.size(); ++j) {
        if (p.requests[i].weight > p.requests[j].weight) {
          ASSERT_GE(r.classes[i].rate, r.classes[j].rate * (1 - 1e-12)) << "seed " << seed;
        }
      }
    }
  }
}

}  // namespace
}  // namespace tidegate::plan
