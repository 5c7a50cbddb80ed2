// tidegate/history/influx_store.h — the InfluxDB 1.x history backend (HTTP API, as Debian's
// `influxdb` package serves it).
//
// Direction: both ways are PUSH/QUERY from tidegate. Append writes line protocol to
// /write?db=<database>&precision=ns; Query, ListSeries and DeleteSeries send InfluxQL to /query
// (epoch=ns, JSON answers parsed with nlohmann-json).
//
// Mapping: SeriesKey{metric, tenant, class_key} -> measurement <metric>, tags tenant and class,
// one float field `value`, timestamp in ns:
//   cpu_ms,class=class\=checkout\,op\=write,tenant=acme value=12.5 1700000000000000000
// An empty tenant or class is written without that tag (line protocol forbids empty tag values)
// and InfluxQL's tag = '' matches a missing tag, so it reads back as "". InfluxDB's scanner pairs
// backslashes from the left and unescapes only `\,`, `\=` and `\ `, so a tag value with a newline
// or carriage return, or with an odd run of backslashes right before `,`, `=`, a space or its end,
// cannot be written faithfully and is rejected with InvalidArgument.
//
// Escaping (line protocol): measurement: `,` and space with `\`; tag keys and values: `,`, `=`
// and space with `\` (other backslashes are written as they are, as InfluxDB reads them). InfluxQL:
// identifiers in "double quotes" (`"` and `\` escaped), string literals in 'single quotes' (`'` and
// `\` escaped).
//
// Query mapping: SELECT <agg>("value") FROM "<metric>" WHERE "tenant"='..' AND "class"='..' AND
// time >= <start>ns AND time < <end>ns GROUP BY time(<step>ns) fill(none), with sum, mean, min,
// max, count, last. InfluxDB aligns GROUP BY time buckets to the epoch, as the interface does, and
// fill(none) omits empty buckets. The first bucket is stamped with its aligned start even when
// `start` is later.
//
// Sample rules: InfluxDB itself keeps the last write for a (series, time). To honour the
// interface's duplicate rule (equal value ignored, different value AlreadyExists, nothing
// written), Append first reads the batch's timestamps back with one multi-statement query per
// request (option check_duplicates, default on); a concurrent writer can still race between the
// check and the write. Atomicity is InfluxDB's: one /write request per Append (a "partial write"
// answer is returned as an error; retrying the same batch is idempotent).
//
// ApplyRetention is a no-op: InfluxDB enforces the database's retention policy (set
// `retention` to create the database with one).
//
// Errors: a server down or slower than `timeout` gives Unavailable / DeadlineExceeded within the
// timeout; InfluxDB's error messages are passed on.
//
// Thread-safety: all methods are safe to call concurrently.
#ifndef TIDEGATE_HISTORY_INFLUX_STORE_H_
#define TIDEGATE_HISTORY_INFLUX_STORE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tidegate/history/history_store.h"
#include "tidegate/history/http_client.h"

namespace tidegate::history {

struct InfluxStoreOptions {
  std::string base_url = "";  // e.g. "http://127.0.0.1:8086". Required.
  std::string database = "tidegate";
  Duration timeout = std::chrono::seconds(5);
  // Create the database on Create() (CREATE DATABASE is idempotent). Needs the server up.
  bool create_database = true;
  // Retention of the database when this store creates it; zero: InfluxDB's default (infinite).
  Duration retention = Duration::zero();
  bool check_duplicates = true;
};

class InfluxStore final : public HistoryStore {
 public:
  // InvalidArgument for bad options; when create_database, the server's error if it is down.
  static absl::StatusOr<std::unique_ptr<InfluxStore>> Create(InfluxStoreOptions options);

  std::string_view name() const override { return "influxdb"; }
  absl::Status Append(const SampleBatch& batch) override;
  absl::StatusOr<std::vector<Point>> Query(const SeriesKey& series, WallTime start, WallTime end,
                                           Duration step, Aggregation aggregation) override;
  absl::StatusOr<std::vector<SeriesKey>> ListSeries(const SeriesFilter& filter) override;
  absl::Status DeleteSeries(const SeriesKey& series) override;
  absl::Status ApplyRetention(WallTime now) override;

 private:
  InfluxStore(InfluxStoreOptions options, std::unique_ptr<HttpClient> http)
      : options_(std::move(options)), http_(std::move(http)) {}
  // Runs InfluxQL statements (separated by ';'); returns the parsed statement results.
  absl::StatusOr<std::string> RunQuery(std::string_view what, const std::string& influxql,
                                       bool post);
  absl::Status CheckDuplicates(const SampleBatch& batch);

  const InfluxStoreOptions options_;
  std::unique_ptr<HttpClient> http_;
};

// Building blocks, exposed for unit tests.

// Line protocol of a whole batch (one line per sample). InvalidArgument for unrepresentable tags.
absl::StatusOr<std::string> EncodeLineProtocol(const SampleBatch& batch);
std::string EscapeMeasurement(std::string_view name);
std::string EscapeTag(std::string_view text);  // Tag keys and values.
// Inverse of the line-protocol escaping of a series key as SHOW SERIES prints it
// ("cpu_ms,class=a\,b,tenant=x"): measurement and tags. InvalidArgument if malformed.
absl::StatusOr<SeriesKey> ParseInfluxSeriesKey(std::string_view key);
std::string InfluxQlIdentifier(std::string_view name);  // "double-quoted"
std::string InfluxQlString(std::string_view text);      // 'single-quoted'
std::string_view InfluxQlFunction(Aggregation aggregation);

// Points of statement `index` of a /query answer (columns [time, value], epoch=ns). An answer with
// "error" (top-level or in the statement) becomes InvalidArgument with InfluxDB's message.
absl::StatusOr<std::vector<Point>> ParseInfluxPoints(std::string_view body, size_t index);

}  // namespace tidegate::history

#endif  // TIDEGATE_HISTORY_INFLUX_STORE_H_
