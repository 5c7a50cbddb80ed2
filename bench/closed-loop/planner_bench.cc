// One planning tick (Planner::MakePlan, allocation included) for many classes.
//
//   cmake -S . -B build/plan-rel -G Ninja -DCMAKE_BUILD_TYPE=Release
//   cmake --build build/plan-rel -j1 --target planner_bench
//   build/plan-rel/bench/closed-loop/planner_bench --benchmark_filter=Tick
//
// Args: classes, overloaded (1 = total demand 1.5x capacity, so the water-filling sweep runs in
// every tier; 0 = everything fits, the fast path). Each class has 4 tiers' worth of variety, a
// tenant out of 1,000 (100 parents with quotas), a 3-resource learned cost and a 12-step forecast.
// The Allocate-only variant isolates the capacity step.
#include <benchmark/benchmark.h>

#include <random>

#include "tidegate/plan/planner.h"

namespace tidegate::plan {
namespace {

struct Workload {
  PlannerConfig config;
  std::vector<ClassInput> inputs;
  std::vector<FeedbackState> feedback;
};

Workload Make(int n, bool overloaded) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u01(0, 1);
  Workload w;
  w.config.reserve_fraction = 0.1;
  w.config.window = std::chrono::seconds(60);
  for (int t = 0; t < 100; ++t) {
    TenantConfig parent{"org" + std::to_string(t), "", UnlimitedCapacity()};
    parent.quota[static_cast<int>(Resource::kCpuMs)] = 1e9;  // Set below from demand.
    w.config.tenants.push_back(parent);
  }
  for (int t = 0; t < 900; ++t) {
    w.config.tenants.push_back(
        {"team" + std::to_string(t), "org" + std::to_string(t % 100), UnlimitedCapacity()});
  }
  const MonoTime now(std::chrono::seconds(1000));
  ResourceVector demand_use{};
  std::vector<double> org_cpu(100, 0);
  for (int i = 0; i < n; ++i) {
    ClassConfig c;
    c.name = "class" + std::to_string(i);
    c.tier = static_cast<int>(rng() % 4);
    c.weight = 0.5 + u01(rng);
    c.floor_per_s = u01(rng) < 0.1 ? 0.5 : 0;
    c.tenant = "team" + std::to_string(i % 900);
    c.cost = ResourceVector{2, 0, 1000, 0, 1};
    c.lead_time = std::chrono::seconds(10);
    w.config.classes.push_back(c);
    ClassInput in;
    DemandForecast f;
    f.origin = now;
    f.step = std::chrono::seconds(10);
    const double base = 1 + 50 * u01(rng);
    for (int s = 0; s < 12; ++s) {
      const double m = base * (1 + 0.3 * std::sin(0.5 * s + i));
      f.mean.push_back(m);
      f.lower.push_back(0.8 * m);
      f.upper.push_back(1.2 * m);
    }
    in.forecast = std::move(f);
    in.cost = ResourceVector{1 + 4 * u01(rng), 0, 500 + 1000 * u01(rng), 0, 1};
    const double d = base * 1.3 * 1.2 * 1.2;
    for (int r = 0; r < kNumResources; ++r) demand_use[r] += d * (*in.cost)[r];
    org_cpu[(i % 900) % 100] += d * (*in.cost)[0];
    w.inputs.push_back(std::move(in));
    w.feedback.emplace_back();
  }
  const double scale = overloaded ? 1 / 1.5 : 2.0;
  for (int r = 0; r < kNumResources; ++r) {
    w.config.capacity[r] = demand_use[r] > 0 ? demand_use[r] * scale : kUnlimited;
  }
  for (int t = 0; t < 100; ++t) {
    w.config.tenants[t].quota[0] = org_cpu[t] * (overloaded ? 0.5 : 4.0);
  }
  return w;
}

void BM_PlanningTick(benchmark::State& state) {
  Workload w = Make(static_cast<int>(state.range(0)), state.range(1) != 0);
  auto planner = Planner::Create(w.config);
  if (!planner.ok()) {
    state.SkipWithError(std::string(planner.status().message()).c_str());
    return;
  }
  const MonoTime now(std::chrono::seconds(1000));
  int64_t limited = 0;
  for (auto _ : state) {
    auto plan = planner->MakePlan(w.inputs, w.feedback, now);
    limited = plan->stats.limited;
    benchmark::DoNotOptimize(plan);
  }
  state.counters["limited_classes"] = static_cast<double>(limited);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_PlanningTick)
    ->ArgsProduct({{1'000, 10'000, 100'000}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

void BM_AllocateOnly(benchmark::State& state) {
  Workload w = Make(static_cast<int>(state.range(0)), state.range(1) != 0);
  auto planner = Planner::Create(w.config);
  auto plan = planner->MakePlan(w.inputs, w.feedback, MonoTime(std::chrono::seconds(1000)));
  AllocationProblem p;
  for (int r = 0; r < kNumResources; ++r) p.capacity[r] = w.config.capacity[r] * 0.9;
  for (size_t t = 0; t < w.config.tenants.size(); ++t) {
    p.tenant_parent.push_back(t < 100 ? -1 : static_cast<int>((t - 100) % 100));
    p.tenant_quota.push_back(w.config.tenants[t].quota);
  }
  for (size_t i = 0; i < w.inputs.size(); ++i) {
    AllocationRequest q;
    q.tier = w.config.classes[i].tier;
    q.tenant = 100 + static_cast<int>(i % 900);
    q.weight = w.config.classes[i].weight;
    q.floor = w.config.classes[i].floor_per_s;
    q.demand = plan->classes[i].why.demand_per_s;
    q.cost = *w.inputs[i].cost;
    p.requests.push_back(q);
  }
  for (auto _ : state) benchmark::DoNotOptimize(Allocate(p));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AllocateOnly)->ArgsProduct({{100'000}, {0, 1}})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tidegate::plan

BENCHMARK_MAIN();
