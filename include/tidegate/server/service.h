// tidegate/server/service.h — the daemon's transport-independent core.
//
// A Service owns the active configuration, the BucketRegistry (one bucket per request class, under
// its tenant's bucket), the HistoryStore and the UsageAggregator. The gRPC front end (Envoy RLS v3)
// and the HTTP/JSON API are thin mappings onto it: CheckRequest / CheckResponse have the shape of
// Envoy's RateLimitRequest / RateLimitResponse.
//
// Check semantics (those of envoyproxy/ratelimit, on token buckets):
//   * `domain` is the tenant. Each descriptor (an ordered list of key/value entries) is matched
//     against the domain's descriptor tree: at each level an entry matches a rule with the same key
//     and value, else a rule with the same key and no value (a wildcard). The rule reached by the
//     last entry gives the limit. A descriptor that stops matching before its last entry, or ends
//     at a rule without `rate_limit`, is unknown: UnknownPolicy decides (allow: OK without a
//     limit; deny: OVER_LIMIT; default: a class of its own with the default limit).
//   * A request's per-descriptor `limit` replaces the configured limit of that class (the class's
//     bucket is re-planned to it), as Envoy's descriptor override does.
//   * Each matched descriptor is one class: ClassKey{domain, the descriptor's entries}. A wildcard
//     rule thus creates one class per distinct value, on first use (bounded by limits.max_classes).
//   * Cost: the descriptor's hits_addend, else the request's, else 1. A cost of 0 only asks.
//   * Tier: the class's configured priority; a request may ask for a lower priority (a larger tier
//     number), never a higher one.
//   * `replaces`: a matched limit whose name is listed in another matched limit's `replaces` is not
//     applied (its status is OK without a limit).
//   * Borrowing (config `borrowing:`, off by default): a request its class bucket refuses may
//     borrow from a pool bucket shared by every class (shaping::AcquireOrBorrow), which holds
//     `horizon` of the `borrowing.resource` capacity and is charged every admitted request's cost
//     x the class's `cost` of that resource (1 per request for `requests` when not configured; a
//     class that does not use the resource neither borrows nor is charged to the pool). A
//     borrowed request is charged to the pool and to its tenant's bucket, not to its class
//     bucket: one its tenant's quota refuses is refused, and the pool's charge refunded.
//   * Shadow mode: a refusal by a shadow-mode class is reported OK (and counted as shadow).
//   * The overall code is OVER_LIMIT when any descriptor is OVER_LIMIT. Then nothing is charged:
//     the descriptors that were admitted are refunded, so a refused request costs no class tokens
//     (envoyproxy/ratelimit charges them; a token bucket need not).
//   * Per descriptor: the limit in force (requests_per_unit + unit; a rate/size override or plan
//     is expressed per second), the whole tokens remaining, and duration_until_reset = the time
//     until the bucket is full again (for OVER_LIMIT: until the request could be admitted).
//
// Errors (Check returns an error only for malformed input, never for a refusal): InvalidArgument
// naming the field ("descriptors[2].entries[0].key: empty"), ResourceExhausted when a wildcard
// would create a class beyond limits.max_classes.
//
// Alerting and scaling: the service owns an alert::Engine configured from the config's `alerts:`
// and `scaling:` sections (re-configured on ApplyConfig, keeping the state of rules and services
// that keep their names). Tick() evaluates it with ObservedSnapshot() whenever an evaluation
// interval has elapsed: observed rates, plus the forecasts and anomaly flags of the demand source
// (tidegated sets the planning loop; SetDemandSource). Notifications are sent by the engine's own
// thread.
// Demand history: every check adds, per class, the requests offered (admitted and refused, counted
// with their hits_addend) and those admitted to per-step counters (history step = the
// aggregator's). Tick() hands each closed step to the store: the offered count goes through the
// UsageAggregator as the class's `requests` metric (the series usage logs import into, so the
// planner trains on imported and live demand alike; a usage report without an operation adds its
// `count` to the same series), the admitted count as `requests_admitted`.
//
// Time: the service reads the injected Clock (MonoTime for buckets and expiries, WallTime for
// history and the API). Tick(), called by the daemon about once a second, flushes closed usage
// buckets to the store, expires overrides and evaluates alerting when due.
//
// Thread-safety: every method is safe to call concurrently. Check and Settle take no exclusive
// lock on the common path: the configuration is an immutable snapshot (atomic shared_ptr), the
// class table is read under a shared lock, and the buckets are lock-free. ApplyConfig and
// SetOverride serialise among themselves on one mutex.
#ifndef TIDEGATE_SERVER_SERVICE_H_
#define TIDEGATE_SERVER_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/alert/engine.h"
#include "tidegate/alert/snapshot.h"
#include "tidegate/common/clock.h"
#include "tidegate/history/history_store.h"
#include "tidegate/history/usage.h"
#include "tidegate/server/config.h"
#include "tidegate/shaping/registry.h"
#include "tidegate/shaping/token_bucket.h"

namespace tidegate::server {

// Envoy's RateLimitResponse.Code values.
enum class Code : uint8_t { kUnknown = 0, kOk = 1, kOverLimit = 2 };
std::string_view CodeName(Code code);  // "UNKNOWN", "OK", "OVER_LIMIT"

struct Entry {
  std::string key;
  std::string value;
  friend bool operator==(const Entry&, const Entry&) = default;
};

// Envoy's RateLimitDescriptor.
struct Descriptor {
  std::vector<Entry> entries;
  std::optional<RateLimit> limit;       // Per-descriptor override of the configured limit.
  std::optional<uint64_t> hits_addend;  // Overrides the request's.
};

// Envoy's RateLimitRequest, plus tidegate's optional tier.
struct CheckRequest {
  std::string domain;
  std::vector<Descriptor> descriptors;
  uint64_t hits_addend = 0;  // 0 means 1 (as in Envoy).
  std::optional<int> tier;   // 0..3; may only lower the class's priority.
};

// Envoy's RateLimitResponse.DescriptorStatus, plus tidegate's detail.
struct DescriptorStatus {
  Code code = Code::kOk;
  std::optional<RateLimit> current_limit;  // nullopt: no limit applied.
  uint32_t limit_remaining = 0;
  Duration duration_until_reset{0};
  // tidegate detail.
  std::string class_key;    // ClassKey::ToString() of the class charged; "" when none.
  bool shadow = false;      // Refused by a shadow-mode class, reported OK.
  bool unknown = false;     // Matched no configured limit (UnknownPolicy applied).
  Duration retry_after{0};  // On OVER_LIMIT: the earliest retry that could be admitted.
};

struct CheckResponse {
  Code overall_code = Code::kOk;
  std::vector<DescriptorStatus> statuses;  // One per request descriptor, same order.
};

// The true-up of a checked request once its actual cost is known (e.g. at stream end): every class
// the descriptors match is charged `actual - charged` (a refund when negative; may create debt),
// and with borrowing the pool that difference x the class's cost of the pool's resource.
struct SettleRequest {
  std::string domain;
  std::vector<Descriptor> descriptors;  // As checked; limit and hits_addend are ignored.
  double charged = 1;                   // What the check charged per descriptor.
  double actual = 1;                    // The actual cost; finite, >= 0.
};

struct SettleResponse {
  std::vector<std::string> settled;  // ClassKey::ToString() of the classes charged.
};

// A manual adjustment of a class's bucket until `expires_at`.
struct OverrideRequest {
  shaping::ClassKey key;
  std::optional<double> rate_per_s;  // At least one of rate and size.
  std::optional<double> size;
  Duration ttl{0};  // > 0, at most 30 days.
};

struct OverrideInfo {
  std::optional<double> rate_per_s;
  std::optional<double> size;
  WallTime expires_at{};
};

// A class as the API shows it.
struct ClassInfo {
  std::string key;  // ClassKey::ToString(): "tenant/key=value,key=value".
  std::string tenant;
  std::vector<Entry> entries;
  std::optional<RateLimit> configured_limit;  // From the config (or the default policy).
  double rate_per_s = 0;                      // In force now.
  double size = 0;
  double available = 0;  // Tokens now (negative in debt).
  int priority = kDefaultPriority;
  double weight = 1;
  bool shadow_mode = false;
  bool dynamic = false;  // Created for a wildcard or by the default policy.
  std::optional<OverrideInfo> override_info;
  std::string source;     // "config", "override", "request" (descriptor limit) or "default".
  std::string location;   // file:line of the rule; "" for default-policy classes.
  uint64_t admitted = 0;  // Decisions since the class was created.
  uint64_t refused = 0;
  uint64_t shadow_refused = 0;
  // The planning loop's plan for the class, when one is set (it is in force unless an override
  // or a request's descriptor limit is).
  std::optional<double> planned_rate_per_s;
  std::optional<double> planned_size;
  bool refused_last_minute = false;  // At least one refusal within the last 60 s.
};

// What the planning loop (planning.h) needs to know of one class.
struct PlanningClass {
  std::string key;        // ClassKey::ToString().
  std::string canonical;  // ClassKey::Canonical(), the key of ApplyPlan.
  std::string tenant;
  // The class label of its history series: the entries as history::UsageClassKey writes them
  // (e.g. "class=checkout,op=write"), so that imported usage logs and live checks share series.
  std::string series_class;
  int priority = kDefaultPriority;
  double weight = 1;
  double floor_per_s = 0;
  std::optional<double> ceiling_per_s;
  std::map<std::string, double> cost;
  std::optional<PredictSpec> predict;
  shaping::BucketConfig static_config;  // The bucket without plan or override.
  bool has_override = false;
  bool has_request_limit = false;
};

// A class bucket's state, for checkpoints (planning.h saves and restores it).
struct BucketState {
  std::string canonical;
  double level = 0;  // Tokens available.
  std::optional<OverrideInfo> override_info;
  std::optional<shaping::BucketConfig> plan;
};

struct ConfigInfo {
  std::string version;
  std::vector<std::string> sources;
  WallTime loaded_at{};
  uint64_t generation = 0;  // 1 for the initial config, +1 per applied reload.
  size_t domains = 0;
  size_t classes = 0;
};

// The borrowing pool (config `borrowing:`) as the API and tests see it.
struct PoolInfo {
  std::string resource;          // The capacity resource it measures.
  shaping::BucketConfig config;  // rate = capacity, size = capacity x horizon.
  double available = 0;          // Tokens now: size - the estimated backlog (negative in debt).
  double cost_headroom = 0;
};

struct ServiceOptions {
  Config config;
  // The history store the aggregator writes to; must be non-null.
  std::unique_ptr<history::HistoryStore> store;
  history::UsageAggregatorOptions aggregator;
};

class Service {
 public:
  // Validates the options, builds the buckets of every configured class. `clock` must outlive the
  // service. InvalidArgument naming the problem.
  static absl::StatusOr<std::unique_ptr<Service>> Create(ServiceOptions options, Clock& clock);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // See the semantics above.
  absl::StatusOr<CheckResponse> Check(const CheckRequest& request);
  absl::StatusOr<SettleResponse> Settle(const SettleRequest& request);

  // Validates every report first (InvalidArgument naming reports[i].field; nothing added), then
  // adds them to the aggregator. OK means every report was accepted (duplicates by id count as
  // accepted); OutOfRange names the first late report (the ones before it were added).
  absl::Status Report(const std::vector<history::UsageReport>& reports);

  // Every class, sorted by key.
  std::vector<ClassInfo> ListClasses();
  // One class by ClassKey::ToString() form. NotFound if unknown.
  absl::StatusOr<ClassInfo> GetClass(std::string_view key);

  // Sets (or replaces) a class's override. NotFound for an unknown class; InvalidArgument naming
  // the field for a bad rate, size or ttl.
  absl::StatusOr<OverrideInfo> SetOverride(const OverrideRequest& request);
  // Removes a class's override, restoring its configured bucket. NotFound if it has none.
  absl::Status ClearOverride(const shaping::ClassKey& key);

  // Replaces the configuration atomically: either every class is updated (buckets re-planned with
  // their tokens carried over, new classes created, removed ones dropped) or nothing changes and
  // the error says why. The store settings are read only at start (a change is ignored; the
  // returned config info reports the version in force).
  absl::Status ApplyConfig(Config config);
  ConfigInfo config_info() const;
  // The active configuration (an immutable snapshot).
  std::shared_ptr<const Config> config() const;
  // The borrowing pool; nullopt unless the config enables borrowing.
  std::optional<PoolInfo> pool_info() const;
  // config()->limits.max_body_bytes without taking a reference to the snapshot (the HTTP server
  // reads it before every request).
  size_t max_body_bytes() const { return max_body_bytes_.load(std::memory_order_relaxed); }

  struct Match;  // The result of matching one descriptor (service.cc).

  // Planning (planning.h). Every class with a bucket, sorted by key. An immutable snapshot, rebuilt
  // only after something it shows changed (a class created or dropped, a config applied, an
  // override set or expired, a request's descriptor limit changed): the same pointer until then, so
  // callers may skip work when it is the one they saw last.
  std::shared_ptr<const std::vector<PlanningClass>> PlanningClasses();
  // Sets (or, with nullopt, clears) a class's plan. The bucket is re-planned to it at once unless
  // an override or a request's descriptor limit is active (they win; the plan applies again when
  // they end). NotFound for an unknown class; InvalidArgument for an invalid bucket config.
  absl::Status ApplyPlan(std::string_view canonical, std::optional<shaping::BucketConfig> plan);
  // Bucket levels, overrides and plans of every class with a bucket.
  std::vector<BucketState> SnapshotBuckets();
  // Restores one class's override (unless expired), plan and level. NotFound when the class
  // does not exist (yet); the caller decides whether that matters.
  absl::Status RestoreBucket(const BucketState& state);

  // Periodic work: flushes closed usage buckets to the store, expires overrides. Returns the
  // store's error, if any (the aggregator keeps the data for the next tick).
  absl::Status Tick();
  // Flushes every pending usage bucket (shutdown).
  absl::Status Flush();

  // Evaluates alert rules and scaling recommendations on `snapshot` (those whose evaluation
  // interval has elapsed; all with `force`) and queues their notifications. Never blocks on the
  // network.
  void EvaluateAlerting(const alert::Snapshot& snapshot, bool force = false);
  // A snapshot from what the service observes: per class, resource "requests" = checks per
  // second (admitted + refused) since the previous call, and for each resource in the class's
  // `cost`, that rate x the cost; capacity from the config. The first call sees rates of 0 (no
  // interval yet). With a demand source (SetDemandSource), each class it knows also gets its
  // forecasts and anomaly state on "requests", and on each cost resource scaled by the cost.
  alert::Snapshot ObservedSnapshot();
  // What a forecaster predicts of a class's requests per second; nullopt while it has no model.
  struct PredictedDemand {
    std::vector<alert::ForecastPoint> forecasts;  // By horizon.
    alert::AnomalyState anomaly;
  };
  using DemandSource = std::function<std::optional<PredictedDemand>(std::string_view class_key)>;
  // Where ObservedSnapshot gets forecasts (tidegated: the planning loop). Call before Tick runs.
  void SetDemandSource(DemandSource source) { demand_source_ = std::move(source); }
  // The alerting engine (alerts and recommendations for the API).
  alert::Engine& alerting() const { return *alerting_; }

  // Prometheus text exposition (0.0.4) of the service's metrics: decisions by class and code,
  // bucket rate/size/level, borrowed admissions and the borrowing pool's level, classes, reports,
  // config generation, alerts, scaling recommendations and notification deliveries.
  std::string RenderMetrics();

  Clock& clock() const { return clock_; }
  history::HistoryStore& store() const { return *store_; }
  const history::UsageAggregator& aggregator() const { return *aggregator_; }

 private:
  struct Rules;       // The matching tree of one config, immutable.
  struct ClassState;  // One class: bucket, rule, counters, override.
  struct Pool;        // The borrowing pool of one config (service.cc).

  Service(Clock& clock, std::unique_ptr<history::HistoryStore> store);

  absl::Status ValidateRequest(const CheckRequest& request, const Config& config) const;
  absl::StatusOr<std::shared_ptr<ClassState>> ClassFor(const Rules& rules, const Match& match,
                                                       const std::string& domain,
                                                       const std::vector<Entry>& entries);
  std::shared_ptr<ClassState> FindClass(std::string_view canonical) const;
  ClassInfo Describe(const ClassState& state, MonoTime now) const;
  void ExpireOverridesLocked(MonoTime now);

  Clock& clock_;
  std::unique_ptr<history::HistoryStore> store_;
  std::unique_ptr<history::UsageAggregator> aggregator_;
  std::unique_ptr<shaping::BucketRegistry> registry_;

  std::atomic<std::shared_ptr<const Rules>> rules_;
  std::mutex admin_mu_;  // Serialises ApplyConfig, SetOverride, ClearOverride, expiry.

  mutable std::shared_mutex classes_mu_;  // Guards classes_ (the map, not the states).
  // By canonical key; found by string_view (transparent hash) without a copy of the key.
  std::unordered_map<std::string, std::shared_ptr<ClassState>, DescriptorIndex::Hash,
                     DescriptorIndex::Equal>
      classes_;
  // Bumped after every change PlanningClasses shows; the snapshot is rebuilt when it moved.
  std::atomic<uint64_t> planning_generation_{1};
  std::mutex planning_mu_;  // Guards the two members below.
  std::shared_ptr<const std::vector<PlanningClass>> planning_snapshot_;
  uint64_t planning_snapshot_generation_ = 0;

  std::atomic<uint64_t> reports_accepted_{0};
  std::atomic<uint64_t> reports_rejected_{0};
  std::atomic<size_t> max_body_bytes_{0};  // Of the config in rules_.
  std::atomic<uint64_t> unknown_allowed_{0};
  std::atomic<uint64_t> unknown_denied_{0};
  std::atomic<uint64_t> flush_failures_{0};

  std::unique_ptr<alert::Engine> alerting_;
  DemandSource demand_source_;
  std::mutex observed_mu_;  // Guards the two members below (ObservedSnapshot).
  std::unordered_map<std::string, uint64_t> observed_checks_;  // Canonical key -> checks seen.
  std::optional<MonoTime> observed_at_;
  std::atomic<uint64_t> demand_write_failures_{0};

  // Hands closed demand steps to the aggregator and the store (Tick, Flush).
  void FlushDemand(bool all);
  // Re-bases buckets whose fixed-point time base is old (TokenBucket::RebaseIfOld; Tick).
  void RebaseOldBuckets();
};

}  // namespace tidegate::server

#endif  // TIDEGATE_SERVER_SERVICE_H_
