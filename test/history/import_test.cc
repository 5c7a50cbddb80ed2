#include "tidegate/history/import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "tidegate/history/calendar.h"

namespace tidegate::history {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

// A store at the test's edge: records appended samples.
class MemoryStore : public HistoryStore {
 public:
  std::string_view name() const override { return "memory"; }
  absl::Status Append(const SampleBatch& batch) override {
    ++appends;
    for (const auto& e : batch.series) {
      for (const Sample& s : e.samples) data[e.series][s.time] = s.value;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<Point>> Query(const SeriesKey&, WallTime, WallTime, Duration,
                                           Aggregation) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<std::vector<SeriesKey>> ListSeries(const SeriesFilter&) override {
    return absl::UnimplementedError("");
  }
  absl::Status DeleteSeries(const SeriesKey&) override { return absl::OkStatus(); }
  absl::Status ApplyRetention(WallTime) override { return absl::OkStatus(); }

  std::map<SeriesKey, std::map<WallTime, double>> data;
  int appends = 0;
};

const WallTime kT0 = WallTime(seconds(1'700'000'000));

TEST(ImportFormatTest, NamesAndExtensions) {
  EXPECT_EQ(*ParseImportFormat("csv"), ImportFormat::kCsv);
  EXPECT_EQ(*ParseImportFormat("ndjson"), ImportFormat::kJsonLines);
  EXPECT_THAT(ParseImportFormat("xml").status().message(), HasSubstr("expected jsonl or csv"));
  EXPECT_EQ(*ImportFormatFromPath("/a.b/usage.csv"), ImportFormat::kCsv);
  EXPECT_EQ(*ImportFormatFromPath("usage.jsonl"), ImportFormat::kJsonLines);
  EXPECT_THAT(ImportFormatFromPath("/a.csv/usage").status().message(), HasSubstr("--format"));
}

TEST(UsageJsonTest, ParsesEveryField) {
  auto r = ParseUsageJson(
      R"({"timestamp":"2023-11-14T22:13:20.5Z","tenant":"acme","descriptors":{"class":"checkout","region":"eu"},
          "operation":"write","cpu_ms":1.5,"mem_bytes":2048,"io_read_bytes":1,"io_write_bytes":2,
          "net_in_bytes":3,"net_out_bytes":4,"latency_ms":12.5,"count":3,"id":"r1"})",
      "f:1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->timestamp, kT0 + std::chrono::milliseconds(500));
  EXPECT_EQ(r->tenant, "acme");
  // Order as written, not sorted.
  EXPECT_EQ(r->descriptors,
            (std::vector<DescriptorEntry>{{"class", "checkout"}, {"region", "eu"}}));
  EXPECT_EQ(r->cpu_ms, 1.5);
  EXPECT_EQ(r->mem_bytes, 2048);
  EXPECT_EQ(r->net_out_bytes, 4);
  EXPECT_EQ(r->latency_ms, 12.5);
  EXPECT_EQ(r->count, 3);
  EXPECT_EQ(r->id, "r1");
}

TEST(UsageJsonTest, DescriptorArraysAndNumericTimestamps) {
  auto r = ParseUsageJson(
      R"({"timestamp":1700000000,"descriptors":[{"key":"b","value":"1"},["a","2"]]})", "f:1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->timestamp, kT0);
  EXPECT_EQ(r->descriptors, (std::vector<DescriptorEntry>{{"b", "1"}, {"a", "2"}}));
  EXPECT_EQ(r->count, 1);  // Default.
  r = ParseUsageJson(R"({"timestamp":1700000000.25})", "f:1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->timestamp, kT0 + std::chrono::milliseconds(250));
}

TEST(UsageJsonTest, ErrorsNameTheLineAndField) {
  struct Case {
    std::string line;
    std::string message;
  };
  const Case cases[] = {
      {R"({"timestamp":"2023-11-14T22:13:20Z","cpu_ms":-1})",
       "f.jsonl:7: field \"cpu_ms\": expected a finite number >= 0, got -1"},
      {R"({"timestamp":"2023-11-14T22:13:20Z","cpu_ms":"3"})",
       "f.jsonl:7: field \"cpu_ms\": expected a number, got \"3\""},
      {R"({"cpu_ms":1})", "f.jsonl:7: missing field \"timestamp\""},
      // A number beyond a double (found by usage_import_fuzz: it used to escape as an exception).
      {R"({"timestamp":1,"cpu_ms":22E622222222322})",
       "f.jsonl:7: [json.exception.out_of_range.406]"},
      {R"({"timestamp":"yesterday"})", "f.jsonl:7: field \"timestamp\": timestamp \"yesterday\""},
      {R"({"timestamp":1,"cpu":1})", "f.jsonl:7: unknown field \"cpu\""},
      {R"({"timestamp":1,"count":1.5})", "f.jsonl:7: field \"count\": expected an integer >= 0"},
      {R"({"timestamp":1,"count":-2})", "f.jsonl:7: field \"count\": expected an integer >= 0"},
      {R"({"timestamp":1,"descriptors":{"class":3}})",
       "f.jsonl:7: field \"descriptors.class\": expected a string"},
      {R"({"timestamp":1,"descriptors":{"":"x"}})", "a descriptor key is empty"},
      {R"({"timestamp":1,"descriptors":{"op":"read"},"operation":"write"})",
       "contradicts operation"},
      {R"([1,2])", "f.jsonl:7: expected a JSON object per line, got array"},
      {R"({"timestamp":1,)", "f.jsonl:7: [json.exception.parse_error"},
  };
  for (const Case& c : cases) {
    auto r = ParseUsageJson(c.line, "f.jsonl:7");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.line;
    EXPECT_THAT(r.status().message(), HasSubstr(c.message)) << c.line;
  }
}

TEST(CsvTest, SplitsQuotedFields) {
  EXPECT_EQ(*SplitCsvLine("a,\"b,c\",\"d \"\"e\"\"\",,f"),
            (std::vector<std::string>{"a", "b,c", "d \"e\"", "", "f"}));
  EXPECT_EQ(*SplitCsvLine(""), (std::vector<std::string>{""}));
  EXPECT_THAT(SplitCsvLine("a,\"b").status().message(), HasSubstr("unterminated quote in field 2"));
  EXPECT_THAT(SplitCsvLine("\"a\"b").status().message(), HasSubstr("text after the closing quote"));
}

TEST(CsvTest, HeaderAndRows) {
  auto header = CsvUsageHeader::Parse(
      "timestamp, tenant,descriptor.class,descriptor.region,operation,cpu_ms,count", "u.csv:1");
  ASSERT_TRUE(header.ok()) << header.status();
  auto r = header->ParseRow("2023-11-14T22:13:20Z,acme,checkout,,write,2.5,", "u.csv:2");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->timestamp, kT0);
  EXPECT_EQ(r->descriptors,
            (std::vector<DescriptorEntry>{{"class", "checkout"}}));  // Empty: absent.
  EXPECT_EQ(r->operation, "write");
  EXPECT_EQ(r->cpu_ms, 2.5);
  EXPECT_EQ(r->count, 1);
  EXPECT_THAT(header->ParseRow("1700000000,acme,x,y,w,abc,1", "u.csv:3").status().message(),
              HasSubstr("u.csv:3: column \"cpu_ms\": expected a number, got \"abc\""));
  EXPECT_THAT(header->ParseRow("1700000000,acme,x,y,w,nan,1", "u.csv:3").status().message(),
              HasSubstr("expected a finite number >= 0"));
  EXPECT_THAT(header->ParseRow("1700000000,acme", "u.csv:4").status().message(),
              HasSubstr("u.csv:4: 2 fields, the header has 7"));
  EXPECT_THAT(header->ParseRow(",acme,x,y,w,1,1", "u.csv:5").status().message(),
              HasSubstr("column \"timestamp\": expected a timestamp"));
  EXPECT_THAT(header->ParseRow("1700000000,acme,x,y,w,1,-1", "u.csv:6").status().message(),
              HasSubstr("column \"count\": expected an integer >= 0"));
}

TEST(CsvTest, BadHeaders) {
  EXPECT_THAT(CsvUsageHeader::Parse("timestamp,cpu", "u.csv:1").status().message(),
              HasSubstr("u.csv:1: header: unknown column 2 \"cpu\""));
  EXPECT_THAT(CsvUsageHeader::Parse("timestamp,tenant,tenant", "u.csv:1").status().message(),
              HasSubstr("column 3 \"tenant\" appears twice"));
  EXPECT_THAT(CsvUsageHeader::Parse("tenant,cpu_ms", "u.csv:1").status().message(),
              HasSubstr("no \"timestamp\" column"));
}

TEST(ImportTest, AggregatesAFileIntoOneBatch) {
  std::istringstream in(
      "\xEF\xBB\xBF{\"timestamp\":1700000001,\"tenant\":\"a\",\"cpu_ms\":1}\r\n"
      "\n"
      "{\"timestamp\":1700000009,\"tenant\":\"a\",\"cpu_ms\":2,\"count\":2}\n"
      "{\"timestamp\":1700000010,\"tenant\":\"a\",\"cpu_ms\":4}\n"
      "{\"timestamp\":1700000011,\"tenant\":\"a\",\"cpu_ms\":4,\"id\":\"x\"}\n"
      "{\"timestamp\":1700000012,\"tenant\":\"a\",\"cpu_ms\":4,\"id\":\"x\"}\n");
  MemoryStore store;
  std::vector<std::pair<uint64_t, uint64_t>> progress;
  ImportOptions options;
  options.progress = [&](uint64_t done, uint64_t total) { progress.push_back({done, total}); };
  auto summary = ImportUsageLog(in, "u.jsonl", 1000, store, options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->lines, 6u);
  EXPECT_EQ(summary->reports, 5u);
  EXPECT_EQ(summary->samples, 16u);  // 2 buckets x 8 metrics.
  EXPECT_EQ(summary->first, kT0 + seconds(1));
  EXPECT_EQ(summary->last, kT0 + seconds(12));
  EXPECT_EQ(store.appends, 1);
  const SeriesKey cpu{"cpu_ms", "a", ""};
  EXPECT_EQ(store.data[cpu][kT0], 3);
  EXPECT_EQ(store.data[cpu][kT0 + seconds(10)], 8);  // The duplicate id counted once.
  EXPECT_EQ((store.data[SeriesKey{"requests", "a", ""}][kT0]), 3);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().second, 1000u);
}

TEST(ImportTest, AMalformedLineRejectsTheWholeFile) {
  std::istringstream in(
      "timestamp,tenant,cpu_ms\n"
      "1700000001,a,1\n"
      "1700000002,a,1\n"
      "1700000003,a,oops\n"
      "1700000004,a,1\n");
  MemoryStore store;
  auto summary = ImportUsageLog(in, "usage.csv", 0, store, {.format = ImportFormat::kCsv});
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(summary.status().message(),
              HasSubstr("usage.csv:4: column \"cpu_ms\": expected a number, got \"oops\""));
  EXPECT_EQ(store.appends, 0);
  EXPECT_TRUE(store.data.empty());
}

TEST(ImportTest, CsvWithoutRowsAndMissingFiles) {
  std::istringstream header_only("timestamp,cpu_ms\n");
  MemoryStore store;
  auto summary = ImportUsageLog(header_only, "h.csv", 0, store, {.format = ImportFormat::kCsv});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->reports, 0u);
  auto missing = ImportUsageFile("/nonexistent/usage.jsonl", store, {});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("cannot open /nonexistent/usage.jsonl"));
}

}  // namespace
}  // namespace tidegate::history
