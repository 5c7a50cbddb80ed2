// Unit tests of the HistoryStore interface helpers: key encoding, validation, names, alignment.
#include "tidegate/history/history_store.h"

#include <cmath>
#include <limits>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tidegate::history {
namespace {

using ::testing::HasSubstr;

WallTime Sec(int64_t s) { return WallTime(std::chrono::seconds(s)); }

TEST(SeriesKeyTest, CanonicalFormIsPrometheusLike) {
  SeriesKey key{"cpu_ms", "acme", "class=checkout,op=write"};
  EXPECT_EQ(key.ToString(), R"(cpu_ms{tenant="acme",class="class=checkout,op=write"})");
}

TEST(SeriesKeyTest, RoundTripsWithEscapes) {
  for (const SeriesKey& key :
       {SeriesKey{"requests", "", ""}, SeriesKey{"mem_bytes", "a\"b\\c", "x\ny"},
        SeriesKey{"_x9", "t,}{", "class=\"q\""}}) {
    absl::StatusOr<SeriesKey> parsed = SeriesKey::Parse(key.ToString());
    ASSERT_TRUE(parsed.ok()) << parsed.status() << " for " << key.ToString();
    EXPECT_EQ(*parsed, key);
  }
}

TEST(SeriesKeyTest, DistinctKeysHaveDistinctForms) {
  // A naive join would make these two collide.
  SeriesKey a{"m", "a\",class=\"b", ""};
  SeriesKey b{"m", "a", "b\",class=\""};
  EXPECT_NE(a.ToString(), b.ToString());
}

TEST(SeriesKeyTest, ParseRejectsMalformedText) {
  EXPECT_THAT(SeriesKey::Parse("cpu_ms").status().message(), HasSubstr("expected '{'"));
  EXPECT_THAT(SeriesKey::Parse("cpu_ms{tenant=\"a\"}").status().message(),
              HasSubstr("expected ','"));
  EXPECT_THAT(SeriesKey::Parse("cpu_ms{tenant=\"a\",klass=\"b\"}").status().message(),
              HasSubstr("expected class=\"...\""));
  EXPECT_THAT(SeriesKey::Parse("cpu_ms{tenant=\"a\",class=\"b").status().message(),
              HasSubstr("unterminated class"));
  EXPECT_THAT(SeriesKey::Parse("cpu_ms{tenant=\"a\\q\",class=\"b\"}").status().message(),
              HasSubstr("unknown escape"));
  EXPECT_THAT(SeriesKey::Parse("cpu_ms{tenant=\"a\nb\",class=\"b\"}").status().message(),
              HasSubstr("unescaped newline in tenant"));
  EXPECT_EQ(SeriesKey::Parse("Cpu{tenant=\"\",class=\"\"}").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Property: Parse(ToString(k)) == k for random labels drawn from an alphabet heavy in the
// characters the encoding escapes; and Parse never fails unsafely on arbitrary text (it returns
// OK or InvalidArgument; ASan/UBSan watch the rest).
TEST(SeriesKeyTest, RandomRoundTripAndArbitraryInput) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  const std::string alphabet = "ab\\\"\n{},=_9 \x01\xff";
  auto random_text = [&](size_t max_len) {
    std::string out(rng() % (max_len + 1), ' ');
    for (char& c : out) c = alphabet[rng() % alphabet.size()];
    return out;
  };
  for (int i = 0; i < 2000; ++i) {
    SeriesKey key{"m_" + std::to_string(rng() % 100), random_text(12), random_text(12)};
    absl::StatusOr<SeriesKey> parsed = SeriesKey::Parse(key.ToString());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, key);
  }
  for (int i = 0; i < 2000; ++i) {
    std::string text = random_text(40);
    switch (rng() % 3) {
      case 0:
        text = "cpu_ms{tenant=\"" + text;
        break;
      case 1:
        text = "cpu_ms{tenant=\"" + random_text(6) + "\",class=\"" + random_text(6) + "\"}";
        break;
      default:
        break;
    }
    absl::StatusOr<SeriesKey> parsed = SeriesKey::Parse(text);
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    } else {
      EXPECT_EQ(parsed->ToString(), text);  // Whatever parses is canonical.
    }
  }
}

TEST(SeriesKeyTest, ValidateNamesTheField) {
  EXPECT_TRUE(ValidateSeriesKey({"io_read_bytes", "t", "c"}).ok());
  EXPECT_THAT(ValidateSeriesKey({"", "t", "c"}).message(), HasSubstr("metric name is empty"));
  EXPECT_THAT(ValidateSeriesKey({"9a", "t", "c"}).message(), HasSubstr("must start with"));
  EXPECT_THAT(ValidateSeriesKey({"cpu-ms", "t", "c"}).message(), HasSubstr("offset 3"));
  EXPECT_THAT(ValidateSeriesKey({"m", std::string(kMaxLabelLength + 1, 'x'), ""}).message(),
              HasSubstr("tenant is 1025 bytes"));
  EXPECT_THAT(ValidateSeriesKey({"m", "", std::string(kMaxLabelLength + 1, 'x')}).message(),
              HasSubstr("class is 1025 bytes"));
}

TEST(ValidateBatchTest, RejectsNanInfinityNegativeNamingSeriesAndTime) {
  const SeriesKey key{"cpu_ms", "acme", "c"};
  struct Case {
    double value;
    const char* problem;
  };
  for (const Case& c :
       {Case{std::nan(""), "NaN"}, Case{std::numeric_limits<double>::infinity(), "infinite"},
        Case{-1.0, "negative"}}) {
    SampleBatch batch;
    batch.Add(key, Sec(1'700'000'000), 1.0);
    batch.Add(key, Sec(1'700'000'010), c.value);
    absl::Status s = ValidateBatch(batch);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr(key.ToString()));
    EXPECT_THAT(s.message(), HasSubstr("2023-11-14T22:13:30Z"));
    EXPECT_THAT(s.message(), HasSubstr(c.problem));
  }
}

TEST(ValidateBatchTest, AcceptsZeroAndOutOfOrder) {
  SampleBatch batch;
  const SeriesKey key{"requests", "", ""};
  batch.Add(key, Sec(20), 0.0);
  batch.Add(key, Sec(10), 5.0);
  EXPECT_TRUE(ValidateBatch(batch).ok());
  EXPECT_EQ(batch.SampleCount(), 2u);
  EXPECT_EQ(batch.series.size(), 1u);
}

TEST(ValidateBatchTest, RejectsBadKey) {
  SampleBatch batch;
  batch.Add({"Bad", "", ""}, Sec(1), 1);
  EXPECT_THAT(ValidateBatch(batch).message(), HasSubstr("must start with"));
}

TEST(NamesTest, AggregationRoundTrip) {
  for (Aggregation a : {Aggregation::kSum, Aggregation::kMean, Aggregation::kMin, Aggregation::kMax,
                        Aggregation::kCount, Aggregation::kLast}) {
    EXPECT_EQ(*ParseAggregation(AggregationName(a)), a);
  }
  EXPECT_THAT(ParseAggregation("avg").status().message(), HasSubstr("unknown aggregation 'avg'"));
}

TEST(NamesTest, Resolutions) {
  EXPECT_EQ(ResolutionName(Resolution::kOneHour), "1h");
  EXPECT_EQ(ResolutionStep(Resolution::kRaw), Duration::zero());
  EXPECT_EQ(ResolutionStep(Resolution::kOneMinute), std::chrono::minutes(1));
}

TEST(TimeTest, FormatWallTime) {
  EXPECT_EQ(FormatWallTime(Sec(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatWallTime(Sec(1) + std::chrono::nanoseconds(250)),
            "1970-01-01T00:00:01.000000250Z");
  EXPECT_EQ(FormatWallTime(WallTime(std::chrono::nanoseconds(-1))),
            "1969-12-31T23:59:59.999999999Z");
}

TEST(TimeTest, AlignDownFloorsIncludingNegative) {
  EXPECT_EQ(AlignDown(Sec(125), std::chrono::minutes(1)), Sec(120));
  EXPECT_EQ(AlignDown(Sec(120), std::chrono::minutes(1)), Sec(120));
  EXPECT_EQ(AlignDown(Sec(-1), std::chrono::minutes(1)), Sec(-60));
  EXPECT_EQ(AlignDown(Sec(-60), std::chrono::minutes(1)), Sec(-60));
}

TEST(TimeTest, ValidateQueryRange) {
  EXPECT_TRUE(ValidateQueryRange(Sec(0), Sec(1), std::chrono::seconds(1)).ok());
  EXPECT_THAT(ValidateQueryRange(Sec(0), Sec(1), Duration::zero()).message(),
              HasSubstr("step must be > 0"));
  EXPECT_THAT(ValidateQueryRange(Sec(1), Sec(1), std::chrono::seconds(1)).message(),
              HasSubstr("must be before end"));
}

TEST(SeriesFilterTest, MatchesSetFieldsOnly) {
  SeriesFilter f;
  EXPECT_TRUE(f.Matches({"a", "b", "c"}));
  f.tenant = "b";
  EXPECT_TRUE(f.Matches({"a", "b", "c"}));
  EXPECT_FALSE(f.Matches({"a", "x", "c"}));
  f.metric = "z";
  EXPECT_FALSE(f.Matches({"a", "b", "c"}));
}

}  // namespace
}  // namespace tidegate::history
