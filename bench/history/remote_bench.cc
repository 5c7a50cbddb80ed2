// Remote history backends and collection on this machine:
//   * BM_InfluxAppend: the same batches written to a real InfluxDB 1.x (/write, line protocol),
//     with and without the duplicate check (one read-back query per Append).
//   * BM_PrometheusStageAndRender: what the Prometheus direction costs tidegate per sample:
//     Append (validate + stage) and rendering the exposition a scrape fetches.
//   * BM_PrometheusScrape: a real Prometheus scraping an exposition of N samples from this
//     process; the iteration time is Prometheus' own scrape_duration_seconds (fetch + parse +
//     ingest), so samples/s is Prometheus' ingestion rate for our exporter.
//   * BM_SystemMetricsSample: CPU time of one collector reading of the real /proc; at a 1 s
//     interval the collector's overhead in % of one core is (time per sample) / 1 s * 100.
// The remote benchmarks need the servers: run under scripts/with-test-servers.sh (they skip with
// a message otherwise):
//   scripts/with-test-servers.sh build/<you>-rel/bench/history/remote_bench
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <thread>

#include "../../test/history/http_test_server.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tidegate/history/http_client.h"
#include "tidegate/history/influx_store.h"
#include "tidegate/history/prometheus_store.h"
#include "tidegate/history/system_metrics.h"

namespace tidegate::history {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// `series` series x `per_series` samples at 10 s spacing starting at `base`.
SampleBatch MakeBatch(int series, int per_series, WallTime base) {
  SampleBatch batch;
  for (int s = 0; s < series; ++s) {
    const SeriesKey key{"cpu_ms", fmt::format("tenant{}", s % 10),
                        fmt::format("class=c{},op=write", s)};
    for (int i = 0; i < per_series; ++i) {
      batch.Add(key, base + seconds(10) * i, 0.5 * ((i * 7 + s) % 1000));
    }
  }
  return batch;
}

void BM_InfluxAppend(benchmark::State& state) {
  const std::string url = Env("TIDEGATE_TEST_INFLUXDB_URL");
  if (url.empty()) {
    state.SkipWithError("TIDEGATE_TEST_INFLUXDB_URL not set: run under with-test-servers.sh");
    return;
  }
  const bool check = state.range(2) != 0;
  static std::atomic<int> db{0};
  auto store = InfluxStore::Create({.base_url = url,
                                    .database = fmt::format("bench_{}_{}", ::getpid(), db++),
                                    .timeout = seconds(30),
                                    .check_duplicates = check});
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  const int series = static_cast<int>(state.range(0));
  const int per_series = static_cast<int>(state.range(1));
  WallTime base = WallTime(seconds(1'700'000'000));
  // Warm-up outside the timing: the first write creates the shard and the series index.
  if (!(*store)->Append(MakeBatch(series, 1, base - seconds(10))).ok()) {
    state.SkipWithError("warm-up write failed");
    return;
  }
  int64_t samples = 0;
  for (auto _ : state) {
    state.PauseTiming();
    SampleBatch batch = MakeBatch(series, per_series, base);  // Fresh timestamps: real writes.
    base += seconds(10) * per_series;
    state.ResumeTiming();
    absl::Status s = (*store)->Append(batch);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
    samples += series * per_series;
  }
  state.counters["samples_per_s"] =
      benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_InfluxAppend)
    ->Args({100, 100, 0})
    ->Args({100, 100, 1})
    ->Args({1000, 10, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_PrometheusStageAndRender(benchmark::State& state) {
  const int series = static_cast<int>(state.range(0));
  const int per_series = static_cast<int>(state.range(1));
  int64_t samples = 0;
  size_t bytes = 0;
  WallTime base = WallTime(seconds(1'700'000'000));
  for (auto _ : state) {
    state.PauseTiming();
    auto store = *PrometheusStore::Create({.base_url = "http://127.0.0.1:1"});
    SampleBatch batch = MakeBatch(series, per_series, base);
    state.ResumeTiming();
    absl::Status s = store->Append(batch);
    const std::string text = store->buffer()->Render();
    benchmark::DoNotOptimize(text.data());
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
    bytes = text.size();
    samples += series * per_series;
  }
  state.counters["samples_per_s"] =
      benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsRate);
  state.counters["bytes_per_sample"] =
      static_cast<double>(bytes) / static_cast<double>(series * per_series);
}
BENCHMARK(BM_PrometheusStageAndRender)
    ->Args({100, 100})
    ->Args({1000, 10})
    ->Unit(benchmark::kMillisecond);

// The value of a one-series instant query, or nullopt.
std::optional<double> InstantValue(HttpClient& http, const std::string& url,
                                   const std::string& query) {
  auto r = http.Get(BuildUrl(url, "/api/v1/query", {{"query", query}}));
  if (!r.ok()) return std::nullopt;
  nlohmann::json doc = nlohmann::json::parse(r->body, nullptr, false);
  if (doc.is_discarded() || !doc.contains("data") || doc["data"]["result"].size() != 1) {
    return std::nullopt;
  }
  return std::stod(doc["data"]["result"][0]["value"][1].get<std::string>());
}

// Prometheus' scrape_duration_seconds for `job` from a scrape newer than `after_ms`; -1 if none
// comes within 10 s.
double ScrapeDuration(HttpClient& http, const std::string& url, const std::string& job,
                      int64_t after_ms) {
  const std::string series = fmt::format("scrape_duration_seconds{{job=\"{}\"}}", job);
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::optional<double> ts = InstantValue(http, url, fmt::format("timestamp({})", series));
    if (ts.has_value() && static_cast<int64_t>(*ts * 1000) > after_ms) {
      std::optional<double> d = InstantValue(http, url, series);
      if (d.has_value()) return *d;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  return -1;
}

void BM_PrometheusScrape(benchmark::State& state) {
  const std::string url = Env("TIDEGATE_TEST_PROMETHEUS_URL");
  const std::string sd = Env("TIDEGATE_TEST_PROMETHEUS_SD_FILE");
  if (url.empty() || sd.empty()) {
    state.SkipWithError("TIDEGATE_TEST_PROMETHEUS_URL not set: run under with-test-servers.sh");
    return;
  }
  const int series = static_cast<int>(state.range(0));
  const int per_series = static_cast<int>(state.range(1));
  const std::string job = fmt::format("bench-{}-{}", ::getpid(), series);
  // Recent timestamps (Prometheus ingests only samples inside its head block), 1 s apart.
  const WallTime base = RealClock().WallNow() - std::chrono::minutes(30);
  SampleBatch batch;
  for (int s = 0; s < series; ++s) {
    const SeriesKey key{"bench", "t", fmt::format("c{}", s)};
    for (int i = 0; i < per_series; ++i) batch.Add(key, base + seconds(1) * i, i);
  }
  auto buffer = std::make_shared<ExpositionBuffer>(ExpositionBuffer::Options{
      .max_samples_per_series = static_cast<size_t>(per_series), .window = std::chrono::hours(1)});
  (void)buffer->Add(batch);
  const std::string text = buffer->Render();  // Rendered once: measure Prometheus, not us.
  testing::TestHttpServer exporter([&text](auto&, auto&, auto&) {
    return testing::TestHttpResponse{200, text, std::string(kExpositionContentType)};
  });
  std::ofstream(sd, std::ios::trunc) << fmt::format(
      R"([{{"targets":["127.0.0.1:{}"],"labels":{{"job":"{}"}}}}])", exporter.port(), job);
  auto http = *HttpClient::Create({.timeout = seconds(5)});
  int64_t after_ms = 0;
  int64_t samples = 0;
  for (auto _ : state) {
    const double d = ScrapeDuration(*http, url, job, after_ms);
    if (d < 0) {
      state.SkipWithError("no scrape of the exporter within 10 s");
      break;
    }
    after_ms =
        std::chrono::duration_cast<milliseconds>(RealClock().WallNow().time_since_epoch()).count();
    state.SetIterationTime(d);
    samples += series * per_series;
  }
  std::ofstream(sd, std::ios::trunc) << "[]";
  state.counters["samples_per_s"] =
      benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PrometheusScrape)
    ->Args({100, 100})
    ->Args({1000, 10})
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

class NullStore : public HistoryStore {
 public:
  std::string_view name() const override { return "null"; }
  absl::Status Append(const SampleBatch&) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<Point>> Query(const SeriesKey&, WallTime, WallTime, Duration,
                                           Aggregation) override {
    return std::vector<Point>();
  }
  absl::StatusOr<std::vector<SeriesKey>> ListSeries(const SeriesFilter&) override {
    return std::vector<SeriesKey>();
  }
  absl::Status DeleteSeries(const SeriesKey&) override { return absl::OkStatus(); }
  absl::Status ApplyRetention(WallTime) override { return absl::OkStatus(); }
};

void BM_SystemMetricsSample(benchmark::State& state) {
  NullStore store;
  auto collector = *SystemMetricsCollector::Create(store, RealClock());
  for (auto _ : state) {
    absl::Status s = collector->SampleAndStore();
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
  }
  // Overhead at a 1 s interval, in % of one core = (CPU µs per sample) / 10^4.
}
BENCHMARK(BM_SystemMetricsSample)->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tidegate::history

BENCHMARK_MAIN();
