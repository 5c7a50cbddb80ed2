// Online-update and inference micro benchmarks, through the Forecaster interface as the daemon
// calls it: one Update(y) per new observation for each model fitted on the same 700-point hourly
// series (m = 24), the whole set of one class ("auto" with the LSTM: arima, sar, prophet, snaive
// and lstm updated together), and one LSTM forecast of 48 steps (the per-class inference cost).
// seasonal naive's Update (a ring-buffer write) is the baseline of the same run.
//
//   build/release/bench/forecast/update_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true     (one command line)
//
// The LSTM is the default shape (1 × 48 hidden, window 7 × 24, horizon 48, 5 quantiles) trained
// for 2 steps on the synthetic series: inference cost depends on the shape, not on the weights'
// values. Updates cycle through the next 2,400 values of the same process, so every call does
// real work (no repeated value, no missing value).
#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "hourly_series.h"
#include "tidegate/forecast/combo.h"
#include "tidegate/forecast/model_registry.h"
#include "tidegate/learn/lstm.h"

namespace tidegate::forecast {
namespace {

constexpr int kFit = 700;
constexpr int kStream = 2400;

const std::vector<double>& Data() {
  static const std::vector<double> y = Hourly(kFit + kStream);
  return y;
}

Series FitSeries() {
  Series s;
  s.values.assign(Data().begin(), Data().begin() + kFit);
  s.seasonal_periods = {24};
  return s;
}

const ModelContext& LstmOnly() {
  static const ModelContext context = [] {
    learn::TrainOptions train;
    train.steps = 2;
    train.batch = 8;
    Series s = FitSeries();
    auto model =
        learn::LstmModel::Train(std::span<const Series>(&s, 1), learn::LstmOptions{}, train);
    return model.ok() ? learn::LstmContext(*model) : ModelContext{};
  }();
  return context;
}

std::unique_ptr<Forecaster> Fitted(const std::string& name, benchmark::State& state) {
  auto model = MakeForecaster(name, LstmOnly());
  if (!model.ok() || !(*model)->Fit(FitSeries()).ok()) {
    state.SkipWithError(("cannot fit " + name).c_str());
    return nullptr;
  }
  state.SetLabel((*model)->Summary().spec);
  return std::move(model).value();
}

// One Update per iteration, cycling through the stream. Every kStream updates the model is
// replaced by a fresh copy of the fitted one (outside the timing), so the state stays in the
// range it was fitted for.
void BM_Update(benchmark::State& state, const std::string& name) {
  auto fitted = Fitted(name, state);
  if (!fitted) return;
  auto model = fitted->Clone();
  const std::vector<double>& y = Data();
  int i = 0;
  for (auto _ : state) {
    if (i == kStream) {
      state.PauseTiming();
      model = fitted->Clone();
      i = 0;
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(model->Update(y[kFit + i]));
    ++i;
  }
}
BENCHMARK_CAPTURE(BM_Update, snaive, std::string("snaive"));
BENCHMARK_CAPTURE(BM_Update, arima, std::string("arima"));
BENCHMARK_CAPTURE(BM_Update, ets, std::string("ets"));
BENCHMARK_CAPTURE(BM_Update, sar, std::string("sar"));
BENCHMARK_CAPTURE(BM_Update, prophet, std::string("prophet"));
BENCHMARK_CAPTURE(BM_Update, lstm, std::string("lstm"));
BENCHMARK_CAPTURE(BM_Update, combo, std::string("combo"));
// The whole set of one class: what the daemon updates per observation.
BENCHMARK_CAPTURE(BM_Update, auto_with_lstm, std::string("auto"));

// One class's LSTM inference: a 48-step forecast with the 95 % interval (one network pass).
void BM_LstmPredict48(benchmark::State& state) {
  auto model = Fitted("lstm", state);
  if (!model) return;
  const std::vector<double> levels = {95};
  for (auto _ : state) benchmark::DoNotOptimize(model->Predict(48, levels));
}
BENCHMARK(BM_LstmPredict48)->Unit(benchmark::kMicrosecond);

// The same for the whole class set, for scale.
void BM_AutoPredict48(benchmark::State& state) {
  auto model = Fitted("auto", state);
  if (!model) return;
  const std::vector<double> levels = {95};
  for (auto _ : state) benchmark::DoNotOptimize(model->Predict(48, levels));
}
BENCHMARK(BM_AutoPredict48)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tidegate::forecast

BENCHMARK_MAIN();
