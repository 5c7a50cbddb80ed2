// The embedded SQLite HistoryStore. Schema: docs/formats/sqlite-history.md. Design:
// docs/design/history.md.
#include "tidegate/history/sqlite_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <utility>

#include "fmt/format.h"
#include "tidegate/common/status.h"

namespace tidegate::history {
namespace {

constexpr int64_t kMinuteNs = 60'000'000'000;
constexpr int64_t kHourNs = 3'600'000'000'000;

// ---- SQL ------------------------------------------------------------------------------------
// Statements are compared by address in the per-connection cache, so each lives here once.

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS meta(
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series(
  id        INTEGER PRIMARY KEY,
  metric    TEXT NOT NULL,
  tenant    TEXT NOT NULL,
  class_key TEXT NOT NULL,
  UNIQUE(metric, tenant, class_key)
);
CREATE TABLE IF NOT EXISTS raw(
  series_id INTEGER NOT NULL,
  ts        INTEGER NOT NULL,
  value     REAL NOT NULL,
  PRIMARY KEY(series_id, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_1m(
  series_id INTEGER NOT NULL,
  bucket    INTEGER NOT NULL,
  count     INTEGER NOT NULL,
  sum       REAL NOT NULL,
  min       REAL NOT NULL,
  max       REAL NOT NULL,
  last_ts   INTEGER NOT NULL,
  last      REAL NOT NULL,
  PRIMARY KEY(series_id, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_1h(
  series_id INTEGER NOT NULL,
  bucket    INTEGER NOT NULL,
  count     INTEGER NOT NULL,
  sum       REAL NOT NULL,
  min       REAL NOT NULL,
  max       REAL NOT NULL,
  last_ts   INTEGER NOT NULL,
  last      REAL NOT NULL,
  PRIMARY KEY(series_id, bucket)
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta(key, value) VALUES ('format', 'tidegate-history'), ('schema_version', '1');
)sql";

constexpr const char* kCountUserTables =
    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'";
constexpr const char* kHasMetaTable =
    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'";
constexpr const char* kSelectMeta = "SELECT value FROM meta WHERE key = ?1";
constexpr const char* kSelectSeriesId =
    "SELECT id FROM series WHERE metric = ?1 AND tenant = ?2 AND class_key = ?3";
constexpr const char* kInsertSeries =
    "INSERT INTO series(metric, tenant, class_key) VALUES (?1, ?2, ?3)";
constexpr const char* kSelectAllSeries =
    "SELECT id, metric, tenant, class_key FROM series ORDER BY metric, tenant, class_key";
constexpr const char* kInsertRaw =
    "INSERT INTO raw(series_id, ts, value) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
constexpr const char* kSelectRawValue = "SELECT value FROM raw WHERE series_id = ?1 AND ts = ?2";
constexpr const char* kQueryRaw =
    "SELECT ts, value FROM raw WHERE series_id = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts";

// Merging upserts: every right-hand side reads the row as it was before this statement.
#define TIDEGATE_UPSERT_ROLLUP(table)                                                           \
  "INSERT INTO " table                                                                          \
  "(series_id, bucket, count, sum, min, max, last_ts, last) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "   \
  "?7, ?8) ON CONFLICT(series_id, bucket) DO UPDATE SET count = count + excluded.count, sum = " \
  "sum + excluded.sum, min = min(min, excluded.min), max = max(max, excluded.max), last = "     \
  "CASE WHEN excluded.last_ts >= last_ts THEN excluded.last ELSE last END, last_ts = "          \
  "max(last_ts, excluded.last_ts)"
constexpr const char* kUpsertMinute = TIDEGATE_UPSERT_ROLLUP("rollup_1m");
constexpr const char* kUpsertHour = TIDEGATE_UPSERT_ROLLUP("rollup_1h");
#undef TIDEGATE_UPSERT_ROLLUP

// Rollup reads select only the columns the aggregation needs (fewer columns decoded per row).
#define TIDEGATE_QUERY_ROLLUP(columns, table)   \
  "SELECT bucket, count" columns " FROM " table \
  " WHERE series_id = ?1 AND bucket >= ?2 AND bucket < ?3 ORDER BY bucket"
constexpr const char* kQueryRollup[2][4] = {
    {TIDEGATE_QUERY_ROLLUP(", sum", "rollup_1m"), TIDEGATE_QUERY_ROLLUP(", min", "rollup_1m"),
     TIDEGATE_QUERY_ROLLUP(", max", "rollup_1m"),
     TIDEGATE_QUERY_ROLLUP(", last_ts, last", "rollup_1m")},
    {TIDEGATE_QUERY_ROLLUP(", sum", "rollup_1h"), TIDEGATE_QUERY_ROLLUP(", min", "rollup_1h"),
     TIDEGATE_QUERY_ROLLUP(", max", "rollup_1h"),
     TIDEGATE_QUERY_ROLLUP(", last_ts, last", "rollup_1h")},
};
#undef TIDEGATE_QUERY_ROLLUP

// Index into kQueryRollup's second dimension: which statistic column(s) follow `count`.
int RollupColumns(Aggregation aggregation) {
  switch (aggregation) {
    case Aggregation::kMin:
      return 1;
    case Aggregation::kMax:
      return 2;
    case Aggregation::kLast:
      return 3;
    case Aggregation::kSum:
    case Aggregation::kMean:
    case Aggregation::kCount:
      return 0;
  }
  return 0;
}

constexpr const char* kDeleteRawSeries = "DELETE FROM raw WHERE series_id = ?1";
constexpr const char* kDeleteMinuteSeries = "DELETE FROM rollup_1m WHERE series_id = ?1";
constexpr const char* kDeleteHourSeries = "DELETE FROM rollup_1h WHERE series_id = ?1";
constexpr const char* kDeleteSeriesRow = "DELETE FROM series WHERE id = ?1";

constexpr const char* kExpireRaw = "DELETE FROM raw WHERE series_id = ?1 AND ts < ?2";
constexpr const char* kExpireMinute = "DELETE FROM rollup_1m WHERE series_id = ?1 AND bucket <= ?2";
constexpr const char* kExpireHour = "DELETE FROM rollup_1h WHERE series_id = ?1 AND bucket <= ?2";
constexpr const char* kDeleteEmptySeries =
    "DELETE FROM series WHERE NOT EXISTS (SELECT 1 FROM raw WHERE series_id = series.id) "
    "AND NOT EXISTS (SELECT 1 FROM rollup_1m WHERE series_id = series.id) "
    "AND NOT EXISTS (SELECT 1 FROM rollup_1h WHERE series_id = series.id)";

// ---- Errors ---------------------------------------------------------------------------------

// Maps an SQLite result code to the HistoryStore error vocabulary, naming the file and operation.
absl::Status SqlError(sqlite3* db, int rc, std::string_view path, std::string_view what) {
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int sys_errno = db != nullptr ? sqlite3_system_errno(db) : 0;
  std::string text = fmt::format("history store {}: {}: {} (sqlite code {}", path, what,
                                 message != nullptr ? message : "?", rc);
  if (sys_errno != 0) text += fmt::format(", errno {}: {}", sys_errno, std::strerror(sys_errno));
  text += ')';
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(text + "; disk or size quota full, nothing stored");
    case SQLITE_READONLY:
      return absl::FailedPreconditionError(text + "; the store is read-only");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(text + "; locked by another connection or process");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(text);
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::PermissionDeniedError(text);
    default:
      return absl::InternalError(text);
  }
}

// Percent-encodes the characters that are special in an SQLite URI path.
std::string UriPath(std::string_view path) {
  std::string out = "file:";
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

int64_t Ns(WallTime t) { return t.time_since_epoch().count(); }

// The mergeable statistics of one bucket (see sqlite_store.h, Algorithm).
struct BucketStats {
  int64_t count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  int64_t last_ts = 0;
  double last = 0;

  void Add(int64_t ts, double v) {
    if (count == 0) {
      min = max = v;
      last_ts = ts;
      last = v;
    } else {
      min = std::min(min, v);
      max = std::max(max, v);
      if (ts >= last_ts) {
        last_ts = ts;
        last = v;
      }
    }
    ++count;
    sum += v;
  }
  void Merge(const BucketStats& o) {
    if (o.count == 0) return;
    if (count == 0) {
      *this = o;
      return;
    }
    count += o.count;
    sum += o.sum;
    min = std::min(min, o.min);
    max = std::max(max, o.max);
    if (o.last_ts >= last_ts) {
      last_ts = o.last_ts;
      last = o.last;
    }
  }
  double Value(Aggregation aggregation) const {
    switch (aggregation) {
      case Aggregation::kSum:
        return sum;
      case Aggregation::kMean:
        return sum / static_cast<double>(count);
      case Aggregation::kMin:
        return min;
      case Aggregation::kMax:
        return max;
      case Aggregation::kCount:
        return static_cast<double>(count);
      case Aggregation::kLast:
        return last;
    }
    return sum;
  }
};

struct BucketKey {
  int64_t series_id;
  int64_t bucket;
  friend bool operator==(const BucketKey&, const BucketKey&) = default;
};
struct BucketKeyHash {
  size_t operator()(const BucketKey& k) const {
    return std::hash<int64_t>()(k.series_id * 0x9E3779B97F4A7C15ull ^ k.bucket);
  }
};
using BucketMap = std::unordered_map<BucketKey, BucketStats, BucketKeyHash>;

int64_t FloorTo(int64_t t, int64_t w) {
  int64_t q = t / w;
  if (t % w != 0 && t < 0) --q;
  return q * w;
}

}  // namespace

// ---- Connection -----------------------------------------------------------------------------

struct SqliteStore::Connection {
  sqlite3* db = nullptr;
  std::string path;
  std::unordered_map<const char*, sqlite3_stmt*> statements;

  ~Connection() {
    for (auto& [sql, stmt] : statements) sqlite3_finalize(stmt);
    if (db != nullptr) sqlite3_close_v2(db);
  }

  absl::Status Error(int rc, std::string_view what) const { return SqlError(db, rc, path, what); }

  // Runs SQL text without results (several statements allowed).
  absl::Status Exec(const char* sql, std::string_view what) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK) return Error(rc, what);
    return absl::OkStatus();
  }

  // A cached prepared statement, reset and unbound, ready to bind.
  absl::StatusOr<sqlite3_stmt*> Get(const char* sql) {
    auto it = statements.find(sql);
    if (it != statements.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return Error(rc, fmt::format("prepare '{}'", sql));
    statements.emplace(sql, stmt);
    return stmt;
  }

  // Runs a single-row integer query (e.g. count(*)).
  absl::StatusOr<int64_t> QueryInt(const char* sql) {
    TIDEGATE_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Get(sql));
    const int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
      sqlite3_reset(stmt);
      return Error(rc == SQLITE_DONE ? SQLITE_ERROR : rc, sql);
    }
    const int64_t v = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    return v;
  }
};

namespace {

// Resets a statement when leaving scope, so a cached statement never holds a read snapshot.
class ScopedReset {
 public:
  explicit ScopedReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ScopedReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

void BindText(sqlite3_stmt* stmt, int index, const std::string& text) {
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

void BindKey(sqlite3_stmt* stmt, const SeriesKey& key) {
  BindText(stmt, 1, key.metric);
  BindText(stmt, 2, key.tenant);
  BindText(stmt, 3, key.class_key);
}

// Rolls back an open transaction unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {}
  ~Transaction() {
    // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL).
    if (!done_ && sqlite3_get_autocommit(db_) == 0) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  void MarkDone() { done_ = true; }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  sqlite3* db_;
  bool done_ = false;
};

}  // namespace

// Lends a reader connection and returns it to the pool when destroyed.
class SqliteStore::ReaderLease {
 public:
  ReaderLease(SqliteStore* store, std::unique_ptr<Connection> connection)
      : store_(store), connection_(std::move(connection)) {}
  ReaderLease(ReaderLease&& other) noexcept = default;
  ReaderLease& operator=(ReaderLease&&) = delete;
  ~ReaderLease() {
    if (connection_ != nullptr) store_->ReleaseReader(std::move(connection_));
  }
  Connection& operator*() { return *connection_; }
  Connection* operator->() { return connection_.get(); }

 private:
  SqliteStore* store_;
  std::unique_ptr<Connection> connection_;
};

// ---- Options --------------------------------------------------------------------------------

absl::Status ValidateSqliteStoreOptions(const SqliteStoreOptions& options) {
  struct Named {
    const char* name;
    Duration value;
  };
  for (const Named& r : {Named{"raw_retention", options.raw_retention},
                         Named{"minute_retention", options.minute_retention},
                         Named{"hour_retention", options.hour_retention},
                         Named{"busy_timeout", options.busy_timeout}}) {
    if (r.value < Duration::zero()) {
      return absl::InvalidArgumentError(
          fmt::format("sqlite store options: {} must be >= 0, got {} ns", r.name, r.value.count()));
    }
  }
  if (options.busy_timeout > std::chrono::hours(1)) {
    return absl::InvalidArgumentError("sqlite store options: busy_timeout must be <= 1 h");
  }
  if (options.max_db_bytes < 0) {
    return absl::InvalidArgumentError(
        fmt::format("sqlite store options: max_db_bytes must be >= 0 (0 = unbounded), got {}",
                    options.max_db_bytes));
  }
  if (options.max_db_bytes > 0 && options.max_db_bytes < 1024 * 1024) {
    return absl::InvalidArgumentError(fmt::format(
        "sqlite store options: max_db_bytes {} is below the 1 MiB minimum", options.max_db_bytes));
  }
  if (options.max_idle_readers < 0 || options.max_idle_readers > 1024) {
    return absl::InvalidArgumentError(
        fmt::format("sqlite store options: max_idle_readers must be in [0, 1024], got {}",
                    options.max_idle_readers));
  }
  return absl::OkStatus();
}

// ---- Open / close ---------------------------------------------------------------------------

SqliteStore::SqliteStore(std::string path, SqliteStoreOptions options)
    : path_(std::move(path)), options_(std::move(options)) {}

SqliteStore::~SqliteStore() {
  // Readers first: the last connection to close checkpoints the WAL and removes it.
  idle_readers_.clear();
  writer_.reset();
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(std::string_view data_dir,
                                                               const SqliteStoreOptions& options) {
  TIDEGATE_RETURN_IF_ERROR(ValidateSqliteStoreOptions(options));
  if (data_dir.empty()) {
    return absl::InvalidArgumentError("history store: data directory is empty");
  }
  const std::string dir(data_dir);
  const std::string path = fmt::format("{}/{}", dir, kFileName);
  std::error_code ec;
  const bool dir_exists = std::filesystem::is_directory(dir, ec);
  const bool file_exists = std::filesystem::exists(path, ec);

  std::string read_only_reason;
  if (options.read_only) {
    read_only_reason = "opened read-only";
  } else if (dir_exists && ::access(dir.c_str(), W_OK) != 0) {
    read_only_reason =
        fmt::format("data directory {} is not writable ({})", dir, std::strerror(errno));
  } else if (file_exists && ::access(path.c_str(), W_OK) != 0) {
    read_only_reason = fmt::format("database file is not writable ({})", std::strerror(errno));
  }

  if (!read_only_reason.empty() && !file_exists) {
    return absl::NotFoundError(fmt::format("history store {}: no database to open read-only ({})",
                                           path, read_only_reason));
  }
  if (read_only_reason.empty() && !dir_exists) {
    if (!std::filesystem::create_directory(dir, ec) && ec) {
      return absl::PermissionDeniedError(
          fmt::format("history store: cannot create data directory {}: {}", dir, ec.message()));
    }
  }

  auto store = std::unique_ptr<SqliteStore>(new SqliteStore(path, options));
  store->read_only_reason_ = std::move(read_only_reason);
  if (store->read_only()) {
    // An unwritable directory cannot hold the -shm file SQLite needs to read a WAL database. If
    // no -wal file is left (a clean close removes it), the file is complete and can be read as
    // immutable; otherwise SQLite reads the WAL through an existing -shm, or fails clearly.
    const bool wal_exists = std::filesystem::exists(path + "-wal", ec);
    store->immutable_ = !wal_exists && ::access(dir.c_str(), W_OK) != 0;
  }
  TIDEGATE_RETURN_IF_ERROR(store->Init());
  return store;
}

absl::StatusOr<std::unique_ptr<SqliteStore::Connection>> SqliteStore::OpenConnection(bool writer) {
  auto connection = std::make_unique<Connection>();
  connection->path = path_;
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI | SQLITE_OPEN_EXRESCODE;
  flags |= writer ? (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) : SQLITE_OPEN_READONLY;
  std::string uri = UriPath(path_);
  if (immutable_) uri += "?immutable=1";
  const int rc = sqlite3_open_v2(uri.c_str(), &connection->db, flags,
                                 options_.vfs.empty() ? nullptr : options_.vfs.c_str());
  if (rc != SQLITE_OK) {
    return connection->Error(rc, writer ? "open for writing" : "open for reading");
  }
  sqlite3_busy_timeout(
      connection->db,
      static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(options_.busy_timeout).count()));
  if (!writer) {
    // Memory-mapped reads avoid a pread and a copy per page: a 30-day query touches thousands.
    TIDEGATE_RETURN_IF_ERROR(connection->Exec(
        "PRAGMA query_only = 1; PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -32768;",
        "configure reader"));
    return connection;
  }
  // Writer pragmas. page_size applies only when the file is created: 32 KiB pages took 25-30 %
  // less CPU per appended sample than 4 KiB in bench/history (fewer page splits and WAL frame
  // headers), at equal bytes per sample. WAL lets readers run beside the writer; synchronous
  // decides power-loss durability (see the header). journal_size_limit truncates the WAL after
  // checkpoints.
  const std::string pragmas = fmt::format(
      "PRAGMA page_size = 32768; PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA "
      "journal_size_limit = 67108864; "
      "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16384;",
      options_.sync == SyncMode::kFull ? "FULL" : "NORMAL");
  TIDEGATE_RETURN_IF_ERROR(connection->Exec(pragmas.c_str(), "configure writer"));
  return connection;
}

absl::Status SqliteStore::Init() {
  if (!read_only()) {
    absl::StatusOr<std::unique_ptr<Connection>> writer = OpenConnection(/*writer=*/true);
    if (!writer.ok()) return writer.status();
    if (sqlite3_db_readonly((*writer)->db, "main") == 1) {
      // The file system refused write access although access(2) allowed it (e.g. a read-only
      // mount): serve reads only.
      read_only_reason_ = "the database file opened read-only (read-only file system?)";
    } else {
      writer_ = std::move(*writer);
    }
  }
  if (writer_ != nullptr) {
    Connection& w = *writer_;
    TIDEGATE_RETURN_IF_ERROR(w.Exec("BEGIN IMMEDIATE", "begin schema transaction"));
    Transaction txn(w.db);
    TIDEGATE_ASSIGN_OR_RETURN(const int64_t tables, w.QueryInt(kCountUserTables));
    TIDEGATE_ASSIGN_OR_RETURN(const int64_t has_meta, w.QueryInt(kHasMetaTable));
    if (tables > 0 && has_meta == 0) {
      return absl::FailedPreconditionError(fmt::format(
          "history store {}: the file is an SQLite database but not a tidegate history store "
          "(no 'meta' table)",
          path_));
    }
    TIDEGATE_RETURN_IF_ERROR(w.Exec(kSchemaSql, "create schema"));
    if (options_.max_db_bytes > 0) {
      TIDEGATE_ASSIGN_OR_RETURN(const int64_t page_size, w.QueryInt("PRAGMA page_size"));
      const std::string pragma =
          fmt::format("PRAGMA max_page_count = {}", options_.max_db_bytes / page_size);
      TIDEGATE_RETURN_IF_ERROR(w.Exec(pragma.c_str(), "set max_page_count"));
    }
    TIDEGATE_RETURN_IF_ERROR(w.Exec("COMMIT", "commit schema"));
    txn.MarkDone();
  }

  // Check the schema version through a reader (also proves the file is readable).
  TIDEGATE_ASSIGN_OR_RETURN(ReaderLease reader, AcquireReader());
  TIDEGATE_ASSIGN_OR_RETURN(const int64_t has_meta, reader->QueryInt(kHasMetaTable));
  if (has_meta == 0) {
    return absl::FailedPreconditionError(
        fmt::format("history store {}: not a tidegate history store (no 'meta' table)", path_));
  }
  TIDEGATE_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, reader->Get(kSelectMeta));
  ScopedReset reset(stmt);
  sqlite3_bind_text(stmt, 1, "schema_version", -1, SQLITE_STATIC);
  const int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) {
    return absl::FailedPreconditionError(
        fmt::format("history store {}: meta table has no schema_version", path_));
  }
  const int64_t version = sqlite3_column_int64(stmt, 0);
  if (version != kSchemaVersion) {
    return absl::FailedPreconditionError(fmt::format(
        "history store {}: schema version {} is not supported (this build reads version {})", path_,
        version, kSchemaVersion));
  }
  return absl::OkStatus();
}

absl::StatusOr<SqliteStore::ReaderLease> SqliteStore::AcquireReader() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(this, std::move(c));
    }
  }
  TIDEGATE_ASSIGN_OR_RETURN(std::unique_ptr<Connection> c, OpenConnection(/*writer=*/false));
  return ReaderLease(this, std::move(c));
}

void SqliteStore::ReleaseReader(std::unique_ptr<Connection> connection) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (static_cast<int>(idle_readers_.size()) < options_.max_idle_readers) {
    idle_readers_.push_back(std::move(connection));
  }
}

absl::Status SqliteStore::NotWritable(std::string_view what, size_t samples) const {
  return absl::FailedPreconditionError(
      fmt::format("history store {} is read-only ({}): {}{}", path_, read_only_reason_, what,
                  samples > 0 ? fmt::format(" (batch of {} samples not stored)", samples) : ""));
}

// ---- Append ---------------------------------------------------------------------------------

absl::Status SqliteStore::Append(const SampleBatch& batch) {
  TIDEGATE_RETURN_IF_ERROR(ValidateBatch(batch));
  const size_t samples = batch.SampleCount();
  if (samples == 0) return absl::OkStatus();
  if (read_only()) return NotWritable("cannot append", samples);
  std::lock_guard<std::mutex> lock(write_mu_);
  std::vector<std::pair<std::string, int64_t>> new_series;
  TIDEGATE_RETURN_IF_ERROR(AppendLocked(batch, new_series));
  // Only committed ids enter the cache: a rolled-back INSERT INTO series may be reused later.
  for (auto& [key, id] : new_series) series_ids_.emplace(std::move(key), id);
  return absl::OkStatus();
}

absl::Status SqliteStore::AppendLocked(const SampleBatch& batch,
                                       std::vector<std::pair<std::string, int64_t>>& new_series) {
  Connection& w = *writer_;
  TIDEGATE_RETURN_IF_ERROR(w.Exec("BEGIN IMMEDIATE", "begin append"));
  Transaction txn(w.db);
  TIDEGATE_ASSIGN_OR_RETURN(sqlite3_stmt * insert_raw, w.Get(kInsertRaw));
  TIDEGATE_ASSIGN_OR_RETURN(sqlite3_stmt * select_raw, w.Get(kSelectRawValue));
  TIDEGATE_ASSIGN_OR_RETURN(sqlite3_stmt * select_id, w.Get(kSelectSeriesId));
  TIDEGATE_ASSIGN_OR_RETURN(sqlite3_stmt * insert_series, w.Get(kInsertSeries));

  BucketMap minutes;
  minutes.reserve(batch.SampleCount() / 6 + 16);     // >= one bucket per 6 samples at 10 s.
  std::unordered_map<std::string, int64_t> pending;  // Series created by this batch.

  BucketStats run;  // The current minute of the current series (see below).
  int64_t run_minute = 0;
  for (const SeriesSamples& entry : batch.series) {
    if (entry.samples.empty()) continue;
    std::string canonical = entry.series.ToString();
    int64_t id = -1;
    if (auto it = series_ids_.find(canonical); it != series_ids_.end()) {
      id = it->second;
    } else if (auto pit = pending.find(canonical); pit != pending.end()) {
      id = pit->second;
    } else {
      {
        ScopedReset reset(select_id);
        BindKey(select_id, entry.series);
        const int rc = sqlite3_step(select_id);
        if (rc == SQLITE_ROW) {
          id = sqlite3_column_int64(select_id, 0);
        } else if (rc != SQLITE_DONE) {
          return w.Error(rc, "look up series " + canonical);
        }
      }
      if (id < 0) {
        ScopedReset reset(insert_series);
        BindKey(insert_series, entry.series);
        const int rc = sqlite3_step(insert_series);
        if (rc != SQLITE_DONE) return w.Error(rc, "create series " + canonical);
        id = sqlite3_last_insert_rowid(w.db);
        pending.emplace(canonical, id);
        new_series.emplace_back(canonical, id);
      } else {
        new_series.emplace_back(canonical, id);  // Known on disk, not yet cached.
      }
    }

    for (const Sample& sample : entry.samples) {
      const int64_t ts = Ns(sample.time);
      sqlite3_bind_int64(insert_raw, 1, id);
      sqlite3_bind_int64(insert_raw, 2, ts);
      sqlite3_bind_double(insert_raw, 3, sample.value);
      const int rc = sqlite3_step(insert_raw);
      sqlite3_reset(insert_raw);
      if (rc != SQLITE_DONE) {
        return w.Error(rc,
                       fmt::format("append to {} at {}", canonical, FormatWallTime(sample.time)));
      }
      if (sqlite3_changes(w.db) == 0) {
        // Duplicate timestamp: the same value is an idempotent retry; another value conflicts.
        ScopedReset reset(select_raw);
        sqlite3_bind_int64(select_raw, 1, id);
        sqlite3_bind_int64(select_raw, 2, ts);
        const int src = sqlite3_step(select_raw);
        if (src != SQLITE_ROW) return w.Error(src, "read duplicate in " + canonical);
        const double existing = sqlite3_column_double(select_raw, 0);
        if (existing != sample.value) {
          return absl::AlreadyExistsError(fmt::format(
              "batch rejected: series {} at {} already holds value {}; the batch has {} (a "
              "series holds one value per timestamp; nothing of the batch was stored)",
              canonical, FormatWallTime(sample.time), existing, sample.value));
        }
        continue;
      }
      // Samples of a series mostly arrive in time order: accumulate the current minute locally
      // and touch the map once per minute bucket, not once per sample.
      const int64_t minute = FloorTo(ts, kMinuteNs);
      if (run.count > 0 && minute != run_minute) {
        minutes[BucketKey{id, run_minute}].Merge(run);
        run = BucketStats{};
      }
      run_minute = minute;
      run.Add(ts, sample.value);
    }
    if (run.count > 0) minutes[BucketKey{id, run_minute}].Merge(run);
    run = BucketStats{};
  }

  BucketMap hours;
  hours.reserve(minutes.size() / 60 + 16);
  for (const auto& [key, stats] : minutes) {
    hours[BucketKey{key.series_id, FloorTo(key.bucket, kHourNs)}].Merge(stats);
  }
  for (auto [sql, map] : {std::pair{kUpsertMinute, &minutes}, std::pair{kUpsertHour, &hours}}) {
    TIDEGATE_ASSIGN_OR_RETURN(sqlite3_stmt * upsert, w.Get(sql));
    for (const auto& [key, s] : *map) {
      sqlite3_bind_int64(upsert, 1, key.series_id);
      sqlite3_bind_int64(upsert, 2, key.bucket);
      sqlite3_bind_int64(upsert, 3, s.count);
      sqlite3_bind_double(upsert, 4, s.sum);
      sqlite3_bind_double(upsert, 5, s.min);
      sqlite3_bind_double(upsert, 6, s.max);
      sqlite3_bind_int64(upsert, 7, s.last_ts);
      sqlite3_bind_double(upsert, 8, s.last);
      const int rc = sqlite3_step(upsert);
      sqlite3_reset(upsert);
      if (rc != SQLITE_DONE) return w.Error(rc, "update rollups");
    }
  }
  TIDEGATE_RETURN_IF_ERROR(w.Exec("COMMIT", "commit append"));
  txn.MarkDone();
  return absl::OkStatus();
}

// ---- Query ----------------------------------------------------------------------------------

Resolution SqliteStore::ChooseResolution(WallTime start, WallTime end, Duration step) {
  for (Resolution r : {Resolution::kOneHour, Resolution::kOneMinute}) {
    const Duration w = ResolutionStep(r);
    if (step.count() > 0 && step.count() % w.count() == 0 && AlignDown(start, w) == start &&
        AlignDown(end, w) == end) {
      return r;
    }
  }
  return Resolution::kRaw;
}

absl::StatusOr<std::vector<Point>> SqliteStore::Query(const SeriesKey& series, WallTime start,
                                                      WallTime end, Duration step,
                                                      Aggregation aggregation) {
  TIDEGATE_RETURN_IF_ERROR(ValidateQueryRange(start, end, step));
  return QueryAt(ChooseResolution(start, end, step), series, start, end, step, aggregation);
}

absl::StatusOr<std::vector<Point>> SqliteStore::QueryAt(Resolution resolution,
                                                        const SeriesKey& series, WallTime start,
                                                        WallTime end, Duration step,
                                                        Aggregation aggregation) {
  TIDEGATE_RETURN_IF_ERROR(ValidateSeriesKey(series));
  TIDEGATE_RETURN_IF_ERROR(ValidateQueryRange(start, end, step));
  if (resolution != Resolution::kRaw) {
    const Duration w = ResolutionStep(resolution);
    if (step.count() % w.count() != 0 || AlignDown(start, w) != start || AlignDown(end, w) != end) {
      return absl::InvalidArgumentError(fmt::format(
          "query of {} at resolution {}: step ({} ns), start ({}) and end ({}) must all be "
          "multiples of {} ns",
          series.ToString(), ResolutionName(resolution), step.count(), FormatWallTime(start),
          FormatWallTime(end), w.count()));
    }
  }

  TIDEGATE_ASSIGN_OR_RETURN(ReaderLease reader, AcquireReader());
  // One read transaction, so the series lookup and the data come from the same snapshot.
  TIDEGATE_RETURN_IF_ERROR(reader->Exec("BEGIN", "begin query"));
  Transaction txn(reader->db);
  int64_t id = -1;
  {
    TIDEGATE_ASSIGN_OR_RETURN(sqlite3_stmt * select_id, reader->Get(kSelectSeriesId));
    ScopedReset reset(select_id);
    BindKey(select_id, series);
    const int rc = sqlite3_step(select_id);
    if (rc == SQLITE_ROW) {
      id = sqlite3_column_int64(select_id, 0);
    } else if (rc != SQLITE_DONE) {
      return reader->Error(rc, "look up series " + series.ToString());
    }
  }
  std::vector<Point> points;
  if (id < 0) return points;

  const int columns = RollupColumns(aggregation);
  const char* sql = resolution == Resolution::kRaw
                        ? kQueryRaw
                        : kQueryRollup[resolution == Resolution::kOneMinute ? 0 : 1][columns];
  TIDEGATE_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, reader->Get(sql));
  ScopedReset reset(stmt);
  sqlite3_bind_int64(stmt, 1, id);
  sqlite3_bind_int64(stmt, 2, Ns(start));
  sqlite3_bind_int64(stmt, 3, Ns(end));
  const int64_t step_ns = step.count();
  // Rows per point is at least 1, so this bounds the result and avoids regrowth.
  const int64_t width_ns =
      resolution == Resolution::kRaw ? step_ns : ResolutionStep(resolution).count();
  points.reserve(static_cast<size_t>(
      std::min<int64_t>((Ns(end) - Ns(start)) / std::max(step_ns, width_ns) + 1, 1 << 20)));
  BucketStats current;
  int64_t current_bucket = 0;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const int64_t t = sqlite3_column_int64(stmt, 0);
    const int64_t bucket = FloorTo(t, step_ns);
    if (current.count > 0 && bucket != current_bucket) {
      points.push_back(Point{WallTime(Duration(current_bucket)), current.Value(aggregation)});
      current = BucketStats{};
    }
    current_bucket = bucket;
    if (resolution == Resolution::kRaw) {
      current.Add(t, sqlite3_column_double(stmt, 1));
      continue;
    }
    // Only the statistic the aggregation reads is loaded; the others stay 0 and are never read.
    BucketStats row;
    row.count = sqlite3_column_int64(stmt, 1);
    switch (columns) {
      case 0:
        row.sum = sqlite3_column_double(stmt, 2);
        break;
      case 1:
        row.min = sqlite3_column_double(stmt, 2);
        break;
      case 2:
        row.max = sqlite3_column_double(stmt, 2);
        break;
      default:
        row.last_ts = sqlite3_column_int64(stmt, 2);
        row.last = sqlite3_column_double(stmt, 3);
    }
    current.Merge(row);
  }
  if (rc != SQLITE_DONE) return reader->Error(rc, "query " + series.ToString());
  if (current.count > 0) {
    points.push_back(Point{WallTime(Duration(current_bucket)), current.Value(aggregation)});
  }
  return points;
}

absl::StatusOr<std::vector<SeriesKey>> SqliteStore::ListSeries(const SeriesFilter& filter) {
  TIDEGATE_ASSIGN_OR_RETURN(ReaderLease reader, AcquireReader());
  TIDEGATE_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, reader->Get(kSelectAllSeries));
  ScopedReset reset(stmt);
  std::vector<SeriesKey> out;
  int rc;
  auto text = [stmt](int col) {
    const unsigned char* p = sqlite3_column_text(stmt, col);
    return std::string(reinterpret_cast<const char*>(p),
                       static_cast<size_t>(sqlite3_column_bytes(stmt, col)));
  };
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    SeriesKey key{text(1), text(2), text(3)};
    if (filter.Matches(key)) out.push_back(std::move(key));
  }
  if (rc != SQLITE_DONE) return reader->Error(rc, "list series");
  std::sort(out.begin(), out.end());
  return out;
}

// ---- Deletion and retention -----------------------------------------------------------------

absl::Status SqliteStore::DeleteSeries(const SeriesKey& series) {
  TIDEGATE_RETURN_IF_ERROR(ValidateSeriesKey(series));
  if (read_only()) return NotWritable("cannot delete " + series.ToString(), 0);
  std::lock_guard<std::mutex> lock(write_mu_);
  Connection& w = *writer_;
  TIDEGATE_RETURN_IF_ERROR(w.Exec("BEGIN IMMEDIATE", "begin delete"));
  Transaction txn(w.db);
  int64_t id = -1;
  {
    TIDEGATE_ASSIGN_OR_RETURN(sqlite3_stmt * select_id, w.Get(kSelectSeriesId));
    ScopedReset reset(select_id);
    BindKey(select_id, series);
    const int rc = sqlite3_step(select_id);
    if (rc == SQLITE_ROW) {
      id = sqlite3_column_int64(select_id, 0);
    } else if (rc != SQLITE_DONE) {
      return w.Error(rc, "look up series " + series.ToString());
    }
  }
  if (id >= 0) {
    for (const char* sql :
         {kDeleteRawSeries, kDeleteMinuteSeries, kDeleteHourSeries, kDeleteSeriesRow}) {
      TIDEGATE_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, w.Get(sql));
      ScopedReset reset(stmt);
      sqlite3_bind_int64(stmt, 1, id);
      const int rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) return w.Error(rc, "delete series " + series.ToString());
    }
  }
  TIDEGATE_RETURN_IF_ERROR(w.Exec("COMMIT", "commit delete"));
  txn.MarkDone();
  series_ids_.erase(series.ToString());
  return absl::OkStatus();
}

absl::Status SqliteStore::ApplyRetention(WallTime now) {
  if (read_only()) return NotWritable("cannot apply retention", 0);
  std::lock_guard<std::mutex> lock(write_mu_);
  Connection& w = *writer_;
  TIDEGATE_RETURN_IF_ERROR(w.Exec("BEGIN IMMEDIATE", "begin retention"));
  Transaction txn(w.db);

  std::vector<int64_t> ids;
  {
    TIDEGATE_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, w.Get(kSelectAllSeries));
    ScopedReset reset(stmt);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) ids.push_back(sqlite3_column_int64(stmt, 0));
    if (rc != SQLITE_DONE) return w.Error(rc, "list series for retention");
  }
  const int64_t now_ns = Ns(now);
  struct Rule {
    const char* sql;
    Duration retention;
    int64_t width_ns;  // Rows are dropped when their whole bucket is older than the cutoff.
  };
  for (const Rule& rule : {Rule{kExpireRaw, options_.raw_retention, 0},
                           Rule{kExpireMinute, options_.minute_retention, kMinuteNs},
                           Rule{kExpireHour, options_.hour_retention, kHourNs}}) {
    if (rule.retention == Duration::zero()) continue;  // Kept forever.
    if (now_ns < std::numeric_limits<int64_t>::min() + rule.retention.count() + rule.width_ns) {
      continue;  // Cutoff before representable time: nothing to expire.
    }
    // raw: ts < cutoff. rollups: bucket + width <= cutoff, i.e. bucket <= cutoff - width.
    const int64_t bound = now_ns - rule.retention.count() - rule.width_ns;
    TIDEGATE_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, w.Get(rule.sql));
    for (int64_t id : ids) {
      sqlite3_bind_int64(stmt, 1, id);
      sqlite3_bind_int64(stmt, 2, bound);
      const int rc = sqlite3_step(stmt);
      sqlite3_reset(stmt);
      if (rc != SQLITE_DONE) return w.Error(rc, "apply retention");
    }
  }
  TIDEGATE_RETURN_IF_ERROR(w.Exec(kDeleteEmptySeries, "drop empty series"));
  TIDEGATE_RETURN_IF_ERROR(w.Exec("COMMIT", "commit retention"));
  txn.MarkDone();
  series_ids_.clear();  // Some series rows may be gone; ids are re-read on demand.
  return absl::OkStatus();
}

// ---- Maintenance ----------------------------------------------------------------------------

absl::StatusOr<SqliteStorageStats> SqliteStore::Stats() {
  SqliteStorageStats stats;
  {
    TIDEGATE_ASSIGN_OR_RETURN(ReaderLease reader, AcquireReader());
    TIDEGATE_RETURN_IF_ERROR(reader->Exec("BEGIN", "begin stats"));
    Transaction txn(reader->db);
    TIDEGATE_ASSIGN_OR_RETURN(stats.series, reader->QueryInt("SELECT count(*) FROM series"));
    TIDEGATE_ASSIGN_OR_RETURN(stats.raw_rows, reader->QueryInt("SELECT count(*) FROM raw"));
    TIDEGATE_ASSIGN_OR_RETURN(stats.minute_rows,
                              reader->QueryInt("SELECT count(*) FROM rollup_1m"));
    TIDEGATE_ASSIGN_OR_RETURN(stats.hour_rows, reader->QueryInt("SELECT count(*) FROM rollup_1h"));
    TIDEGATE_ASSIGN_OR_RETURN(stats.raw_bytes,
                              reader->QueryInt("SELECT coalesce(sum(pgsize), 0) FROM dbstat "
                                               "WHERE name = 'raw'"));
    TIDEGATE_ASSIGN_OR_RETURN(stats.minute_bytes,
                              reader->QueryInt("SELECT coalesce(sum(pgsize), 0) FROM dbstat "
                                               "WHERE name = 'rollup_1m'"));
    TIDEGATE_ASSIGN_OR_RETURN(stats.hour_bytes,
                              reader->QueryInt("SELECT coalesce(sum(pgsize), 0) FROM dbstat "
                                               "WHERE name = 'rollup_1h'"));
  }
  std::error_code ec;
  const auto file = std::filesystem::file_size(path_, ec);
  stats.file_bytes = ec ? 0 : static_cast<int64_t>(file);
  const auto wal = std::filesystem::file_size(path_ + "-wal", ec);
  stats.wal_bytes = ec ? 0 : static_cast<int64_t>(wal);
  return stats;
}

absl::Status SqliteStore::Checkpoint() {
  if (read_only()) return NotWritable("cannot checkpoint", 0);
  std::lock_guard<std::mutex> lock(write_mu_);
  int log_frames = 0;
  int checkpointed = 0;
  const int rc = sqlite3_wal_checkpoint_v2(writer_->db, nullptr, SQLITE_CHECKPOINT_TRUNCATE,
                                           &log_frames, &checkpointed);
  if (rc != SQLITE_OK) return writer_->Error(rc, "checkpoint");
  return absl::OkStatus();
}

}  // namespace tidegate::history
