// Integration tests of the remote history backends against the real servers that
// scripts/with-test-servers.sh starts (Debian's prometheus and influxd):
//   * InfluxDB: the HistoryStore contract suite, plus a write / read-back comparison of every
//     aggregation against a reference computed here, plus usage reports aggregated end to end.
//   * Prometheus: the test serves an exporter (ExpositionBuffer at /metrics) on a free loopback
//     port, points Prometheus at it through the file-SD file, and reads the scraped samples back
//     through PrometheusStore, comparing with the same reference.
// Without the servers (TIDEGATE_TEST_* variables unset) every test here skips with a message.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "history/history_store_contract.h"
#include "history/http_test_server.h"
#include "tidegate/history/influx_store.h"
#include "tidegate/history/prometheus_store.h"
#include "tidegate/history/usage.h"

namespace tidegate::history {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

#define SKIP_WITHOUT(var)                                                   \
  if (Env(var).empty()) {                                                   \
    GTEST_SKIP() << var                                                     \
        " is not set: run under scripts/with-test-servers.sh to start the " \
        "real servers";                                                     \
  }

// A database name unique to this process and call.
std::string FreshDatabase() {
  static std::atomic<int> counter{0};
  return fmt::format("tidegate_it_{}_{}", ::getpid(), counter++);
}

absl::StatusOr<std::unique_ptr<HistoryStore>> MakeInflux() {
  auto store = InfluxStore::Create({.base_url = Env("TIDEGATE_TEST_INFLUXDB_URL"),
                                    .database = FreshDatabase(),
                                    .timeout = seconds(10)});
  if (!store.ok()) return store.status();
  return std::unique_ptr<HistoryStore>(std::move(*store));
}

std::vector<StoreFactory> RemoteFactories() {
  std::vector<StoreFactory> f;
  if (!Env("TIDEGATE_TEST_INFLUXDB_URL").empty()) f.push_back({"influxdb", MakeInflux, {}});
  return f;
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(HistoryStoreContractTest);
INSTANTIATE_TEST_SUITE_P(Remote, HistoryStoreContractTest, ::testing::ValuesIn(RemoteFactories()),
                         StoreFactoryName);

TEST(RemoteContractTest, InfluxDbContractSuiteRan) {
  SKIP_WITHOUT("TIDEGATE_TEST_INFLUXDB_URL");
  SUCCEED() << "HistoryStoreContractTest/Remote.*/influxdb ran against "
            << Env("TIDEGATE_TEST_INFLUXDB_URL");
}

// The reference: the interface's bucket semantics computed directly on the samples.
std::vector<Point> Reference(const std::vector<Sample>& samples, WallTime start, WallTime end,
                             Duration step, Aggregation aggregation) {
  std::map<WallTime, std::vector<Sample>> buckets;
  for (const Sample& s : samples) {
    if (s.time >= start && s.time < end) buckets[AlignDown(s.time, step)].push_back(s);
  }
  std::vector<Point> out;
  for (auto& [b, in] : buckets) {
    std::sort(in.begin(), in.end(), [](auto& x, auto& y) { return x.time < y.time; });
    double v = 0;
    switch (aggregation) {
      case Aggregation::kSum:
      case Aggregation::kMean:
        for (auto& s : in) v += s.value;
        if (aggregation == Aggregation::kMean) v /= static_cast<double>(in.size());
        break;
      case Aggregation::kMin:
        v = in[0].value;
        for (auto& s : in) v = std::min(v, s.value);
        break;
      case Aggregation::kMax:
        v = in[0].value;
        for (auto& s : in) v = std::max(v, s.value);
        break;
      case Aggregation::kCount:
        v = static_cast<double>(in.size());
        break;
      case Aggregation::kLast:
        v = in.back().value;
        break;
    }
    out.push_back({b, v});
  }
  return out;
}

constexpr Aggregation kAll[] = {Aggregation::kSum, Aggregation::kMean,  Aggregation::kMin,
                                Aggregation::kMax, Aggregation::kCount, Aggregation::kLast};

// Samples every 700 ms over a minute with varied values, on whole milliseconds.
std::vector<Sample> TestSamples(WallTime base) {
  std::vector<Sample> s;
  for (int i = 0; i < 86; ++i) {
    s.push_back({base + milliseconds(700 * i), static_cast<double>((i * 37) % 11) + 0.25 * i});
  }
  return s;
}

void ExpectSameAsReference(HistoryStore& store, const SeriesKey& key,
                           const std::vector<Sample>& samples, WallTime start, WallTime end,
                           Duration step) {
  for (Aggregation a : kAll) {
    auto got = store.Query(key, start, end, step, a);
    ASSERT_TRUE(got.ok()) << store.name() << " " << AggregationName(a) << ": " << got.status();
    const std::vector<Point> want = Reference(samples, start, end, step, a);
    ASSERT_EQ(got->size(), want.size()) << store.name() << " " << AggregationName(a);
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ((*got)[i].time, want[i].time) << store.name() << " " << AggregationName(a);
      EXPECT_NEAR((*got)[i].value, want[i].value, 1e-9 * std::max(1.0, std::fabs(want[i].value)))
          << store.name() << " " << AggregationName(a) << " bucket " << i;
    }
  }
}

TEST(InfluxIntegrationTest, WriteThenReadBackEveryAggregation) {
  SKIP_WITHOUT("TIDEGATE_TEST_INFLUXDB_URL");
  auto store = MakeInflux();
  ASSERT_TRUE(store.ok()) << store.status();
  const WallTime base = WallTime(seconds(1'700'000'000));
  const SeriesKey key{"cpu_ms", "acme corp", "class=check,out\\x,op=write"};
  const std::vector<Sample> samples = TestSamples(base);
  SampleBatch batch;
  for (const Sample& s : samples) batch.Add(key, s.time, s.value);
  ASSERT_TRUE((*store)->Append(batch).ok());
  // Aligned and unaligned ranges, several steps.
  ExpectSameAsReference(**store, key, samples, base, base + seconds(60), seconds(10));
  ExpectSameAsReference(**store, key, samples, base + milliseconds(2500),
                        base + milliseconds(47'300), seconds(10));
  ExpectSameAsReference(**store, key, samples, base, base + seconds(60), seconds(1));
  auto listed = (*store)->ListSeries({});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, ::testing::ElementsAre(key));
}

TEST(InfluxIntegrationTest, EmptyLabelsRoundTrip) {
  SKIP_WITHOUT("TIDEGATE_TEST_INFLUXDB_URL");
  auto store = MakeInflux();
  ASSERT_TRUE(store.ok()) << store.status();
  const SeriesKey system{"system_cpu_utilisation", "", ""};
  const SeriesKey tenant_only{"requests", "acme", ""};
  SampleBatch batch;
  batch.Add(system, WallTime(seconds(1'700'000'000)), 0.5);
  batch.Add(tenant_only, WallTime(seconds(1'700'000'000)), 3);
  ASSERT_TRUE((*store)->Append(batch).ok());
  auto points = (*store)->Query(system, WallTime(seconds(1'700'000'000)),
                                WallTime(seconds(1'700'000'010)), seconds(10), Aggregation::kSum);
  ASSERT_TRUE(points.ok()) << points.status();
  EXPECT_THAT(*points, ::testing::ElementsAre(Point{WallTime(seconds(1'700'000'000)), 0.5}));
  SeriesFilter f;
  f.tenant = "";
  EXPECT_THAT(*(*store)->ListSeries(f), ::testing::ElementsAre(system));
}

TEST(InfluxIntegrationTest, UsageReportsAggregatedEndToEnd) {
  SKIP_WITHOUT("TIDEGATE_TEST_INFLUXDB_URL");
  auto store = MakeInflux();
  ASSERT_TRUE(store.ok()) << store.status();
  auto agg = *UsageAggregator::Create(**store, {});
  const WallTime t0 = WallTime(seconds(1'700'000'000));
  for (int i = 0; i < 100; ++i) {
    UsageReport r;
    r.tenant = "acme";
    r.descriptors = {{"class", "checkout"}};
    r.operation = "write";
    r.cpu_ms = 1.5;
    r.net_out_bytes = 1000;
    r.timestamp = t0 + milliseconds(250 * i);  // 25 s: buckets 0, 10, 20.
    ASSERT_TRUE(agg->Add(r).ok());
  }
  ASSERT_TRUE(agg->FlushAll().ok());
  const SeriesKey req{"requests", "acme", "class=checkout,op=write"};
  auto points = (*store)->Query(req, t0, t0 + seconds(30), seconds(10), Aggregation::kSum);
  ASSERT_TRUE(points.ok()) << points.status();
  EXPECT_THAT(*points, ::testing::ElementsAre(Point{t0, 40}, Point{t0 + seconds(10), 40},
                                              Point{t0 + seconds(20), 20}));
  auto cpu = (*store)->Query({"cpu_ms", "acme", "class=checkout,op=write"}, t0, t0 + seconds(30),
                             seconds(10), Aggregation::kSum);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_THAT(*cpu, ::testing::ElementsAre(Point{t0, 60}, Point{t0 + seconds(10), 60},
                                           Point{t0 + seconds(20), 30}));
}

TEST(InfluxIntegrationTest, UnknownDatabaseQueryIsEmpty) {
  SKIP_WITHOUT("TIDEGATE_TEST_INFLUXDB_URL");
  auto store = InfluxStore::Create({.base_url = Env("TIDEGATE_TEST_INFLUXDB_URL"),
                                    .database = FreshDatabase(),
                                    .create_database = false});
  ASSERT_TRUE(store.ok()) << store.status();
  auto points = (*store)->Query({"m", "", ""}, WallTime(seconds(0)), WallTime(seconds(10)),
                                seconds(10), Aggregation::kSum);
  ASSERT_TRUE(points.ok()) << points.status();
  EXPECT_TRUE(points->empty());
}

// Points Prometheus' file-SD at an exporter serving the store's ExpositionBuffer.
class PrometheusIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT("TIDEGATE_TEST_PROMETHEUS_URL");
    SKIP_WITHOUT("TIDEGATE_TEST_PROMETHEUS_SD_FILE");
    job_ = fmt::format("tidegate-it-{}", ::getpid());
    auto store = PrometheusStore::Create({.base_url = Env("TIDEGATE_TEST_PROMETHEUS_URL"),
                                          .timeout = seconds(10),
                                          .selector = fmt::format("job=\"{}\"", job_)});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    std::shared_ptr<ExpositionBuffer> buffer = store_->buffer();
    exporter_ = std::make_unique<testing::TestHttpServer>([buffer](const std::string&,
                                                                   const std::string& target,
                                                                   const std::string&) {
      if (target != "/metrics") return testing::TestHttpResponse{404, "not found\n"};
      return testing::TestHttpResponse{200, buffer->Render(), std::string(kExpositionContentType)};
    });
    ASSERT_TRUE(exporter_->ok());
    std::ofstream sd(Env("TIDEGATE_TEST_PROMETHEUS_SD_FILE"), std::ios::trunc);
    sd << fmt::format(R"([{{"targets":["127.0.0.1:{}"],"labels":{{"job":"{}"}}}}])",
                      exporter_->port(), job_);
  }
  void TearDown() override {
    if (!Env("TIDEGATE_TEST_PROMETHEUS_SD_FILE").empty()) {
      std::ofstream(Env("TIDEGATE_TEST_PROMETHEUS_SD_FILE"), std::ios::trunc) << "[]";
    }
  }

  std::string job_;
  std::unique_ptr<PrometheusStore> store_;
  std::unique_ptr<testing::TestHttpServer> exporter_;
};

TEST_F(PrometheusIntegrationTest, ScrapedSamplesReadBackThroughTheBackend) {
  // Prometheus only ingests recent samples: stamp them in the last few minutes of real time.
  const WallTime base = AlignDown(RealClock().WallNow() - std::chrono::minutes(3), seconds(10));
  const SeriesKey key{"cpu_ms", "acme", "class=checkout,op=write \"q\""};
  const SeriesKey other{"requests", "", ""};
  const std::vector<Sample> samples = TestSamples(base);
  SampleBatch batch;
  for (const Sample& s : samples) batch.Add(key, s.time, s.value);
  batch.Add(other, base, 7);
  ASSERT_TRUE(store_->Append(batch).ok());

  // Wait (real time: a real server) until Prometheus has discovered, scraped and stored them.
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  size_t seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto count = store_->Query(key, base, base + seconds(60), seconds(60), Aggregation::kCount);
    ASSERT_TRUE(count.ok()) << count.status();
    seen = 0;  // The range may span two 60 s buckets: add them up.
    for (const Point& p : *count) seen += static_cast<size_t>(p.value);
    if (seen == samples.size()) break;
    std::this_thread::sleep_for(milliseconds(250));
  }
  ASSERT_EQ(seen, samples.size()) << "Prometheus did not ingest the exporter's samples in 60 s ("
                                  << exporter_->requests() << " scrapes)";
  ExpectSameAsReference(*store_, key, samples, base, base + seconds(60), seconds(10));
  ExpectSameAsReference(*store_, key, samples, base + milliseconds(2500),
                        base + milliseconds(47'300), seconds(10));
  ExpectSameAsReference(*store_, key, samples, base, base + seconds(60), seconds(1));

  auto listed = store_->ListSeries({});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, ::testing::ElementsAre(key, other));

  ASSERT_TRUE(store_->DeleteSeries(other).ok());
  auto after = store_->Query(other, base, base + seconds(10), seconds(10), Aggregation::kSum);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->empty());
}

TEST_F(PrometheusIntegrationTest, BadSelectorIsPrometheusBadData) {
  auto store = PrometheusStore::Create(
      {.base_url = Env("TIDEGATE_TEST_PROMETHEUS_URL"), .selector = "job=~\"(\""});
  ASSERT_TRUE(store.ok());
  auto r = (*store)->Query({"m", "", ""}, WallTime(seconds(1'700'000'000)),
                           WallTime(seconds(1'700'000'010)), seconds(10), Aggregation::kSum);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("bad_data"));
}

}  // namespace
}  // namespace tidegate::history
