// ETS micro benchmarks: fit (one model and automatic selection) on a 700-point hourly series with
// a daily cycle, online Update, and forecasts with intervals.
//
// Baseline measured in the same run: BM_EtsOnePass, one pass of the recursions over the series
// (EtsModel::FromParameters). A fit costs about (objective evaluations) x (one pass); each fit
// benchmark reports its `evaluations` counter.
//
//   cmake -S . -B build/ets-rel -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS='-O2 -g'
//   cmake --build build/ets-rel -j1 --target ets_bench && build/ets-rel/bench/forecast/ets_bench
//
// With `--m4 DIR [--limit N]` it instead runs the M4 hourly backtest of the "ets" Forecaster
// (backtest.h: fit on Train, h = 48, 95 % intervals) on DIR (e.g. ../shared/data/M4-hourly) and
// prints sMAPE, MASE, OWA, MSIS, coverage and the fit + forecast time.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tidegate/common/clock.h"
#include "tidegate/forecast/backtest.h"
#include "tidegate/forecast/ets.h"
#include "tidegate/forecast/m4.h"

namespace tidegate::forecast {
namespace {

constexpr int kN = 700;
constexpr int kPeriod = 24;

std::vector<double> HourlySeries(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 0.05);
  std::vector<double> y(n);
  for (int t = 0; t < n; ++t) {
    const double day =
        1 + 0.4 * std::sin(2 * M_PI * t / kPeriod) + 0.15 * std::cos(4 * M_PI * t / kPeriod);
    y[t] = (1000 + 0.5 * t) * day * std::exp(noise(rng));
  }
  return y;
}

EtsOptions Options(const char* code) {
  EtsOptions o;
  o.period = kPeriod;
  if (code != nullptr) o.spec = *EtsSpec::Parse(code);
  return o;
}

void BM_EtsOnePass(benchmark::State& state) {
  const auto y = HourlySeries(kN, 1);
  auto fitted = EtsModel::Fit(y, Options("MAM"));
  const auto& s = fitted->summary();
  for (auto _ : state) {
    auto m = EtsModel::FromParameters(y, s.spec, s.period, s.params, s.initial_state);
    benchmark::DoNotOptimize(m);
  }
  state.counters["ns_per_point"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kN,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_EtsOnePass)->Unit(benchmark::kMicrosecond);

void BM_EtsFit(benchmark::State& state, const char* code) {
  const auto y = HourlySeries(kN, 2);
  int evaluations = 0;
  for (auto _ : state) {
    auto m = EtsModel::Fit(y, Options(code));
    evaluations = m->summary().evaluations;
    benchmark::DoNotOptimize(m);
  }
  state.counters["evaluations"] = evaluations;
  state.SetLabel(code == nullptr ? "auto (AICc over all admissible models)" : code);
}
BENCHMARK_CAPTURE(BM_EtsFit, ANN, "ANN")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EtsFit, AAdN, "AAdN")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EtsFit, AAA, "AAA")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EtsFit, MNM, "MNM")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EtsFit, MAdM, "MAdM")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EtsFit, Auto, nullptr)->Unit(benchmark::kMillisecond);

void BM_EtsUpdate(benchmark::State& state, const char* code) {
  const auto y = HourlySeries(kN + 4096, 3);
  auto m = *EtsModel::Fit(std::span<const double>(y).first(kN), Options(code));
  size_t i = 0;
  for (auto _ : state) {
    m.Update(y[kN + (i++ & 4095)]);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(m.OneStepForecast());
  state.SetLabel(code);
}
BENCHMARK_CAPTURE(BM_EtsUpdate, ANN, "ANN");
BENCHMARK_CAPTURE(BM_EtsUpdate, AAdA, "AAdA");
BENCHMARK_CAPTURE(BM_EtsUpdate, MAdM, "MAdM");

void BM_EtsForecast48(benchmark::State& state, const char* code) {
  const auto y = HourlySeries(kN, 4);
  auto m = *EtsModel::Fit(y, Options(code));
  const double levels[] = {80, 95};
  for (auto _ : state) {
    auto f = m.Forecast(48, levels);
    benchmark::DoNotOptimize(f);
  }
  state.SetLabel(code);
}
BENCHMARK_CAPTURE(BM_EtsForecast48, AAdA_class1, "AAdA")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_EtsForecast48, MAdA_class2, "MAdA")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_EtsForecast48, MAdM_class3_simulated, "MAdM")->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tidegate::forecast

int RunM4(const std::string& dir, size_t limit) {
  using namespace tidegate::forecast;
  auto data = LoadM4(dir, "Hourly");
  if (!data.ok()) {
    fmt::print(stderr, "ets_bench: {}\n", data.status().ToString());
    return 1;
  }
  BacktestOptions options;
  options.model = "ets";
  options.limit = limit;
  auto r = RunBacktest(*data, options, tidegate::RealClock());
  if (!r.ok()) {
    fmt::print(stderr, "ets_bench: {}\n", r.status().ToString());
    return 1;
  }
  fmt::print(
      "M4 hourly, ets: series={} sMAPE={:.3f} MASE={:.3f} OWA={:.3f} (official Naive2: {:.3f}) "
      "MSIS={:.3f} coverage={:.3f} fit+forecast={:.2f}s failures={}\n",
      r->model.count(), r->model.smape(), r->model.mase(), r->owa, r->owa_official, r->model.msis(),
      r->model.coverage(), r->seconds, r->failures);
  std::map<std::string, int> chosen;
  for (const auto& s : r->series) ++chosen[s.spec.substr(0, s.spec.find('['))];
  for (const auto& [spec, count] : chosen) fmt::print("  {:<14} {}\n", spec, count);
  return 0;
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--m4") == 0 && i + 1 < argc) {
      size_t limit = 0;
      for (int j = 1; j + 1 < argc; ++j) {
        if (std::strcmp(argv[j], "--limit") == 0) limit = std::stoul(argv[j + 1]);
      }
      return RunM4(argv[i + 1], limit);
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
