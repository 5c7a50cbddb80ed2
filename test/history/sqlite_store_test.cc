// Unit tests of the SQLite HistoryStore: storage, aggregation and rollup arithmetic, sample rules,
// retention, listing, deletion, concurrency.
#include "tidegate/history/sqlite_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tidegate::history {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// 2023-11-14T22:00:00Z, an hour boundary.
constexpr int64_t kBase = 1'699'999'200;
static_assert(kBase % 3600 == 0);

WallTime At(int64_t seconds_after_base) { return WallTime(seconds(kBase + seconds_after_base)); }

// A fresh directory under the test temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tidegate_hist_XXXXXX").string();
    path_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    Reopen();
  }
  void Reopen(SqliteStoreOptions options = {}) {
    store_.reset();
    options.sync = SyncMode::kNormal;  // Unit tests do not need power-loss durability.
    auto store = SqliteStore::Open(dir_.path(), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  std::vector<Point> Q(const SeriesKey& key, WallTime start, WallTime end, Duration step,
                       Aggregation aggregation) {
    auto points = store_->Query(key, start, end, step, aggregation);
    EXPECT_TRUE(points.ok()) << points.status();
    return points.ok() ? *points : std::vector<Point>{};
  }
  size_t CountRaw(const SeriesKey& key) {
    auto points = store_->QueryAt(Resolution::kRaw, key, WallTime(Duration(0)),
                                  WallTime(hours(24 * 365 * 100)), hours(24 * 365 * 100),
                                  Aggregation::kCount);
    EXPECT_TRUE(points.ok()) << points.status();
    return points.ok() && !points->empty() ? static_cast<size_t>((*points)[0].value) : 0;
  }

  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
  const SeriesKey cpu_{"cpu_ms", "acme", "class=checkout,op=write"};
  const SeriesKey req_{"requests", "acme", "class=checkout,op=write"};
};

TEST_F(SqliteStoreTest, OpenCreatesTheDatabaseAndReopenKeepsData) {
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/history.sqlite"));
  EXPECT_EQ(store_->name(), "sqlite");
  EXPECT_FALSE(store_->read_only());
  SampleBatch batch;
  batch.Add(cpu_, At(0), 5);
  ASSERT_TRUE(store_->Append(batch).ok());
  Reopen();
  EXPECT_THAT(Q(cpu_, At(0), At(60), minutes(1), Aggregation::kSum), ElementsAre(Point{At(0), 5}));
}

TEST_F(SqliteStoreTest, OpenCreatesAMissingDataDirectory) {
  const std::string sub = dir_.path() + "/sub";
  auto store = SqliteStore::Open(sub);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE(std::filesystem::exists(sub + "/history.sqlite"));
}

TEST_F(SqliteStoreTest, EveryAggregationOverOneBucket) {
  SampleBatch batch;
  // Appended out of order: the last value is the one with the latest timestamp (3 at +50 s).
  batch.Add(cpu_, At(50), 3);
  batch.Add(cpu_, At(10), 7);
  batch.Add(cpu_, At(30), 1);
  batch.Add(cpu_, At(0), 5);
  ASSERT_TRUE(store_->Append(batch).ok());
  auto one = [&](Aggregation a, Duration step) {
    auto p = Q(cpu_, At(0), At(3600), step, a);
    EXPECT_EQ(p.size(), 1u);
    return p.empty() ? -1.0 : p[0].value;
  };
  for (Duration step : {Duration(minutes(1)), Duration(hours(1)), Duration(seconds(90))}) {
    SCOPED_TRACE(step.count());
    EXPECT_EQ(one(Aggregation::kSum, step), 16);
    EXPECT_EQ(one(Aggregation::kMean, step), 4);
    EXPECT_EQ(one(Aggregation::kMin, step), 1);
    EXPECT_EQ(one(Aggregation::kMax, step), 7);
    EXPECT_EQ(one(Aggregation::kCount, step), 4);
    EXPECT_EQ(one(Aggregation::kLast, step), 3);
  }
}

TEST_F(SqliteStoreTest, EmptyBucketsAreAbsentAndPointsAreStampedWithBucketStart) {
  SampleBatch batch;
  batch.Add(cpu_, At(5), 1);
  batch.Add(cpu_, At(125), 2);  // Minute 2; minute 1 is empty.
  batch.Add(cpu_, At(130), 4);
  ASSERT_TRUE(store_->Append(batch).ok());
  EXPECT_THAT(Q(cpu_, At(0), At(180), minutes(1), Aggregation::kSum),
              ElementsAre(Point{At(0), 1}, Point{At(120), 6}));
  // Raw path (start not minute-aligned): samples before `start` are excluded from their bucket.
  EXPECT_THAT(Q(cpu_, At(6), At(180), minutes(1), Aggregation::kSum),
              ElementsAre(Point{At(120), 6}));
  EXPECT_THAT(Q(cpu_, At(0), At(126), seconds(10), Aggregation::kCount),
              ElementsAre(Point{At(0), 1}, Point{At(120), 1}));
}

TEST_F(SqliteStoreTest, UnknownSeriesGivesEmptyResult) {
  EXPECT_TRUE(Q({"cpu_ms", "nobody", ""}, At(0), At(60), minutes(1), Aggregation::kSum).empty());
}

TEST_F(SqliteStoreTest, QueryRejectsBadArguments) {
  auto r = store_->Query(cpu_, At(60), At(0), minutes(1), Aggregation::kSum);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("must be before end"));
  r = store_->Query(cpu_, At(0), At(60), Duration::zero(), Aggregation::kSum);
  EXPECT_THAT(r.status().message(), HasSubstr("step must be > 0"));
  r = store_->Query({"CPU", "", ""}, At(0), At(60), minutes(1), Aggregation::kSum);
  EXPECT_THAT(r.status().message(), HasSubstr("must start with"));
  r = store_->QueryAt(Resolution::kOneHour, cpu_, At(0), At(3600), minutes(1), Aggregation::kSum);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("must all be multiples of"));
}

TEST(ChooseResolutionTest, CoarsestThatDividesStepStartAndEnd) {
  EXPECT_EQ(SqliteStore::ChooseResolution(At(0), At(7200), hours(1)), Resolution::kOneHour);
  EXPECT_EQ(SqliteStore::ChooseResolution(At(0), At(7200), hours(24)), Resolution::kOneHour);
  EXPECT_EQ(SqliteStore::ChooseResolution(At(0), At(7200), minutes(5)), Resolution::kOneMinute);
  EXPECT_EQ(SqliteStore::ChooseResolution(At(60), At(7200), hours(1)), Resolution::kOneMinute);
  EXPECT_EQ(SqliteStore::ChooseResolution(At(0), At(7230), hours(1)), Resolution::kRaw);
  EXPECT_EQ(SqliteStore::ChooseResolution(At(0), At(7200), seconds(90)), Resolution::kRaw);
  EXPECT_EQ(SqliteStore::ChooseResolution(At(0), At(7200), seconds(10)), Resolution::kRaw);
  // Before the epoch, alignment is still by floor.
  EXPECT_EQ(SqliteStore::ChooseResolution(WallTime(hours(-2)), WallTime(hours(-1)), hours(1)),
            Resolution::kOneHour);
}

// The central rollup property: for random data appended in random order and batches, every
// aggregation at every step agrees whether it is read from raw, 1 min or 1 h rows.
TEST_F(SqliteStoreTest, RollupsAgreeWithRawForEveryAggregationAndStep) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  // 30 hours of samples at irregular times, integer values (sums exact), in shuffled batches.
  std::vector<std::pair<int64_t, double>> samples;
  for (int64_t t = -3 * 3600; t < 27 * 3600; t += 1 + static_cast<int64_t>(rng() % 40)) {
    samples.emplace_back(t, static_cast<double>(rng() % 1000));
  }
  std::shuffle(samples.begin(), samples.end(), rng);
  for (size_t i = 0; i < samples.size();) {
    SampleBatch batch;
    const size_t n = 1 + rng() % 500;
    for (size_t j = 0; j < n && i < samples.size(); ++j, ++i) {
      batch.Add(cpu_, At(samples[i].first), samples[i].second);
      batch.Add(req_, At(samples[i].first), 1);
    }
    ASSERT_TRUE(store_->Append(batch).ok());
  }
  EXPECT_EQ(CountRaw(cpu_), samples.size());

  const WallTime start = At(-3 * 3600);
  const WallTime end = At(27 * 3600);
  for (Aggregation a : {Aggregation::kSum, Aggregation::kMean, Aggregation::kMin, Aggregation::kMax,
                        Aggregation::kCount, Aggregation::kLast}) {
    for (Duration step : {Duration(minutes(1)), Duration(minutes(5)), Duration(minutes(60)),
                          Duration(hours(3)), Duration(hours(24))}) {
      SCOPED_TRACE(::testing::Message() << AggregationName(a) << " step " << step.count());
      auto raw = store_->QueryAt(Resolution::kRaw, cpu_, start, end, step, a);
      auto minute = store_->QueryAt(Resolution::kOneMinute, cpu_, start, end, step, a);
      ASSERT_TRUE(raw.ok() && minute.ok());
      ASSERT_FALSE(raw->empty());
      EXPECT_EQ(*raw, *minute);
      if (step % hours(1) == Duration::zero()) {
        auto hour = store_->QueryAt(Resolution::kOneHour, cpu_, start, end, step, a);
        ASSERT_TRUE(hour.ok());
        EXPECT_EQ(*raw, *hour);
      }
      // Query picks a rollup and gives the same answer.
      EXPECT_EQ(Q(cpu_, start, end, step, a), *raw);
    }
  }
  // The request counter's sum equals the cpu series' count, bucket by bucket.
  auto count = Q(cpu_, start, end, minutes(10), Aggregation::kCount);
  auto requests = Q(req_, start, end, minutes(10), Aggregation::kSum);
  EXPECT_EQ(count, requests);
}

TEST_F(SqliteStoreTest, RealValuedSumsAgreeToRounding) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> value(0, 1e6);
  SampleBatch batch;
  for (int64_t t = 0; t < 4 * 3600; t += 7) batch.Add(cpu_, At(t), value(rng));
  ASSERT_TRUE(store_->Append(batch).ok());
  for (Aggregation a : {Aggregation::kSum, Aggregation::kMean}) {
    auto raw = store_->QueryAt(Resolution::kRaw, cpu_, At(0), At(4 * 3600), hours(1), a);
    auto hour = store_->QueryAt(Resolution::kOneHour, cpu_, At(0), At(4 * 3600), hours(1), a);
    ASSERT_TRUE(raw.ok() && hour.ok());
    ASSERT_EQ(raw->size(), 4u);
    ASSERT_EQ(hour->size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
      EXPECT_NEAR((*raw)[i].value, (*hour)[i].value, 1e-12 * std::abs((*raw)[i].value));
    }
  }
}

TEST_F(SqliteStoreTest, OutOfOrderAcrossBatchesMergesIntoRollups) {
  SampleBatch late;
  late.Add(cpu_, At(50), 9);
  ASSERT_TRUE(store_->Append(late).ok());
  SampleBatch early;  // Older sample arrives later: must not become "last".
  early.Add(cpu_, At(10), 2);
  ASSERT_TRUE(store_->Append(early).ok());
  EXPECT_THAT(Q(cpu_, At(0), At(60), minutes(1), Aggregation::kLast), ElementsAre(Point{At(0), 9}));
  EXPECT_THAT(Q(cpu_, At(0), At(3600), hours(1), Aggregation::kMin), ElementsAre(Point{At(0), 2}));
  EXPECT_THAT(Q(cpu_, At(0), At(3600), hours(1), Aggregation::kSum), ElementsAre(Point{At(0), 11}));
}

TEST_F(SqliteStoreTest, DuplicateWithSameValueIsAnIdempotentRetry) {
  SampleBatch batch;
  batch.Add(cpu_, At(0), 4);
  batch.Add(cpu_, At(1), 6);
  ASSERT_TRUE(store_->Append(batch).ok());
  ASSERT_TRUE(store_->Append(batch).ok());  // Whole batch again.
  batch.Add(cpu_, At(1), 6);                // Duplicate inside one batch.
  batch.Add(cpu_, At(2), 1);
  ASSERT_TRUE(store_->Append(batch).ok());
  EXPECT_EQ(CountRaw(cpu_), 3u);
  for (Duration step : {Duration(minutes(1)), Duration(hours(1))}) {
    EXPECT_THAT(Q(cpu_, At(0), At(3600), step, Aggregation::kSum), ElementsAre(Point{At(0), 11}));
    EXPECT_THAT(Q(cpu_, At(0), At(3600), step, Aggregation::kCount), ElementsAre(Point{At(0), 3}));
  }
}

TEST_F(SqliteStoreTest, DuplicateWithDifferentValueRejectsTheWholeBatch) {
  SampleBatch first;
  first.Add(cpu_, At(0), 4);
  ASSERT_TRUE(store_->Append(first).ok());

  const SeriesKey fresh{"mem_bytes", "acme", "new"};
  SampleBatch conflicting;
  conflicting.Add(fresh, At(0), 100);  // A new series, which must not be created either.
  conflicting.Add(cpu_, At(5), 1);
  conflicting.Add(cpu_, At(0), 5);  // Conflicts with the stored 4.
  absl::Status s = store_->Append(conflicting);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr(cpu_.ToString()));
  EXPECT_THAT(s.message(), HasSubstr("2023-11-14T22:00:00Z"));
  EXPECT_THAT(s.message(), HasSubstr("already holds value 4"));
  EXPECT_EQ(CountRaw(cpu_), 1u);
  EXPECT_THAT(Q(cpu_, At(0), At(60), minutes(1), Aggregation::kSum), ElementsAre(Point{At(0), 4}));
  auto listed = store_->ListSeries({});
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(*listed, ElementsAre(cpu_));

  // The same conflict inside one batch.
  SampleBatch within;
  within.Add(req_, At(0), 1);
  within.Add(req_, At(0), 2);
  s = store_->Append(within);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr(req_.ToString()));
  EXPECT_EQ(CountRaw(req_), 0u);

  // After a rejected batch that created (and rolled back) a series, new series still work.
  SampleBatch after;
  after.Add(fresh, At(0), 100);
  ASSERT_TRUE(store_->Append(after).ok());
  EXPECT_EQ(CountRaw(fresh), 1u);
  EXPECT_EQ(CountRaw(cpu_), 1u);
}

TEST_F(SqliteStoreTest, InvalidSamplesRejectTheWholeBatch) {
  for (double bad : {std::nan(""), -0.5, HUGE_VAL}) {
    SampleBatch batch;
    batch.Add(req_, At(0), 1);
    batch.Add(cpu_, At(30), bad);
    absl::Status s = store_->Append(batch);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr(cpu_.ToString()));
    EXPECT_THAT(s.message(), HasSubstr("2023-11-14T22:00:30Z"));
  }
  EXPECT_EQ(CountRaw(req_), 0u);
  EXPECT_TRUE(store_->ListSeries({})->empty());
}

TEST_F(SqliteStoreTest, EmptyBatchIsOk) {
  EXPECT_TRUE(store_->Append(SampleBatch{}).ok());
  SampleBatch no_samples;
  no_samples.series.push_back({cpu_, {}});
  EXPECT_TRUE(store_->Append(no_samples).ok());
  EXPECT_TRUE(store_->ListSeries({})->empty());
}

TEST_F(SqliteStoreTest, TimesBeforeTheEpochAndSubsecondPrecision) {
  const SeriesKey key{"latency_ms", "", ""};
  SampleBatch batch;
  batch.Add(key, WallTime(seconds(-61)), 1);  // Bucket [-120 s, -60 s).
  batch.Add(key, WallTime(seconds(-1)), 2);   // Bucket [-60 s, 0).
  batch.Add(key, WallTime(std::chrono::nanoseconds(-1)), 3);
  batch.Add(key, WallTime(std::chrono::nanoseconds(1)), 4);
  ASSERT_TRUE(store_->Append(batch).ok());
  const WallTime start(seconds(-120));
  const WallTime end(seconds(60));
  auto expected = ElementsAre(Point{WallTime(seconds(-120)), 1}, Point{WallTime(seconds(-60)), 5},
                              Point{WallTime(seconds(0)), 4});
  EXPECT_THAT(*store_->QueryAt(Resolution::kRaw, key, start, end, minutes(1), Aggregation::kSum),
              expected);
  EXPECT_THAT(
      *store_->QueryAt(Resolution::kOneMinute, key, start, end, minutes(1), Aggregation::kSum),
      expected);
  EXPECT_THAT(*store_->QueryAt(Resolution::kRaw, key, start, end, minutes(1), Aggregation::kLast),
              ElementsAre(Point{WallTime(seconds(-120)), 1}, Point{WallTime(seconds(-60)), 3},
                          Point{WallTime(seconds(0)), 4}));
}

TEST_F(SqliteStoreTest, ListSeriesFiltersAndSorts) {
  SampleBatch batch;
  const SeriesKey a{"requests", "zeta", "c=1"};
  const SeriesKey b{"cpu_ms", "acme", "c=2"};
  const SeriesKey c{"cpu_ms", "acme", "c=1"};
  const SeriesKey d{"cpu_ms", "", ""};
  for (const SeriesKey& k : {a, b, c, d}) batch.Add(k, At(0), 1);
  ASSERT_TRUE(store_->Append(batch).ok());
  EXPECT_THAT(*store_->ListSeries({}), ElementsAre(d, c, b, a));
  SeriesFilter f;
  f.metric = "cpu_ms";
  f.tenant = "acme";
  EXPECT_THAT(*store_->ListSeries(f), ElementsAre(c, b));
  f = {};
  f.class_key = "c=1";
  EXPECT_THAT(*store_->ListSeries(f), ElementsAre(c, a));
  f.tenant = "nobody";
  EXPECT_TRUE(store_->ListSeries(f)->empty());
}

TEST_F(SqliteStoreTest, DeleteSeriesRemovesEveryResolution) {
  SampleBatch batch;
  batch.Add(cpu_, At(0), 1);
  batch.Add(req_, At(0), 1);
  ASSERT_TRUE(store_->Append(batch).ok());
  ASSERT_TRUE(store_->DeleteSeries(cpu_).ok());
  EXPECT_THAT(*store_->ListSeries({}), ElementsAre(req_));
  for (Resolution r : {Resolution::kRaw, Resolution::kOneMinute, Resolution::kOneHour}) {
    EXPECT_TRUE(store_->QueryAt(r, cpu_, At(0), At(3600), hours(1), Aggregation::kSum)->empty());
  }
  EXPECT_TRUE(store_->DeleteSeries(cpu_).ok());  // Unknown: OK.
  // Appending again recreates it from scratch (no stale rollups).
  SampleBatch again;
  again.Add(cpu_, At(0), 7);
  ASSERT_TRUE(store_->Append(again).ok());
  EXPECT_THAT(Q(cpu_, At(0), At(3600), hours(1), Aggregation::kSum), ElementsAre(Point{At(0), 7}));
}

TEST_F(SqliteStoreTest, RetentionExpiresEachResolutionOnItsOwnClock) {
  SqliteStoreOptions options;
  options.raw_retention = hours(2);
  options.minute_retention = hours(5);
  options.hour_retention = hours(24);
  Reopen(options);
  SampleBatch batch;
  for (int64_t h = 0; h < 10; ++h) batch.Add(cpu_, At(h * 3600 + 30), static_cast<double>(h));
  batch.Add(req_, At(0), 1);  // Only old data: the series disappears once everything expires.
  ASSERT_TRUE(store_->Append(batch).ok());

  const WallTime now = At(10 * 3600);
  ASSERT_TRUE(store_->ApplyRetention(now).ok());
  ASSERT_TRUE(store_->ApplyRetention(now).ok());  // Idempotent.
  auto count_at = [&](Resolution r) {
    auto p = store_->QueryAt(r, cpu_, At(0), At(10 * 3600), hours(1), Aggregation::kCount);
    EXPECT_TRUE(p.ok());
    double n = 0;
    for (const Point& point : *p) n += point.value;
    return n;
  };
  EXPECT_EQ(count_at(Resolution::kRaw), 2);        // Samples at 8 h and 9 h (>= now - 2 h).
  EXPECT_EQ(count_at(Resolution::kOneMinute), 5);  // Buckets ending at or after now - 5 h.
  EXPECT_EQ(count_at(Resolution::kOneHour), 10);
  EXPECT_THAT(*store_->ListSeries({}), ElementsAre(cpu_, req_));

  ASSERT_TRUE(store_->ApplyRetention(At(10 * 3600 + 23 * 3600)).ok());
  EXPECT_EQ(count_at(Resolution::kOneHour), 1);  // Only the 9 h bucket ends within 24 h.
  ASSERT_TRUE(store_->ApplyRetention(At(100 * 3600)).ok());
  EXPECT_TRUE(store_->ListSeries({})->empty());
}

TEST_F(SqliteStoreTest, ZeroRetentionKeepsForever) {
  SqliteStoreOptions options;
  options.raw_retention = Duration::zero();
  Reopen(options);
  SampleBatch batch;
  batch.Add(cpu_, At(0), 1);
  ASSERT_TRUE(store_->Append(batch).ok());
  ASSERT_TRUE(store_->ApplyRetention(At(1'000'000'000)).ok());
  EXPECT_EQ(CountRaw(cpu_), 1u);
}

TEST_F(SqliteStoreTest, ReadOnlyOptionServesQueriesAndRefusesWrites) {
  SampleBatch batch;
  batch.Add(cpu_, At(0), 3);
  ASSERT_TRUE(store_->Append(batch).ok());
  SqliteStoreOptions options;
  options.read_only = true;
  Reopen(options);
  EXPECT_TRUE(store_->read_only());
  absl::Status s = store_->Append(batch);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("read-only (opened read-only)"));
  EXPECT_THAT(s.message(), HasSubstr("batch of 1 samples not stored"));
  EXPECT_EQ(store_->DeleteSeries(cpu_).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->ApplyRetention(At(0)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Q(cpu_, At(0), At(60), minutes(1), Aggregation::kSum), ElementsAre(Point{At(0), 3}));
}

TEST(SqliteStoreOpenTest, ReadOnlyWithoutDatabaseIsNotFound) {
  TempDir dir;
  SqliteStoreOptions options;
  options.read_only = true;
  auto store = SqliteStore::Open(dir.path(), options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(store.status().message(), HasSubstr("history.sqlite"));
}

TEST(SqliteStoreOpenTest, RejectsForeignDatabasesAndUnknownVersions) {
  TempDir dir;
  const std::string path = dir.path() + "/history.sqlite";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE other(x)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = SqliteStore::Open(dir.path());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("not a tidegate history store"));

  std::filesystem::remove(path);
  ASSERT_TRUE(SqliteStore::Open(dir.path()).ok());
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  store = SqliteStore::Open(dir.path());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("schema version 99 is not supported"));
}

TEST(SqliteStoreOpenTest, GarbageFileIsDataLoss) {
  TempDir dir;
  {
    FILE* f = fopen((dir.path() + "/history.sqlite").c_str(), "w");
    ASSERT_NE(f, nullptr);
    for (int i = 0; i < 512; ++i) fputs("this is not a database file ", f);
    fclose(f);
  }
  auto store = SqliteStore::Open(dir.path());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(store.status().message(), HasSubstr("history.sqlite"));
}

TEST(SqliteStoreOptionsTest, ValidateNamesTheOption) {
  SqliteStoreOptions o;
  EXPECT_TRUE(ValidateSqliteStoreOptions(o).ok());
  o.raw_retention = -seconds(1);
  EXPECT_THAT(ValidateSqliteStoreOptions(o).message(), HasSubstr("raw_retention must be >= 0"));
  o = {};
  o.max_db_bytes = 1000;
  EXPECT_THAT(ValidateSqliteStoreOptions(o).message(), HasSubstr("1 MiB minimum"));
  o = {};
  o.max_idle_readers = -1;
  EXPECT_THAT(ValidateSqliteStoreOptions(o).message(), HasSubstr("max_idle_readers"));
  TempDir dir;
  EXPECT_EQ(SqliteStore::Open(dir.path(), o).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SqliteStore::Open("").status().code(), absl::StatusCode::kInvalidArgument);
}

// Readers running beside a writer only ever see whole batches.
TEST_F(SqliteStoreTest, ConcurrentReadersSeeWholeBatches) {
  constexpr int kBatches = 60;
  constexpr int kPerBatch = 50;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        auto p = store_->Query(cpu_, At(0), At(24 * 3600), hours(24), Aggregation::kCount);
        if (!p.ok()) {
          ++bad;
          continue;
        }
        const double n = p->empty() ? 0 : (*p)[0].value;
        if (std::fmod(n, kPerBatch) != 0) ++bad;
        auto raw = store_->QueryAt(Resolution::kRaw, req_, At(0), At(24 * 3600), hours(24),
                                   Aggregation::kCount);
        if (!raw.ok() || (!raw->empty() && std::fmod((*raw)[0].value, kPerBatch) != 0)) ++bad;
        ++reads;
      }
    });
  }
  for (int b = 0; b < kBatches; ++b) {
    SampleBatch batch;
    for (int i = 0; i < kPerBatch; ++i) {
      batch.Add(cpu_, At(b * kPerBatch + i), 1);
    }
    for (int i = 0; i < kPerBatch; ++i) batch.Add(req_, At(b * kPerBatch + i), 1);
    ASSERT_TRUE(store_->Append(batch).ok());
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(CountRaw(cpu_), static_cast<size_t>(kBatches * kPerBatch));
}

// Writers on several threads serialise: every batch lands once, rollups stay exact, and new
// series created concurrently get distinct ids.
TEST_F(SqliteStoreTest, ConcurrentWritersAllLand) {
  constexpr int kThreads = 4;
  constexpr int kBatches = 25;
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int w = 0; w < kThreads; ++w) {
    writers.emplace_back([&, w] {
      for (int b = 0; b < kBatches; ++b) {
        SampleBatch batch;
        const SeriesKey own{"requests", "t" + std::to_string(w), "c=" + std::to_string(b % 3)};
        for (int i = 0; i < 20; ++i) {
          batch.Add(own, At(b * 20 + i), 1);
          batch.Add(cpu_, At(w * 100000 + b * 20 + i), 2);  // Shared series, disjoint times.
        }
        if (!store_->Append(batch).ok()) ++failures;
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->ListSeries({})->size(), static_cast<size_t>(1 + kThreads * 3));
  EXPECT_EQ(CountRaw(cpu_), static_cast<size_t>(kThreads * kBatches * 20));
  auto hourly = store_->QueryAt(Resolution::kOneHour, cpu_, At(0), At(5 * 3600 * 24), hours(24),
                                Aggregation::kSum);
  ASSERT_TRUE(hourly.ok());
  double sum = 0;
  for (const Point& p : *hourly) sum += p.value;
  EXPECT_EQ(sum, 2.0 * kThreads * kBatches * 20);
}

TEST_F(SqliteStoreTest, StatsCountRowsAndBytes) {
  SampleBatch batch;
  for (int i = 0; i < 600; ++i) batch.Add(cpu_, At(i * 10), i);
  ASSERT_TRUE(store_->Append(batch).ok());
  ASSERT_TRUE(store_->Checkpoint().ok());
  auto stats = store_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->series, 1);
  EXPECT_EQ(stats->raw_rows, 600);
  EXPECT_EQ(stats->minute_rows, 100);
  EXPECT_EQ(stats->hour_rows, 2);
  EXPECT_GT(stats->raw_bytes, 0);
  EXPECT_GT(stats->file_bytes, stats->raw_bytes);
}

}  // namespace
}  // namespace tidegate::history
