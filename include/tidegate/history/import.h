// tidegate/history/import.h — import of usage logs (JSON lines, CSV) into a history store.
//
// A usage log holds one UsageReport (usage.h) per line; docs/formats/usage-logs.md specifies both
// formats. An import reads the whole file, aggregates its reports into base-step buckets exactly as
// the daemon does (UsageAggregator), and appends the result as ONE batch. So a file is all or
// nothing: a malformed line rejects the whole file with InvalidArgument naming the file, the line
// number and the reason, and nothing of it is stored. Importing the same file twice writes the same
// sums, which the store accepts as duplicates: imports are idempotent.
//
// Memory is proportional to the number of (bucket, class) pairs, not to the number of lines; the
// file is streamed.
//
// Thread-safety: the functions are reentrant; concurrent imports into one store are as safe as the
// store's Append.
#ifndef TIDEGATE_HISTORY_IMPORT_H_
#define TIDEGATE_HISTORY_IMPORT_H_

#include <cstdint>
#include <functional>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tidegate/history/history_store.h"
#include "tidegate/history/usage.h"

namespace tidegate::history {

enum class ImportFormat : uint8_t { kJsonLines, kCsv };

// "jsonl" (also "json", "ndjson") or "csv"; InvalidArgument listing the valid names otherwise.
absl::StatusOr<ImportFormat> ParseImportFormat(std::string_view name);
// From the file name's extension: .csv -> kCsv, .jsonl/.ndjson/.json -> kJsonLines;
// InvalidArgument (suggesting --format) otherwise.
absl::StatusOr<ImportFormat> ImportFormatFromPath(std::string_view path);

// Parses one JSON-lines record (one line, without its newline). `where` prefixes errors
// (e.g. "usage.jsonl:12").
absl::StatusOr<UsageReport> ParseUsageJson(std::string_view line, std::string_view where);

// A CSV usage log's header, parsed: which column holds which field.
class CsvUsageHeader {
 public:
  // InvalidArgument naming the column for an unknown or repeated column name, or when there is
  // no "timestamp" column.
  static absl::StatusOr<CsvUsageHeader> Parse(std::string_view line, std::string_view where);
  // Parses one data row. InvalidArgument naming the column and the value.
  absl::StatusOr<UsageReport> ParseRow(std::string_view line, std::string_view where) const;
  size_t columns() const { return fields_.size(); }

 private:
  struct Field {
    int kind;         // Which UsageReport field (see import_csv.cc).
    std::string key;  // For descriptor columns: the descriptor key.
    std::string name;
  };
  std::vector<Field> fields_;
};

// Splits one CSV record (RFC 4180 quoting: "a ""quoted"", field"); InvalidArgument for an
// unterminated quote or text after a closing quote. Records may not span lines.
absl::StatusOr<std::vector<std::string>> SplitCsvLine(std::string_view line);

struct ImportOptions {
  ImportFormat format = ImportFormat::kJsonLines;
  Duration step = std::chrono::seconds(10);  // The aggregation's base step.
  // Called now and then with (bytes read so far, total bytes or 0 when unknown).
  std::function<void(uint64_t, uint64_t)> progress = nullptr;
};

struct ImportSummary {
  uint64_t lines = 0;    // Lines read, blank ones included.
  uint64_t reports = 0;  // Reports parsed.
  uint64_t samples = 0;  // Samples appended to the store.
  WallTime first{};      // Earliest and latest report timestamps (when reports > 0).
  WallTime last{};
};

// Imports `in` (named `name` in errors; `total_bytes` for progress, 0 if unknown) into `store`.
absl::StatusOr<ImportSummary> ImportUsageLog(std::istream& in, std::string_view name,
                                             uint64_t total_bytes, HistoryStore& store,
                                             const ImportOptions& options);

// Opens `path` and imports it (NotFound / PermissionDenied naming the path if it cannot be read).
absl::StatusOr<ImportSummary> ImportUsageFile(const std::string& path, HistoryStore& store,
                                              const ImportOptions& options);

}  // namespace tidegate::history

#endif  // TIDEGATE_HISTORY_IMPORT_H_
