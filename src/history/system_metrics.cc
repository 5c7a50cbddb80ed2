// Linux /proc system metrics (see tidegate/history/system_metrics.h for the formulas).
#include "tidegate/history/system_metrics.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "fmt/format.h"
#include "tidegate/common/status.h"

namespace tidegate::history {
namespace {

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

bool ToU64(std::string_view s, uint64_t& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Calls f(line) for every line of `text`.
template <typename F>
void ForEachLine(std::string_view text, F f) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    f(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

absl::StatusOr<CpuTimes> ParseProcStat(std::string_view text) {
  std::optional<CpuTimes> result;
  std::string error;
  ForEachLine(text, [&](std::string_view line) {
    if (result.has_value() || !error.empty() || !StartsWith(line, "cpu ")) return;
    const std::vector<std::string_view> f = Fields(line);
    // cpu user nice system idle iowait irq softirq steal [guest guest_nice]; guest time is already
    // inside user/nice, so it is not added again.
    if (f.size() < 5) {
      error = fmt::format("/proc/stat: the cpu line has {} fields, expected at least 5", f.size());
      return;
    }
    uint64_t v[8] = {0};
    for (size_t i = 1; i < f.size() && i <= 8; ++i) {
      if (!ToU64(f[i], v[i - 1])) {
        error = fmt::format("/proc/stat: cpu field {} is \"{}\", not a counter", i, f[i]);
        return;
      }
    }
    CpuTimes t;
    for (uint64_t x : v) t.total += x;
    t.idle = v[3] + v[4];
    result = t;
  });
  if (!error.empty()) return absl::InvalidArgumentError(error);
  if (!result.has_value()) return absl::InvalidArgumentError("/proc/stat: no \"cpu \" line");
  return *result;
}

std::optional<double> CpuUtilisation(const CpuTimes& before, const CpuTimes& after) {
  if (after.total <= before.total || after.idle < before.idle) return std::nullopt;
  const double total = static_cast<double>(after.total - before.total);
  const double idle = static_cast<double>(after.idle - before.idle);
  return std::clamp((total - idle) / total, 0.0, 1.0);
}

absl::StatusOr<MemoryPressure> ParsePressure(std::string_view text) {
  MemoryPressure p;
  bool some = false, full = false;
  std::string error;
  ForEachLine(text, [&](std::string_view line) {
    const std::vector<std::string_view> f = Fields(line);
    if (f.empty() || (f[0] != "some" && f[0] != "full")) return;
    for (size_t i = 1; i < f.size(); ++i) {
      if (!StartsWith(f[i], "total=")) continue;
      uint64_t total = 0;
      if (!ToU64(f[i].substr(6), total)) {
        error = fmt::format("/proc/pressure/memory: bad total \"{}\"", f[i]);
        return;
      }
      (f[0] == "some" ? p.some_total_us : p.full_total_us) = total;
      (f[0] == "some" ? some : full) = true;
    }
  });
  if (!error.empty()) return absl::InvalidArgumentError(error);
  if (!some) return absl::InvalidArgumentError("/proc/pressure/memory: no \"some ... total=\"");
  (void)full;  // "full" is absent on some kernels for some resources; optional.
  return p;
}

double MemInfo::UsedRatio() const {
  if (total_bytes == 0) return 0;
  const double used = 1.0 - static_cast<double>(std::min(available_bytes, total_bytes)) /
                                static_cast<double>(total_bytes);
  return std::clamp(used, 0.0, 1.0);
}

absl::StatusOr<MemInfo> ParseMeminfo(std::string_view text) {
  MemInfo m;
  bool total = false, available = false;
  std::string error;
  ForEachLine(text, [&](std::string_view line) {
    const std::vector<std::string_view> f = Fields(line);
    if (f.size() < 2 || (f[0] != "MemTotal:" && f[0] != "MemAvailable:")) return;
    uint64_t kib = 0;
    if (!ToU64(f[1], kib) || (f.size() > 2 && f[2] != "kB")) {
      error = fmt::format("/proc/meminfo: bad line \"{}\"", line);
      return;
    }
    if (f[0] == "MemTotal:") {
      m.total_bytes = kib * 1024;
      total = true;
    } else {
      m.available_bytes = kib * 1024;
      available = true;
    }
  });
  if (!error.empty()) return absl::InvalidArgumentError(error);
  if (!total || !available) {
    return absl::InvalidArgumentError("/proc/meminfo: MemTotal or MemAvailable missing");
  }
  return m;
}

bool IsWholeDisk(std::string_view name) {
  for (std::string_view virt : {"loop", "ram", "zram", "dm-", "md", "sr", "fd"}) {
    if (StartsWith(name, virt)) return false;
  }
  // nvme0n1p2, mmcblk0p1, nbd0p1: "p" + digits after a digit is a partition.
  const size_t p = name.rfind('p');
  if (p != std::string_view::npos && p > 0 &&
      std::isdigit(static_cast<unsigned char>(name[p - 1])) && AllDigits(name.substr(p + 1))) {
    return false;
  }
  if (StartsWith(name, "nvme") || StartsWith(name, "mmcblk") || StartsWith(name, "nbd")) {
    return true;
  }
  // sda, vdb, xvdc, hda: letters only; sda1 is a partition.
  return !name.empty() && !std::isdigit(static_cast<unsigned char>(name.back()));
}

absl::StatusOr<DiskCounters> ParseDiskstats(std::string_view text) {
  DiskCounters d;
  std::string error;
  int lineno = 0;
  ForEachLine(text, [&](std::string_view line) {
    ++lineno;
    if (!error.empty()) return;
    const std::vector<std::string_view> f = Fields(line);
    if (f.empty()) return;
    // major minor name reads merged sectors_read ms writes merged sectors_written ...
    if (f.size() < 10) {
      error =
          fmt::format("/proc/diskstats line {}: {} fields, expected at least 10", lineno, f.size());
      return;
    }
    if (!IsWholeDisk(f[2])) return;
    uint64_t read = 0, written = 0;
    if (!ToU64(f[5], read) || !ToU64(f[9], written)) {
      error = fmt::format("/proc/diskstats line {}: bad sector counters", lineno);
      return;
    }
    d.read_bytes += read * 512;
    d.write_bytes += written * 512;
  });
  if (!error.empty()) return absl::InvalidArgumentError(error);
  return d;
}

absl::StatusOr<NetCounters> ParseNetDev(std::string_view text) {
  NetCounters n;
  std::string error;
  int lineno = 0;
  ForEachLine(text, [&](std::string_view line) {
    ++lineno;
    if (!error.empty()) return;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;  // The two header lines.
    const std::vector<std::string_view> name = Fields(line.substr(0, colon));
    const std::vector<std::string_view> f = Fields(line.substr(colon + 1));
    if (name.size() != 1) return;
    if (name[0] == "lo") return;
    // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes ...
    uint64_t rx = 0, tx = 0;
    if (f.size() < 16 || !ToU64(f[0], rx) || !ToU64(f[8], tx)) {
      error = fmt::format("/proc/net/dev line {}: malformed counters for {}", lineno, name[0]);
      return;
    }
    n.rx_bytes += rx;
    n.tx_bytes += tx;
  });
  if (!error.empty()) return absl::InvalidArgumentError(error);
  return n;
}

absl::StatusOr<std::unique_ptr<SystemMetricsCollector>> SystemMetricsCollector::Create(
    HistoryStore& store, Clock& clock, SystemMetricsOptions options) {
  if (options.interval <= Duration::zero()) {
    return absl::InvalidArgumentError(
        fmt::format("system metrics: interval must be > 0, got {} ns", options.interval.count()));
  }
  return std::unique_ptr<SystemMetricsCollector>(
      new SystemMetricsCollector(store, clock, std::move(options)));
}

SystemMetricsCollector::~SystemMetricsCollector() { Stop(); }

absl::StatusOr<std::string> SystemMetricsCollector::Read(std::string_view relative) const {
  const std::string path = fmt::format("{}/{}", options_.proc_root, relative);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    const std::string message = fmt::format("cannot read {}: {}", path, std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(message) : absl::UnavailableError(message);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<SampleBatch> SystemMetricsCollector::Sample() {
  // Errors from parsing name the file; unreadable required files are Unavailable.
  auto required = [&](std::string_view file) -> absl::StatusOr<std::string> {
    absl::StatusOr<std::string> text = Read(file);
    if (!text.ok()) return absl::UnavailableError(std::string(text.status().message()));
    return text;
  };
  TIDEGATE_ASSIGN_OR_RETURN(std::string stat, required("stat"));
  TIDEGATE_ASSIGN_OR_RETURN(std::string meminfo, required("meminfo"));
  TIDEGATE_ASSIGN_OR_RETURN(std::string diskstats, required("diskstats"));
  TIDEGATE_ASSIGN_OR_RETURN(std::string netdev, required("net/dev"));
  absl::StatusOr<std::string> pressure = Read("pressure/memory");

  Reading now;
  now.at = clock_.Now();
  const WallTime wall = clock_.WallNow();
  TIDEGATE_ASSIGN_OR_RETURN(now.cpu, ParseProcStat(stat));
  TIDEGATE_ASSIGN_OR_RETURN(MemInfo mem, ParseMeminfo(meminfo));
  TIDEGATE_ASSIGN_OR_RETURN(now.disk, ParseDiskstats(diskstats));
  TIDEGATE_ASSIGN_OR_RETURN(now.net, ParseNetDev(netdev));
  if (pressure.ok()) {
    absl::StatusOr<MemoryPressure> psi = ParsePressure(*pressure);
    if (psi.ok()) now.psi = *psi;
  }

  SampleBatch batch;
  auto add = [&](std::string_view metric, double value) {
    batch.Add(SeriesKey{std::string(metric), "", ""}, wall, value);
  };
  std::lock_guard lock(mu_);
  has_psi_ = now.psi.has_value();
  add(kMetricSystemMemUsed, mem.UsedRatio());
  if (previous_.has_value() && now.at > previous_->at) {
    const Reading& before = *previous_;
    const double seconds = std::chrono::duration<double>(now.at - before.at).count();
    auto rate = [&](std::string_view metric, uint64_t a, uint64_t b) {
      if (b >= a) add(metric, static_cast<double>(b - a) / seconds);
    };
    if (std::optional<double> cpu = CpuUtilisation(before.cpu, now.cpu)) {
      add(kMetricSystemCpu, *cpu);
    }
    if (before.psi.has_value() && now.psi.has_value() &&
        now.psi->some_total_us >= before.psi->some_total_us) {
      const double stalled_s =
          static_cast<double>(now.psi->some_total_us - before.psi->some_total_us) / 1e6;
      add(kMetricSystemMemPressure, std::clamp(stalled_s / seconds, 0.0, 1.0));
    }
    rate(kMetricSystemDiskRead, before.disk.read_bytes, now.disk.read_bytes);
    rate(kMetricSystemDiskWrite, before.disk.write_bytes, now.disk.write_bytes);
    rate(kMetricSystemNetIn, before.net.rx_bytes, now.net.rx_bytes);
    rate(kMetricSystemNetOut, before.net.tx_bytes, now.net.tx_bytes);
  }
  previous_ = now;
  ++samples_taken_;
  return batch;
}

absl::Status SystemMetricsCollector::SampleAndStore() {
  absl::StatusOr<SampleBatch> batch = Sample();
  absl::Status status = batch.ok() ? store_.Append(*batch) : batch.status();
  if (!status.ok()) {
    std::lock_guard lock(mu_);
    ++errors_;
  }
  return status;
}

absl::Status SystemMetricsCollector::Start() {
  std::lock_guard lock(run_mu_);
  if (thread_.joinable()) return absl::FailedPreconditionError("system metrics: already started");
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock run_lock(run_mu_);
    while (!stopping_) {
      run_lock.unlock();
      const MonoTime next = clock_.Now() + options_.interval;
      (void)SampleAndStore();  // Counted in errors(); the loop carries on.
      run_lock.lock();
      // Waits the rest of the interval (the clock decides how much is left); Stop() wakes it.
      const Duration left = next - clock_.Now();
      if (left > Duration::zero()) {
        run_cv_.wait_for(run_lock, left, [this] { return stopping_; });
      }
    }
  });
  return absl::OkStatus();
}

void SystemMetricsCollector::Stop() {
  {
    std::lock_guard lock(run_mu_);
    stopping_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t SystemMetricsCollector::errors() const {
  std::lock_guard lock(mu_);
  return errors_;
}

uint64_t SystemMetricsCollector::samples_taken() const {
  std::lock_guard lock(mu_);
  return samples_taken_;
}

bool SystemMetricsCollector::has_psi() const {
  std::lock_guard lock(mu_);
  return has_psi_;
}

}  // namespace tidegate::history
