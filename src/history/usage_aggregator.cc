// UsageAggregator (see tidegate/history/usage.h for the algorithm and rules).
#include <algorithm>
#include <string>

#include "fmt/format.h"
#include "tidegate/common/status.h"
#include "tidegate/history/usage.h"

namespace tidegate::history {

absl::Status ValidateUsageAggregatorOptions(const UsageAggregatorOptions& options) {
  constexpr Duration kDay = std::chrono::hours(24);
  if (options.step <= Duration::zero() || kDay % options.step != Duration::zero()) {
    return absl::InvalidArgumentError(fmt::format(
        "usage aggregator: step must be > 0 and divide one day, got {} ns", options.step.count()));
  }
  if (options.allowed_lateness < Duration::zero()) {
    return absl::InvalidArgumentError(
        fmt::format("usage aggregator: allowed_lateness must be >= 0, got {} ns",
                    options.allowed_lateness.count()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<UsageAggregator>> UsageAggregator::Create(
    HistoryStore& store, UsageAggregatorOptions options) {
  TIDEGATE_RETURN_IF_ERROR(ValidateUsageAggregatorOptions(options));
  return std::unique_ptr<UsageAggregator>(new UsageAggregator(store, options));
}

absl::Status UsageAggregator::Add(const UsageReport& report) {
  TIDEGATE_RETURN_IF_ERROR(ValidateUsageReport(report));
  TIDEGATE_ASSIGN_OR_RETURN(std::string class_key, UsageClassKey(report));
  const int64_t bucket_ns = AlignDown(report.timestamp, options_.step).time_since_epoch().count();
  const std::array<double, kUsageMetricCount> values = UsageValues(report);

  std::lock_guard lock(mu_);
  if (bucket_ns < watermark_ns_) {
    ++stats_.late_rejected;
    return absl::OutOfRangeError(fmt::format(
        "usage report at {} is late: buckets before {} are already flushed",
        FormatWallTime(report.timestamp), FormatWallTime(WallTime(Duration(watermark_ns_)))));
  }
  if (!report.id.empty() && !ids_[bucket_ns].insert(report.id).second) {
    ++stats_.duplicates_ignored;
    return absl::OkStatus();
  }
  auto [it, inserted] = pending_.try_emplace(BucketKey{bucket_ns, report.tenant, class_key});
  if (inserted) it->second.fill(0.0);
  for (int i = 0; i < kUsageMetricCount; ++i) it->second[i] += values[i];
  ++stats_.reports_added;
  return absl::OkStatus();
}

SampleBatch UsageAggregator::ToBatch(const Pending& pending) {
  SampleBatch batch;
  // One entry per series: group by (tenant, class, metric) so each series' samples are together.
  std::map<std::tuple<std::string_view, std::string_view, int>, size_t> index;
  for (const auto& [key, totals] : pending) {
    for (int m = 0; m < kUsageMetricCount; ++m) {
      auto [it, inserted] = index.try_emplace({key.tenant, key.class_key, m}, batch.series.size());
      if (inserted) {
        batch.series.push_back(
            SeriesSamples{SeriesKey{std::string(kUsageMetrics[m]), key.tenant, key.class_key}, {}});
      }
      batch.series[it->second].samples.push_back(
          Sample{WallTime(Duration(key.bucket_ns)), totals[m]});
    }
  }
  return batch;
}

absl::Status UsageAggregator::FlushBelow(int64_t new_watermark_ns) {
  std::lock_guard flush_lock(flush_mu_);
  Pending taken;
  {
    std::lock_guard lock(mu_);
    watermark_ns_ = std::max(watermark_ns_, new_watermark_ns);
    auto end = pending_.lower_bound(BucketKey{watermark_ns_, "", ""});
    taken.insert(std::make_move_iterator(pending_.begin()), std::make_move_iterator(end));
    pending_.erase(pending_.begin(), end);
    ids_.erase(ids_.begin(), ids_.lower_bound(watermark_ns_));
  }
  if (taken.empty()) return absl::OkStatus();
  SampleBatch batch = ToBatch(taken);
  absl::Status status = store_.Append(batch);
  std::lock_guard lock(mu_);
  if (!status.ok()) {
    ++stats_.flush_failures;
    // Nothing new can have arrived for these buckets (they are below the watermark), so putting
    // them back cannot collide.
    pending_.merge(taken);
    return status;
  }
  stats_.samples_flushed += batch.SampleCount();
  return absl::OkStatus();
}

absl::Status UsageAggregator::FlushClosed(WallTime now) {
  const WallTime cutoff = now - options_.allowed_lateness;
  return FlushBelow(AlignDown(cutoff, options_.step).time_since_epoch().count());
}

absl::Status UsageAggregator::FlushAll() {
  int64_t newest = INT64_MIN;
  {
    std::lock_guard lock(mu_);
    if (pending_.empty()) return absl::OkStatus();
    newest = pending_.rbegin()->first.bucket_ns;
  }
  // Reports are added concurrently at most up to the newest bucket seen just now; anything newer
  // stays pending for the next flush.
  return FlushBelow(newest + options_.step.count());
}

SampleBatch UsageAggregator::PendingBatch() const {
  std::lock_guard lock(mu_);
  return ToBatch(pending_);
}

UsageAggregatorStats UsageAggregator::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace tidegate::history
