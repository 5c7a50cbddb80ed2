// Benchmarks of the embedded SQLite HistoryStore:
//   * BM_Append: batched appends, samples/s (items_per_second), by batch size and sync mode;
//   * BM_Query30Days: one series, 30 days at a 10 s base step, queried at 1 min (from the 1 min
//     rollup), 1 h (1 h rollup) and 10 s (raw rows), with the raw-path 1 min query as the
//     baseline the rollups are compared against;
//   * BM_StorageBytes: bytes on disk per raw sample and per rollup row (counters), for
//     real-valued and integer-valued samples.
// The store lives under $TIDEGATE_BENCH_DIR (default: the system temp directory), which should be
// on the disk whose cost you want to measure.
//
//   build/<you>-rel/bench/history/history_bench --benchmark_counters_tabular=true
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "benchmark/benchmark.h"
#include "tidegate/history/sqlite_store.h"

namespace tidegate::history {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

constexpr int64_t kBaseS = 1'699'999'200;  // An hour boundary (2023-11-14T22:00:00Z).
constexpr int64_t kStepS = 10;             // The collectors' default base step.

std::string MakeTempDir(const char* tag) {
  const char* root = std::getenv("TIDEGATE_BENCH_DIR");
  std::string tmpl =
      (std::filesystem::path(root != nullptr ? root
                                             : std::filesystem::temp_directory_path().string()) /
       (std::string("tidegate_") + tag + "_XXXXXX"))
          .string();
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

std::unique_ptr<SqliteStore> OpenOrDie(const std::string& dir, SqliteStoreOptions options) {
  options.raw_retention = Duration::zero();  // Benchmarks never expire data.
  auto store = SqliteStore::Open(dir, options);
  if (!store.ok()) {
    fprintf(stderr, "open %s: %s\n", dir.c_str(), std::string(store.status().message()).c_str());
    std::abort();
  }
  return std::move(*store);
}

SqliteStoreOptions NormalSync() {
  SqliteStoreOptions options;
  options.sync = SyncMode::kNormal;
  return options;
}

SeriesKey Key(int i) {
  return SeriesKey{"cpu_ms", "tenant" + std::to_string(i % 10), "class=c" + std::to_string(i)};
}

// `series` series, `per_series` consecutive samples each at the base step, starting at step
// index `first_step`. Values follow a random walk with two decimals (not integers: the worst case
// for SQLite's record encoding) unless `integers`.
SampleBatch MakeBatch(int series, int per_series, int64_t first_step, std::mt19937_64& rng,
                      bool integers = false) {
  SampleBatch batch;
  batch.series.reserve(static_cast<size_t>(series));
  std::uniform_int_distribution<int> noise(0, 100000);
  for (int s = 0; s < series; ++s) {
    SeriesSamples entry{Key(s), {}};
    entry.samples.reserve(static_cast<size_t>(per_series));
    for (int j = 0; j < per_series; ++j) {
      const double v = integers ? static_cast<double>(noise(rng) % 1000) : noise(rng) / 100.0;
      entry.samples.push_back(Sample{WallTime(seconds(kBaseS + (first_step + j) * kStepS)), v});
    }
    batch.series.push_back(std::move(entry));
  }
  return batch;
}

// Args: samples per batch, sync mode (0 = FULL, 1 = NORMAL). 100 series per batch.
void BM_Append(benchmark::State& state) {
  const int samples = static_cast<int>(state.range(0));
  SqliteStoreOptions options;
  options.sync = state.range(1) == 0 ? SyncMode::kFull : SyncMode::kNormal;
  const std::string dir = MakeTempDir("append");
  auto store = OpenOrDie(dir, options);
  constexpr int kSeries = 100;
  const int per_series = samples / kSeries;
  std::mt19937_64 rng(42);
  int64_t step = 0;
  for (auto _ : state) {
    state.PauseTiming();
    SampleBatch batch = MakeBatch(kSeries, per_series, step, rng);
    step += per_series;
    state.ResumeTiming();
    absl::Status s = store->Append(batch);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * kSeries * per_series);
  state.SetLabel(options.sync == SyncMode::kFull ? "synchronous=FULL" : "synchronous=NORMAL");
  store.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Append)
    ->ArgsProduct({{1'000, 10'000, 100'000}, {0, 1}})
    ->ArgNames({"batch", "normal"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One store with one series of 30 days at 10 s (259,200 samples), shared by the query cases.
struct QueryFixture {
  std::string dir;
  std::unique_ptr<SqliteStore> store;
  QueryFixture() : dir(MakeTempDir("query")) {
    store = OpenOrDie(dir, NormalSync());
    std::mt19937_64 rng(7);
    constexpr int64_t kSteps = 30 * 24 * 3600 / kStepS;
    for (int64_t first = 0; first < kSteps; first += 8640) {  // A day per batch.
      SampleBatch batch = MakeBatch(1, 8640, first, rng);
      if (!store->Append(batch).ok()) std::abort();
    }
    if (!store->Checkpoint().ok()) std::abort();
  }
  ~QueryFixture() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

std::unique_ptr<QueryFixture>& FixtureHolder() {
  static auto* holder = new std::unique_ptr<QueryFixture>();
  return *holder;
}

QueryFixture& Fixture() {
  if (FixtureHolder() == nullptr) FixtureHolder() = std::make_unique<QueryFixture>();
  return *FixtureHolder();
}

// Args: step in seconds, resolution forced (0 = chosen by Query, 1 = raw).
void BM_Query30Days(benchmark::State& state) {
  SqliteStore& store = *Fixture().store;
  const Duration step = seconds(state.range(0));
  const bool force_raw = state.range(1) == 1;
  const WallTime start{seconds(kBaseS)};
  const WallTime end = start + hours(24 * 30);
  size_t points = 0;
  for (auto _ : state) {
    auto result =
        force_raw ? store.QueryAt(Resolution::kRaw, Key(0), start, end, step, Aggregation::kMean)
                  : store.Query(Key(0), start, end, step, Aggregation::kMean);
    if (!result.ok()) {
      state.SkipWithError(std::string(result.status().message()).c_str());
      break;
    }
    points = result->size();
    benchmark::DoNotOptimize(result->data());
  }
  state.counters["points"] = static_cast<double>(points);
  const Resolution used =
      force_raw ? Resolution::kRaw : SqliteStore::ChooseResolution(start, end, step);
  state.SetLabel(used == Resolution::kRaw ? std::string("raw rows")
                                          : std::string(ResolutionName(used)) + " rollup");
}
BENCHMARK(BM_Query30Days)
    ->Args({60, 0})
    ->Args({60, 1})
    ->Args({3600, 0})
    ->Args({10, 0})
    ->ArgNames({"step_s", "raw"})
    ->Unit(benchmark::kMillisecond);

// Writes 100 series x 1 day at 10 s (864,000 samples), checkpoints, and reports bytes per row.
// Arg: 1 for integer values (SQLite stores integral REALs as small integers).
void BM_StorageBytes(benchmark::State& state) {
  const bool integers = state.range(0) == 1;
  SqliteStorageStats stats;
  for (auto _ : state) {
    const std::string dir = MakeTempDir("bytes");
    auto store = OpenOrDie(dir, NormalSync());
    std::mt19937_64 rng(1);
    for (int64_t first = 0; first < 8640; first += 360) {  // 100 batches of 36,000 samples.
      if (!store->Append(MakeBatch(100, 360, first, rng, integers)).ok()) std::abort();
    }
    if (!store->Checkpoint().ok()) std::abort();
    auto s = store->Stats();
    if (!s.ok()) std::abort();
    stats = *s;
    store.reset();
    std::filesystem::remove_all(dir);
  }
  const double raw = static_cast<double>(stats.raw_rows);
  state.counters["raw_B_per_sample"] = static_cast<double>(stats.raw_bytes) / raw;
  state.counters["1m_B_per_row"] =
      static_cast<double>(stats.minute_bytes) / static_cast<double>(stats.minute_rows);
  state.counters["1h_B_per_row"] =
      static_cast<double>(stats.hour_bytes) / static_cast<double>(stats.hour_rows);
  state.counters["rollups_B_per_sample"] =
      static_cast<double>(stats.minute_bytes + stats.hour_bytes) / raw;
  state.counters["file_B_per_sample"] = static_cast<double>(stats.file_bytes) / raw;
  state.SetLabel(integers ? "integer values" : "real values");
}
BENCHMARK(BM_StorageBytes)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tidegate::history

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  tidegate::history::FixtureHolder().reset();  // Removes the query fixture's directory.
  return 0;
}
