#include "tidegate/workload/usage_jsonl.h"

#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

namespace tidegate::workload {

std::string FormatUsageJsonLine(const history::UsageReport& r) {
  nlohmann::ordered_json j;
  // RFC 3339 with nanoseconds: a JSON number (a double) would lose them at this magnitude.
  const auto day = std::chrono::floor<std::chrono::days>(r.timestamp);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss<Duration> tod{r.timestamp - day};
  j["timestamp"] = fmt::format(
      "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:09d}Z", static_cast<int>(ymd.year()),
      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), tod.hours().count(),
      tod.minutes().count(), tod.seconds().count(), tod.subseconds().count());
  if (!r.tenant.empty()) j["tenant"] = r.tenant;
  if (!r.descriptors.empty()) {
    nlohmann::ordered_json entries = nlohmann::ordered_json::array();
    for (const auto& e : r.descriptors) entries.push_back({e.key, e.value});
    j["descriptors"] = std::move(entries);
  }
  if (!r.operation.empty()) j["operation"] = r.operation;
  const std::pair<const char*, double> amounts[] = {{"cpu_ms", r.cpu_ms},
                                                    {"mem_bytes", r.mem_bytes},
                                                    {"io_read_bytes", r.io_read_bytes},
                                                    {"io_write_bytes", r.io_write_bytes},
                                                    {"net_in_bytes", r.net_in_bytes},
                                                    {"net_out_bytes", r.net_out_bytes},
                                                    {"latency_ms", r.latency_ms}};
  for (const auto& [name, value] : amounts) {
    if (value != 0) j[name] = value;
  }
  if (r.count != 1) j["count"] = r.count;
  if (!r.id.empty()) j["id"] = r.id;
  return j.dump();
}

}  // namespace tidegate::workload
