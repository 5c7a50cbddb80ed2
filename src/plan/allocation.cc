#include "tidegate/plan/allocation.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>
#include <utility>

namespace tidegate::plan {

std::string_view ResourceName(int r) {
  static constexpr std::string_view kNames[kNumResources] = {"cpu_ms", "mem", "io", "net",
                                                             "requests"};
  return (r >= 0 && r < kNumResources) ? kNames[r] : std::string_view("?");
}

namespace {

// Constraint ids: k < kNumResources is a global resource; kNumResources + t * kNumResources + r is
// tenant t's quota on resource r.
int TenantConstraint(int tenant, int r) { return kNumResources + tenant * kNumResources + r; }

// Compressed rows: row i's entries are items[offset[i] .. offset[i + 1]).
struct Csr {
  std::vector<int32_t> offset;
  std::vector<int32_t> items;
};

class Allocator {
 public:
  explicit Allocator(const AllocationProblem& p) : p_(p) {
    const int tenants = static_cast<int>(p.tenant_parent.size());
    num_constraints_ = kNumResources + tenants * kNumResources;
    residual_.assign(num_constraints_, kUnlimited);
    for (int r = 0; r < kNumResources; ++r) residual_[r] = std::max(0.0, p.capacity[r]);
    for (int t = 0; t < tenants; ++t) {
      for (int r = 0; r < kNumResources; ++r) {
        residual_[TenantConstraint(t, r)] = std::max(0.0, p.tenant_quota[t][r]);
      }
    }
    BuildMembership();
  }

  AllocationResult Run() {
    const size_t n = p_.requests.size();
    result_.classes.assign(n, Allocation{});
    // Classes grouped by tier, stable within a tier.
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), 0);
    std::stable_sort(order_.begin(), order_.end(),
                     [&](int a, int b) { return p_.requests[a].tier < p_.requests[b].tier; });
    std::vector<std::pair<size_t, size_t>> tiers;
    for (size_t b = 0; b < n;) {
      size_t e = b;
      while (e < n && p_.requests[order_[e]].tier == p_.requests[order_[b]].tier) ++e;
      tiers.emplace_back(b, e);
      b = e;
    }
    for (auto [b, e] : tiers) GrantFloors(b, e);
    for (auto [b, e] : tiers) FillTier(b, e);
    Finish();
    return std::move(result_);
  }

 private:
  double Demand(int i) const { return std::max(0.0, p_.requests[i].demand); }
  double Floor(int i) const { return std::min(std::max(0.0, p_.requests[i].floor), Demand(i)); }

  // Per class, the finite constraints it counts against (cost > 0): its global resources and the
  // quotas of its tenant and every ancestor.
  void BuildMembership() {
    const size_t n = p_.requests.size();
    cons_.offset.assign(n + 1, 0);
    cons_.items.clear();
    cons_.items.reserve(n * kNumResources);
    cons_cost_.clear();
    cons_cost_.reserve(n * kNumResources);
    for (size_t i = 0; i < n; ++i) {
      const AllocationRequest& q = p_.requests[i];
      for (int r = 0; r < kNumResources; ++r) {
        if (q.cost[r] <= 0) continue;
        if (std::isfinite(residual_[r])) {
          cons_.items.push_back(r);
          cons_cost_.push_back(q.cost[r]);
        }
        // Parent chain; bounded by the tenant count in case the caller passed a cycle.
        int hops = 0;
        for (int t = q.tenant; t >= 0 && hops <= static_cast<int>(p_.tenant_parent.size());
             t = p_.tenant_parent[t], ++hops) {
          const int k = TenantConstraint(t, r);
          if (std::isfinite(residual_[k])) {
            cons_.items.push_back(k);
            cons_cost_.push_back(q.cost[r]);
          }
        }
      }
      cons_.offset[i + 1] = static_cast<int32_t>(cons_.items.size());
    }
  }

  // Floors of the tier order_[b, e), scaled by a common factor when they do not all fit.
  void GrantFloors(size_t b, size_t e) {
    need_.assign(num_constraints_, 0);
    bool any = false;
    for (size_t j = b; j < e; ++j) {
      const int i = order_[j];
      const double f = Floor(i);
      if (f <= 0) continue;
      any = true;
      for (int32_t o = cons_.offset[i]; o < cons_.offset[i + 1]; ++o) {
        const int k = cons_.items[o];
        need_[k] += f * cons_cost_[o];
      }
    }
    if (!any) return;
    double factor = 1;
    for (int k = 0; k < num_constraints_; ++k) {
      if (need_[k] > residual_[k]) factor = std::min(factor, residual_[k] / need_[k]);
    }
    if (factor < 1) result_.floors_feasible = false;
    for (size_t j = b; j < e; ++j) {
      const int i = order_[j];
      const double f = Floor(i) * factor;
      if (f <= 0) continue;
      Allocation& a = result_.classes[i];
      a.rate = a.floor_granted = f;
      if (factor < 1) a.limit = Limit::kFloorsScaled;
      for (int32_t o = cons_.offset[i]; o < cons_.offset[i + 1]; ++o) {
        const int k = cons_.items[o];
        residual_[k] = std::max(0.0, residual_[k] - f * cons_cost_[o]);
      }
    }
  }

  // Dominant share per request/s of class i against the full capacities (tenant quotas when the
  // class uses no finite global resource).
  double DominantPerUnit(int i) const {
    double s = 0;
    for (int r = 0; r < kNumResources; ++r) {
      const double c = p_.requests[i].cost[r];
      if (c > 0 && std::isfinite(p_.capacity[r])) {
        s = std::max(s, p_.capacity[r] > 0 ? c / p_.capacity[r] : kUnlimited);
      }
    }
    if (s > 0) return s;
    for (int32_t o = cons_.offset[i]; o < cons_.offset[i + 1]; ++o) {
      const int k = cons_.items[o];
      const int t = (k - kNumResources) / kNumResources;
      const double quota = p_.tenant_quota[t][(k - kNumResources) % kNumResources];
      s = std::max(s, quota > 0 ? cons_cost_[o] / quota : kUnlimited);
    }
    return s;
  }

  void FillTier(size_t b, size_t e) {
    // Fast path: every class of the tier gets its whole demand.
    need_.assign(num_constraints_, 0);
    for (size_t j = b; j < e; ++j) {
      const int i = order_[j];
      const double extra = Demand(i) - result_.classes[i].rate;
      if (extra <= 0) continue;
      for (int32_t o = cons_.offset[i]; o < cons_.offset[i + 1]; ++o) {
        const int k = cons_.items[o];
        need_[k] += extra * cons_cost_[o];
      }
    }
    bool fits = true;
    for (int k = 0; k < num_constraints_ && fits; ++k) fits = need_[k] <= residual_[k];
    if (fits) {
      for (size_t j = b; j < e; ++j) {
        const int i = order_[j];
        const double extra = Demand(i) - result_.classes[i].rate;
        if (extra <= 0) continue;
        Take(i, extra);
        result_.classes[i].rate = Demand(i);
        result_.classes[i].limit = Limit::kDemand;
      }
      return;
    }
    Sweep(b, e);
  }

  void Take(int i, double extra) {
    for (int32_t o = cons_.offset[i]; o < cons_.offset[i + 1]; ++o) {
      const int k = cons_.items[o];
      residual_[k] = std::max(0.0, residual_[k] - extra * cons_cost_[o]);
    }
  }

  // Progressive filling of one tier over the level L (see the header).
  void Sweep(size_t b, size_t e) {
    const size_t m = e - b;
    // Local arrays, indexed by position j - b in the tier.
    std::vector<double> gain(m), lo(m), hi(m);
    std::vector<uint8_t> state(m, 0);  // 0 waiting, 1 growing, 2 frozen.
    struct Event {
      double level;
      int32_t j;
      bool end;
    };
    std::vector<Event> events;
    events.reserve(2 * m);
    for (size_t j = 0; j < m; ++j) {
      const int i = order_[b + j];
      lo[j] = result_.classes[i].rate;
      hi[j] = Demand(i);
      const double s = DominantPerUnit(i);
      if (hi[j] <= lo[j]) {
        state[j] = 2;
        continue;
      }
      if (s <= 0 || cons_.offset[i] == cons_.offset[i + 1]) {
        // Uses nothing that is limited: it gets its demand.
        result_.classes[i].rate = hi[j];
        result_.classes[i].limit = Limit::kDemand;
        state[j] = 2;
        continue;
      }
      if (!std::isfinite(s)) {  // Uses a resource with zero capacity.
        state[j] = 2;
        FreezeAtZeroCapacity(i);
        continue;
      }
      gain[j] = p_.requests[i].weight / s;
      events.push_back({lo[j] / gain[j], static_cast<int32_t>(j), false});
      events.push_back({hi[j] / gain[j], static_cast<int32_t>(j), true});
    }
    std::sort(events.begin(), events.end(), [](const Event& x, const Event& y) {
      return x.level < y.level || (x.level == y.level && x.end && !y.end);
    });

    // Members of each constraint within this tier (CSR), for freezing.
    Csr members;
    members.offset.assign(num_constraints_ + 1, 0);
    for (size_t j = 0; j < m; ++j) {
      if (state[j] == 2) continue;
      const int i = order_[b + j];
      for (int32_t o = cons_.offset[i]; o < cons_.offset[i + 1]; ++o) {
        ++members.offset[cons_.items[o] + 1];
      }
    }
    for (int k = 0; k < num_constraints_; ++k) members.offset[k + 1] += members.offset[k];
    members.items.resize(members.offset[num_constraints_]);
    {
      std::vector<int32_t> fill(members.offset.begin(), members.offset.end() - 1);
      for (size_t j = 0; j < m; ++j) {
        if (state[j] == 2) continue;
        const int i = order_[b + j];
        for (int32_t o = cons_.offset[i]; o < cons_.offset[i + 1]; ++o) {
          members.items[fill[cons_.items[o]]++] = static_cast<int32_t>(j);
        }
      }
    }

    // Per constraint: remaining capacity at level last[k], its slope d(use)/dL, a version for
    // lazy deletion from the heap.
    std::vector<double> rem(residual_), slope(num_constraints_, 0), last(num_constraints_, 0);
    std::vector<uint32_t> version(num_constraints_, 0);
    std::vector<uint8_t> saturated(num_constraints_, 0);
    struct Sat {
      double level;
      int32_t k;
      uint32_t version;
      bool operator>(const Sat& o) const { return level > o.level; }
    };
    std::priority_queue<Sat, std::vector<Sat>, std::greater<Sat>> heap;

    auto advance = [&](int k, double level) {
      if (level > last[k]) {
        rem[k] -= slope[k] * (level - last[k]);
        last[k] = level;
      }
    };
    // The few global resources change at almost every event; they are scanned directly instead
    // of going through the heap, which then only holds tenant quotas.
    auto reschedule = [&](int k) {
      ++version[k];
      if (k < kNumResources || saturated[k] || slope[k] <= 0) return;
      heap.push({last[k] + std::max(0.0, rem[k]) / slope[k], k, version[k]});
    };
    auto set_slope = [&](size_t j, double level, double sign) {
      const int i = order_[b + j];
      for (int32_t o = cons_.offset[i]; o < cons_.offset[i + 1]; ++o) {
        const int k = cons_.items[o];
        advance(k, level);
        slope[k] += sign * gain[j] * cons_cost_[o];
        if (slope[k] < 0) slope[k] = 0;
        reschedule(k);
      }
    };

    size_t next = 0;
    for (;;) {
      while (!heap.empty() && heap.top().version != version[heap.top().k]) heap.pop();
      const double ev_level = next < events.size() ? events[next].level : kUnlimited;
      double sat_level = heap.empty() ? kUnlimited : heap.top().level;
      int k = heap.empty() ? -1 : heap.top().k;
      bool from_heap = k >= 0;
      for (int r = 0; r < kNumResources; ++r) {
        if (saturated[r] || slope[r] <= 0) continue;
        const double level = last[r] + std::max(0.0, rem[r]) / slope[r];
        if (level < sat_level) {
          sat_level = level;
          k = r;
          from_heap = false;
        }
      }
      if (!std::isfinite(ev_level) && !std::isfinite(sat_level)) break;
      if (sat_level <= ev_level) {
        if (from_heap) heap.pop();
        advance(k, sat_level);
        saturated[k] = 1;
        ++version[k];
        for (int32_t o = members.offset[k]; o < members.offset[k + 1]; ++o) {
          const int32_t j = members.items[o];
          if (state[j] == 2) continue;
          const int i = order_[b + j];
          const double x = std::clamp(gain[j] * sat_level, lo[j], hi[j]);
          if (state[j] == 1) set_slope(j, sat_level, -1);
          state[j] = 2;
          result_.classes[i].rate = x;
          SetLimit(i, k);
        }
        continue;
      }
      const Event ev = events[next++];
      if (state[ev.j] == 2) continue;
      const int i = order_[b + ev.j];
      if (!ev.end) {
        state[ev.j] = 1;
        set_slope(ev.j, ev.level, +1);
      } else {
        if (state[ev.j] == 1) set_slope(ev.j, ev.level, -1);
        state[ev.j] = 2;
        result_.classes[i].rate = hi[ev.j];
        result_.classes[i].limit = Limit::kDemand;
      }
    }
    // Commit the tier's increments to the shared residuals.
    for (size_t j = 0; j < m; ++j) {
      const int i = order_[b + j];
      const double extra = result_.classes[i].rate - lo[j];
      if (extra > 0) Take(i, extra);
    }
  }

  void FreezeAtZeroCapacity(int i) {
    for (int r = 0; r < kNumResources; ++r) {
      if (p_.requests[i].cost[r] > 0 && p_.capacity[r] <= 0) {
        result_.classes[i].limit = Limit::kCapacity;
        result_.classes[i].resource = static_cast<int8_t>(r);
        return;
      }
    }
  }

  void SetLimit(int i, int k) {
    Allocation& a = result_.classes[i];
    if (a.limit == Limit::kFloorsScaled && a.rate <= a.floor_granted) return;  // Says more.
    if (k < kNumResources) {
      a.limit = Limit::kCapacity;
      a.resource = static_cast<int8_t>(k);
    } else {
      a.limit = Limit::kTenantQuota;
      a.tenant = (k - kNumResources) / kNumResources;
      a.resource = static_cast<int8_t>((k - kNumResources) % kNumResources);
    }
  }

  // Usage totals, dominant shares, and a trim of floating-point overshoot so that no constraint is
  // ever exceeded.
  void Finish() {
    const size_t n = p_.requests.size();
    std::vector<double> use(num_constraints_, 0);
    for (size_t i = 0; i < n; ++i) {
      const double x = result_.classes[i].rate;
      for (int32_t o = cons_.offset[i]; o < cons_.offset[i + 1]; ++o) {
        use[cons_.items[o]] += x * cons_cost_[o];
      }
    }
    std::vector<double> cap(num_constraints_);
    for (int r = 0; r < kNumResources; ++r) cap[r] = std::max(0.0, p_.capacity[r]);
    for (size_t t = 0; t < p_.tenant_parent.size(); ++t) {
      for (int r = 0; r < kNumResources; ++r) {
        cap[TenantConstraint(static_cast<int>(t), r)] = std::max(0.0, p_.tenant_quota[t][r]);
      }
    }
    for (size_t i = 0; i < n; ++i) {
      double factor = 1;
      for (int32_t o = cons_.offset[i]; o < cons_.offset[i + 1]; ++o) {
        const int k = cons_.items[o];
        if (use[k] > cap[k]) factor = std::min(factor, cap[k] / use[k]);
      }
      Allocation& a = result_.classes[i];
      if (factor < 1) {
        a.rate *= factor;
        a.floor_granted = std::min(a.floor_granted, a.rate);
      }
      double share = 0;
      for (int r = 0; r < kNumResources; ++r) {
        const double c = p_.requests[i].cost[r];
        result_.used[r] += a.rate * c;
        if (c > 0 && std::isfinite(p_.capacity[r]) && p_.capacity[r] > 0) {
          share = std::max(share, a.rate * c / p_.capacity[r]);
        }
      }
      a.dominant_share = share;
    }
  }

  const AllocationProblem& p_;
  int num_constraints_ = 0;
  std::vector<double> residual_;
  std::vector<double> need_;
  std::vector<int> order_;
  Csr cons_;
  std::vector<double> cons_cost_;  // cost of the class on cons_.items[o]'s resource.
  AllocationResult result_;
};

}  // namespace

AllocationResult Allocate(const AllocationProblem& problem) { return Allocator(problem).Run(); }

}  // namespace tidegate::plan
