// ARIMA micro benchmarks: automatic fit of a 700-point hourly series (m = 24), a fixed-order fit,
// one online Update, a 48-step forecast, and the likelihood recursions (full Kalman filter as the
// baseline for the Chandrasekhar recursions, same run, same data).
//
//   build/<dir>/bench/forecast/arima_bench [--benchmark_filter=...]
// With ../shared/data/M4-hourly present (or TIDEGATE_M4_DIR), BM_AutoFitM4 fits the first 20 M4
// hourly training series (read at run time, never copied). `--m4_backtest=DIR` scores the full
// M4 hourly split instead (see main()).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "forecast/arima/arma_state_space.h"
#include "hourly_series.h"
#include "tidegate/common/clock.h"
#include "tidegate/forecast/arima.h"
#include "tidegate/forecast/backtest.h"
#include "tidegate/forecast/m4.h"

namespace tidegate::forecast {
namespace {

void BM_AutoFitHourly700(benchmark::State& state) {
  const std::vector<double> y = Hourly(700);
  std::string spec;
  for (auto _ : state) {
    auto m = ArimaModel::AutoFit(y, 24);
    if (!m.ok()) state.SkipWithError("fit failed");
    spec = ArimaOrderToString(m->order());
    benchmark::DoNotOptimize(m);
  }
  state.SetLabel(spec);
}
BENCHMARK(BM_AutoFitHourly700)->Unit(benchmark::kMillisecond);

void BM_FitFixedHourly700(benchmark::State& state) {
  const std::vector<double> y = Hourly(700);
  const ArimaOrder order{.p = 1, .q = 1, .seasonal_d = 1, .seasonal_q = 1, .period = 24};
  for (auto _ : state) {
    auto m = ArimaModel::Fit(y, order);
    if (!m.ok()) state.SkipWithError("fit failed");
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_FitFixedHourly700)->Unit(benchmark::kMillisecond);

void BM_Update(benchmark::State& state) {
  const std::vector<double> y = Hourly(2000);
  const ArimaOrder order{.p = 1, .q = 1, .seasonal_d = 1, .seasonal_q = 1, .period = 24};
  auto m = ArimaModel::Fit(std::span<const double>(y).first(700), order);
  if (!m.ok()) {
    state.SkipWithError("fit failed");
    return;
  }
  size_t t = 700;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m->Update(y[t]));
    if (++t == y.size()) t = 700;
  }
  state.SetLabel(ArimaOrderToString(m->order()));
}
BENCHMARK(BM_Update);

// Update right after a missing value: the covariance recursion runs in full (O(r^2)).
void BM_UpdateUnsteady(benchmark::State& state) {
  const std::vector<double> y = Hourly(2000);
  const ArimaOrder order{.p = 1, .q = 1, .seasonal_d = 1, .seasonal_q = 1, .period = 24};
  auto m = ArimaModel::Fit(std::span<const double>(y).first(700), order);
  if (!m.ok()) {
    state.SkipWithError("fit failed");
    return;
  }
  size_t t = 700;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m->Update(t % 2 == 0 ? std::nan("") : y[t]));
    if (++t == y.size()) t = 700;
  }
}
BENCHMARK(BM_UpdateUnsteady);

void BM_Forecast48(benchmark::State& state) {
  const std::vector<double> y = Hourly(700);
  const ArimaOrder order{.p = 1, .q = 1, .seasonal_d = 1, .seasonal_q = 1, .period = 24};
  auto m = ArimaModel::Fit(y, order);
  for (auto _ : state) benchmark::DoNotOptimize(m->Forecast(48));
}
BENCHMARK(BM_Forecast48)->Unit(benchmark::kMicrosecond);

// Likelihood of an ARMA(2,1)(1,1)[24] on 700 points: state dimension r = 50.
struct LikelihoodData {
  std::vector<double> ar, ma, w;
  LikelihoodData() {
    const std::vector<double> a = {0.4, 0.2}, sa = {0.5}, m = {0.3}, sm = {-0.6};
    ar = arima_internal::ExpandSeasonal(a, sa, 24, false);
    ma = arima_internal::ExpandSeasonal(m, sm, 24, true);
    std::vector<double> y = Hourly(701);
    for (int t = 0; t < 700; ++t) w.push_back((y[t + 1] - y[t]) / 10);
  }
};

void BM_LikelihoodKalman(benchmark::State& state) {
  LikelihoodData d;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        arima_internal::KalmanFilter(d.ar, d.ma, d.w, nullptr, nullptr, nullptr));
  }
}
BENCHMARK(BM_LikelihoodKalman)->Unit(benchmark::kMicrosecond);

void BM_LikelihoodChandrasekhar(benchmark::State& state) {
  LikelihoodData d;
  for (auto _ : state) {
    benchmark::DoNotOptimize(arima_internal::ChandrasekharFilter(d.ar, d.ma, d.w));
  }
}
BENCHMARK(BM_LikelihoodChandrasekhar)->Unit(benchmark::kMicrosecond);

void BM_LikelihoodCss(benchmark::State& state) {
  LikelihoodData d;
  for (auto _ : state) {
    benchmark::DoNotOptimize(arima_internal::ConditionalSumOfSquares(d.ar, d.ma, d.w));
  }
}
BENCHMARK(BM_LikelihoodCss)->Unit(benchmark::kMicrosecond);

std::vector<std::vector<double>> ReadM4(size_t max_series) {
  const char* env = std::getenv("TIDEGATE_M4_DIR");
  auto data = LoadM4(env != nullptr ? env : "../shared/data/M4-hourly", "Hourly");
  std::vector<std::vector<double>> out;
  if (!data.ok()) return out;
  for (size_t i = 0; i < data->size() && i < max_series; ++i) out.push_back((*data)[i].train);
  return out;
}

void BM_AutoFitM4(benchmark::State& state) {
  const auto series = ReadM4(20);
  if (series.empty()) {
    state.SkipWithError("M4 hourly data not found (set TIDEGATE_M4_DIR)");
    return;
  }
  for (auto _ : state) {
    for (const auto& y : series) benchmark::DoNotOptimize(ArimaModel::AutoFit(y, 24));
  }
  state.counters["ms_per_series"] = benchmark::Counter(
      static_cast<double>(series.size()) * 1e-3,
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_AutoFitM4)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace tidegate::forecast

// `arima_bench --m4_backtest=DIR [--limit=N]` runs the M4 hourly protocol (backtest.h) with the
// "arima" model instead of the micro benchmarks and prints the averages.
int main(int argc, char** argv) {
  std::string m4_dir;
  size_t limit = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--m4_backtest=", 0) == 0) m4_dir = arg.substr(14);
    if (arg.rfind("--limit=", 0) == 0) limit = std::stoul(arg.substr(8));
  }
  if (!m4_dir.empty()) {
    using namespace tidegate::forecast;
    auto data = LoadM4(m4_dir, "Hourly");
    if (!data.ok()) {
      std::fprintf(stderr, "%s\n", std::string(data.status().message()).c_str());
      return 1;
    }
    BacktestOptions options;
    options.model = "arima";
    options.limit = limit;
    auto result = RunBacktest(*data, options, tidegate::RealClock(), [](size_t done, size_t total) {
      if (done % 20 == 0 || done == total) std::fprintf(stderr, "\r%zu/%zu", done, total);
    });
    std::fprintf(stderr, "\n");
    if (!result.ok()) {
      std::fprintf(stderr, "%s\n", std::string(result.status().message()).c_str());
      return 1;
    }
    std::printf(
        "series %zu  sMAPE %.3f  MASE %.3f  OWA %.3f (official Naive2 %.3f)  MSIS %.3f  "
        "coverage %.4f  failures %d  fit+predict %.2f s (%.1f ms/series)\n",
        result->series.size(), result->model.smape(), result->model.mase(), result->owa,
        result->owa_official, result->model.msis(), result->model.coverage(), result->failures,
        result->seconds, 1e3 * result->seconds / result->series.size());
    for (const auto& s : result->series) {
      if (!s.fallback.empty())
        std::printf("  %s: %s (%s)\n", s.id.c_str(), s.spec.c_str(), s.fallback.c_str());
    }
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
