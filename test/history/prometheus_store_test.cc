// Unit tests of the Prometheus backend: PromQL building, JSON parsing, the bucket mapping, and the
// requests it sends (against an in-process fake at the test's edge). The round trip through a real
// Prometheus is test/integration/remote_store_test.cc.
#include "tidegate/history/prometheus_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>

#include "history/http_test_server.h"

namespace tidegate::history {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

std::string Decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

TEST(PromQlTest, StringsDurationsAndFunctions) {
  EXPECT_EQ(PromQlString("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
  EXPECT_EQ(PromQlDuration(seconds(10) - milliseconds(1)), "9999ms");
  EXPECT_EQ(PromQlOverTime(Aggregation::kMean), "avg_over_time");
  EXPECT_EQ(PromQlOverTime(Aggregation::kLast), "last_over_time");
  EXPECT_EQ(PromQlOverTime(Aggregation::kCount), "count_over_time");
}

TEST(PrometheusParseTest, QueryRangeMatrix) {
  const std::string body = R"({"status":"success","data":{"resultType":"matrix","result":[
      {"metric":{"tenant":"a","__name__":"tidegate_cpu_ms"},
       "values":[[1700000009.999,"1.5"],[1700000019.999,"NaN"],[1700000029.999,"+Inf"]]}]}})";
  absl::StatusOr<std::vector<PromSeries>> r =
      ParseQueryRangeResponse(body, milliseconds(1) - seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].labels.front().first, "__name__");  // Sorted.
  ASSERT_EQ((*r)[0].points.size(), 3u);
  EXPECT_EQ((*r)[0].points[0].time, WallTime(seconds(1'700'000'000)));
  EXPECT_EQ((*r)[0].points[0].value, 1.5);
  EXPECT_TRUE(std::isnan((*r)[0].points[1].value));
  EXPECT_TRUE(std::isinf((*r)[0].points[2].value));
}

TEST(PrometheusParseTest, ErrorsCarryPrometheusWords) {
  auto r = ParseQueryRangeResponse(
      R"({"status":"error","errorType":"bad_data","error":"parse error at char 5"})", {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("parse error at char 5"));
  r = ParseQueryRangeResponse(R"({"status":"error","errorType":"timeout","error":"slow"})", {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  r = ParseQueryRangeResponse("not json", {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  r = ParseQueryRangeResponse(R"({"status":"success","data":{"resultType":"vector","result":[]}})",
                              {});
  EXPECT_THAT(r.status().message(), HasSubstr("expected a \"matrix\""));
  r = ParseQueryRangeResponse(
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,2]]}]}})",
      {});
  EXPECT_THAT(r.status().message(), HasSubstr("not [<time>, \"<value>\"]"));
}

TEST(PrometheusParseTest, Series) {
  auto r = ParseSeriesResponse(
      R"({"status":"success","data":[{"__name__":"tidegate_cpu_ms","tenant":"a","job":"x"}]})");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].size(), 3u);
  EXPECT_THAT(ParseSeriesResponse(R"({"status":"success","data":{}})").status().message(),
              HasSubstr("not an array"));
}

// A fake Prometheus that records the queries and answers each with one point per evaluation time.
class FakePrometheus {
 public:
  FakePrometheus()
      : server_([this](const std::string&, const std::string& target, const std::string&) {
          std::lock_guard lock(mu_);
          targets_.push_back(Decode(target));
          return testing::TestHttpResponse{200, answer_, "application/json"};
        }) {}
  std::string url() const { return server_.url(); }
  std::vector<std::string> targets() {
    std::lock_guard lock(mu_);
    return targets_;
  }
  void set_answer(std::string a) {
    std::lock_guard lock(mu_);
    answer_ = std::move(a);
  }

 private:
  std::mutex mu_;
  std::vector<std::string> targets_;
  std::string answer_ = R"({"status":"success","data":{"resultType":"matrix","result":[]}})";
  testing::TestHttpServer server_;
};

TEST(PrometheusStoreTest, AlignedQueryIsOneQueryRangeAtBucketEnds) {
  FakePrometheus prom;
  prom.set_answer(R"({"status":"success","data":{"resultType":"matrix","result":[
      {"metric":{"__name__":"tidegate_cpu_ms"},"values":[[1700000019.999,"4"]]}]}})");
  auto store = *PrometheusStore::Create({.base_url = prom.url(), .selector = "job=\"t\""});
  const SeriesKey key{"cpu_ms", "acme", "class=a"};
  auto points = store->Query(key, WallTime(seconds(1'700'000'000)),
                             WallTime(seconds(1'700'000'030)), seconds(10), Aggregation::kSum);
  ASSERT_TRUE(points.ok()) << points.status();
  EXPECT_EQ(*points, (std::vector<Point>{{WallTime(seconds(1'700'000'010)), 4}}));
  ASSERT_EQ(prom.targets().size(), 1u);
  EXPECT_EQ(prom.targets()[0],
            "/api/v1/query_range?query=sum_over_time(tidegate_cpu_ms{tenant=\"acme\","
            "class=\"class=a\",job=\"t\"}[9999ms])&start=1700000009.999&end=1700000029.999"
            "&step=10.000");
}

TEST(PrometheusStoreTest, LongRangesAreSplitAndEdgesAreExact) {
  FakePrometheus prom;
  auto store = *PrometheusStore::Create({.base_url = prom.url(), .max_points_per_request = 100});
  // 250 full buckets of 1 s plus a partial head [0.5 s, 1 s) and tail [251 s, 251.25 s).
  const WallTime start = WallTime(milliseconds(1'700'000'000'500));
  const WallTime end = WallTime(milliseconds(1'700'000'251'250));
  ASSERT_TRUE(store->Query({"m", "", ""}, start, end, seconds(1), Aggregation::kMax).ok());
  const std::vector<std::string> t = prom.targets();
  ASSERT_EQ(t.size(), 5u);
  EXPECT_THAT(t[0], HasSubstr("/api/v1/query?query=tidegate_m{tenant=\"\",class=\"\"}[499ms]"
                              "&time=1700000000.999"));
  EXPECT_THAT(t[1], HasSubstr("start=1700000001.999&end=1700000100.999"));
  EXPECT_THAT(t[2], HasSubstr("start=1700000101.999&end=1700000200.999"));
  EXPECT_THAT(t[3], HasSubstr("start=1700000201.999&end=1700000250.999"));
  EXPECT_THAT(t[4], HasSubstr("[249ms]&time=1700000251.249"));
}

TEST(PrometheusStoreTest, PartialBucketsAggregateRawSamplesInRange) {
  FakePrometheus prom;
  // Raw samples of an instant range query; the one before `start` must be ignored.
  prom.set_answer(R"({"status":"success","data":{"resultType":"matrix","result":[
      {"metric":{},"values":[[1700000000.400,"100"],[1700000000.500,"1"],[1700000000.900,"3"]]}]}})");
  auto store = *PrometheusStore::Create({.base_url = prom.url()});
  auto points =
      store->Query({"m", "", ""}, WallTime(milliseconds(1'700'000'000'500)),
                   WallTime(milliseconds(1'700'000'001'000)), seconds(1), Aggregation::kMean);
  ASSERT_TRUE(points.ok()) << points.status();
  EXPECT_EQ(*points, (std::vector<Point>{{WallTime(seconds(1'700'000'000)), 2}}));
}

TEST(PrometheusStoreTest, SeveralMatchingSeriesAreAnError) {
  FakePrometheus prom;
  prom.set_answer(R"({"status":"success","data":{"resultType":"matrix","result":[
      {"metric":{"instance":"a"},"values":[]},{"metric":{"instance":"b"},"values":[]}]}})");
  auto store = *PrometheusStore::Create({.base_url = prom.url()});
  auto points = store->Query({"m", "", ""}, WallTime(seconds(10)), WallTime(seconds(20)),
                             seconds(10), Aggregation::kSum);
  EXPECT_EQ(points.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(points.status().message(), HasSubstr("2 series match"));
  EXPECT_THAT(points.status().message(), HasSubstr("{instance=\"b\"}"));
}

TEST(PrometheusStoreTest, RejectsSubMillisecondArguments) {
  auto store = *PrometheusStore::Create({.base_url = "http://127.0.0.1:1"});
  auto points = store->Query({"m", "", ""}, WallTime(Duration(1)), WallTime(seconds(20)),
                             seconds(10), Aggregation::kSum);
  EXPECT_EQ(points.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(points.status().message(), HasSubstr("whole milliseconds"));
}

TEST(PrometheusStoreTest, ListSeriesMapsLabelsBackAndFilters) {
  FakePrometheus prom;
  prom.set_answer(R"({"status":"success","data":[
      {"__name__":"tidegate_cpu_ms","tenant":"a","class":"k","job":"x","instance":"1"},
      {"__name__":"tidegate_cpu_ms","tenant":"a","class":"k","job":"x","instance":"2"},
      {"__name__":"tidegate_requests","job":"x"},
      {"__name__":"up","job":"x"}]})");
  auto store = *PrometheusStore::Create({.base_url = prom.url()});
  auto keys = store->ListSeries({});
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(*keys, (std::vector<SeriesKey>{{"cpu_ms", "a", "k"}, {"requests", "", ""}}));
  EXPECT_THAT(prom.targets()[0], HasSubstr("match[]={__name__=~\"tidegate_.+\"}"));
  SeriesFilter filter;
  filter.metric = "cpu_ms";
  filter.tenant = "a";
  ASSERT_TRUE(store->ListSeries(filter).ok());
  EXPECT_THAT(prom.targets()[1], HasSubstr("match[]={__name__=\"tidegate_cpu_ms\",tenant=\"a\"}"));
}

TEST(PrometheusStoreTest, AppendStagesForScrapeAndValidates) {
  auto store = *PrometheusStore::Create({.base_url = "http://127.0.0.1:1"});
  SampleBatch batch;
  batch.Add({"cpu_ms", "a", ""}, WallTime(seconds(1'700'000'000)), 1);
  ASSERT_TRUE(store->Append(batch).ok());
  EXPECT_THAT(store->buffer()->Render(), HasSubstr("tidegate_cpu_ms{tenant=\"a\",class=\"\"} 1"));
  SampleBatch bad;
  bad.Add({"cpu_ms", "a", ""}, WallTime(seconds(1'700'000'000)), -1);
  EXPECT_EQ(store->Append(bad).code(), absl::StatusCode::kInvalidArgument);
}

TEST(PrometheusStoreTest, ServerDownIsUnavailable) {
  testing::TestHttpServer closed([](auto&, auto&, auto&) { return testing::TestHttpResponse{}; });
  const std::string url = closed.url();
  closed.Stop();  // Nothing listens on the port any more.
  auto store = *PrometheusStore::Create({.base_url = url, .timeout = seconds(2)});
  auto keys = store->ListSeries({});
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(keys.status().message(), HasSubstr("/api/v1/series"));
}

}  // namespace
}  // namespace tidegate::history
