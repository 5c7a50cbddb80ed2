// Streaming import of a usage log (see tidegate/history/import.h).
#include <cerrno>
#include <cstring>
#include <fstream>

#include "fmt/format.h"
#include "tidegate/common/status.h"
#include "tidegate/history/import.h"

namespace tidegate::history {
namespace {

bool IsBlank(std::string_view s) { return s.find_first_not_of(" \t") == std::string_view::npos; }

}  // namespace

absl::StatusOr<ImportFormat> ParseImportFormat(std::string_view name) {
  if (name == "jsonl" || name == "json" || name == "ndjson") return ImportFormat::kJsonLines;
  if (name == "csv") return ImportFormat::kCsv;
  return absl::InvalidArgumentError(
      fmt::format("unknown import format \"{}\" (expected jsonl or csv)", name));
}

absl::StatusOr<ImportFormat> ImportFormatFromPath(std::string_view path) {
  const size_t dot = path.rfind('.');
  const size_t slash = path.rfind('/');
  if (dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash)) {
    const std::string_view ext = path.substr(dot + 1);
    if (ext == "csv") return ImportFormat::kCsv;
    if (ext == "jsonl" || ext == "ndjson" || ext == "json") return ImportFormat::kJsonLines;
  }
  return absl::InvalidArgumentError(fmt::format(
      "cannot tell the format of \"{}\" from its extension (.jsonl or .csv); pass --format", path));
}

absl::StatusOr<ImportSummary> ImportUsageLog(std::istream& in, std::string_view name,
                                             uint64_t total_bytes, HistoryStore& store,
                                             const ImportOptions& options) {
  TIDEGATE_ASSIGN_OR_RETURN(
      std::unique_ptr<UsageAggregator> aggregator,
      UsageAggregator::Create(store, {.step = options.step, .allowed_lateness = Duration::zero()}));
  ImportSummary summary;
  std::optional<CsvUsageHeader> header;
  std::string line;
  uint64_t bytes = 0;
  uint64_t next_progress = 0;
  while (std::getline(in, line)) {
    ++summary.lines;
    bytes += line.size() + 1;
    if (line.size() >= 3 && summary.lines == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) {
      line.erase(0, 3);  // UTF-8 byte order mark.
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (options.progress && bytes >= next_progress) {
      options.progress(bytes, total_bytes);
      next_progress = bytes + (1 << 16);
    }
    if (IsBlank(line)) continue;
    const std::string where = fmt::format("{}:{}", name, summary.lines);
    absl::StatusOr<UsageReport> report;
    if (options.format == ImportFormat::kCsv) {
      if (!header.has_value()) {
        TIDEGATE_ASSIGN_OR_RETURN(header, CsvUsageHeader::Parse(line, where));
        continue;
      }
      report = header->ParseRow(line, where);
    } else {
      report = ParseUsageJson(line, where);
    }
    if (!report.ok()) return report.status();
    absl::Status added = aggregator->Add(*report);
    if (!added.ok()) {
      return absl::InvalidArgumentError(fmt::format("{}: {}", where, std::string(added.message())));
    }
    if (summary.reports == 0 || report->timestamp < summary.first)
      summary.first = report->timestamp;
    if (summary.reports == 0 || report->timestamp > summary.last) summary.last = report->timestamp;
    ++summary.reports;
  }
  if (in.bad()) {
    return absl::DataLossError(fmt::format("{}: read error after line {}", name, summary.lines));
  }
  if (options.format == ImportFormat::kCsv && !header.has_value() && summary.lines > 0) {
    return absl::InvalidArgumentError(fmt::format("{}: no header line", name));
  }
  const SampleBatch batch = aggregator->PendingBatch();
  summary.samples = batch.SampleCount();
  absl::Status stored = store.Append(batch);
  if (!stored.ok()) {
    return absl::Status(stored.code(), fmt::format("{}: storing {} samples: {}", name,
                                                   summary.samples, std::string(stored.message())));
  }
  if (options.progress) options.progress(bytes, total_bytes);
  return summary;
}

absl::StatusOr<ImportSummary> ImportUsageFile(const std::string& path, HistoryStore& store,
                                              const ImportOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    const std::string message = fmt::format("cannot open {}: {}", path, std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::UnavailableError(message);
  }
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  return ImportUsageLog(in, path, size > 0 ? static_cast<uint64_t>(size) : 0, store, options);
}

}  // namespace tidegate::history
