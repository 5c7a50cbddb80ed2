#include "tidegate/workload/usage_jsonl.h"

#include <gtest/gtest.h>

#include "tidegate/history/import.h"
#include "tidegate/workload/generator.h"

namespace tidegate::workload {
namespace {

// Every report the demo scenario generates reads back identically through the importer's parser.
TEST(UsageJsonlTest, GeneratedReportsRoundTripThroughTheImporter) {
  const WallTime start{std::chrono::nanoseconds(1'699'833'600'123'456'789)};
  const WorkloadSpec spec = DemoSpec(start, std::chrono::hours(6), 3);
  int checked = 0;
  auto truth = Generate(spec, [&](const std::vector<history::UsageReport>& batch) {
    for (const history::UsageReport& r : batch) {
      const std::string line = FormatUsageJsonLine(r);
      auto parsed = history::ParseUsageJson(line, "generated:1");
      EXPECT_TRUE(parsed.ok()) << parsed.status() << "\n" << line;
      if (!parsed.ok()) return parsed.status();
      EXPECT_EQ(*parsed, r) << line;
      ++checked;
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(truth.ok()) << truth.status();
  EXPECT_GT(checked, 1000);
}

TEST(UsageJsonlTest, OmitsDefaultsAndKeepsDescriptorOrder) {
  history::UsageReport r;
  r.tenant = "t";
  r.descriptors = {{"z", "1"}, {"a", "2"}};
  r.cpu_ms = 2.5;
  r.timestamp = WallTime(std::chrono::seconds(10));
  EXPECT_EQ(
      FormatUsageJsonLine(r),
      R"({"timestamp":"1970-01-01T00:00:10.000000000Z","tenant":"t","descriptors":[["z","1"],["a","2"]],"cpu_ms":2.5})");
}

}  // namespace
}  // namespace tidegate::workload
