// tidegate/history/exposition.h — the Prometheus text exposition format (version 0.0.4), written by
// hand so that the daemon's /metrics and the Prometheus history backend share one encoder.
// (prometheus-cpp's TextSerializer was measured against it and took 2.3-3.6x its CPU time; see
// docs/design/server.md, Metrics, and bench/history/exposition_bench.cc.)
//
// Direction: Prometheus PULLS. tidegate never pushes samples to Prometheus; it exposes them at
// /metrics and Prometheus scrapes them (see prometheus_store.h). An ExpositionBuffer holds the
// history samples waiting to be scraped; the HTTP handler of /metrics serves Render().
//
// Mapping of a history series to a Prometheus series:
//   SeriesKey{metric, tenant, class_key}  ->  <prefix><metric>{tenant="...",class="..."}
// with the default prefix "tidegate_". An empty tenant or class is written as an empty label
// value, which Prometheus stores as an absent label (and PromQL's label="" matches it).
// Samples carry explicit timestamps (milliseconds since the epoch; finer parts are truncated), so
// Prometheus stores each sample at its own time, not at the scrape time.
//
// Escaping (exposition format spec): in label values `\` -> `\\`, `"` -> `\"`, newline -> `\n`;
// in HELP text `\` -> `\\` and newline -> `\n`. Values are written in the shortest form that
// reads back to the same double; NaN and infinities as NaN, +Inf, -Inf.
//
// Thread-safety: the free functions are pure. ExpositionBuffer is safe to use from many threads
// (one mutex).
#ifndef TIDEGATE_HISTORY_EXPOSITION_H_
#define TIDEGATE_HISTORY_EXPOSITION_H_

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "tidegate/common/clock.h"
#include "tidegate/history/history_store.h"

namespace tidegate::history {

inline constexpr std::string_view kDefaultExpositionPrefix = "tidegate_";
inline constexpr std::string_view kExpositionContentType = "text/plain; version=0.0.4";

// One line of exposition: a metric family name, labels in order, a value, an optional timestamp.
struct ExpositionSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
  std::optional<WallTime> time;
};

// A metric family: every sample shares `name` and `type` ("gauge", "counter", "untyped").
struct ExpositionFamily {
  std::string name;
  std::string help;  // Empty: no HELP line.
  std::string type = "gauge";
  std::vector<ExpositionSample> samples;
};

// Encodes families in the given order; each family's HELP and TYPE lines come before its samples.
std::string EncodeExposition(const std::vector<ExpositionFamily>& families);

// Escapes HELP text as described above (label values: EscapeLabelValue in history_store.h).
std::string EscapeHelp(std::string_view help);
// Formats a sample value (shortest round-trip; NaN, +Inf, -Inf).
std::string FormatExpositionValue(double value);

// The Prometheus series name of a history metric: prefix + metric.
std::string ExpositionName(std::string_view metric,
                           std::string_view prefix = kDefaultExpositionPrefix);

// Samples waiting to be scraped. Each series keeps its most recent samples (at most
// `max_samples_per_series`, and none older than `window` before that series' newest sample);
// Render() emits all of them every time, in time order per series. Prometheus stores a sample it
// has already stored (same timestamp, same value) only once, so re-emitting is harmless; the window
// only needs to cover a few scrape intervals plus any scrape that failed.
//
// Limits (inherent to scraping): a sample older than Prometheus' head block (about an hour) or
// older than the newest sample Prometheus already holds for that series is dropped by Prometheus
// (out of bounds / out of order). Write history (imports, backfill) to SQLite or InfluxDB.
class ExpositionBuffer {
 public:
  struct Options {
    std::string prefix = std::string(kDefaultExpositionPrefix);
    size_t max_samples_per_series = 360;  // One hour at the 10 s base step.
    Duration window = std::chrono::minutes(10);
  };

  ExpositionBuffer() : ExpositionBuffer(Options()) {}
  explicit ExpositionBuffer(Options options) : options_(std::move(options)) {}

  // Stages every sample of the batch (the caller validated it). The HistoryStore duplicate rule
  // applies against what is staged: an equal (series, time, value) is ignored; a different value
  // at a staged (series, time) rejects the whole batch with AlreadyExists (nothing staged).
  absl::Status Add(const SampleBatch& batch);
  // Forgets a series.
  void Remove(const SeriesKey& series);
  // The exposition text of everything staged (families sorted by name). Marks every staged
  // sample as rendered: a render is taken to be a scrape.
  std::string Render() const;
  size_t SampleCount() const;
  const Options& options() const { return options_; }

  // Scrape accounting, so that samples nobody scraped are never lost silently. A sample is
  // "rendered" once a Render() has included it (per series: every sample at or before the newest
  // sample of the last render).
  // Staged samples no Render() has included yet, as a batch (e.g. to spool them at shutdown).
  SampleBatch Unrendered() const;
  size_t UnrenderedCount() const;
  // Samples trimmed from the buffer (window or count) before any Render() included them.
  uint64_t dropped_unrendered() const;

 private:
  const Options options_;
  mutable std::mutex mu_;
  std::map<SeriesKey, std::map<WallTime, double>> staged_;
  mutable std::map<SeriesKey, WallTime> rendered_through_;  // Newest time of the last render.
  uint64_t dropped_unrendered_ = 0;
};

}  // namespace tidegate::history

#endif  // TIDEGATE_HISTORY_EXPOSITION_H_
