// tidegate/plan/allocation.h — hierarchical multi-resource allocation of request rates.
//
// Given each class's demand (requests/s it asks for), its per-request cost on every resource, its
// priority tier, weight, floor and tenant, and the capacity left for plans on every resource,
// Allocate() decides how many requests/s each class may have. It is the capacity step of the
// planner (planner.h) and is exposed on its own so that it can be tested and benchmarked alone.
//
// Algorithm (docs/design/planner.md, "Allocation", has the formulas):
//   1. Floors first, across all tiers in priority order: class i is granted
//      f_i = min(floor_i, demand_i). When a tier's floors do not fit what is left, that tier's
//      floors are scaled by the largest common factor that fits (and lower tiers get what remains).
//   2. Then tier by tier (0 = critical first), strict priority: a tier shares only what the tiers
//      above it left. Inside a tier, weighted dominant-resource fairness by progressive filling:
//      with s_i = max_r cost_i[r] / capacity[r] (dominant share per request/s) and a common level
//      L rising from 0, x_i(L) = clamp(w_i * L / s_i, f_i, demand_i). L rises until a constraint
//      saturates; the classes using that constraint freeze; the others keep rising. Constraints
//      are the global resources and every tenant's quota per resource (a class counts against its
//      tenant and all its tenant's ancestors). The sweep is event-driven over the classes' start
//      and end levels with a heap of constraint saturation levels: O(n log n) for n classes.
//   3. What a tier does not use (its demand is met) stays in the pool for the tiers below it
//      ("lent downward"); since every tick allocates from scratch, it is taken back at the next
//      tick when the higher tier's demand returns.
//
// Invariants of the result (checked by test/plan/allocation_property_test.cc):
//   * sum_i x_i * cost_i[r] <= capacity[r] for every resource r, and the same for every tenant
//     quota (up to 1e-9 relative rounding);
//   * f_i <= x_i <= demand_i when the floors are feasible; 0 <= x_i <= demand_i always;
//   * if a class of tier t gets less than its demand because of a global resource, every class of
//     a lower tier using that resource gets no more than its floor.
//
// Thread-safety: Allocate is a pure function; call it from any thread.
#ifndef TIDEGATE_PLAN_ALLOCATION_H_
#define TIDEGATE_PLAN_ALLOCATION_H_

#include <array>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

namespace tidegate::plan {

// The resources a request consumes, per request; capacities are per second.
enum class Resource : uint8_t { kCpuMs = 0, kMem = 1, kIo = 2, kNet = 3, kRequests = 4 };
inline constexpr int kNumResources = 5;
using ResourceVector = std::array<double, kNumResources>;

inline constexpr double kUnlimited = std::numeric_limits<double>::infinity();

// "cpu_ms", "mem", "io", "net", "requests".
std::string_view ResourceName(int r);

// {0, 0, 0, 0, 1}: a request costs one request and nothing else.
constexpr ResourceVector RequestsOnly() { return {0, 0, 0, 0, 1}; }
// Every resource unlimited.
constexpr ResourceVector UnlimitedCapacity() {
  return {kUnlimited, kUnlimited, kUnlimited, kUnlimited, kUnlimited};
}

// One class's claim.
struct AllocationRequest {
  int tier = 0;       // 0 = critical; tiers are served in increasing order.
  int tenant = -1;    // Index into AllocationProblem::tenant_parent, or -1 for none.
  double weight = 1;  // > 0; the class's share inside its tier is proportional to it.
  double floor = 0;   // Requests/s granted before any tier's fair share (up to demand).
  double demand = 0;  // Requests/s wanted (already capped by the class's ceiling).
  ResourceVector cost = RequestsOnly();  // Per request, >= 0.
};

// The whole problem. Tenants form a forest through tenant_parent (-1 = root); the caller
// guarantees it is acyclic (planner.h validates it).
struct AllocationProblem {
  ResourceVector capacity = UnlimitedCapacity();  // Per second, what plans may commit.
  std::vector<int> tenant_parent;                 // Per tenant: parent index or -1.
  std::vector<ResourceVector> tenant_quota;       // Per tenant, per second; kUnlimited = none.
  std::vector<AllocationRequest> requests;
};

// Why a class got what it got.
enum class Limit : uint8_t {
  kDemand,        // Got its whole demand.
  kCapacity,      // Frozen when a global resource ran out (resource says which).
  kTenantQuota,   // Frozen when a tenant quota ran out (tenant and resource say which).
  kFloorsScaled,  // Its tier's floors did not fit; it holds a scaled floor only.
};

struct Allocation {
  double rate = 0;            // Requests/s granted.
  double floor_granted = 0;   // Part of rate granted in the floor phase.
  double dominant_share = 0;  // max_r rate * cost[r] / capacity[r] (finite capacities only).
  Limit limit = Limit::kDemand;
  int8_t resource = -1;  // For kCapacity / kTenantQuota.
  int32_t tenant = -1;   // For kTenantQuota.
};

struct AllocationResult {
  std::vector<Allocation> classes;  // One per request, same order.
  ResourceVector used{};            // sum_i rate_i * cost_i[r].
  bool floors_feasible = true;      // False when some tier's floors had to be scaled.
};

// Allocates `problem` (see the Algorithm above). Inputs must be finite and non-negative (weights
// positive); the planner validates them before calling.
AllocationResult Allocate(const AllocationProblem& problem);

}  // namespace tidegate::plan

#endif  // TIDEGATE_PLAN_ALLOCATION_H_
