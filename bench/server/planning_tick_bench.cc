// Cost of one planning tick (server/planning.h) with N classes, each with a forecast of the next
// hour: snapshot the classes, (re)build the planner when the class list changed, plan every
// class, apply each plan to its bucket, record plan history. Reported, not asserted; the model
// fits run on the worker thread and are not part of a tick.
//
//   build/release/bench/server/planning_tick_bench --benchmark_filter=Tick
//
// The class snapshot is rebuilt only when a class, the config or an override changed, so a tick
// in steady state reads the previous one.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>

#include "fmt/format.h"
#include "tidegate/history/sqlite_store.h"
#include "tidegate/server/planning.h"

namespace tidegate::server {
namespace {

struct Fixture {
  std::filesystem::path dir;
  SimulatedClock clock;
  std::unique_ptr<Service> service;
  std::unique_ptr<Planning> planning;

  explicit Fixture(int classes) {
    dir = std::filesystem::temp_directory_path() / fmt::format("planning_bench_{}", ::getpid());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::string yaml = "domain: shop\ndescriptors:\n";
    for (int i = 0; i < classes; ++i) {
      yaml += fmt::format(
          "  - key: class\n    value: c{}\n    rate_limit: {{unit: second, requests_per_unit: "
          "100}}\n    priority: {}\n    cost: {{cpu_ms: {}, requests: 1}}\n",
          i, i % 4, 1 + i % 7);
    }
    yaml += "capacity: {cpu_ms: 1000000, requests: 400000}\n";
    yaml += "tenants: [{name: shop, quota: {unit: second, requests_per_unit: 300000}}]\n";
    ServiceOptions options;
    options.config = ParseConfig(yaml, "bench.yaml").value();
    options.store = history::SqliteStore::Open(dir.string()).value();
    service = Service::Create(std::move(options), clock).value();
    planning = Planning::Create(*service, PlanningOptions{}).value();
    const WallTime start = history::AlignDown(clock.WallNow(), std::chrono::minutes(1));
    int i = 0;
    for (const PlanningClass& c : *service->PlanningClasses()) {
      auto snap = std::make_shared<ClassForecastSnapshot>();
      snap->key = c.key;
      snap->model = "ets";
      HorizonSnapshot h;
      h.name = "1h";
      h.step = std::chrono::minutes(1);
      h.start = start;
      for (int k = 0; k < 60; ++k) {
        const double m = 10 + (i % 50) + 0.2 * k;
        h.mean.push_back(m);
        h.lower.push_back(0.8 * m);
        h.upper.push_back(1.2 * m);
      }
      snap->horizons.push_back(std::move(h));
      planning->InjectForecast(std::move(snap));
      ++i;
    }
  }
  ~Fixture() {
    planning.reset();
    service.reset();
    std::filesystem::remove_all(dir);
  }
};

void BM_Tick(benchmark::State& state) {
  Fixture f(static_cast<int>(state.range(0)));
  (void)f.planning->Tick();  // Builds the planner once.
  for (auto _ : state) {
    f.clock.Advance(std::chrono::milliseconds(1));  // Forecasts keep covering the window.
    absl::Status s = f.planning->Tick();
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
  }
  state.counters["classes"] = static_cast<double>(state.range(0));
  state.counters["fallbacks"] = static_cast<double>(f.planning->LastTick()->fallbacks);
}
BENCHMARK(BM_Tick)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tidegate::server

BENCHMARK_MAIN();
