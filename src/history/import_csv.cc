// CSV usage records (format: docs/formats/usage-logs.md).
#include <charconv>
#include <set>

#include "fmt/format.h"
#include "tidegate/common/status.h"
#include "tidegate/history/calendar.h"
#include "tidegate/history/import.h"

namespace tidegate::history {
namespace {

enum Kind : int {
  kTimestamp,
  kTenant,
  kOperation,
  kId,
  kCount,
  kDescriptor,
  kCpuMs,
  kMemBytes,
  kIoReadBytes,
  kIoWriteBytes,
  kNetInBytes,
  kNetOutBytes,
  kLatencyMs,
};

struct NamedKind {
  std::string_view name;
  Kind kind;
};
constexpr NamedKind kColumns[] = {
    {"timestamp", kTimestamp},
    {"tenant", kTenant},
    {"operation", kOperation},
    {"id", kId},
    {"count", kCount},
    {"cpu_ms", kCpuMs},
    {"mem_bytes", kMemBytes},
    {"io_read_bytes", kIoReadBytes},
    {"io_write_bytes", kIoWriteBytes},
    {"net_in_bytes", kNetInBytes},
    {"net_out_bytes", kNetOutBytes},
    {"latency_ms", kLatencyMs},
};
constexpr std::string_view kDescriptorPrefix = "descriptor.";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> SplitCsvLine(std::string_view line) {
  std::vector<std::string> fields(1);
  size_t i = 0;
  bool field_start = true;
  while (i < line.size()) {
    const char c = line[i];
    if (field_start && c == '"') {
      // Quoted field: up to the closing quote; "" is a literal quote.
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            fields.back().push_back('"');
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        fields.back().push_back(line[i++]);
      }
      if (!closed) {
        return absl::InvalidArgumentError(fmt::format(
            "unterminated quote in field {} (records may not span lines)", fields.size()));
      }
      if (i < line.size() && line[i] != ',') {
        return absl::InvalidArgumentError(fmt::format(
            "text after the closing quote of field {} (at column {})", fields.size(), i + 1));
      }
      field_start = false;
      continue;
    }
    if (c == ',') {
      fields.emplace_back();
      field_start = true;
    } else {
      fields.back().push_back(c);
      field_start = false;
    }
    ++i;
  }
  return fields;
}

absl::StatusOr<CsvUsageHeader> CsvUsageHeader::Parse(std::string_view line,
                                                     std::string_view where) {
  absl::StatusOr<std::vector<std::string>> names = SplitCsvLine(line);
  if (!names.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: header: {}", where, std::string(names.status().message())));
  }
  CsvUsageHeader header;
  std::set<std::string> seen;
  bool has_timestamp = false;
  for (size_t i = 0; i < names->size(); ++i) {
    const std::string name(Trim((*names)[i]));
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          fmt::format("{}: header: column {} \"{}\" appears twice", where, i + 1, name));
    }
    Field field{-1, "", name};
    if (name.substr(0, kDescriptorPrefix.size()) == kDescriptorPrefix &&
        name.size() > kDescriptorPrefix.size()) {
      field.kind = kDescriptor;
      field.key = name.substr(kDescriptorPrefix.size());
    } else {
      for (const NamedKind& c : kColumns) {
        if (c.name == name) field.kind = c.kind;
      }
    }
    if (field.kind < 0) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: header: unknown column {} \"{}\" (expected timestamp, tenant, operation, id, "
          "count, cpu_ms, mem_bytes, io_read_bytes, io_write_bytes, net_in_bytes, net_out_bytes, "
          "latency_ms or descriptor.<key>)",
          where, i + 1, name));
    }
    has_timestamp |= field.kind == kTimestamp;
    header.fields_.push_back(std::move(field));
  }
  if (!has_timestamp) {
    return absl::InvalidArgumentError(fmt::format("{}: header: no \"timestamp\" column", where));
  }
  return header;
}

absl::StatusOr<UsageReport> CsvUsageHeader::ParseRow(std::string_view line,
                                                     std::string_view where) const {
  absl::StatusOr<std::vector<std::string>> cells = SplitCsvLine(line);
  if (!cells.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {}", where, std::string(cells.status().message())));
  }
  if (cells->size() != fields_.size()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {} fields, the header has {}", where, cells->size(), fields_.size()));
  }
  UsageReport r;
  for (size_t i = 0; i < fields_.size(); ++i) {
    const Field& f = fields_[i];
    const std::string& raw = (*cells)[i];
    const std::string_view cell = Trim(raw);
    auto bad = [&](std::string_view what) {
      return absl::InvalidArgumentError(
          fmt::format("{}: column \"{}\": {}, got \"{}\"", where, f.name, what, raw));
    };
    auto amount = [&](double& out) -> absl::Status {
      if (cell.empty()) return absl::OkStatus();  // Empty: 0.
      auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), out);
      if (ec != std::errc() || ptr != cell.data() + cell.size()) return bad("expected a number");
      if (!std::isfinite(out) || out < 0) return bad("expected a finite number >= 0");
      return absl::OkStatus();
    };
    switch (f.kind) {
      case kTimestamp: {
        if (cell.empty()) return bad("expected a timestamp");
        absl::StatusOr<WallTime> t = ParseTimestamp(cell);
        if (!t.ok()) {
          return absl::InvalidArgumentError(fmt::format("{}: column \"{}\": {}", where, f.name,
                                                        std::string(t.status().message())));
        }
        r.timestamp = *t;
        break;
      }
      case kTenant:
        r.tenant = raw;
        break;
      case kOperation:
        r.operation = raw;
        break;
      case kId:
        r.id = raw;
        break;
      case kDescriptor:
        if (!raw.empty()) r.descriptors.push_back({f.key, raw});
        break;
      case kCount: {
        if (cell.empty()) break;  // Empty: 1.
        int64_t n = 0;
        auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), n);
        if (ec != std::errc() || ptr != cell.data() + cell.size() || n < 0) {
          return bad("expected an integer >= 0");
        }
        r.count = n;
        break;
      }
      case kCpuMs:
        TIDEGATE_RETURN_IF_ERROR(amount(r.cpu_ms));
        break;
      case kMemBytes:
        TIDEGATE_RETURN_IF_ERROR(amount(r.mem_bytes));
        break;
      case kIoReadBytes:
        TIDEGATE_RETURN_IF_ERROR(amount(r.io_read_bytes));
        break;
      case kIoWriteBytes:
        TIDEGATE_RETURN_IF_ERROR(amount(r.io_write_bytes));
        break;
      case kNetInBytes:
        TIDEGATE_RETURN_IF_ERROR(amount(r.net_in_bytes));
        break;
      case kNetOutBytes:
        TIDEGATE_RETURN_IF_ERROR(amount(r.net_out_bytes));
        break;
      case kLatencyMs:
        TIDEGATE_RETURN_IF_ERROR(amount(r.latency_ms));
        break;
    }
  }
  absl::Status valid = ValidateUsageReport(r);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", where, std::string(valid.message())));
  }
  return r;
}

}  // namespace tidegate::history
