// libFuzzer target: random bytes are imported as a usage log, as `tidegate import` would, in
// both formats (JSON lines and CSV), into a real SQLite history store.
//
// Properties: nothing crashes or trips a sanitizer; a failure is InvalidArgument, OutOfRange or
// (one store serves every input, so a second import may contradict an earlier one) AlreadyExists,
// and names the input ("fuzz.jsonl:<line>" / "fuzz.csv:<line>"); a success reports no more
// reports than lines and no samples without reports.
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include "tidegate/history/import.h"
#include "tidegate/history/sqlite_store.h"

namespace {

using tidegate::history::ImportFormat;

void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "usage_import_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

tidegate::history::HistoryStore& Store() {
  static std::unique_ptr<tidegate::history::HistoryStore> store = [] {
    char dir[] = "/tmp/usage_import_fuzz-XXXXXX";
    if (mkdtemp(dir) == nullptr) Fail("mkdtemp", dir);
    auto opened = tidegate::history::SqliteStore::Open(dir);
    if (!opened.ok()) Fail("store", opened.status().ToString());
    return *std::move(opened);
  }();
  return *store;
}

void ImportAs(std::string_view bytes, ImportFormat format, const char* name) {
  std::istringstream in{std::string(bytes)};
  tidegate::history::ImportOptions options;
  options.format = format;
  auto summary = tidegate::history::ImportUsageLog(in, name, bytes.size(), Store(), options);
  if (!summary.ok()) {
    const absl::StatusCode code = summary.status().code();
    if (code != absl::StatusCode::kInvalidArgument && code != absl::StatusCode::kOutOfRange &&
        code != absl::StatusCode::kAlreadyExists) {
      Fail("unexpected error code", summary.status().ToString());
    }
    if (summary.status().message().find(name) == std::string_view::npos) {
      Fail("error does not name the input", summary.status().ToString());
    }
    return;
  }
  if (summary->reports > summary->lines) Fail("more reports than lines", name);
  if (summary->reports == 0 && summary->samples != 0) Fail("samples without reports", name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ImportAs(bytes, ImportFormat::kJsonLines, "fuzz.jsonl");
  ImportAs(bytes, ImportFormat::kCsv, "fuzz.csv");
  return 0;
}
