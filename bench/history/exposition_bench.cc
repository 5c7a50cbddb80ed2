// Benchmarks of the /metrics text encoding at scrape time, for a class table of 10,000 and 100,000
// classes with 8 samples per class (the per-class families Service::RenderMetrics writes: decisions
// by code ok/over_limit/shadow, bucket rate, size and level, override, borrowed), labels tenant,
// class (and code):
//   * BM_BuildFamilies: building the ExpositionFamily values alone (common to both encoders);
//   * BM_EncodeTidegate: the baseline, tidegate's encoder (EncodeExposition, what /metrics runs);
//   * BM_EncodePrometheusCpp: the same families converted to prometheus::MetricFamily and
//     serialized with prometheus::TextSerializer (prometheus-cpp, Debian prometheus-cpp-dev);
//   * BM_SerializePrometheusCppOnly: TextSerializer on families converted beforehand (the share
//     of the conversion in BM_EncodePrometheusCpp).
// Counters: bytes of text per iteration, samples/s. Read CPU times (the wall times include what
// other processes took); --benchmark_enable_random_interleaving spreads load across both paths.
//
//   build/release/bench/history/exposition_bench --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
#include <cmath>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "fmt/format.h"
#include "prometheus/text_serializer.h"
#include "tidegate/history/exposition.h"

namespace tidegate::history {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

std::vector<ExpositionFamily> BuildFamilies(int classes) {
  ExpositionFamily decisions{
      "tidegate_decisions_total", "Check decisions per class and code.", "counter", {}};
  ExpositionFamily rate{"tidegate_bucket_rate_per_second", "Refill rate, tokens/s.", "gauge", {}};
  ExpositionFamily size{"tidegate_bucket_size_tokens", "Bucket size, tokens.", "gauge", {}};
  ExpositionFamily level{"tidegate_bucket_level_tokens", "Tokens available now.", "gauge", {}};
  ExpositionFamily overrides{"tidegate_bucket_override", "1 while overridden.", "gauge", {}};
  ExpositionFamily borrowed{"tidegate_borrowed_total", "Borrowed admissions.", "counter", {}};
  for (auto* f : {&decisions, &rate, &size, &level, &overrides, &borrowed}) {
    f->samples.reserve(static_cast<size_t>(f == &decisions ? 3 * classes : classes));
  }
  for (int i = 0; i < classes; ++i) {
    const Labels base = {{"tenant", fmt::format("tenant{}", i % 10)},
                         {"class", fmt::format("generic_key=route{},user_id=u{}", i, i * 7)}};
    const char* codes[] = {"ok", "over_limit", "shadow"};
    for (int c = 0; c < 3; ++c) {
      Labels l = base;
      l.emplace_back("code", codes[c]);
      decisions.samples.push_back(
          {decisions.name, std::move(l), static_cast<double>(i * 13 + c), std::nullopt});
    }
    rate.samples.push_back({rate.name, base, 100.0 + i * 0.37, std::nullopt});
    size.samples.push_back({size.name, base, 200.0 + i, std::nullopt});
    level.samples.push_back({level.name, base, std::sin(i) * 150.0, std::nullopt});
    overrides.samples.push_back({overrides.name, base, i % 50 == 0 ? 1.0 : 0.0, std::nullopt});
    borrowed.samples.push_back({borrowed.name, base, static_cast<double>(i % 17), std::nullopt});
  }
  return {std::move(decisions), std::move(rate),      std::move(size),
          std::move(level),     std::move(overrides), std::move(borrowed)};
}

// The prometheus-cpp form of a family: what /metrics would hand to prometheus::TextSerializer.
// HELP text is escaped here because prometheus-cpp 1.0.1 writes it as given.
prometheus::MetricFamily ToMetricFamily(const ExpositionFamily& family) {
  prometheus::MetricFamily out;
  out.name = family.name;
  out.help = EscapeHelp(family.help);
  out.type = family.type == "counter" ? prometheus::MetricType::Counter
             : family.type == "gauge" ? prometheus::MetricType::Gauge
                                      : prometheus::MetricType::Untyped;
  out.metric.reserve(family.samples.size());
  for (const ExpositionSample& s : family.samples) {
    prometheus::ClientMetric& m = out.metric.emplace_back();
    m.label.reserve(s.labels.size());
    for (const auto& [name, value] : s.labels) m.label.push_back({name, value});
    if (out.type == prometheus::MetricType::Counter) {
      m.counter.value = s.value;
    } else if (out.type == prometheus::MetricType::Gauge) {
      m.gauge.value = s.value;
    } else {
      m.untyped.value = s.value;
    }
    if (s.time.has_value()) {
      m.timestamp_ms =
          std::chrono::floor<std::chrono::milliseconds>(s.time->time_since_epoch()).count();
    }
  }
  return out;
}

std::string EncodePrometheusCpp(const std::vector<ExpositionFamily>& families) {
  std::vector<prometheus::MetricFamily> converted;
  converted.reserve(families.size());
  for (const ExpositionFamily& f : families) converted.push_back(ToMetricFamily(f));
  return prometheus::TextSerializer().Serialize(converted);
}

void Report(benchmark::State& state, size_t bytes) {
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0) * 8);
}

void BM_BuildFamilies(benchmark::State& state) {
  for (auto _ : state) {
    std::vector<ExpositionFamily> families = BuildFamilies(static_cast<int>(state.range(0)));
    benchmark::DoNotOptimize(families);
  }
  Report(state, 0);
}

void BM_EncodeTidegate(benchmark::State& state) {
  const std::vector<ExpositionFamily> families = BuildFamilies(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = EncodeExposition(families);
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  Report(state, bytes);
}

void BM_EncodePrometheusCpp(benchmark::State& state) {
  const std::vector<ExpositionFamily> families = BuildFamilies(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = EncodePrometheusCpp(families);
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  Report(state, bytes);
}

void BM_SerializePrometheusCppOnly(benchmark::State& state) {
  const std::vector<ExpositionFamily> families = BuildFamilies(static_cast<int>(state.range(0)));
  std::vector<prometheus::MetricFamily> converted;
  for (const ExpositionFamily& f : families) converted.push_back(ToMetricFamily(f));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = prometheus::TextSerializer().Serialize(converted);
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  Report(state, bytes);
}

BENCHMARK(BM_BuildFamilies)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodeTidegate)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodePrometheusCpp)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SerializePrometheusCppOnly)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tidegate::history
BENCHMARK_MAIN();
