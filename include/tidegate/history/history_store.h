// tidegate/history/history_store.h — the one interface every history backend implements.
//
// A history store keeps time series of what request classes consumed (and system metrics): one
// series per (metric, tenant, class key). Writers append batches of samples; readers query a time
// range of one series at a step with an aggregation. Backends: SQLite (the embedded default,
// sqlite_store.h), Prometheus and InfluxDB (remote).
//
// Series identity: SeriesKey{metric, tenant, class_key}. Its canonical string form is
//   metric{tenant="t",class="k"}
// (Prometheus-like; `"` and `\` inside labels are escaped with `\`, a newline as `\n`). Two keys
// are the same series exactly when their canonical forms are equal. Metric names match
// [a-z_][a-z0-9_]* (at most 128 characters); labels are any UTF-8 of at most 1024 bytes and may be
// empty (the system metrics use tenant "" and class "").
//
// Sample rules (the same for every backend; ValidateBatch checks them):
//   * A value must be finite and >= 0 (every tidegate metric is a count, an amount or a duration).
//     NaN, ±infinity and negative values reject the whole batch with InvalidArgument naming the
//     series and the timestamp; nothing of that batch is stored.
//   * Out-of-order samples (older than what the series already holds) are accepted and merged.
//   * A duplicate (same series, same timestamp) with the same value is accepted and ignored, so a
//     batch whose acknowledgement was lost can simply be appended again (idempotent retry). A
//     duplicate with a different value rejects the whole batch with AlreadyExists naming the
//     series, the timestamp and both values.
//
// Query semantics: Query(series, start, end, step, aggregation) partitions time into buckets
// [b, b + step) with b a multiple of `step` since the Unix epoch (so a 1 h step is aligned to UTC
// hours, 1 day to UTC midnight), takes the samples with start <= time < end, and returns one Point
// per bucket that holds at least one sample, in ascending time, stamped with the bucket's start.
// A bucket without samples is ABSENT from the result (never NaN, never 0): callers fill gaps as
// their model needs. Aggregations over a bucket: sum, mean (sum / count), min, max, count, and last
// (the value of the latest sample; ties impossible since a series has one value per timestamp).
//
// Resolutions: backends may keep rollups (raw -> 1 min -> 1 h) and expire each resolution on its
// own retention (ApplyRetention). A query is answered exactly as long as the data it needs is still
// held at a resolution that divides the step, start and end; older data at finer steps is absent.
//
// Durability contract: when Append returns OK, the whole batch is stored and survives a crash of
// the process (kill -9); a backend states whether it also survives power loss (SQLite: yes, by
// default). When Append returns an error, none of the batch is visible, ever. A batch is atomic:
// readers see all of it or none of it.
//
// Thread-safety: every method of every HistoryStore is safe to call concurrently from any number of
// threads (backends document how: SQLite serialises writers and runs readers in parallel).
#ifndef TIDEGATE_HISTORY_HISTORY_STORE_H_
#define TIDEGATE_HISTORY_HISTORY_STORE_H_

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"

namespace tidegate::history {

// Well-known metric names (resources a request class consumes, plus its request count). Any name
// matching [a-z_][a-z0-9_]* is allowed; these are the ones the rest of tidegate produces.
inline constexpr std::string_view kMetricCpuMs = "cpu_ms";
inline constexpr std::string_view kMetricMemBytes = "mem_bytes";
inline constexpr std::string_view kMetricIoReadBytes = "io_read_bytes";
inline constexpr std::string_view kMetricIoWriteBytes = "io_write_bytes";
inline constexpr std::string_view kMetricNetInBytes = "net_in_bytes";
inline constexpr std::string_view kMetricNetOutBytes = "net_out_bytes";
inline constexpr std::string_view kMetricLatencyMs = "latency_ms";
inline constexpr std::string_view kMetricRequests = "requests";

inline constexpr size_t kMaxMetricNameLength = 128;
inline constexpr size_t kMaxLabelLength = 1024;

// The identity of one series. `class_key` is the request class's descriptor in its canonical form
// (e.g. "class=checkout,op=write"), produced by whoever builds the key; the store treats it as an
// opaque string.
// Escapes \\, " and newline as Prometheus label values do; SeriesKey's canonical form and the
// exposition encoder both use it.
std::string EscapeLabelValue(std::string_view value);

struct SeriesKey {
  std::string metric;     // e.g. "cpu_ms"; [a-z_][a-z0-9_]*.
  std::string tenant;     // e.g. "acme"; may be empty.
  std::string class_key;  // e.g. "class=checkout,op=write"; may be empty.

  // metric{tenant="...",class="..."} with `\`, `"` and newline escaped. Injective.
  std::string ToString() const;
  // Inverse of ToString(). InvalidArgument naming the offset and what was expected otherwise.
  static absl::StatusOr<SeriesKey> Parse(std::string_view text);

  friend auto operator<=>(const SeriesKey&, const SeriesKey&) = default;
  friend bool operator==(const SeriesKey&, const SeriesKey&) = default;
};

// OK, or InvalidArgument naming the field (metric, tenant, class) and what is wrong with it.
absl::Status ValidateSeriesKey(const SeriesKey& key);

// One observation. `time` is UTC wall time with nanosecond resolution.
struct Sample {
  WallTime time;
  double value = 0;

  friend bool operator==(const Sample&, const Sample&) = default;
};

// Samples of one series, in any order.
struct SeriesSamples {
  SeriesKey series;
  std::vector<Sample> samples;
};

// The unit of Append: samples for any number of series, stored atomically. A series may appear in
// several entries; they are treated as one.
struct SampleBatch {
  std::vector<SeriesSamples> series;

  // Total number of samples over all entries.
  size_t SampleCount() const;
  // Appends one sample to the entry for `key`, creating it at the end if it is not the last one.
  void Add(const SeriesKey& key, WallTime time, double value);
};

// OK, or the first violation of the sample rules above: InvalidArgument naming the series (its
// canonical form), the sample's timestamp (RFC 3339, UTC) and the problem (NaN, infinite,
// negative, bad key). Within-batch duplicates are checked by the backend, not here.
absl::Status ValidateBatch(const SampleBatch& batch);

enum class Aggregation : uint8_t { kSum, kMean, kMin, kMax, kCount, kLast };

// "sum", "mean", "min", "max", "count", "last".
std::string_view AggregationName(Aggregation aggregation);
// Inverse of AggregationName (exact, lower case); InvalidArgument listing the valid names.
absl::StatusOr<Aggregation> ParseAggregation(std::string_view name);

enum class Resolution : uint8_t { kRaw, kOneMinute, kOneHour };

// "raw", "1m", "1h".
std::string_view ResolutionName(Resolution resolution);
// The bucket width of a resolution: 0 for kRaw, 1 min, 1 h.
Duration ResolutionStep(Resolution resolution);

// One bucket of a query result: the bucket's start and its aggregated value.
struct Point {
  WallTime time;
  double value = 0;

  friend bool operator==(const Point&, const Point&) = default;
};

// Selects series by exact match on each field that is set; an unset field matches anything.
struct SeriesFilter {
  std::optional<std::string> metric;
  std::optional<std::string> tenant;
  std::optional<std::string> class_key;

  bool Matches(const SeriesKey& key) const;
};

// Formats a wall time as RFC 3339 UTC with nanoseconds when they are not zero
// ("2026-11-29T01:02:03Z", "2026-11-29T01:02:03.000000250Z"). For error messages and logs.
std::string FormatWallTime(WallTime time);

// Floor of `time` to a multiple of `step` since the Unix epoch (correct for times before 1970).
// `step` must be > 0.
WallTime AlignDown(WallTime time, Duration step);

// Checks the arguments of Query: start < end, step > 0. InvalidArgument naming the argument.
absl::Status ValidateQueryRange(WallTime start, WallTime end, Duration step);

class HistoryStore {
 public:
  virtual ~HistoryStore() = default;

  // A short name for logs and metrics: "sqlite", "prometheus", "influxdb".
  virtual std::string_view name() const = 0;

  // Stores the batch atomically (see the durability contract above). Errors:
  //   InvalidArgument     a sample breaks the sample rules (nothing stored);
  //   AlreadyExists       a duplicate timestamp with a different value (nothing stored);
  //   ResourceExhausted   the storage is full (nothing stored);
  //   FailedPrecondition  the store is read-only (nothing stored);
  //   Unavailable / DeadlineExceeded  a remote backend is down or slow (nothing stored);
  //   Internal / DataLoss  an I/O error (nothing stored).
  // An empty batch is OK and does nothing.
  virtual absl::Status Append(const SampleBatch& batch) = 0;

  // Aggregates `series` over [start, end) into buckets of `step` (see Query semantics above).
  // An unknown series gives an empty vector, not an error. InvalidArgument for a bad range or key.
  virtual absl::StatusOr<std::vector<Point>> Query(const SeriesKey& series, WallTime start,
                                                   WallTime end, Duration step,
                                                   Aggregation aggregation) = 0;

  // The series known to the store that match `filter`, sorted by SeriesKey.
  virtual absl::StatusOr<std::vector<SeriesKey>> ListSeries(const SeriesFilter& filter) = 0;

  // Removes the series and all its data at every resolution. Deleting an unknown series is OK.
  virtual absl::Status DeleteSeries(const SeriesKey& series) = 0;

  // Drops data older than each resolution's retention, measured back from `now`. Idempotent.
  virtual absl::Status ApplyRetention(WallTime now) = 0;
};

}  // namespace tidegate::history

#endif  // TIDEGATE_HISTORY_HISTORY_STORE_H_
