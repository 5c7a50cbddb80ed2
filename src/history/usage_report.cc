// Validation and class keys of usage reports (see tidegate/history/usage.h).
#include <cmath>
#include <string>

#include "fmt/format.h"
#include "tidegate/common/status.h"
#include "tidegate/history/usage.h"

namespace tidegate::history {
namespace {

void AppendEscaped(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c == '\\' || c == ',' || c == '=') out.push_back('\\');
    out.push_back(c);
  }
}

void AppendEntry(std::string& out, std::string_view key, std::string_view value) {
  if (!out.empty()) out.push_back(',');
  AppendEscaped(out, key);
  out.push_back('=');
  AppendEscaped(out, value);
}

absl::Status CheckAmount(std::string_view field, double value) {
  if (!std::isfinite(value) || value < 0) {
    return absl::InvalidArgumentError(
        fmt::format("usage report: {} must be finite and >= 0, got {}", field, value));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateUsageReport(const UsageReport& report) {
  TIDEGATE_RETURN_IF_ERROR(CheckAmount("cpu_ms", report.cpu_ms));
  TIDEGATE_RETURN_IF_ERROR(CheckAmount("mem_bytes", report.mem_bytes));
  TIDEGATE_RETURN_IF_ERROR(CheckAmount("io_read_bytes", report.io_read_bytes));
  TIDEGATE_RETURN_IF_ERROR(CheckAmount("io_write_bytes", report.io_write_bytes));
  TIDEGATE_RETURN_IF_ERROR(CheckAmount("net_in_bytes", report.net_in_bytes));
  TIDEGATE_RETURN_IF_ERROR(CheckAmount("net_out_bytes", report.net_out_bytes));
  TIDEGATE_RETURN_IF_ERROR(CheckAmount("latency_ms", report.latency_ms));
  if (report.count < 0) {
    return absl::InvalidArgumentError(
        fmt::format("usage report: count must be >= 0, got {}", report.count));
  }
  if (report.tenant.size() > kMaxLabelLength) {
    return absl::InvalidArgumentError(
        fmt::format("usage report: tenant is {} bytes, at most {} allowed", report.tenant.size(),
                    kMaxLabelLength));
  }
  for (size_t i = 0; i < report.descriptors.size(); ++i) {
    if (report.descriptors[i].key.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("usage report: descriptor entry {} has an empty key", i));
    }
  }
  TIDEGATE_ASSIGN_OR_RETURN(std::string key, UsageClassKey(report));
  if (key.size() > kMaxLabelLength) {
    return absl::InvalidArgumentError(fmt::format(
        "usage report: class key is {} bytes, at most {} allowed", key.size(), kMaxLabelLength));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> UsageClassKey(const UsageReport& report) {
  std::string key;
  bool has_op = false;
  for (const DescriptorEntry& entry : report.descriptors) {
    if (entry.key == "op") {
      if (!report.operation.empty() && entry.value != report.operation) {
        return absl::InvalidArgumentError(
            fmt::format("usage report: descriptor entry op=\"{}\" contradicts operation \"{}\"",
                        entry.value, report.operation));
      }
      has_op = true;
    }
    AppendEntry(key, entry.key, entry.value);
  }
  if (!report.operation.empty() && !has_op) AppendEntry(key, "op", report.operation);
  return key;
}

std::array<double, kUsageMetricCount> UsageValues(const UsageReport& report) {
  return {report.cpu_ms,        report.mem_bytes,
          report.io_read_bytes, report.io_write_bytes,
          report.net_in_bytes,  report.net_out_bytes,
          report.latency_ms,    static_cast<double>(report.count)};
}

}  // namespace tidegate::history
