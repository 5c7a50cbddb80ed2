#include "tidegate/history/usage.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace tidegate::history {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

// A store at the test's edge: records appended batches; can be told to fail.
class RecordingStore : public HistoryStore {
 public:
  std::string_view name() const override { return "recording"; }
  absl::Status Append(const SampleBatch& batch) override {
    ++append_calls;
    if (!fail_with.ok()) return fail_with;
    for (const auto& entry : batch.series) {
      for (const Sample& s : entry.samples) data[entry.series][s.time] = s.value;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<Point>> Query(const SeriesKey&, WallTime, WallTime, Duration,
                                           Aggregation) override {
    return absl::UnimplementedError("not needed");
  }
  absl::StatusOr<std::vector<SeriesKey>> ListSeries(const SeriesFilter&) override {
    return absl::UnimplementedError("not needed");
  }
  absl::Status DeleteSeries(const SeriesKey&) override { return absl::OkStatus(); }
  absl::Status ApplyRetention(WallTime) override { return absl::OkStatus(); }

  double At(std::string_view metric, std::string_view tenant, std::string_view cls,
            WallTime t) const {
    auto s = data.find(SeriesKey{std::string(metric), std::string(tenant), std::string(cls)});
    if (s == data.end()) return -1;
    auto v = s->second.find(t);
    return v == s->second.end() ? -1 : v->second;
  }

  std::map<SeriesKey, std::map<WallTime, double>> data;
  absl::Status fail_with;
  int append_calls = 0;
};

const WallTime kT0 = WallTime(seconds(1'700'000'000));  // A multiple of 10 s.

UsageReport Report(WallTime t, double cpu_ms, int64_t count = 1) {
  UsageReport r;
  r.tenant = "acme";
  r.descriptors = {{"class", "checkout"}};
  r.operation = "write";
  r.cpu_ms = cpu_ms;
  r.latency_ms = 2 * cpu_ms;
  r.count = count;
  r.timestamp = t;
  return r;
}

TEST(UsageClassKeyTest, DescriptorsThenOperation) {
  UsageReport r = Report(kT0, 1);
  EXPECT_EQ(*UsageClassKey(r), "class=checkout,op=write");
  r.operation.clear();
  EXPECT_EQ(*UsageClassKey(r), "class=checkout");
  r.descriptors = {{"a,b", "x=y\\"}};
  EXPECT_EQ(*UsageClassKey(r), "a\\,b=x\\=y\\\\");
}

TEST(UsageClassKeyTest, OpDescriptorMustAgreeWithOperation) {
  UsageReport r = Report(kT0, 1);
  r.descriptors.push_back({"op", "write"});
  EXPECT_EQ(*UsageClassKey(r), "class=checkout,op=write");
  r.descriptors.back().value = "read";
  absl::StatusOr<std::string> key = UsageClassKey(r);
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(key.status().message(), HasSubstr("contradicts operation"));
}

TEST(UsageReportTest, RejectsNegativeNanAndEmptyKeys) {
  UsageReport r = Report(kT0, -1);
  EXPECT_EQ(ValidateUsageReport(r).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ValidateUsageReport(r).message(), HasSubstr("cpu_ms"));
  r = Report(kT0, 1);
  r.net_out_bytes = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(ValidateUsageReport(r).message(), HasSubstr("net_out_bytes"));
  r = Report(kT0, 1, -3);
  EXPECT_THAT(ValidateUsageReport(r).message(), HasSubstr("count must be >= 0"));
  r = Report(kT0, 1);
  r.descriptors.push_back({"", "v"});
  EXPECT_THAT(ValidateUsageReport(r).message(), HasSubstr("descriptor entry 1 has an empty key"));
  EXPECT_TRUE(ValidateUsageReport(Report(kT0, 0, 0)).ok());
}

TEST(UsageAggregatorTest, RejectsBadOptions) {
  RecordingStore store;
  auto bad = UsageAggregator::Create(store, {.step = seconds(7)});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("divide one day"));
  bad = UsageAggregator::Create(store, {.step = seconds(10), .allowed_lateness = seconds(-1)});
  EXPECT_THAT(bad.status().message(), HasSubstr("allowed_lateness"));
}

TEST(UsageAggregatorTest, SumsPerBucketAndClassAndFlushesClosedBucketsOnly) {
  RecordingStore store;
  auto agg = *UsageAggregator::Create(store, {.step = seconds(10), .allowed_lateness = seconds(5)});
  ASSERT_TRUE(agg->Add(Report(kT0 + seconds(1), 1.5)).ok());
  ASSERT_TRUE(agg->Add(Report(kT0 + seconds(9), 2.5, 3)).ok());
  ASSERT_TRUE(agg->Add(Report(kT0 + seconds(10), 4)).ok());  // Next bucket.
  UsageReport other = Report(kT0 + seconds(2), 7);
  other.tenant = "zeta";
  ASSERT_TRUE(agg->Add(other).ok());

  // Bucket [T0, T0+10) closes at T0+10+5.
  ASSERT_TRUE(agg->FlushClosed(kT0 + seconds(14)).ok());
  EXPECT_TRUE(store.data.empty());
  ASSERT_TRUE(agg->FlushClosed(kT0 + seconds(15)).ok());
  const std::string cls = "class=checkout,op=write";
  EXPECT_EQ(store.At("cpu_ms", "acme", cls, kT0), 4.0);
  EXPECT_EQ(store.At("latency_ms", "acme", cls, kT0), 8.0);
  EXPECT_EQ(store.At("requests", "acme", cls, kT0), 4.0);
  EXPECT_EQ(store.At("mem_bytes", "acme", cls, kT0), 0.0);  // Zeros are written.
  EXPECT_EQ(store.At("cpu_ms", "zeta", cls, kT0), 7.0);
  EXPECT_EQ(store.At("cpu_ms", "acme", cls, kT0 + seconds(10)), -1);  // Still open.
  EXPECT_EQ(store.data.size(), 16u);                                  // 2 classes x 8 metrics.
  EXPECT_EQ(agg->stats().samples_flushed, 16u);

  ASSERT_TRUE(agg->FlushAll().ok());
  EXPECT_EQ(store.At("cpu_ms", "acme", cls, kT0 + seconds(10)), 4.0);
  EXPECT_EQ(store.append_calls, 2);
}

TEST(UsageAggregatorTest, LateReportsAreRejectedWithTheWatermark) {
  RecordingStore store;
  auto agg = *UsageAggregator::Create(store, {.step = seconds(10), .allowed_lateness = seconds(0)});
  ASSERT_TRUE(agg->Add(Report(kT0, 1)).ok());
  ASSERT_TRUE(agg->FlushClosed(kT0 + seconds(20)).ok());
  absl::Status late = agg->Add(Report(kT0 + seconds(19), 1));
  EXPECT_EQ(late.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(late.message(), HasSubstr("is late"));
  EXPECT_THAT(late.message(), HasSubstr("2023-11-14T22:13:40Z"));  // The watermark, T0 + 20 s.
  EXPECT_TRUE(agg->Add(Report(kT0 + seconds(20), 1)).ok());
  EXPECT_EQ(agg->stats().late_rejected, 1u);
  EXPECT_EQ(store.At("cpu_ms", "acme", "class=checkout,op=write", kT0), 1.0);
}

TEST(UsageAggregatorTest, DuplicateIdsAreIgnoredWithinTheOpenBucket) {
  RecordingStore store;
  auto agg = *UsageAggregator::Create(store, {});
  UsageReport r = Report(kT0 + seconds(3), 5);
  r.id = "req-1";
  ASSERT_TRUE(agg->Add(r).ok());
  ASSERT_TRUE(agg->Add(r).ok());
  UsageReport no_id = Report(kT0 + seconds(3), 5);
  ASSERT_TRUE(agg->Add(no_id).ok());
  ASSERT_TRUE(agg->Add(no_id).ok());  // No id: counted twice.
  EXPECT_EQ(agg->stats().duplicates_ignored, 1u);
  EXPECT_EQ(agg->stats().reports_added, 3u);
  ASSERT_TRUE(agg->FlushAll().ok());
  EXPECT_EQ(store.At("cpu_ms", "acme", "class=checkout,op=write", kT0), 15.0);
}

TEST(UsageAggregatorTest, FailedFlushKeepsBucketsAndRetries) {
  RecordingStore store;
  store.fail_with = absl::UnavailableError("down");
  auto agg = *UsageAggregator::Create(store, {.step = seconds(10), .allowed_lateness = seconds(0)});
  ASSERT_TRUE(agg->Add(Report(kT0, 1)).ok());
  EXPECT_EQ(agg->FlushClosed(kT0 + seconds(10)).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(agg->stats().flush_failures, 1u);
  // The bucket is closed: a report for it is late even though it is not stored yet.
  EXPECT_EQ(agg->Add(Report(kT0 + seconds(1), 1)).code(), absl::StatusCode::kOutOfRange);
  ASSERT_TRUE(agg->Add(Report(kT0 + seconds(10), 2)).ok());
  store.fail_with = absl::OkStatus();
  ASSERT_TRUE(agg->FlushClosed(kT0 + seconds(20)).ok());
  EXPECT_EQ(store.At("cpu_ms", "acme", "class=checkout,op=write", kT0), 1.0);
  EXPECT_EQ(store.At("cpu_ms", "acme", "class=checkout,op=write", kT0 + seconds(10)), 2.0);
}

TEST(UsageAggregatorTest, BucketsAlignBeforeTheEpoch) {
  RecordingStore store;
  auto agg = *UsageAggregator::Create(store, {});
  ASSERT_TRUE(agg->Add(Report(WallTime(seconds(-1)), 1)).ok());
  ASSERT_TRUE(agg->FlushAll().ok());
  EXPECT_EQ(store.At("cpu_ms", "acme", "class=checkout,op=write", WallTime(seconds(-10))), 1.0);
}

// Property: whatever the order and the flush times, the stored requests sum to the reports' counts
// minus the late ones.
TEST(UsageAggregatorTest, ConservesCountsUnderRandomFlushes) {
  RecordingStore store;
  auto agg = *UsageAggregator::Create(store, {.step = seconds(10), .allowed_lateness = seconds(3)});
  uint64_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return seed >> 33;
  };
  int64_t accepted = 0;
  WallTime now = kT0;
  for (int i = 0; i < 2000; ++i) {
    now += std::chrono::milliseconds(next() % 200);
    const WallTime t = now - std::chrono::milliseconds(next() % 15000);  // Up to 15 s late.
    const int64_t count = static_cast<int64_t>(next() % 4);
    if (agg->Add(Report(t, 1, count)).ok()) accepted += count;
    if (next() % 10 == 0) {
      ASSERT_TRUE(agg->FlushClosed(now).ok()) << "seed 12345, i " << i;
    }
  }
  ASSERT_TRUE(agg->FlushAll().ok());
  double stored = 0;
  for (const auto& [key, samples] : store.data) {
    if (key.metric != "requests") continue;
    for (const auto& [t, v] : samples) stored += v;
  }
  EXPECT_EQ(stored, static_cast<double>(accepted));
  EXPECT_GT(agg->stats().late_rejected, 0u);
}

}  // namespace
}  // namespace tidegate::history
