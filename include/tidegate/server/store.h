// tidegate/server/store.h — the daemon's history store: the backend `store:` names (SQLite,
// Prometheus or InfluxDB) and, for the remote ones, a local spool that keeps acknowledged writes
// while the backend is unreachable.
//
// Which way the data goes (docs/user/operations.md#history-backends):
//   * sqlite: the embedded store in the data directory; durable when Append returns.
//   * influxdb: PUSH. Each closed step is written with line protocol (history/influx_store.h).
//   * prometheus: PULL. Samples are staged in an ExpositionBuffer that tidegated serves on its own
//     /metrics, and Prometheus scrapes them with their timestamps; reads use query_range. A daemon
//     already is a scrape target, needs no write endpoint on Prometheus (remote write is an opt-in
//     receiver flag there) and keeps Prometheus' own scrape health (`up`) as the signal that
//     history flows.
//
// SpooledStore (remote backends only): Append validates the batch, then
//   * when nothing is spooled, writes it to the backend; a transient failure (anything but
//     InvalidArgument / AlreadyExists: the server is down, slow, or answers 5xx) appends the batch
//     to the spool file (one JSON line, fdatasync'ed) and returns OK — the batch is acknowledged
//     because it is on local disk;
//   * when batches are spooled, appends behind them (order is kept);
//   * a spool at `max_samples` returns ResourceExhausted naming store.max_spool_samples (the usage
//     aggregator then keeps its buckets in memory and retries at the next tick).
// Drain() forwards spooled batches oldest first, with exponential backoff after a failure (initial
// 1 s, doubling to 30 s); a batch the backend refuses for good (InvalidArgument, AlreadyExists:
// conflicting data) is dropped, logged and counted. Queries go to the backend: spooled samples
// are not visible to reads until forwarded. The spool file survives restarts (Open reloads it);
// a torn last line — a write interrupted by a crash, never acknowledged — is dropped with a log
// line.
//
// Prometheus: staging never fails, so the spool holds only what no scrape took before shutdown:
// SpoolUnscraped() moves the buffer's unrendered samples into the spool (the daemon calls it after
// its final flush and a bounded wait for a scrape); at the next start they are staged again.
// Samples the buffer trims before any scrape are counted
// (tidegate_history_dropped_samples_total{reason="unscraped"}).
//
// Thread-safety: every method may be called from any thread. One mutex guards the queue and the
// file; backend calls happen outside it (one drainer at a time).
#ifndef TIDEGATE_SERVER_STORE_H_
#define TIDEGATE_SERVER_STORE_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"
#include "tidegate/history/exposition.h"
#include "tidegate/history/history_store.h"
#include "tidegate/server/config.h"

namespace tidegate::server {

inline constexpr char kSpoolFileName[] = "history-spool.jsonl";

struct SpoolOptions {
  std::string path;  // The spool file; created when missing.
  uint64_t max_samples = 1'000'000;
  Duration initial_backoff = std::chrono::seconds(1);
  Duration max_backoff = std::chrono::seconds(30);
  // Prometheus: the buffer the backend stages into (scrape accounting, /metrics). May be null.
  std::shared_ptr<history::ExpositionBuffer> exposition;
  std::function<void(const std::string&)> log;  // May be empty.
};

// Counters of a SpooledStore (also rendered as metrics).
struct SpoolStats {
  uint64_t pending_batches = 0;
  uint64_t pending_samples = 0;
  uint64_t spooled_samples = 0;    // Ever written to the spool.
  uint64_t forwarded_samples = 0;  // Written to the backend from the spool.
  uint64_t write_failures = 0;     // Failed backend writes (direct and from the spool).
  uint64_t dropped_rejected = 0;   // Spooled samples the backend refused for good.
  uint64_t dropped_unscraped = 0;  // Prometheus: trimmed from the buffer before any scrape.
};

// True for errors a retry may cure (the backend down, slow, overloaded).
bool IsTransientStoreError(const absl::Status& status);

class SpooledStore final : public history::HistoryStore {
 public:
  // Loads the spool file (creating it); Internal naming the path if it cannot be read or written.
  static absl::StatusOr<std::unique_ptr<SpooledStore>> Open(
      std::unique_ptr<history::HistoryStore> backend, SpoolOptions options, Clock& clock);
  ~SpooledStore() override;

  std::string_view name() const override { return backend_->name(); }
  absl::Status Append(const history::SampleBatch& batch) override;
  absl::StatusOr<std::vector<history::Point>> Query(const history::SeriesKey& series,
                                                    WallTime start, WallTime end, Duration step,
                                                    history::Aggregation aggregation) override {
    return backend_->Query(series, start, end, step, aggregation);
  }
  absl::StatusOr<std::vector<history::SeriesKey>> ListSeries(
      const history::SeriesFilter& filter) override {
    return backend_->ListSeries(filter);
  }
  absl::Status DeleteSeries(const history::SeriesKey& series) override {
    return backend_->DeleteSeries(series);
  }
  absl::Status ApplyRetention(WallTime now) override { return backend_->ApplyRetention(now); }

  // Forwards spooled batches (oldest first) unless the backoff after a failure has not elapsed at
  // `now`. Returns the failure that stopped it, OK when the spool is empty or waiting.
  absl::Status Drain(MonoTime now);
  // Runs Drain about every 200 ms on a thread of its own until Stop() (or destruction).
  void Start();
  void Stop();
  // Prometheus: spools the samples no scrape has taken (no-op without an exposition buffer).
  absl::Status SpoolUnscraped();
  // Prometheus: staged samples no scrape has taken yet (0 without an exposition buffer).
  size_t UnscrapedCount() const {
    return options_.exposition ? options_.exposition->UnrenderedCount() : 0;
  }

  SpoolStats stats() const;
  // Exposition text: the spool's counters and, for Prometheus, the staged history samples.
  std::string RenderMetrics() const;
  history::HistoryStore& backend() const { return *backend_; }

 private:
  SpooledStore(std::unique_ptr<history::HistoryStore> backend, SpoolOptions options, Clock& clock)
      : backend_(std::move(backend)), options_(std::move(options)), clock_(clock) {}
  void Log(const std::string& line) const;
  // Appends to the queue and the file (mu_ held).
  absl::Status SpoolLocked(const history::SampleBatch& batch);
  // Rewrites the file from the queue (mu_ held).
  absl::Status RewriteLocked();

  const std::unique_ptr<history::HistoryStore> backend_;
  const SpoolOptions options_;
  Clock& clock_;

  mutable std::mutex mu_;
  std::deque<history::SampleBatch> queue_;
  uint64_t pending_samples_ = 0;
  SpoolStats counters_;
  MonoTime next_attempt_{};
  Duration backoff_{0};

  std::mutex drain_mu_;  // One drainer at a time.

  std::mutex thread_mu_;
  std::condition_variable thread_cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The store `spec` names, opened for the daemon. sqlite: history.sqlite in spec.path or
// `data_dir`. influxdb / prometheus: the backend checked reachable now (InfluxDB: CREATE DATABASE;
// Prometheus: GET /api/v1/status/buildinfo) — Unavailable naming the config file, line, store.url
// and the server's error otherwise — wrapped in a SpooledStore spooling to
// `data_dir`/history-spool.jsonl (not started).
struct OpenedStore {
  std::unique_ptr<history::HistoryStore> store;
  SpooledStore* spool = nullptr;  // Owned by `store`; null for sqlite.
  std::string description;        // For the start log line, e.g. "influxdb at http://...".
};
absl::StatusOr<OpenedStore> OpenStore(const StoreSpec& spec, const std::string& data_dir,
                                      Clock& clock, std::function<void(const std::string&)> log);

}  // namespace tidegate::server

#endif  // TIDEGATE_SERVER_STORE_H_
