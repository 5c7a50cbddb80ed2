// tidegate/history/system_metrics.h — a Linux system-metrics collector: CPU, memory pressure,
// disk and network throughput from /proc, sampled at an interval into a history store.
//
// Series written (tenant "", class ""), one sample per metric per interval, stamped with the wall
// time of the reading:
//   system_cpu_utilisation         busy share of all CPUs over the interval, [0, 1]
//   system_memory_pressure         PSI "some": share of the interval in which at least one task
//                                  stalled on memory, [0, 1] (only where /proc/pressure/memory
//                                  exists, Linux >= 4.20 with PSI enabled)
//   system_memory_used_ratio       1 - MemAvailable / MemTotal from /proc/meminfo, [0, 1] (always:
//                                  the fallback signal where PSI is missing, and a level where it
//                                  is not)
//   system_disk_read_bytes_per_s   bytes read per second, whole disks only
//   system_disk_write_bytes_per_s  bytes written per second, whole disks only
//   system_net_in_bytes_per_s      bytes received per second, all interfaces but loopback
//   system_net_out_bytes_per_s     bytes sent per second, all interfaces but loopback
//
// Algorithm: every metric but memory_used_ratio is a rate of a kernel counter, so it needs two
// readings: for counters c and readings at monotonic times t0 < t1,
//   rate = (c(t1) - c(t0)) / (t1 - t0),
//   cpu  = (busy(t1) - busy(t0)) / (total(t1) - total(t0)), busy = total - idle - iowait,
//   psi  = (some_total_us(t1) - some_total_us(t0)) / (t1 - t0 in us), clamped to [0, 1].
// The first Sample() only records the baseline (memory_used_ratio is still written). A counter
// that goes backwards (device removed, wrap, reset) skips that metric for that interval.
// Disk sectors in /proc/diskstats are always 512 bytes. "Whole disks" are the devices that are not
// partitions (sda1, nvme0n1p1, mmcblk0p1, ...) nor virtual stacks over other disks (loop, ram,
// zram, dm-, md), so no byte is counted twice.
//
// Time: the collector takes a Clock (monotonic time for rates, wall time for sample stamps) and
// never reads the real clock itself; Start() runs a thread that waits `interval` between samples.
//
// Thread-safety: the parse functions are pure. A SystemMetricsCollector's Sample() and
// SampleAndStore() serialise on an internal mutex; Start/Stop must not race each other.
#ifndef TIDEGATE_HISTORY_SYSTEM_METRICS_H_
#define TIDEGATE_HISTORY_SYSTEM_METRICS_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"
#include "tidegate/history/history_store.h"

namespace tidegate::history {

inline constexpr std::string_view kMetricSystemCpu = "system_cpu_utilisation";
inline constexpr std::string_view kMetricSystemMemPressure = "system_memory_pressure";
inline constexpr std::string_view kMetricSystemMemUsed = "system_memory_used_ratio";
inline constexpr std::string_view kMetricSystemDiskRead = "system_disk_read_bytes_per_s";
inline constexpr std::string_view kMetricSystemDiskWrite = "system_disk_write_bytes_per_s";
inline constexpr std::string_view kMetricSystemNetIn = "system_net_in_bytes_per_s";
inline constexpr std::string_view kMetricSystemNetOut = "system_net_out_bytes_per_s";

// The aggregate "cpu" line of /proc/stat, in USER_HZ ticks.
struct CpuTimes {
  uint64_t total = 0;  // user + nice + system + idle + iowait + irq + softirq + steal.
  uint64_t idle = 0;   // idle + iowait.
};
// InvalidArgument naming the problem when the "cpu " line is missing or malformed.
absl::StatusOr<CpuTimes> ParseProcStat(std::string_view text);
// Busy share between two readings; nullopt when the counters did not advance or went backwards.
std::optional<double> CpuUtilisation(const CpuTimes& before, const CpuTimes& after);

// /proc/pressure/memory: cumulative stall time in microseconds.
struct MemoryPressure {
  uint64_t some_total_us = 0;
  uint64_t full_total_us = 0;
};
absl::StatusOr<MemoryPressure> ParsePressure(std::string_view text);

// /proc/meminfo: MemTotal and MemAvailable, in bytes.
struct MemInfo {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;
  double UsedRatio() const;
};
absl::StatusOr<MemInfo> ParseMeminfo(std::string_view text);

// Bytes read and written, summed over whole disks (see above).
struct DiskCounters {
  uint64_t read_bytes = 0;
  uint64_t write_bytes = 0;
};
absl::StatusOr<DiskCounters> ParseDiskstats(std::string_view text);
// True for a whole physical disk name (sda, vda, nvme0n1, mmcblk0, xvda), false for partitions and
// virtual stacks.
bool IsWholeDisk(std::string_view name);

// Bytes received and sent, summed over all interfaces except loopback.
struct NetCounters {
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
};
absl::StatusOr<NetCounters> ParseNetDev(std::string_view text);

struct SystemMetricsOptions {
  Duration interval = std::chrono::seconds(1);  // > 0.
  std::string proc_root = "/proc";              // Tests point this at recorded files.
};

class SystemMetricsCollector {
 public:
  // InvalidArgument for a non-positive interval. `store` and `clock` must outlive the collector.
  static absl::StatusOr<std::unique_ptr<SystemMetricsCollector>> Create(
      HistoryStore& store, Clock& clock, SystemMetricsOptions options = {});
  ~SystemMetricsCollector();

  // Reads the files once and returns the samples computed against the previous reading.
  // /proc/stat, /proc/meminfo, /proc/diskstats and /proc/net/dev must be readable (Unavailable
  // naming the file otherwise); a missing /proc/pressure/memory just omits that metric.
  absl::StatusOr<SampleBatch> Sample();
  // Sample() then Append to the store.
  absl::Status SampleAndStore();

  // Runs SampleAndStore every `interval` on a background thread until Stop(). Errors are counted
  // (errors()) and the loop goes on. Calling Start twice is FailedPrecondition.
  absl::Status Start();
  void Stop();
  uint64_t errors() const;
  uint64_t samples_taken() const;

  // Whether the last reading found PSI (false before the first reading).
  bool has_psi() const;

 private:
  SystemMetricsCollector(HistoryStore& store, Clock& clock, SystemMetricsOptions options)
      : store_(store), clock_(clock), options_(std::move(options)) {}
  absl::StatusOr<std::string> Read(std::string_view relative) const;

  struct Reading {
    MonoTime at;
    CpuTimes cpu;
    std::optional<MemoryPressure> psi;
    DiskCounters disk;
    NetCounters net;
  };

  HistoryStore& store_;
  Clock& clock_;
  const SystemMetricsOptions options_;

  mutable std::mutex mu_;
  std::optional<Reading> previous_;
  bool has_psi_ = false;
  uint64_t errors_ = 0;
  uint64_t samples_taken_ = 0;

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tidegate::history

#endif  // TIDEGATE_HISTORY_SYSTEM_METRICS_H_
