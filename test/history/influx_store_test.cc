// Unit tests of the InfluxDB backend's encodings and JSON parsing (no server). The round trip
// against a real InfluxDB is test/integration/remote_store_test.cc.
#include "tidegate/history/influx_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "history/http_test_server.h"

namespace tidegate::history {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

TEST(InfluxEncodingTest, EscapesMeasurementAndTags) {
  EXPECT_EQ(EscapeMeasurement("cpu ms,x=y"), "cpu\\ ms\\,x=y");
  EXPECT_EQ(EscapeTag("a b,c=d\\e"), "a\\ b\\,c\\=d\\e");
  EXPECT_EQ(InfluxQlIdentifier("we\"ird\\"), "\"we\\\"ird\\\\\"");
  EXPECT_EQ(InfluxQlString("it's a\\b"), "'it\\'s a\\\\b'");
}

TEST(InfluxEncodingTest, LineProtocolSortsTagsOmitsEmptyOnesAndWritesFloats) {
  SampleBatch batch;
  batch.Add({"cpu_ms", "acme", "class=checkout,op=write"}, WallTime(seconds(1'700'000'000)), 12.5);
  batch.Add({"cpu_ms", "acme", "class=checkout,op=write"}, WallTime(Duration(7)), 3);
  batch.Add({"requests", "", ""}, WallTime(Duration(-5)), 1e300);
  absl::StatusOr<std::string> lines = EncodeLineProtocol(batch);
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_EQ(*lines,
            "cpu_ms,class=class\\=checkout\\,op\\=write,tenant=acme value=12.5 "
            "1700000000000000000\n"
            "cpu_ms,class=class\\=checkout\\,op\\=write,tenant=acme value=3.0 7\n"
            "requests value=1e+300 -5\n");
}

TEST(InfluxEncodingTest, RejectsUnrepresentableTags) {
  SampleBatch batch;
  batch.Add({"cpu_ms", "line\nbreak", ""}, WallTime(seconds(1)), 1);
  absl::StatusOr<std::string> lines = EncodeLineProtocol(batch);
  EXPECT_EQ(lines.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(lines.status().message(), HasSubstr("tenant contains a newline"));
  for (const std::string bad : {"ends\\", "a\\,b", "a\\\\\\=b", "a\\ b"}) {
    SampleBatch b;
    b.Add({"cpu_ms", "", bad}, WallTime(seconds(1)), 1);
    EXPECT_THAT(EncodeLineProtocol(b).status().message(),
                HasSubstr("class has an odd run of backslashes"))
        << bad;
  }
  for (const std::string good : {"a\\b", "a\\\\,b", "x\\\\"}) {
    SampleBatch b;
    b.Add({"cpu_ms", "", good}, WallTime(seconds(1)), 1);
    EXPECT_TRUE(EncodeLineProtocol(b).ok()) << good;
  }
}

TEST(InfluxEncodingTest, ParsesShowSeriesKeys) {
  absl::StatusOr<SeriesKey> key =
      ParseInfluxSeriesKey("cpu_ms,class=class\\=checkout\\,op\\=write,tenant=a\\ b");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, (SeriesKey{"cpu_ms", "a b", "class=checkout,op=write"}));
  EXPECT_EQ(*ParseInfluxSeriesKey("requests"), (SeriesKey{"requests", "", ""}));
  EXPECT_THAT(ParseInfluxSeriesKey("m,host=x").status().message(),
              HasSubstr("unexpected tag \"host\""));
  EXPECT_THAT(ParseInfluxSeriesKey("m,tenant").status().message(), HasSubstr("has no '='"));
  // What InfluxDB 1.6 printed for values written as a\b, c\\\,d, e\\f (recorded).
  EXPECT_EQ(ParseInfluxSeriesKey("m,tenant=a\\b")->tenant, "a\\b");
  EXPECT_EQ(ParseInfluxSeriesKey("m,tenant=c\\\\\\,d")->tenant, "c\\\\,d");
  EXPECT_EQ(ParseInfluxSeriesKey("m,tenant=e\\\\f")->tenant, "e\\\\f");
  // Round trip through the encoder.
  for (const SeriesKey& odd :
       {SeriesKey{"m", "x,y=z w", "k=v,a\\b"}, SeriesKey{"m", "a\\\\,b", "c\\\\"}}) {
    SampleBatch b;
    b.Add(odd, WallTime(seconds(1)), 1);
    std::string line = *EncodeLineProtocol(b);
    line = line.substr(0, line.find(" value="));
    EXPECT_EQ(*ParseInfluxSeriesKey(line), odd) << line;
  }
}

TEST(InfluxParseTest, PointsAndErrors) {
  const std::string ok = R"({"results":[{"statement_id":0,"series":[{"name":"cpu_ms",
      "columns":["time","sum"],"values":[[20,2.5],[10,1],[30,null]]}]}]})";
  absl::StatusOr<std::vector<Point>> points = ParseInfluxPoints(ok, 0);
  ASSERT_TRUE(points.ok()) << points.status();
  EXPECT_EQ(*points,
            (std::vector<Point>{{WallTime(Duration(10)), 1}, {WallTime(Duration(20)), 2.5}}));
  EXPECT_TRUE(ParseInfluxPoints(R"({"results":[{"statement_id":0}]})", 0)->empty());
  auto err =
      ParseInfluxPoints(R"({"results":[{"statement_id":0,"error":"database not found: x"}]})", 0);
  EXPECT_EQ(err.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(err.status().message(), HasSubstr("database not found: x"));
  err = ParseInfluxPoints(R"({"error":"error parsing query"})", 0);
  EXPECT_THAT(err.status().message(), HasSubstr("error parsing query"));
  err = ParseInfluxPoints("<html>", 0);
  EXPECT_EQ(err.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(err.status().message(), HasSubstr("not a JSON object"));
  err = ParseInfluxPoints(R"({"results":[]})", 0);
  EXPECT_THAT(err.status().message(), HasSubstr("no results[0]"));
  err = ParseInfluxPoints(R"({"results":[{"series":[{"values":[["x",1]]}]}]})", 0);
  EXPECT_THAT(err.status().message(), HasSubstr("not [<ns>, <value>]"));
}

TEST(InfluxStoreTest, SendsInfluxQlAndLineProtocolToTheRightEndpoints) {
  std::vector<std::string> seen;
  testing::TestHttpServer server([&](const std::string& method, const std::string& target,
                                     const std::string& body) -> testing::TestHttpResponse {
    seen.push_back(method + " " + target + " " + body);
    if (target.rfind("/write", 0) == 0) return {204, "", "text/plain"};
    return {200, R"({"results":[{"statement_id":0}]})", "application/json"};
  });
  ASSERT_TRUE(server.ok());
  auto store = InfluxStore::Create({.base_url = server.url(), .database = "db 1"});
  ASSERT_TRUE(store.ok()) << store.status();
  SampleBatch batch;
  batch.Add({"cpu_ms", "a", ""}, WallTime(seconds(1)), 2);
  ASSERT_TRUE((*store)->Append(batch).ok());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], "POST /query db=db%201&epoch=ns&q=CREATE%20DATABASE%20%22db%201%22");
  EXPECT_THAT(seen[1], HasSubstr("q=SELECT%20%22value%22%20FROM%20%22cpu_ms%22"));
  EXPECT_EQ(seen[2], "POST /write?db=db%201&precision=ns cpu_ms,tenant=a value=2.0 1000000000\n");
}

TEST(InfluxStoreTest, HungServerGivesDeadlineExceededWithinTheTimeout) {
  testing::TestHttpServer silent([](auto&, auto&, auto&) { return testing::TestHttpResponse{}; },
                                 /*silent=*/true);
  ASSERT_TRUE(silent.ok());
  auto store = InfluxStore::Create({.base_url = silent.url(),
                                    .timeout = std::chrono::milliseconds(300),
                                    .create_database = false});
  ASSERT_TRUE(store.ok()) << store.status();
  SampleBatch batch;
  batch.Add({"cpu_ms", "a", ""}, WallTime(seconds(1)), 2);
  const absl::Status s = (*store)->Append(batch);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_THAT(s.message(), HasSubstr("timed out after 300 ms"));
  // Create with create_database contacts the server and reports the same.
  auto created =
      InfluxStore::Create({.base_url = silent.url(), .timeout = std::chrono::milliseconds(300)});
  EXPECT_EQ(created.status().code(), absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace tidegate::history
