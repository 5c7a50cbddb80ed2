// tidegate/history/usage.h — per-request usage reports and their aggregation into history series.
//
// A UsageReport says what one request (or a group of `count` requests) of a request class
// consumed: CPU, memory, I/O, network, latency. Reports come from the daemon's report API and from
// imported logs (import.h). A UsageAggregator sums them per class and resource into base-step
// buckets (default 10 s) and flushes closed buckets to a HistoryStore as one batch.
//
// Series produced: for every (tenant, class key) that had at least one report in a bucket, one
// sample per metric — cpu_ms, mem_bytes, io_read_bytes, io_write_bytes, net_in_bytes,
// net_out_bytes, latency_ms (the sums over the bucket's reports; zeros included) and requests
// (the sum of `count`) — stamped with the bucket's start. Mean latency per request is
// latency_ms / requests.
//
// Class key: the descriptor entries in the order given, then the operation as an `op` entry, as
// `key=value` joined by `,`; `\`, `,` and `=` inside keys and values are escaped with `\`
// (e.g. descriptors {class: checkout}, operation "write" -> "class=checkout,op=write"). The order
// is significant, as in Envoy's rate limit descriptors.
//
// Thread-safety: UsageReport and the free functions are plain values / pure. UsageAggregator is
// safe to use from any number of threads (one internal mutex; Flush* serialise among themselves
// and do not hold that mutex while the store writes).
#ifndef TIDEGATE_HISTORY_USAGE_H_
#define TIDEGATE_HISTORY_USAGE_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"
#include "tidegate/history/history_store.h"

namespace tidegate::history {

// One descriptor entry of a request class, e.g. {"class", "checkout"}.
struct DescriptorEntry {
  std::string key;
  std::string value;

  friend bool operator==(const DescriptorEntry&, const DescriptorEntry&) = default;
};

// What `count` requests of one class consumed. Resource fields are totals over those requests.
struct UsageReport {
  std::string tenant;                        // May be empty.
  std::vector<DescriptorEntry> descriptors;  // In order; keys non-empty.
  std::string operation;                     // May be empty (then no `op` entry).
  double cpu_ms = 0;
  double mem_bytes = 0;
  double io_read_bytes = 0;
  double io_write_bytes = 0;
  double net_in_bytes = 0;
  double net_out_bytes = 0;
  double latency_ms = 0;
  int64_t count = 1;  // Requests this report covers; >= 0.
  WallTime timestamp;
  // Optional idempotency key: a second report with the same non-empty id in the same open bucket
  // is ignored (see UsageAggregator's duplicate rule). Empty: every report counts.
  std::string id;

  friend bool operator==(const UsageReport&, const UsageReport&) = default;
};

// The metrics a report contributes to, in UsageTotals order.
inline constexpr int kUsageMetricCount = 8;
inline constexpr std::array<std::string_view, kUsageMetricCount> kUsageMetrics = {
    kMetricCpuMs,      kMetricMemBytes,    kMetricIoReadBytes, kMetricIoWriteBytes,
    kMetricNetInBytes, kMetricNetOutBytes, kMetricLatencyMs,   kMetricRequests};

// OK, or InvalidArgument naming the field: every resource field finite and >= 0, count >= 0,
// descriptor keys non-empty, tenant and class key within kMaxLabelLength.
absl::Status ValidateUsageReport(const UsageReport& report);

// The class key described above (descriptors then `op=<operation>` when the operation is not
// empty). InvalidArgument when a descriptor already has key "op" with a value other than the
// operation (if equal, it is not repeated).
absl::StatusOr<std::string> UsageClassKey(const UsageReport& report);

// The report's contribution per metric, in kUsageMetrics order.
std::array<double, kUsageMetricCount> UsageValues(const UsageReport& report);

struct UsageAggregatorOptions {
  // Bucket width. > 0 and a divisor of one day (so buckets align to UTC midnight).
  Duration step = std::chrono::seconds(10);
  // How long after its end a bucket keeps accepting reports before FlushClosed writes it. >= 0.
  Duration allowed_lateness = std::chrono::seconds(10);
};

absl::Status ValidateUsageAggregatorOptions(const UsageAggregatorOptions& options);

// Counters since construction.
struct UsageAggregatorStats {
  uint64_t reports_added = 0;       // Accepted reports (duplicates excluded).
  uint64_t late_rejected = 0;       // Reports for buckets already flushed.
  uint64_t duplicates_ignored = 0;  // Reports whose id was already seen in their bucket.
  uint64_t samples_flushed = 0;     // Samples the store acknowledged.
  uint64_t flush_failures = 0;      // Append errors (buckets kept for the next flush).
};

// Sums usage reports into per-class, per-metric buckets and writes closed buckets to a store.
//
// Algorithm: a report at time t goes to the bucket b = floor(t / step) * step. The aggregator
// keeps a watermark W (initially -infinity): every bucket with b < W has been handed to the store.
// FlushClosed(now) moves W to floor((now - allowed_lateness) / step) * step — the buckets whose
// end + allowed_lateness <= now — and appends every pending bucket below W as ONE batch.
//
// Rules:
//   * Late: a report whose bucket is below W is rejected with OutOfRange naming its timestamp and
//     the watermark (counted in stats().late_rejected); the stored sums are never rewritten.
//   * Duplicate: a report with a non-empty `id` already seen in the same bucket while that bucket
//     is open is ignored (OK; counted). Reports without an id are never deduplicated: two equal
//     reports are two requests.
//   * Store failure: when Append fails, the buckets are kept (their sums intact, reports that
//     arrive meanwhile for newer buckets unaffected) and retried by the next Flush; the error is
//     returned. Since the store ignores a duplicate with an equal value, a retry after a lost
//     acknowledgement is harmless.
//   * Re-aggregating the same reports into the same store (e.g. importing one log twice) writes
//     the same sums, which the store accepts as duplicates: idempotent.
//
// Invariants: pending buckets all have b >= W except those kept after a failed flush; each
// (bucket, tenant, class) appears at most once; the sum over buckets of `requests` equals the sum
// of accepted reports' counts.
//
// Locking: `mu_` guards the pending buckets, ids, watermark and stats; `flush_mu_` serialises
// flushes. Append runs holding only `flush_mu_`, so Add never waits for the store.
class UsageAggregator {
 public:
  // InvalidArgument for bad options. The store must outlive the aggregator.
  static absl::StatusOr<std::unique_ptr<UsageAggregator>> Create(HistoryStore& store,
                                                                 UsageAggregatorOptions options);

  // Adds one report. InvalidArgument (bad report, naming the field), OutOfRange (late, see above).
  absl::Status Add(const UsageReport& report);

  // Flushes the buckets closed at `now` (see Algorithm). OK with nothing to do. The store's error
  // otherwise (buckets kept).
  absl::Status FlushClosed(WallTime now);

  // Flushes every pending bucket, open or not, and moves the watermark past the newest one (for
  // shutdown and for imports). The store's error otherwise (buckets kept).
  absl::Status FlushAll();

  // The batch FlushAll would write, without writing it or changing any state.
  SampleBatch PendingBatch() const;

  UsageAggregatorStats stats() const;
  const UsageAggregatorOptions& options() const { return options_; }

 private:
  struct BucketKey {
    int64_t bucket_ns;
    std::string tenant;
    std::string class_key;
    friend auto operator<=>(const BucketKey&, const BucketKey&) = default;
  };
  using Pending = std::map<BucketKey, std::array<double, kUsageMetricCount>>;

  UsageAggregator(HistoryStore& store, UsageAggregatorOptions options)
      : store_(store), options_(options) {}

  // Flushes every pending bucket with bucket_ns < new_watermark_ns.
  absl::Status FlushBelow(int64_t new_watermark_ns);
  static SampleBatch ToBatch(const Pending& pending);

  HistoryStore& store_;
  const UsageAggregatorOptions options_;

  std::mutex flush_mu_;
  mutable std::mutex mu_;
  Pending pending_;
  std::map<int64_t, std::set<std::string>> ids_;  // Per open bucket: report ids seen.
  int64_t watermark_ns_ = INT64_MIN;
  UsageAggregatorStats stats_;
};

}  // namespace tidegate::history

#endif  // TIDEGATE_HISTORY_USAGE_H_
