// combo_search: scores every combination of a set of member models on an M4 hourly split, to
// choose the members, the aggregation and the interval scale of "auto" (combo.h) without looking
// at the Test part.
//
//   combo_search --data DIR [--split validation|test] [--members arima,sar,prophet,snaive,lstm]
//                [--lstm-model FILE] [--limit N] [--horizon 48] [--level 95] [--top 20]
//                [--kappa K]
//
// Each member is fitted once per series and its forecast kept; every non-empty subset of the
// members is then combined with combo.h's CombineForecasts (median and mean) and scored with the
// M4 metrics (metrics.h) against this split's Naive2. For each combination the interval scale κ
// that makes the mean coverage equal to the nominal level on this split is found by bisection
// (coverage is non-decreasing in κ), and MSIS is reported at κ = 1 and at that κ (or, with
// --kappa, at the given κ: to score on Test the κ chosen on validation). The validation
// split (m4.h M4ValidationSplit) holds out the last `horizon` Train values of every series; the
// Test part is never read for it. A global member that falls back on a series (too short for
// it) is left out of that series' combinations, as the combination model does.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <bit>
#include <chrono>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "tidegate/common/clock.h"
#include "tidegate/forecast/combo.h"
#include "tidegate/forecast/m4.h"
#include "tidegate/forecast/metrics.h"
#include "tidegate/forecast/model_registry.h"
#include "tidegate/learn/lstm.h"

namespace {

using tidegate::forecast::Forecast;

struct Scored {
  std::string members;
  const char* how = "";
  double smape = 0, mase = 0, owa = 0, msis = 0, coverage = 0, kappa = 1, msis_k = 0, cov_k = 0;
};

struct SeriesData {
  std::vector<double> actual;
  double scale = 0;
  std::vector<std::optional<Forecast>> parts;  // One per member; nullopt = not available.
};

// Coverage and MSIS of combined forecasts `f` with bounds scaled by κ about the mean.
void IntervalScores(const std::vector<SeriesData>& data, const std::vector<Forecast>& f,
                    double alpha, double kappa, double* coverage, double* msis) {
  double cov = 0, ms = 0;
  size_t n_ms = 0;
  std::vector<double> lo, hi;
  for (size_t s = 0; s < data.size(); ++s) {
    const auto& pi = f[s].intervals[0];
    const size_t h = data[s].actual.size();
    lo.resize(h);
    hi.resize(h);
    for (size_t i = 0; i < h; ++i) {
      const double m = f[s].mean[i];
      lo[i] = m - kappa * (m - pi.lower[i]);
      hi[i] = m + kappa * (pi.upper[i] - m);
    }
    cov += tidegate::forecast::Coverage(data[s].actual, lo, hi);
    if (data[s].scale > 0) {
      ms += tidegate::forecast::Msis(data[s].actual, lo, hi, alpha, data[s].scale);
      ++n_ms;
    }
  }
  *coverage = cov / static_cast<double>(data.size());
  *msis = n_ms ? ms / static_cast<double>(n_ms) : 0;
}

int Run(int argc, char** argv) {
  CLI::App app("Score every combination of member models on an M4 hourly split");
  std::string data_dir, split = "validation", members_arg = "arima,sar,prophet,snaive,lstm",
                        lstm_model;
  size_t limit = 0, top = 20;
  double fixed_kappa = 0;
  int horizon = 48;
  double level = 95;
  app.add_option("--data", data_dir, "M4-hourly directory (Train/, Test/)")->required();
  app.add_option("--split", split, "validation (last horizon of Train) or test")
      ->check(CLI::IsMember({"validation", "test"}));
  app.add_option("--members", members_arg, "Comma-separated member models");
  app.add_option("--lstm-model", lstm_model, "Trained global LSTM (tidegate train)");
  app.add_option("--limit", limit, "Only the first N series");
  app.add_option("--horizon", horizon, "Forecast horizon");
  app.add_option("--level", level, "Interval level, percent");
  app.add_option("--top", top, "Rows to print");
  app.add_option("--kappa", fixed_kappa, "Score intervals at this scale instead of solving for it")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  tidegate::forecast::ModelContext context;
  if (!lstm_model.empty()) {
    auto model = tidegate::learn::LstmModel::LoadFile(lstm_model);
    if (!model.ok()) {
      std::cerr << "combo_search: " << model.status().message() << "\n";
      return 1;
    }
    context.Add(std::move(model).value());
  }
  std::vector<std::string> members;
  for (size_t start = 0; start <= members_arg.size();) {
    const size_t comma = std::min(members_arg.find(',', start), members_arg.size());
    if (comma > start) members.push_back(members_arg.substr(start, comma - start));
    start = comma + 1;
  }
  if (members.empty() || members.size() > 10) {
    std::cerr << "combo_search: give 1 to 10 members\n";
    return 1;
  }
  auto loaded = tidegate::forecast::LoadM4(data_dir, "Hourly");
  if (loaded.ok() && split == "validation") {
    loaded = tidegate::forecast::M4ValidationSplit(std::move(loaded).value(), horizon);
  }
  if (!loaded.ok()) {
    std::cerr << "combo_search: " << loaded.status().message() << "\n";
    return 1;
  }
  std::vector<tidegate::forecast::M4Series> m4 = std::move(loaded).value();
  if (limit > 0 && limit < m4.size()) m4.resize(limit);

  const std::vector<double> levels = {level};
  const double alpha = 1 - level / 100;
  std::vector<SeriesData> data(m4.size());
  tidegate::forecast::MetricAccumulator naive2;
  std::vector<double> seconds(members.size(), 0.0);
  std::vector<int> missing(members.size(), 0);
  tidegate::Clock& clock = tidegate::RealClock();
  for (size_t s = 0; s < m4.size(); ++s) {
    tidegate::forecast::Series series;
    series.values = m4[s].train;
    series.seasonal_periods = {24};
    const int h = static_cast<int>(std::min<size_t>(horizon, m4[s].test.size()));
    data[s].actual.assign(m4[s].test.begin(), m4[s].test.begin() + h);
    data[s].scale = tidegate::forecast::MaseScale(m4[s].train, 24);
    auto n2 = tidegate::forecast::MakeForecaster("naive2").value();
    if (n2->Fit(series).ok()) {
      auto f = n2->Predict(h, levels);
      if (f.ok()) {
        tidegate::forecast::SeriesScores sc;
        sc.smape = tidegate::forecast::SMape(data[s].actual, f->mean);
        sc.mase = tidegate::forecast::Mase(data[s].actual, f->mean, data[s].scale);
        sc.msis = 0;
        sc.coverage = 0;
        naive2.Add(sc);
      }
    }
    for (size_t j = 0; j < members.size(); ++j) {
      const auto t0 = clock.Now();
      auto model = tidegate::forecast::MakeForecaster(members[j], context);
      std::optional<Forecast> part;
      if (model.ok() && (*model)->Fit(series).ok() &&
          !(context.Find(members[j]) != nullptr && !(*model)->Summary().fallback.empty())) {
        auto f = (*model)->Predict(h, levels);
        if (f.ok()) part = std::move(f).value();
      }
      seconds[j] += std::chrono::duration<double>(clock.Now() - t0).count();
      if (!part) ++missing[j];
      data[s].parts.push_back(std::move(part));
    }
    if ((s + 1) % 50 == 0) std::cerr << fmt::format("{} / {} series\n", s + 1, m4.size());
  }
  for (size_t j = 0; j < members.size(); ++j) {
    std::cout << fmt::format("member {}: {:.3f} s per series, unavailable on {} series\n",
                             members[j], seconds[j] / static_cast<double>(m4.size()), missing[j]);
  }

  std::vector<Scored> rows;
  const auto n_subsets = static_cast<uint32_t>(1u << members.size());
  for (uint32_t mask = 1; mask < n_subsets; ++mask) {
    for (auto how : {tidegate::forecast::ComboOptions::Aggregate::kMedian,
                     tidegate::forecast::ComboOptions::Aggregate::kMean}) {
      if (std::popcount(mask) <= 2 && how == tidegate::forecast::ComboOptions::Aggregate::kMean) {
        continue;  // Median of one or two is their mean.
      }
      Scored row;
      for (size_t j = 0; j < members.size(); ++j) {
        if (mask & (1u << j)) row.members += (row.members.empty() ? "" : "+") + members[j];
      }
      row.how = how == tidegate::forecast::ComboOptions::Aggregate::kMedian ? "median" : "mean";
      std::vector<Forecast> combined(data.size());
      tidegate::forecast::MetricAccumulator acc;
      bool ok = true;
      for (size_t s = 0; s < data.size() && ok; ++s) {
        std::vector<Forecast> parts;
        for (size_t j = 0; j < members.size(); ++j) {
          if ((mask & (1u << j)) && data[s].parts[j]) parts.push_back(*data[s].parts[j]);
        }
        // No member available: the classical fallback of the combination is seasonal naive; here
        // the first available member of the full set stands in (reported as such).
        if (parts.empty()) {
          for (const auto& p : data[s].parts) {
            if (p) {
              parts.push_back(*p);
              break;
            }
          }
        }
        auto f = tidegate::forecast::CombineForecasts(parts, how, 1.0);
        if (!f.ok()) {
          ok = false;
          break;
        }
        combined[s] = std::move(f).value();
        tidegate::forecast::SeriesScores sc;
        sc.smape = tidegate::forecast::SMape(data[s].actual, combined[s].mean);
        sc.mase = tidegate::forecast::Mase(data[s].actual, combined[s].mean, data[s].scale);
        sc.msis = 0;
        sc.coverage = 0;
        acc.Add(sc);
      }
      if (!ok) continue;
      row.smape = acc.smape();
      row.mase = acc.mase();
      row.owa = tidegate::forecast::Owa(row.smape, row.mase, naive2.smape(), naive2.mase());
      IntervalScores(data, combined, alpha, 1.0, &row.coverage, &row.msis);
      double lo = 0.05, hi = fixed_kappa > 0 ? fixed_kappa : 5;
      for (int it = 0; it < 40 && fixed_kappa == 0; ++it) {
        const double mid = (lo + hi) / 2;
        double cov = 0, msis = 0;
        IntervalScores(data, combined, alpha, mid, &cov, &msis);
        (cov < level / 100 ? lo : hi) = mid;
      }
      row.kappa = hi;
      IntervalScores(data, combined, alpha, row.kappa, &row.cov_k, &row.msis_k);
      rows.push_back(row);
    }
  }
  std::sort(rows.begin(), rows.end(),
            [](const Scored& a, const Scored& b) { return a.owa < b.owa; });
  std::cout << fmt::format("M4 hourly, {} split, {} series, h = {}, {}% intervals\n", split,
                           data.size(), horizon, level);
  std::cout << fmt::format("{:<36} {:>6} {:>7} {:>6} {:>6} {:>7} {:>6} {:>6} {:>7} {:>6}\n",
                           "members", "agg", "sMAPE", "MASE", "OWA", "MSIS", "cover", "kappa",
                           "MSIS_k", "cov_k");
  for (size_t i = 0; i < rows.size() && i < top; ++i) {
    const Scored& r = rows[i];
    std::cout << fmt::format(
        "{:<36} {:>6} {:>7.3f} {:>6.3f} {:>6.3f} {:>7.3f} {:>6.3f} {:>6.3f} {:>7.3f} {:>6.3f}\n",
        r.members, r.how, r.smape, r.mase, r.owa, r.msis, r.coverage, r.kappa, r.msis_k, r.cov_k);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
