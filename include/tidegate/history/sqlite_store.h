// tidegate/history/sqlite_store.h — the embedded HistoryStore: one SQLite database (WAL mode) in
// the data directory, with rollups raw -> 1 min -> 1 h computed as data arrives and retention per
// resolution. The schema is specified in docs/formats/sqlite-history.md; the design (rollup math,
// durability, concurrency) in docs/design/history.md.
//
// Algorithm:
//   Every accepted raw sample (t, v) of series s is inserted into `raw` and folded into the
//   rollup bucket b = floor(t / w) * w of each width w in {1 min, 1 h}, which stores
//     count = n,  sum = Σ v,  min = min v,  max = max v,  last_ts = max t,  last = v at last_ts.
//   These five statistics are mergeable (count, sum add; min, max take the extreme; last keeps
//   the later timestamp), so the aggregate of any union of buckets is exact:
//     sum = Σ sum_i, count = Σ count_i, mean = sum / count, min = min min_i, max = max max_i,
//     last = last_j with j = argmax last_ts_i.
//   A query with step Δ over [start, end) is answered from the coarsest resolution w for which
//   Δ, start and end are all multiples of w (every Δ-bucket is then a disjoint union of
//   w-buckets); otherwise from raw samples. Sums are computed in a different order at different
//   resolutions, so they agree to floating-point rounding (exactly for integer values < 2^53).
//
// Durability: one Append is one SQLite transaction (BEGIN IMMEDIATE ... COMMIT). In WAL mode the
// commit is durable against a process crash (kill -9) as soon as COMMIT returns, whatever the
// synchronous setting; with SyncMode::kFull (the default) the WAL is also fsync'ed at every
// commit, so an acknowledged batch survives power loss too. SyncMode::kNormal skips that fsync
// (faster, crash-safe, but the last batches may be lost on power loss).
//
// Invariants (hold after every committed transaction):
//   * For each series and rollup bucket, the rollup row equals the statistics above computed over
//     the raw samples that were accepted into that bucket (until retention deletes raw rows).
//   * (series_id, ts) is unique in `raw`: a series has at most one value per timestamp.
//   * A batch is all-or-nothing: raw rows, rollup rows and new series rows commit together.
//
// Locking / thread-safety: all methods are safe to call concurrently. Writers (Append,
// DeleteSeries, ApplyRetention) serialise on one mutex and one writer connection. Readers (Query,
// ListSeries, Stats) each borrow a connection from a pool and run in parallel with each other and
// with a writer (WAL readers see the last committed snapshot and never wait for the writer).
// One process should own a data directory; a second process may read it concurrently.
#ifndef TIDEGATE_HISTORY_SQLITE_STORE_H_
#define TIDEGATE_HISTORY_SQLITE_STORE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"
#include "tidegate/history/history_store.h"

struct sqlite3;

namespace tidegate::history {

enum class SyncMode : uint8_t {
  kFull,    // fsync the WAL at every commit: survives kill -9 and power loss. Default.
  kNormal,  // fsync only at checkpoints: survives kill -9; power loss may drop the last commits.
};

struct SqliteStoreOptions {
  // How long each resolution is kept, measured back from ApplyRetention's `now`. Zero keeps the
  // resolution forever. Defaults: raw 7 days, 1 min 90 days, 1 h 2 years.
  Duration raw_retention = std::chrono::hours(24 * 7);
  Duration minute_retention = std::chrono::hours(24 * 90);
  Duration hour_retention = std::chrono::hours(24 * 730);

  SyncMode sync = SyncMode::kFull;

  // Upper bound on the database file, in bytes (rounded down to whole pages); 0 means no bound,
  // otherwise at least 1 MiB.
  // An Append that would grow the file past it fails with ResourceExhausted and stores nothing —
  // the same error a full disk gives.
  int64_t max_db_bytes = 0;

  // Open an existing store for reading only: Append, DeleteSeries and ApplyRetention fail with
  // FailedPrecondition. Open also falls back to read-only by itself when the data directory or the
  // database file is not writable (see SqliteStore::read_only_reason()).
  bool read_only = false;

  // How long a statement waits for a lock held by another process before failing with
  // Unavailable. Within one process, writers queue on a mutex instead.
  Duration busy_timeout = std::chrono::seconds(5);

  // Reader connections kept open when idle (more are opened on demand under load).
  int max_idle_readers = 4;

  // SQLite VFS to open the database with; empty means the default. Tests use it to inject faults.
  std::string vfs;
};

// OK, or InvalidArgument naming the option and its value.
absl::Status ValidateSqliteStoreOptions(const SqliteStoreOptions& options);

// Sizes on disk, for benchmarks and `tidegate status`. Bytes are B-tree pages including their
// indexes (SQLite's dbstat), so bytes / rows is the true cost of a row.
struct SqliteStorageStats {
  int64_t series = 0;
  int64_t raw_rows = 0;
  int64_t minute_rows = 0;
  int64_t hour_rows = 0;
  int64_t raw_bytes = 0;
  int64_t minute_bytes = 0;
  int64_t hour_bytes = 0;
  int64_t file_bytes = 0;  // The main database file (after a checkpoint, everything).
  int64_t wal_bytes = 0;   // The -wal file.
};

class SqliteStore final : public HistoryStore {
 public:
  // The database file inside the data directory.
  static constexpr std::string_view kFileName = "history.sqlite";
  // The schema version this code reads and writes (table `meta`, key 'schema_version').
  static constexpr int kSchemaVersion = 1;

  // Opens `data_dir`/history.sqlite, creating the directory (one level) and the database if
  // needed. Errors: InvalidArgument (options), NotFound (read-only and no database),
  // FailedPrecondition (a schema version this code does not know, or not a tidegate store),
  // PermissionDenied (cannot create), Internal/DataLoss (SQLite errors), each naming the path.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(std::string_view data_dir,
                                                           const SqliteStoreOptions& options = {});

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  std::string_view name() const override { return "sqlite"; }
  absl::Status Append(const SampleBatch& batch) override;
  absl::StatusOr<std::vector<Point>> Query(const SeriesKey& series, WallTime start, WallTime end,
                                           Duration step, Aggregation aggregation) override;
  absl::StatusOr<std::vector<SeriesKey>> ListSeries(const SeriesFilter& filter) override;
  absl::Status DeleteSeries(const SeriesKey& series) override;
  absl::Status ApplyRetention(WallTime now) override;

  // Like Query, but from the given resolution, which must divide step, start and end
  // (InvalidArgument otherwise). For tests, diagnostics and comparing resolutions.
  absl::StatusOr<std::vector<Point>> QueryAt(Resolution resolution, const SeriesKey& series,
                                             WallTime start, WallTime end, Duration step,
                                             Aggregation aggregation);

  // The resolution Query uses: the coarsest of 1 h, 1 min whose width divides step, start and end
  // (measured from the Unix epoch), else raw.
  static Resolution ChooseResolution(WallTime start, WallTime end, Duration step);

  absl::StatusOr<SqliteStorageStats> Stats();

  // Copies the WAL into the database file (PRAGMA wal_checkpoint(TRUNCATE)). Optional: SQLite
  // checkpoints automatically; benchmarks call it before measuring file size.
  absl::Status Checkpoint();

  bool read_only() const { return !read_only_reason_.empty(); }
  // Why the store is read-only ("opened read-only", "directory ... is not writable"), or "".
  const std::string& read_only_reason() const { return read_only_reason_; }
  // The database file's path.
  const std::string& path() const { return path_; }

 private:
  struct Connection;
  class ReaderLease;

  SqliteStore(std::string path, SqliteStoreOptions options);

  absl::Status Init();
  absl::StatusOr<std::unique_ptr<Connection>> OpenConnection(bool writer);
  absl::StatusOr<ReaderLease> AcquireReader();
  void ReleaseReader(std::unique_ptr<Connection> connection);
  absl::Status AppendLocked(const SampleBatch& batch,
                            std::vector<std::pair<std::string, int64_t>>& new_series);
  absl::Status NotWritable(std::string_view what, size_t samples) const;

  const std::string path_;
  const SqliteStoreOptions options_;
  std::string read_only_reason_;  // Set once in Open; "" when writable.
  bool immutable_ = false;        // Read-only open of a WAL-free file in an unwritable directory.

  std::mutex write_mu_;  // Serialises writers; guards writer_ and series_ids_.
  std::unique_ptr<Connection> writer_;
  std::unordered_map<std::string, int64_t> series_ids_;  // Canonical key -> series.id (committed).

  std::mutex pool_mu_;  // Guards idle_readers_.
  std::vector<std::unique_ptr<Connection>> idle_readers_;
};

}  // namespace tidegate::history

#endif  // TIDEGATE_HISTORY_SQLITE_STORE_H_
