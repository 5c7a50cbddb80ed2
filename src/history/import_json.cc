// JSON-lines usage records (format: docs/formats/usage-logs.md).
#include <cmath>
#include <limits>

#include "fmt/format.h"
#include "history/json_parse.h"
#include "nlohmann/json.hpp"
#include "tidegate/common/status.h"
#include "tidegate/history/calendar.h"
#include "tidegate/history/import.h"

namespace tidegate::history {
namespace {

using Json = nlohmann::ordered_json;  // Keeps descriptor entries in the order written.

absl::Status FieldError(std::string_view where, std::string_view field, std::string_view what,
                        const Json& got) {
  std::string shown = got.dump();
  if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
  return absl::InvalidArgumentError(
      fmt::format("{}: field \"{}\": {}, got {}", where, field, what, shown));
}

absl::Status ReadAmount(std::string_view where, std::string_view field, const Json& v,
                        double& out) {
  if (!v.is_number()) return FieldError(where, field, "expected a number", v);
  out = v.get<double>();
  if (!std::isfinite(out) || out < 0) {
    return FieldError(where, field, "expected a finite number >= 0", v);
  }
  return absl::OkStatus();
}

absl::Status ReadString(std::string_view where, std::string_view field, const Json& v,
                        std::string& out) {
  if (!v.is_string()) return FieldError(where, field, "expected a string", v);
  out = v.get<std::string>();
  return absl::OkStatus();
}

absl::Status ReadDescriptors(std::string_view where, const Json& v, UsageReport& r) {
  constexpr std::string_view kField = "descriptors";
  if (v.is_object()) {
    for (const auto& [key, value] : v.items()) {
      if (!value.is_string()) {
        return FieldError(where, fmt::format("descriptors.{}", key), "expected a string", value);
      }
      r.descriptors.push_back({key, value.get<std::string>()});
    }
  } else if (v.is_array()) {
    for (const Json& entry : v) {
      DescriptorEntry e;
      if (entry.is_object() && entry.size() == 2 && entry.contains("key") &&
          entry.contains("value") && entry["key"].is_string() && entry["value"].is_string()) {
        e = {entry["key"].get<std::string>(), entry["value"].get<std::string>()};
      } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() &&
                 entry[1].is_string()) {
        e = {entry[0].get<std::string>(), entry[1].get<std::string>()};
      } else {
        return FieldError(where, kField,
                          "expected entries {\"key\": ..., \"value\": ...} or [key, value]", entry);
      }
      r.descriptors.push_back(std::move(e));
    }
  } else {
    return FieldError(where, kField, "expected an object or an array", v);
  }
  for (const DescriptorEntry& e : r.descriptors) {
    if (e.key.empty()) return FieldError(where, kField, "a descriptor key is empty", v);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<UsageReport> ParseUsageJson(std::string_view line, std::string_view where) {
  std::string reason;
  Json doc = ParseJsonOrDiscard<Json>(line, &reason);
  if (doc.is_discarded()) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", where, reason));
  }
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: expected a JSON object per line, got {}", where, doc.type_name()));
  }
  UsageReport r;
  bool has_timestamp = false;
  for (const auto& [field, v] : doc.items()) {
    if (field == "timestamp") {
      absl::StatusOr<WallTime> t = absl::InvalidArgumentError("");
      if (v.is_string()) {
        t = ParseTimestamp(v.get<std::string>());
      } else if (v.is_number()) {
        t = ParseTimestamp(fmt::format("{}", v.get<double>()));
        if (v.is_number_integer()) t = ParseTimestamp(v.dump());  // Exact for integers.
      } else {
        return FieldError(where, field, "expected RFC 3339 text or Unix seconds", v);
      }
      if (!t.ok()) {
        return absl::InvalidArgumentError(
            fmt::format("{}: field \"timestamp\": {}", where, std::string(t.status().message())));
      }
      r.timestamp = *t;
      has_timestamp = true;
    } else if (field == "tenant") {
      TIDEGATE_RETURN_IF_ERROR(ReadString(where, field, v, r.tenant));
    } else if (field == "operation") {
      TIDEGATE_RETURN_IF_ERROR(ReadString(where, field, v, r.operation));
    } else if (field == "id") {
      TIDEGATE_RETURN_IF_ERROR(ReadString(where, field, v, r.id));
    } else if (field == "descriptors") {
      TIDEGATE_RETURN_IF_ERROR(ReadDescriptors(where, v, r));
    } else if (field == "cpu_ms") {
      TIDEGATE_RETURN_IF_ERROR(ReadAmount(where, field, v, r.cpu_ms));
    } else if (field == "mem_bytes") {
      TIDEGATE_RETURN_IF_ERROR(ReadAmount(where, field, v, r.mem_bytes));
    } else if (field == "io_read_bytes") {
      TIDEGATE_RETURN_IF_ERROR(ReadAmount(where, field, v, r.io_read_bytes));
    } else if (field == "io_write_bytes") {
      TIDEGATE_RETURN_IF_ERROR(ReadAmount(where, field, v, r.io_write_bytes));
    } else if (field == "net_in_bytes") {
      TIDEGATE_RETURN_IF_ERROR(ReadAmount(where, field, v, r.net_in_bytes));
    } else if (field == "net_out_bytes") {
      TIDEGATE_RETURN_IF_ERROR(ReadAmount(where, field, v, r.net_out_bytes));
    } else if (field == "latency_ms") {
      TIDEGATE_RETURN_IF_ERROR(ReadAmount(where, field, v, r.latency_ms));
    } else if (field == "count") {
      if (v.is_number_unsigned() &&
          v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        r.count = static_cast<int64_t>(v.get<uint64_t>());
      } else {
        return FieldError(where, field, "expected an integer >= 0", v);
      }
    } else {
      return absl::InvalidArgumentError(
          fmt::format("{}: unknown field \"{}\" (see docs/formats/usage-logs.md for the fields)",
                      where, field));
    }
  }
  if (!has_timestamp) {
    return absl::InvalidArgumentError(fmt::format("{}: missing field \"timestamp\"", where));
  }
  absl::Status valid = ValidateUsageReport(r);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", where, std::string(valid.message())));
  }
  return r;
}

}  // namespace tidegate::history
