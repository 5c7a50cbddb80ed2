// tidegate/history/prometheus_store.h — the Prometheus history backend.
//
// Which way round each direction works:
//   * Write (tidegate -> Prometheus) is a PULL: Append() validates the batch and stages it in an
//     ExpositionBuffer (exposition.h); the daemon serves that buffer at /metrics and Prometheus
//     scrapes it (samples carry their own timestamps). Append returning OK therefore means
//     "staged for the next scrapes", not "stored": the HistoryStore durability contract holds only
//     once Prometheus has scraped the samples. Samples older than Prometheus' head block (about an
//     hour) or older than what Prometheus already holds for the series are dropped by Prometheus;
//     backfill history into SQLite or InfluxDB instead.
//   * Read (Prometheus -> tidegate) is a query: Query() runs /api/v1/query_range and ListSeries()
//     /api/v1/series over HTTP (libcurl), JSON parsed with nlohmann-json.
//   * DeleteSeries() calls /api/v1/admin/tsdb/delete_series (Prometheus must run with
//     --web.enable-admin-api) and drops the series from the buffer. ApplyRetention() is a no-op:
//     Prometheus applies its own --storage.tsdb.retention.time.
//
// Query mapping: a bucket [b, b + step) with aggregation A is the PromQL
//   A_over_time(<prefix><metric>{tenant="..",class=".."<, selector>}[<step - 1 ms>])
// evaluated at b + step - 1 ms (Prometheus 2.x range selectors include both ends; samples are
// milliseconds), with A in sum, avg (mean), min, max, count, last. query_range evaluates it for
// every bucket of [start, end); buckets without samples are absent from Prometheus' answer, as the
// interface requires. Long ranges are split into requests of at most 10,000 points. Prometheus
// stores milliseconds, so step, start and end must be whole milliseconds.
//
// Several scraped instances exporting the same series (different job/instance labels) would make
// a query ambiguous: Query then fails with FailedPrecondition listing the label sets; set
// `selector` (e.g. job="tidegate") to pick one.
//
// Errors: a server that is down or slower than `timeout` gives Unavailable / DeadlineExceeded
// within the timeout; Prometheus' own errors (bad query, ...) come back with its error type and
// message.
//
// Thread-safety: all methods are safe to call concurrently.
#ifndef TIDEGATE_HISTORY_PROMETHEUS_STORE_H_
#define TIDEGATE_HISTORY_PROMETHEUS_STORE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tidegate/history/exposition.h"
#include "tidegate/history/history_store.h"
#include "tidegate/history/http_client.h"

namespace tidegate::history {

struct PrometheusStoreOptions {
  std::string base_url = "";  // e.g. "http://127.0.0.1:9090". Required.
  Duration timeout = std::chrono::seconds(5);
  // Extra PromQL label matchers ANDed into every selector, e.g. `job="tidegate"`. May be empty.
  std::string selector = "";
  // The buffer /metrics serves. Null: the store creates one (see buffer()).
  std::shared_ptr<ExpositionBuffer> buffer = nullptr;
  size_t max_points_per_request = 10'000;  // Prometheus refuses more than 11,000.
};

class PrometheusStore final : public HistoryStore {
 public:
  // InvalidArgument for a missing base_url, a non-positive timeout or max_points_per_request.
  // Does not contact the server.
  static absl::StatusOr<std::unique_ptr<PrometheusStore>> Create(PrometheusStoreOptions options);

  std::string_view name() const override { return "prometheus"; }
  absl::Status Append(const SampleBatch& batch) override;
  absl::StatusOr<std::vector<Point>> Query(const SeriesKey& series, WallTime start, WallTime end,
                                           Duration step, Aggregation aggregation) override;
  absl::StatusOr<std::vector<SeriesKey>> ListSeries(const SeriesFilter& filter) override;
  absl::Status DeleteSeries(const SeriesKey& series) override;
  absl::Status ApplyRetention(WallTime now) override;

  // The buffer to serve at /metrics (exposition.h).
  const std::shared_ptr<ExpositionBuffer>& buffer() const { return buffer_; }

 private:
  PrometheusStore(PrometheusStoreOptions options, std::unique_ptr<HttpClient> http);
  std::string Selector(const SeriesKey& series) const;

  const PrometheusStoreOptions options_;
  std::unique_ptr<HttpClient> http_;
  std::shared_ptr<ExpositionBuffer> buffer_;
};

// Building blocks, exposed for unit tests.

// A PromQL string literal: double-quoted with `\`, `"` and newline escaped.
std::string PromQlString(std::string_view text);
// The *_over_time function for an aggregation.
std::string_view PromQlOverTime(Aggregation aggregation);
// A PromQL duration in milliseconds, e.g. "9999ms".
std::string PromQlDuration(Duration d);

// One series of a query_range answer.
struct PromSeries {
  std::vector<std::pair<std::string, std::string>> labels;  // Sorted by name.
  std::vector<Point> points;
};
// Parses a /api/v1/query_range response body (resultType "matrix"). An error response
// ({"status":"error",...}) becomes an error with Prometheus' errorType and error; malformed JSON
// is Internal naming what was missing. `shift` is added to every point's time.
absl::StatusOr<std::vector<PromSeries>> ParseQueryRangeResponse(std::string_view body,
                                                                Duration shift);
// Parses a /api/v1/series response body into label sets.
absl::StatusOr<std::vector<std::vector<std::pair<std::string, std::string>>>> ParseSeriesResponse(
    std::string_view body);

}  // namespace tidegate::history

#endif  // TIDEGATE_HISTORY_PROMETHEUS_STORE_H_
