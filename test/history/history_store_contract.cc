// The HistoryStore contract suite (see history_store_contract.h).
#include "history/history_store_contract.h"

#include <cmath>

#include "gmock/gmock.h"

namespace tidegate::history {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kBaseS = 1'699'999'200;  // 2023-11-14T22:00:00Z, an hour boundary.

WallTime At(int64_t s) { return WallTime(seconds(kBaseS + s)); }

const SeriesKey kCpu{"cpu_ms", "acme", "class=checkout,op=write"};
const SeriesKey kReq{"requests", "acme", "class=checkout,op=write"};
const SeriesKey kOther{"requests", "zeta", "class=search"};

}  // namespace

void HistoryStoreContractTest::SetUp() {
  auto store = GetParam().make();
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = std::move(*store);
}

namespace {

std::vector<Point> Must(absl::StatusOr<std::vector<Point>> points) {
  EXPECT_TRUE(points.ok()) << points.status();
  return points.ok() ? *std::move(points) : std::vector<Point>{};
}

TEST_P(HistoryStoreContractTest, HasAName) { EXPECT_FALSE(store_->name().empty()); }

TEST_P(HistoryStoreContractTest, EveryAggregationOverBucketsWithGapsAbsent) {
  SampleBatch batch;
  batch.Add(kCpu, At(50), 3);  // Out of order within the batch.
  batch.Add(kCpu, At(10), 7);
  batch.Add(kCpu, At(0), 5);
  batch.Add(kCpu, At(130), 2);  // Minute 2; minute 1 is empty.
  ASSERT_TRUE(store_->Append(batch).ok());
  auto q = [&](Aggregation a) { return Must(store_->Query(kCpu, At(0), At(180), minutes(1), a)); };
  EXPECT_THAT(q(Aggregation::kSum), ElementsAre(Point{At(0), 15}, Point{At(120), 2}));
  EXPECT_THAT(q(Aggregation::kMean), ElementsAre(Point{At(0), 5}, Point{At(120), 2}));
  EXPECT_THAT(q(Aggregation::kMin), ElementsAre(Point{At(0), 3}, Point{At(120), 2}));
  EXPECT_THAT(q(Aggregation::kMax), ElementsAre(Point{At(0), 7}, Point{At(120), 2}));
  EXPECT_THAT(q(Aggregation::kCount), ElementsAre(Point{At(0), 3}, Point{At(120), 1}));
  EXPECT_THAT(q(Aggregation::kLast), ElementsAre(Point{At(0), 3}, Point{At(120), 2}));
  EXPECT_THAT(Must(store_->Query(kCpu, At(0), At(3600), hours(1), Aggregation::kSum)),
              ElementsAre(Point{At(0), 17}));
}

TEST_P(HistoryStoreContractTest, QueryRangeIsHalfOpen) {
  SampleBatch batch;
  batch.Add(kReq, At(0), 1);
  batch.Add(kReq, At(60), 2);
  ASSERT_TRUE(store_->Append(batch).ok());
  EXPECT_THAT(Must(store_->Query(kReq, At(0), At(60), minutes(1), Aggregation::kSum)),
              ElementsAre(Point{At(0), 1}));
  EXPECT_THAT(Must(store_->Query(kReq, At(60), At(120), minutes(1), Aggregation::kSum)),
              ElementsAre(Point{At(60), 2}));
}

TEST_P(HistoryStoreContractTest, OutOfOrderBatchesMerge) {
  SampleBatch late;
  late.Add(kCpu, At(50), 9);
  ASSERT_TRUE(store_->Append(late).ok());
  SampleBatch early;
  early.Add(kCpu, At(10), 2);
  ASSERT_TRUE(store_->Append(early).ok());
  EXPECT_THAT(Must(store_->Query(kCpu, At(0), At(60), minutes(1), Aggregation::kLast)),
              ElementsAre(Point{At(0), 9}));
  EXPECT_THAT(Must(store_->Query(kCpu, At(0), At(60), minutes(1), Aggregation::kSum)),
              ElementsAre(Point{At(0), 11}));
}

TEST_P(HistoryStoreContractTest, UnknownSeriesIsEmptyNotAnError) {
  EXPECT_TRUE(
      Must(store_->Query({"cpu_ms", "nobody", ""}, At(0), At(60), minutes(1), Aggregation::kSum))
          .empty());
}

TEST_P(HistoryStoreContractTest, BadQueryArgumentsAreInvalidArgument) {
  auto r = store_->Query(kCpu, At(60), At(0), minutes(1), Aggregation::kSum);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  r = store_->Query(kCpu, At(0), At(60), Duration::zero(), Aggregation::kSum);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(HistoryStoreContractTest, InvalidValuesRejectTheWholeBatch) {
  for (double bad : {std::nan(""), -1.0, HUGE_VAL}) {
    SampleBatch batch;
    batch.Add(kReq, At(0), 1);
    batch.Add(kCpu, At(30), bad);
    absl::Status s = store_->Append(batch);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(s.message(), HasSubstr(kCpu.ToString()));
    EXPECT_THAT(s.message(), HasSubstr("2023-11-14T22:00:30Z"));
  }
  EXPECT_TRUE(Must(store_->Query(kReq, At(0), At(60), minutes(1), Aggregation::kSum)).empty());
}

TEST_P(HistoryStoreContractTest, SameValueDuplicateIsIdempotent) {
  SampleBatch batch;
  batch.Add(kReq, At(0), 4);
  batch.Add(kReq, At(1), 6);
  ASSERT_TRUE(store_->Append(batch).ok());
  ASSERT_TRUE(store_->Append(batch).ok());
  EXPECT_THAT(Must(store_->Query(kReq, At(0), At(60), minutes(1), Aggregation::kCount)),
              ElementsAre(Point{At(0), 2}));
  EXPECT_THAT(Must(store_->Query(kReq, At(0), At(60), minutes(1), Aggregation::kSum)),
              ElementsAre(Point{At(0), 10}));
}

TEST_P(HistoryStoreContractTest, ConflictingDuplicateIsAlreadyExists) {
  if (!GetParam().capabilities.rejects_conflicting_duplicates) {
    GTEST_SKIP() << GetParam().name << " does not detect conflicting duplicates (documented)";
  }
  SampleBatch first;
  first.Add(kReq, At(0), 4);
  ASSERT_TRUE(store_->Append(first).ok());
  SampleBatch second;
  second.Add(kOther, At(0), 1);
  second.Add(kReq, At(0), 5);
  absl::Status s = store_->Append(second);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_THAT(s.message(), HasSubstr(kReq.ToString()));
  EXPECT_TRUE(Must(store_->Query(kOther, At(0), At(60), minutes(1), Aggregation::kSum)).empty());
  EXPECT_THAT(Must(store_->Query(kReq, At(0), At(60), minutes(1), Aggregation::kSum)),
              ElementsAre(Point{At(0), 4}));
}

TEST_P(HistoryStoreContractTest, ListSeriesFiltersAndSorts) {
  SampleBatch batch;
  for (const SeriesKey& k : {kOther, kReq, kCpu}) batch.Add(k, At(0), 1);
  ASSERT_TRUE(store_->Append(batch).ok());
  auto all = store_->ListSeries({});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(*all, ElementsAre(kCpu, kReq, kOther));
  SeriesFilter f;
  f.metric = "requests";
  auto some = store_->ListSeries(f);
  ASSERT_TRUE(some.ok()) << some.status();
  EXPECT_THAT(*some, ElementsAre(kReq, kOther));
  f.tenant = "zeta";
  EXPECT_THAT(*store_->ListSeries(f), ElementsAre(kOther));
}

TEST_P(HistoryStoreContractTest, DeleteSeriesRemovesItsData) {
  if (!GetParam().capabilities.deletes) {
    GTEST_SKIP() << GetParam().name << " cannot delete (documented)";
  }
  SampleBatch batch;
  batch.Add(kCpu, At(0), 1);
  batch.Add(kReq, At(0), 1);
  ASSERT_TRUE(store_->Append(batch).ok());
  ASSERT_TRUE(store_->DeleteSeries(kCpu).ok());
  EXPECT_TRUE(Must(store_->Query(kCpu, At(0), At(60), minutes(1), Aggregation::kSum)).empty());
  EXPECT_THAT(*store_->ListSeries({}), ElementsAre(kReq));
  EXPECT_TRUE(store_->DeleteSeries(kCpu).ok());
}

TEST_P(HistoryStoreContractTest, EmptyBatchIsOk) { EXPECT_TRUE(store_->Append({}).ok()); }

}  // namespace
}  // namespace tidegate::history
