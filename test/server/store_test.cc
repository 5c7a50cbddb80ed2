// SpooledStore (server/store.h): a remote backend that fails on demand, a real spool file in a
// temporary directory, simulated time. Every acknowledged batch must reach the backend once it
// answers again — across a "restart" (a second SpooledStore on the same file) too.
#include "tidegate/server/store.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tidegate/history/sqlite_store.h"

namespace tidegate::server {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

// A backend that stores samples in a map and fails with a chosen status while `fail` is set.
class FlakyStore final : public history::HistoryStore {
 public:
  std::string_view name() const override { return "flaky"; }
  absl::Status Append(const history::SampleBatch& batch) override {
    std::lock_guard lock(mu);
    ++attempts;
    if (!fail.ok()) return fail;
    for (const auto& s : batch.series) {
      for (const auto& x : s.samples) samples[{s.series.ToString(), x.time}] = x.value;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<history::Point>> Query(const history::SeriesKey&, WallTime, WallTime,
                                                    Duration, history::Aggregation) override {
    return std::vector<history::Point>{};
  }
  absl::StatusOr<std::vector<history::SeriesKey>> ListSeries(
      const history::SeriesFilter&) override {
    return std::vector<history::SeriesKey>{};
  }
  absl::Status DeleteSeries(const history::SeriesKey&) override { return absl::OkStatus(); }
  absl::Status ApplyRetention(WallTime) override { return absl::OkStatus(); }

  size_t Count() {
    std::lock_guard lock(mu);
    return samples.size();
  }

  std::mutex mu;
  absl::Status fail;
  int attempts = 0;
  std::map<std::pair<std::string, WallTime>, double> samples;
};

history::SampleBatch Batch(int t0_s, int n, double value = 1) {
  history::SampleBatch b;
  for (int i = 0; i < n; ++i) {
    b.Add({"requests", "shop", "class=a"}, WallTime(seconds(1'700'000'000 + t0_s + i)), value);
  }
  return b;
}

class SpooledStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / fmt::format("spool_test_{}", ::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / kSpoolFileName).string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Opens a SpooledStore over a new FlakyStore (returned through `backend`).
  std::unique_ptr<SpooledStore> Open(FlakyStore** backend, uint64_t max_samples = 1000) {
    auto flaky = std::make_unique<FlakyStore>();
    *backend = flaky.get();
    SpoolOptions options;
    options.path = path_;
    options.max_samples = max_samples;
    options.log = [this](const std::string& line) { log_ += line + "\n"; };
    absl::StatusOr<std::unique_ptr<SpooledStore>> s =
        SpooledStore::Open(std::move(flaky), options, clock_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  std::filesystem::path dir_;
  std::string path_;
  std::string log_;
  SimulatedClock clock_;
};

TEST_F(SpooledStoreTest, WritesThroughWhileTheBackendAnswers) {
  FlakyStore* backend = nullptr;
  auto store = Open(&backend);
  ASSERT_TRUE(store->Append(Batch(0, 3)).ok());
  EXPECT_EQ(backend->Count(), 3u);
  EXPECT_EQ(store->stats().pending_samples, 0u);
  EXPECT_EQ(std::filesystem::file_size(path_), 0u);
  EXPECT_EQ(store->name(), "flaky");
}

TEST_F(SpooledStoreTest, SpoolsWhileDownAndForwardsInOrderWithBackoff) {
  FlakyStore* backend = nullptr;
  auto store = Open(&backend);
  backend->fail = absl::UnavailableError("connection refused");
  ASSERT_TRUE(store->Append(Batch(0, 2)).ok());  // Acknowledged: it is in the spool file.
  ASSERT_TRUE(store->Append(Batch(10, 3)).ok());
  EXPECT_EQ(backend->attempts, 1);  // The second went behind the first without trying.
  EXPECT_THAT(log_, HasSubstr("flaky write failed, spooling to"));
  SpoolStats s = store->stats();
  EXPECT_EQ(s.pending_batches, 2u);
  EXPECT_EQ(s.pending_samples, 5u);
  EXPECT_EQ(s.spooled_samples, 5u);
  EXPECT_EQ(s.write_failures, 1u);

  // Before the initial backoff (1 s) nothing is tried.
  EXPECT_TRUE(store->Drain(clock_.Now()).ok());
  EXPECT_EQ(backend->attempts, 1);
  clock_.Advance(seconds(1));
  absl::Status failed = store->Drain(clock_.Now());
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(backend->attempts, 2);
  // The backoff doubled to 2 s.
  clock_.Advance(seconds(1));
  EXPECT_TRUE(store->Drain(clock_.Now()).ok());
  EXPECT_EQ(backend->attempts, 2);

  backend->fail = absl::OkStatus();
  clock_.Advance(seconds(1));
  EXPECT_TRUE(store->Drain(clock_.Now()).ok());
  EXPECT_EQ(backend->Count(), 5u);
  s = store->stats();
  EXPECT_EQ(s.pending_samples, 0u);
  EXPECT_EQ(s.forwarded_samples, 5u);
  EXPECT_EQ(s.write_failures, 2u);
  EXPECT_EQ(std::filesystem::file_size(path_), 0u);
  EXPECT_THAT(log_, HasSubstr("flaky answers again: spool drained"));
  // Writes go straight through again.
  ASSERT_TRUE(store->Append(Batch(20, 1)).ok());
  EXPECT_EQ(backend->Count(), 6u);
}

TEST_F(SpooledStoreTest, SpoolSurvivesARestart) {
  {
    FlakyStore* backend = nullptr;
    auto store = Open(&backend);
    backend->fail = absl::DeadlineExceededError("timeout");
    ASSERT_TRUE(store->Append(Batch(0, 4, 2.5)).ok());
    ASSERT_TRUE(store->Append(Batch(100, 1, 0.125)).ok());
  }  // The process "dies" with both batches only in the spool.
  FlakyStore* backend = nullptr;
  auto store = Open(&backend);
  EXPECT_THAT(log_, HasSubstr("5 samples from an earlier run wait for flaky"));
  EXPECT_EQ(store->stats().pending_samples, 5u);
  ASSERT_TRUE(store->Drain(clock_.Now()).ok());
  ASSERT_EQ(backend->Count(), 5u);
  EXPECT_EQ(backend->samples.begin()->second, 2.5);
  EXPECT_EQ(backend->samples.rbegin()->second, 0.125);  // Doubles round-trip exactly.
}

TEST_F(SpooledStoreTest, TornLastLineIsDroppedGoodLinesKept) {
  {
    FlakyStore* backend = nullptr;
    auto store = Open(&backend);
    backend->fail = absl::UnavailableError("down");
    ASSERT_TRUE(store->Append(Batch(0, 2)).ok());
  }
  {
    std::ofstream out(path_, std::ios::app);
    out << "{\"series\":[{\"metric\":\"requests\",\"ten";  // A write cut short by a crash.
  }
  FlakyStore* backend = nullptr;
  auto store = Open(&backend);
  EXPECT_THAT(log_, HasSubstr("line 2 is incomplete (interrupted write), dropped"));
  EXPECT_EQ(store->stats().pending_samples, 2u);
  ASSERT_TRUE(store->Drain(clock_.Now()).ok());
  EXPECT_EQ(backend->Count(), 2u);
}

TEST_F(SpooledStoreTest, CorruptLineIsLoggedAndSkipped) {
  {
    std::ofstream out(path_);
    out << "not json\n"
        << "{\"series\":[{\"metric\":\"requests\",\"tenant\":\"t\",\"class\":\"\","
           "\"samples\":[[1700000000000000000,-1]]}]}\n"  // Negative: breaks the sample rules.
        << "{\"series\":[{\"metric\":\"requests\",\"tenant\":\"t\",\"class\":\"\","
           "\"samples\":[[1700000000000000000,7]]}]}\n";
  }
  FlakyStore* backend = nullptr;
  auto store = Open(&backend);
  EXPECT_THAT(log_, HasSubstr("line 1 dropped: not a spooled batch"));
  EXPECT_THAT(log_, HasSubstr("line 2 dropped:"));
  EXPECT_THAT(log_, HasSubstr("negative"));
  EXPECT_EQ(store->stats().pending_samples, 1u);
}

TEST_F(SpooledStoreTest, PermanentErrorsAreReturnedOrDroppedAndCounted) {
  FlakyStore* backend = nullptr;
  auto store = Open(&backend);
  // Direct write: the caller gets the error, nothing is spooled.
  backend->fail = absl::AlreadyExistsError("conflict");
  EXPECT_EQ(store->Append(Batch(0, 1)).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store->stats().pending_samples, 0u);
  // Invalid input never reaches the backend.
  history::SampleBatch bad;
  bad.Add({"requests", "t", ""}, WallTime(seconds(1)), -1);
  EXPECT_EQ(store->Append(bad).code(), absl::StatusCode::kInvalidArgument);
  // A spooled batch the backend later refuses for good is dropped, logged and counted.
  backend->fail = absl::UnavailableError("down");
  ASSERT_TRUE(store->Append(Batch(0, 2)).ok());
  ASSERT_TRUE(store->Append(Batch(10, 3)).ok());
  backend->fail = absl::InvalidArgumentError("field type conflict");
  clock_.Advance(seconds(1));
  EXPECT_TRUE(store->Drain(clock_.Now()).ok());
  const SpoolStats s = store->stats();
  EXPECT_EQ(s.pending_samples, 0u);
  EXPECT_EQ(s.dropped_rejected, 5u);
  EXPECT_THAT(log_, HasSubstr("flaky refused 2 spooled samples for good, dropped: field type"));
  EXPECT_THAT(store->RenderMetrics(),
              HasSubstr("tidegate_history_dropped_samples_total{backend=\"flaky\",reason="
                        "\"rejected\"} 5"));
}

TEST_F(SpooledStoreTest, FullSpoolRefusesNamingTheLimit) {
  FlakyStore* backend = nullptr;
  auto store = Open(&backend, /*max_samples=*/4);
  backend->fail = absl::UnavailableError("down");
  ASSERT_TRUE(store->Append(Batch(0, 3)).ok());
  absl::Status full = store->Append(Batch(10, 2));
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("store.max_spool_samples = 4"));
  EXPECT_EQ(store->stats().pending_samples, 3u);  // The refused batch is not in the spool.
}

TEST_F(SpooledStoreTest, UnscrapedPrometheusSamplesAreSpooledAndStagedAgain) {
  auto buffer = std::make_shared<history::ExpositionBuffer>();
  // A backend that stages into the buffer, as PrometheusStore does.
  class Staging final : public history::HistoryStore {
   public:
    explicit Staging(std::shared_ptr<history::ExpositionBuffer> b) : b_(std::move(b)) {}
    std::string_view name() const override { return "prometheus"; }
    absl::Status Append(const history::SampleBatch& batch) override { return b_->Add(batch); }
    absl::StatusOr<std::vector<history::Point>> Query(const history::SeriesKey&, WallTime, WallTime,
                                                      Duration, history::Aggregation) override {
      return std::vector<history::Point>{};
    }
    absl::StatusOr<std::vector<history::SeriesKey>> ListSeries(
        const history::SeriesFilter&) override {
      return std::vector<history::SeriesKey>{};
    }
    absl::Status DeleteSeries(const history::SeriesKey&) override { return absl::OkStatus(); }
    absl::Status ApplyRetention(WallTime) override { return absl::OkStatus(); }

   private:
    std::shared_ptr<history::ExpositionBuffer> b_;
  };
  SpoolOptions options;
  options.path = path_;
  options.exposition = buffer;
  {
    auto store = *SpooledStore::Open(std::make_unique<Staging>(buffer), options, clock_);
    ASSERT_TRUE(store->Append(Batch(0, 2)).ok());
    (void)store->RenderMetrics();  // A scrape takes t=0,1.
    ASSERT_TRUE(store->Append(Batch(2, 3)).ok());
    EXPECT_EQ(store->UnscrapedCount(), 3u);
    ASSERT_TRUE(store->SpoolUnscraped().ok());  // Shutdown before the next scrape.
    EXPECT_EQ(store->stats().pending_samples, 3u);
  }
  // The next start stages them again for Prometheus to scrape.
  auto fresh = std::make_shared<history::ExpositionBuffer>();
  options.exposition = fresh;
  auto store = *SpooledStore::Open(std::make_unique<Staging>(fresh), options, clock_);
  ASSERT_TRUE(store->Drain(clock_.Now()).ok());
  EXPECT_EQ(fresh->SampleCount(), 3u);
  const std::string text = store->RenderMetrics();
  EXPECT_THAT(text, HasSubstr("tidegate_requests{tenant=\"shop\",class=\"class=a\"} 1 "
                              "1700000002000"));
  EXPECT_THAT(text, HasSubstr("tidegate_history_spool_samples{backend=\"prometheus\"} 0"));
}

TEST(OpenStoreTest, UnreachableBackendsNameTheConfigLineAndUrl) {
  SimulatedClock clock;
  const std::string dir =
      (std::filesystem::temp_directory_path() / fmt::format("open_store_{}", ::getpid())).string();
  StoreSpec spec;
  spec.location = {"conf.yaml", 4};
  spec.url = "http://127.0.0.1:1";  // Port 1: nothing listens, the connection is refused.
  spec.timeout = std::chrono::milliseconds(500);
  for (StoreType type : {StoreType::kInfluxDb, StoreType::kPrometheus}) {
    spec.type = type;
    absl::StatusOr<OpenedStore> s = OpenStore(spec, dir, clock, nullptr);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(s.status().message(), HasSubstr("conf.yaml:4: store.url: "));
    EXPECT_THAT(s.status().message(), HasSubstr("http://127.0.0.1:1"));
    EXPECT_THAT(s.status().message(),
                HasSubstr(type == StoreType::kPrometheus ? "Prometheus" : "InfluxDB"));
  }
  spec.type = StoreType::kSqlite;
  absl::StatusOr<OpenedStore> sqlite = OpenStore(spec, dir, clock, nullptr);
  ASSERT_TRUE(sqlite.ok()) << sqlite.status();
  EXPECT_EQ(sqlite->spool, nullptr);
  EXPECT_EQ(sqlite->store->name(), "sqlite");
  sqlite->store.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tidegate::server
