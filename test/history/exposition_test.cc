#include "tidegate/history/exposition.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace tidegate::history {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

TEST(ExpositionTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapeLabelValue("plain = ,{}"), "plain = ,{}");
  EXPECT_EQ(EscapeHelp("line1\nback\\slash \"quoted\""), "line1\\nback\\\\slash \"quoted\"");
}

TEST(ExpositionTest, ValuesRoundTripAndSpecials) {
  EXPECT_EQ(FormatExpositionValue(1.5), "1.5");
  EXPECT_EQ(FormatExpositionValue(0.1), "0.1");
  EXPECT_EQ(FormatExpositionValue(1e21), "1e+21");
  EXPECT_EQ(std::stod(FormatExpositionValue(1.0 / 3.0)), 1.0 / 3.0);
  EXPECT_EQ(FormatExpositionValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatExpositionValue(HUGE_VAL), "+Inf");
  EXPECT_EQ(FormatExpositionValue(-HUGE_VAL), "-Inf");
}

TEST(ExpositionTest, EncodesFamiliesWithTypeHelpAndTimestamps) {
  ExpositionFamily f;
  f.name = "tidegate_cpu_ms";
  f.help = "CPU ms per bucket";
  f.samples.push_back({"tidegate_cpu_ms",
                       {{"tenant", "a"}, {"class", "x=\"1\""}},
                       2.5,
                       WallTime(milliseconds(1'700'000'000'123))});
  f.samples.push_back({"tidegate_cpu_ms", {}, 3, std::nullopt});
  EXPECT_EQ(EncodeExposition({f}),
            "# HELP tidegate_cpu_ms CPU ms per bucket\n"
            "# TYPE tidegate_cpu_ms gauge\n"
            "tidegate_cpu_ms{tenant=\"a\",class=\"x=\\\"1\\\"\"} 2.5 1700000000123\n"
            "tidegate_cpu_ms 3\n");
}

TEST(ExpositionTest, TimestampsFloorToMillisecondsAlsoBeforeTheEpoch) {
  ExpositionFamily f{"m", "", "gauge", {}};
  f.samples.push_back({"m", {}, 1, WallTime(Duration(1'999'999))});
  f.samples.push_back({"m", {}, 1, WallTime(Duration(-1))});
  EXPECT_EQ(EncodeExposition({f}), "# TYPE m gauge\nm 1 1\nm 1 -1\n");
}

SampleBatch Batch(const SeriesKey& key, std::vector<std::pair<int, double>> samples) {
  SampleBatch b;
  for (auto [s, v] : samples) b.Add(key, WallTime(seconds(1'700'000'000 + s)), v);
  return b;
}

TEST(ExpositionBufferTest, RendersStagedSamplesInTimeOrderPerSeries) {
  ExpositionBuffer buffer;
  const SeriesKey cpu{"cpu_ms", "acme", "class=checkout"};
  const SeriesKey req{"requests", "", ""};
  ASSERT_TRUE(buffer.Add(Batch(cpu, {{20, 2}, {10, 1}})).ok());
  ASSERT_TRUE(buffer.Add(Batch(req, {{10, 5}})).ok());
  EXPECT_EQ(buffer.Render(),
            "# TYPE tidegate_cpu_ms gauge\n"
            "tidegate_cpu_ms{tenant=\"acme\",class=\"class=checkout\"} 1 1700000010000\n"
            "tidegate_cpu_ms{tenant=\"acme\",class=\"class=checkout\"} 2 1700000020000\n"
            "# TYPE tidegate_requests gauge\n"
            "tidegate_requests{tenant=\"\",class=\"\"} 5 1700000010000\n");
  buffer.Remove(cpu);
  EXPECT_EQ(buffer.SampleCount(), 1u);
}

TEST(ExpositionBufferTest, DuplicateRule) {
  ExpositionBuffer buffer;
  const SeriesKey cpu{"cpu_ms", "acme", ""};
  ASSERT_TRUE(buffer.Add(Batch(cpu, {{10, 1}})).ok());
  EXPECT_TRUE(buffer.Add(Batch(cpu, {{10, 1}, {20, 2}})).ok());  // Equal value: ignored.
  absl::Status conflict = buffer.Add(Batch(cpu, {{30, 3}, {10, 9}}));
  EXPECT_EQ(conflict.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(conflict.message(), HasSubstr("value 9 conflicts with 1"));
  EXPECT_EQ(buffer.SampleCount(), 2u);  // Nothing of the rejected batch (t=30) was staged.
  // Within one batch, across two entries of the same series.
  SampleBatch twice = Batch(cpu, {{40, 1}});
  twice.series.push_back({cpu, {Sample{WallTime(seconds(1'700'000'040)), 2}}});
  EXPECT_EQ(buffer.Add(twice).code(), absl::StatusCode::kAlreadyExists);
}

TEST(ExpositionBufferTest, KeepsOnlyTheWindowAndTheCount) {
  ExpositionBuffer buffer({.prefix = "p_", .max_samples_per_series = 3, .window = seconds(100)});
  const SeriesKey key{"m", "", ""};
  ASSERT_TRUE(buffer.Add(Batch(key, {{0, 1}, {50, 1}, {60, 1}, {70, 1}})).ok());
  EXPECT_EQ(buffer.SampleCount(), 3u);  // Count limit drops t=0.
  ASSERT_TRUE(buffer.Add(Batch(key, {{165, 1}})).ok());
  EXPECT_EQ(buffer.SampleCount(), 2u);  // Window [65, 165]: 50 and 60 dropped.
  EXPECT_THAT(buffer.Render(), HasSubstr("p_m{"));
}

TEST(ExpositionBufferTest, CountsWhatNoRenderIncluded) {
  ExpositionBuffer buffer({.prefix = "p_", .max_samples_per_series = 3, .window = seconds(100)});
  const SeriesKey a{"a", "t", ""};
  const SeriesKey b{"b", "t", ""};
  ASSERT_TRUE(buffer.Add(Batch(a, {{0, 1}, {10, 2}})).ok());
  EXPECT_EQ(buffer.UnrenderedCount(), 2u);
  (void)buffer.Render();  // A scrape: a's samples up to t=10 are rendered.
  EXPECT_EQ(buffer.UnrenderedCount(), 0u);
  ASSERT_TRUE(buffer.Add(Batch(a, {{20, 3}})).ok());
  ASSERT_TRUE(buffer.Add(Batch(b, {{20, 4}})).ok());
  EXPECT_EQ(buffer.UnrenderedCount(), 2u);
  const SampleBatch pending = buffer.Unrendered();
  ASSERT_EQ(pending.series.size(), 2u);
  EXPECT_EQ(pending.series[0].series, a);
  ASSERT_EQ(pending.series[0].samples.size(), 1u);
  EXPECT_EQ(pending.series[0].samples[0].value, 3);
  EXPECT_EQ(pending.series[1].series, b);
  // Trimming rendered samples is not a loss; trimming unrendered ones is counted.
  ASSERT_TRUE(buffer.Add(Batch(a, {{30, 5}})).ok());  // Count 3: t=0 (rendered) goes.
  EXPECT_EQ(buffer.dropped_unrendered(), 0u);
  ASSERT_TRUE(buffer.Add(Batch(b, {{200, 6}})).ok());  // Window: b's t=20 (never rendered) goes.
  EXPECT_EQ(buffer.dropped_unrendered(), 1u);
  buffer.Remove(a);
  EXPECT_EQ(buffer.UnrenderedCount(), 1u);  // b at 200.
}

}  // namespace
}  // namespace tidegate::history
