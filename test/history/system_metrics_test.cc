#include "tidegate/history/system_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace tidegate::history {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

// Recorded from a 2-CPU Debian 12 VM (kernel 6.1), trimmed.
constexpr std::string_view kStat1 =
    "cpu  31975 0 18884 68469 866 0 531 0 0 0\n"
    "cpu0 13995 0 8045 38033 117 0 120 0 0 0\n"
    "intr 1 2 3\n";
constexpr std::string_view kStat2 =
    "cpu  32075 0 18934 68569 916 0 531 0 0 0\n"
    "cpu0 14045 0 8070 38083 142 0 120 0 0 0\n";
constexpr std::string_view kPressure1 =
    "some avg10=0.00 avg60=0.00 avg300=0.00 total=1000000\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=400000\n";
constexpr std::string_view kPressure2 =
    "some avg10=1.20 avg60=0.30 avg300=0.10 total=1250000\n"
    "full avg10=0.50 avg60=0.10 avg300=0.00 total=500000\n";
constexpr std::string_view kMeminfo =
    "MemTotal:        8000000 kB\n"
    "MemFree:         1000000 kB\n"
    "MemAvailable:    6000000 kB\n"
    "Buffers:           10000 kB\n";
constexpr std::string_view kDiskstats1 =
    "   7       0 loop0 100 0 800 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    " 254       0 vda 5000 10 200000 100 3000 20 100000 300 0 500 400 0 0 0 0 0 0\n"
    " 254       1 vda1 4900 10 199000 100 2900 20 99000 300 0 500 400 0 0 0 0 0 0\n"
    " 259       0 nvme0n1 10 0 1000 1 10 0 2000 1 0 1 1\n"
    " 259       1 nvme0n1p1 10 0 1000 1 10 0 2000 1 0 1 1\n"
    " 253       0 dm-0 10 0 9999 1 10 0 9999 1 0 1 1\n";
constexpr std::string_view kDiskstats2 =
    " 254       0 vda 5100 10 200400 100 3100 20 102000 300 0 500 400 0 0 0 0 0 0\n"
    " 259       0 nvme0n1 10 0 1000 1 10 0 2000 1 0 1 1\n";
constexpr std::string_view kNetDev1 =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo:   28447     291    0    0    0     0          0         0    28447     291    0    "
    "0    0     0       0          0\n"
    "  eth0: 572627878   18309    0    0    0     0          0         0   553915    6958    0    "
    "0    0     0       0          0\n"
    "  eth1:      100       1    0    0    0     0          0         0      200       2    0    "
    "0    0     0       0          0\n";
constexpr std::string_view kNetDev2 =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo: 9999999     291    0    0    0     0          0         0  9999999     291    0    "
    "0    0     0       0          0\n"
    "  eth0: 572637878   18309    0    0    0     0          0         0   558915    6958    0    "
    "0    0     0       0          0\n"
    "  eth1:      100       1    0    0    0     0          0         0      200       2    0    "
    "0    0     0       0          0\n";

TEST(ProcParseTest, Stat) {
  auto a = ParseProcStat(kStat1);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->total, 31975u + 18884 + 68469 + 866 + 531);
  EXPECT_EQ(a->idle, 68469u + 866);
  auto b = ParseProcStat(kStat2);
  ASSERT_TRUE(b.ok());
  // Deltas: user 100, system 50, idle 100, iowait 50: busy 150 of 300.
  EXPECT_DOUBLE_EQ(*CpuUtilisation(*a, *b), 0.5);
  EXPECT_FALSE(CpuUtilisation(*b, *a).has_value());  // Backwards.
  EXPECT_FALSE(CpuUtilisation(*a, *a).has_value());  // No time passed.
  EXPECT_THAT(ParseProcStat("cpu0 1 2 3 4\n").status().message(), HasSubstr("no \"cpu \" line"));
  EXPECT_THAT(ParseProcStat("cpu  1 x 3 4\n").status().message(),
              HasSubstr("cpu field 2 is \"x\""));
  EXPECT_THAT(ParseProcStat("cpu  1 2\n").status().message(), HasSubstr("3 fields"));
}

TEST(ProcParseTest, PressureAndMeminfo) {
  auto p = ParsePressure(kPressure2);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->some_total_us, 1250000u);
  EXPECT_EQ(p->full_total_us, 500000u);
  EXPECT_THAT(ParsePressure("some avg10=0 total=abc\n").status().message(), HasSubstr("bad total"));
  EXPECT_THAT(ParsePressure("").status().message(), HasSubstr("no \"some"));
  auto m = ParseMeminfo(kMeminfo);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->total_bytes, uint64_t{8000000} * 1024);
  EXPECT_DOUBLE_EQ(m->UsedRatio(), 0.25);
  EXPECT_THAT(ParseMeminfo("MemTotal: 10 kB\n").status().message(),
              HasSubstr("MemAvailable missing"));
}

TEST(ProcParseTest, DiskstatsCountsWholeDisksOnce) {
  auto d = ParseDiskstats(kDiskstats1);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->read_bytes, (200000u + 1000) * 512);
  EXPECT_EQ(d->write_bytes, (100000u + 2000) * 512);
  EXPECT_TRUE(IsWholeDisk("sda"));
  EXPECT_TRUE(IsWholeDisk("xvdb"));
  EXPECT_TRUE(IsWholeDisk("mmcblk0"));
  EXPECT_FALSE(IsWholeDisk("sda2"));
  EXPECT_FALSE(IsWholeDisk("mmcblk0p1"));
  EXPECT_FALSE(IsWholeDisk("md127"));
  EXPECT_FALSE(IsWholeDisk("zram0"));
  EXPECT_THAT(ParseDiskstats("8 0 sda 1 2\n").status().message(),
              HasSubstr("line 1: 5 fields, expected at least 10"));
}

TEST(ProcParseTest, NetDevSkipsLoopback) {
  auto n = ParseNetDev(kNetDev1);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->rx_bytes, 572627878u + 100);
  EXPECT_EQ(n->tx_bytes, 553915u + 200);
  EXPECT_THAT(ParseNetDev("h1\nh2\n eth0: 1 2 3\n").status().message(),
              HasSubstr("line 3: malformed counters for eth0"));
}

class MemoryStore : public HistoryStore {
 public:
  std::string_view name() const override { return "memory"; }
  absl::Status Append(const SampleBatch& batch) override {
    for (const auto& e : batch.series) {
      for (const Sample& s : e.samples) data[e.series.metric].push_back(s);
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
  std::map<std::string, std::vector<Sample>> data;
};

// A fake /proc in a temporary directory.
class FakeProc {
 public:
  FakeProc() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tidegate_proc_XXXXXX").string();
    root_ = mkdtemp(tmpl.data());
    std::filesystem::create_directories(root_ + "/net");
    std::filesystem::create_directories(root_ + "/pressure");
  }
  ~FakeProc() { std::filesystem::remove_all(root_); }
  void Write(const std::string& file, std::string_view text) {
    std::ofstream(root_ + "/" + file, std::ios::trunc) << text;
  }
  void Remove(const std::string& file) { std::filesystem::remove(root_ + "/" + file); }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

TEST(SystemMetricsCollectorTest, RatesFromTwoReadingsOnSimulatedTime) {
  FakeProc proc;
  proc.Write("stat", kStat1);
  proc.Write("pressure/memory", kPressure1);
  proc.Write("meminfo", kMeminfo);
  proc.Write("diskstats", kDiskstats1);
  proc.Write("net/dev", kNetDev1);
  MemoryStore store;
  SimulatedClock clock;
  auto c = *SystemMetricsCollector::Create(store, clock,
                                           {.interval = seconds(2), .proc_root = proc.root()});
  ASSERT_TRUE(c->SampleAndStore().ok());
  EXPECT_EQ(store.data.size(), 1u);  // Only the memory level: rates need two readings.
  EXPECT_TRUE(c->has_psi());

  proc.Write("stat", kStat2);
  proc.Write("pressure/memory", kPressure2);
  proc.Write("diskstats", kDiskstats2);
  proc.Write("net/dev", kNetDev2);
  clock.Advance(seconds(2));
  ASSERT_TRUE(c->SampleAndStore().ok());
  auto last = [&](std::string_view m) {
    auto it = store.data.find(std::string(m));
    return it == store.data.end() ? -1.0 : it->second.back().value;
  };
  EXPECT_DOUBLE_EQ(last(kMetricSystemCpu), 0.5);
  EXPECT_DOUBLE_EQ(last(kMetricSystemMemPressure), 0.125);  // 0.25 s stalled in 2 s.
  EXPECT_DOUBLE_EQ(last(kMetricSystemMemUsed), 0.25);
  EXPECT_DOUBLE_EQ(last(kMetricSystemDiskRead), 400.0 * 512 / 2);
  EXPECT_DOUBLE_EQ(last(kMetricSystemDiskWrite), 2000.0 * 512 / 2);
  EXPECT_DOUBLE_EQ(last(kMetricSystemNetIn), 10000.0 / 2);  // lo ignored.
  EXPECT_DOUBLE_EQ(last(kMetricSystemNetOut), 5000.0 / 2);
  EXPECT_EQ(store.data[std::string(kMetricSystemCpu)].back().time, clock.WallNow());
}

TEST(SystemMetricsCollectorTest, FallsBackToMeminfoWithoutPsiAndSkipsBackwardCounters) {
  FakeProc proc;
  proc.Write("stat", kStat2);
  proc.Write("meminfo", kMeminfo);
  proc.Write("diskstats", kDiskstats2);
  proc.Write("net/dev", kNetDev2);
  MemoryStore store;
  SimulatedClock clock;
  auto c = *SystemMetricsCollector::Create(store, clock,
                                           {.interval = seconds(1), .proc_root = proc.root()});
  ASSERT_TRUE(c->SampleAndStore().ok());
  EXPECT_FALSE(c->has_psi());
  proc.Write("stat", kStat1);  // Went backwards: no CPU sample this interval.
  proc.Write("net/dev", kNetDev1);
  clock.Advance(seconds(1));
  ASSERT_TRUE(c->SampleAndStore().ok());
  EXPECT_EQ(store.data.count(std::string(kMetricSystemCpu)), 0u);
  EXPECT_EQ(store.data.count(std::string(kMetricSystemMemPressure)), 0u);
  EXPECT_EQ(store.data.count(std::string(kMetricSystemNetIn)), 0u);
  EXPECT_EQ(store.data[std::string(kMetricSystemMemUsed)].size(), 2u);
  EXPECT_DOUBLE_EQ(store.data[std::string(kMetricSystemDiskRead)].back().value, 0);
}

TEST(SystemMetricsCollectorTest, MissingFilesAreUnavailableAndBadOptionsInvalid) {
  FakeProc proc;
  MemoryStore store;
  SimulatedClock clock;
  auto c = *SystemMetricsCollector::Create(store, clock,
                                           {.interval = seconds(1), .proc_root = proc.root()});
  absl::Status s = c->SampleAndStore();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr(proc.root() + "/stat"));
  EXPECT_EQ(c->errors(), 1u);
  auto bad = SystemMetricsCollector::Create(store, clock, {.interval = seconds(0)});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("interval must be > 0"));
}

// On the machine the test runs on (Linux): the real /proc parses.
TEST(SystemMetricsCollectorTest, RealProcParses) {
  if (!std::filesystem::exists("/proc/stat")) GTEST_SKIP() << "no /proc";
  MemoryStore store;
  SimulatedClock clock;
  auto c = *SystemMetricsCollector::Create(store, clock);
  ASSERT_TRUE(c->SampleAndStore().ok());
  clock.Advance(seconds(1));
  ASSERT_TRUE(c->SampleAndStore().ok());
  EXPECT_EQ(store.data[std::string(kMetricSystemMemUsed)].size(), 2u);
  for (const auto& [metric, samples] : store.data) {
    for (const Sample& s : samples) EXPECT_GE(s.value, 0) << metric;
  }
}

TEST(SystemMetricsCollectorTest, StartStop) {
  FakeProc proc;
  proc.Write("stat", kStat1);
  proc.Write("meminfo", kMeminfo);
  proc.Write("diskstats", kDiskstats1);
  proc.Write("net/dev", kNetDev1);
  MemoryStore store;
  SimulatedClock clock;  // Never advances: the thread waits `interval` of real time per loop.
  auto c = *SystemMetricsCollector::Create(
      store, clock, {.interval = std::chrono::milliseconds(1), .proc_root = proc.root()});
  ASSERT_TRUE(c->Start().ok());
  EXPECT_EQ(c->Start().code(), absl::StatusCode::kFailedPrecondition);
  while (c->samples_taken() < 3) std::this_thread::yield();
  c->Stop();
  EXPECT_GE(c->samples_taken(), 3u);
}

}  // namespace
}  // namespace tidegate::history
