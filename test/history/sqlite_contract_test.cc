// Runs the HistoryStore contract suite against the SQLite backend.
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "history/history_store_contract.h"
#include "tidegate/history/sqlite_store.h"

namespace tidegate::history {
namespace {

// Directories made for the suite, removed when the test binary exits.
struct Dirs {
  std::mutex mu;
  std::vector<std::string> paths;
  ~Dirs() {
    std::error_code ec;
    for (const std::string& p : paths) std::filesystem::remove_all(p, ec);
  }
};
Dirs g_dirs;

absl::StatusOr<std::unique_ptr<HistoryStore>> MakeSqlite() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tidegate_contract_XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  {
    std::lock_guard<std::mutex> lock(g_dirs.mu);
    g_dirs.paths.push_back(tmpl);
  }
  SqliteStoreOptions options;
  options.sync = SyncMode::kNormal;
  auto store = SqliteStore::Open(tmpl, options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<HistoryStore>(std::move(*store));
}

INSTANTIATE_TEST_SUITE_P(Sqlite, HistoryStoreContractTest,
                         ::testing::Values(StoreFactory{"sqlite", MakeSqlite, {}}),
                         StoreFactoryName);

}  // namespace
}  // namespace tidegate::history
