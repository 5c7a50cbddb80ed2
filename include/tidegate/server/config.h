// tidegate/server/config.h — the daemon's configuration: YAML, a superset of
// envoyproxy/ratelimit's.
//
// A config is one file or a directory of files (`*.yaml`, `*.yml`, read in name order, as the
// reference service loads a directory). Each file holds one or more YAML documents (`---`); each
// document may declare one `domain` (a tenant) with its `descriptors` tree exactly as
// envoyproxy/ratelimit does, so that an existing ratelimit config loads unchanged:
//
//   domain: shop
//   descriptors:
//     - key: class                       # entry key, required
//       value: checkout                  # entry value; absent = every value (one bucket each)
//       rate_limit: {unit: second, requests_per_unit: 100}   # or {unlimited: true}; `name`
//       optional shadow_mode: false               # over the limit is reported OK (and counted)
//       replaces: [{name: other_limit}]  # this limit replaces the named one in the same request
//       detailed_metric: false           # accepted for compatibility
//       descriptors: [...]               # nested entries
//
// tidegate adds per descriptor: `priority` (critical|high|normal|low or 0..3; default normal),
// `weight` (> 0), `floor` and `ceiling` (requests per second, >= 0), `cost` (resource -> amount per
// request), `predict: {model, horizons, margin, lead_time, base_burst}`; and at top level
// (each at most once over all files): `capacity` (resource -> amount per second), `store`,
// `tenants`, `unknown_descriptors`, `limits`, `auth`, `tls`, `alerts` (alert rules on predicted
// consumption and anomalies, Alertmanager and webhook receivers), `scaling` (replica
// recommendations) and `borrowing` (work-conserving admission through a shared pool).
// docs/user/configuration.md lists every field.
//
// Validation: every field is type- and range-checked, unknown fields are rejected, and every error
// is InvalidArgument naming the file, the line (1-based) and the field path, e.g.
//   "shop.yaml:7: descriptors[0].rate_limit.unit: 'fortnight' is not one of second, minute, ..."
// A config either loads completely or not at all.
//
// Thread-safety: the functions are pure (LoadConfig reads files); a Config is a plain value.
#ifndef TIDEGATE_SERVER_CONFIG_H_
#define TIDEGATE_SERVER_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/alert/engine.h"
#include "tidegate/common/clock.h"
#include "tidegate/plan/planner.h"
#include "tidegate/server/auth.h"

namespace tidegate::server {

// The time unit of a limit (Envoy's RateLimitResponse.RateLimit.Unit; `month` is 30 days).
enum class Unit : uint8_t { kSecond, kMinute, kHour, kDay, kWeek, kMonth };

std::string_view UnitName(Unit unit);  // "second", ...
// Case-insensitive ("second", "SECOND"); InvalidArgument listing the valid names.
absl::StatusOr<Unit> ParseUnit(std::string_view name);
Duration UnitDuration(Unit unit);

// `requests_per_unit` requests per `unit`. As a token bucket: rate = requests_per_unit / unit,
// size = requests_per_unit (a whole unit's allowance may arrive at once, as in a fixed window).
struct RateLimit {
  uint32_t requests_per_unit = 0;
  Unit unit = Unit::kSecond;

  double rate_per_s() const;
  friend bool operator==(const RateLimit&, const RateLimit&) = default;
};

// Where a config element came from, for error messages and the API.
struct SourceLocation {
  std::string file;
  int line = 0;  // 1-based; 0 = unknown.
};

// `predict:` of a descriptor: how the planner forecasts this class.
struct PredictSpec {
  std::string model = "auto";  // auto|snaive|ets|arima|prophet|lstm
  std::vector<Duration> horizons = {std::chrono::minutes(1), std::chrono::hours(1),
                                    std::chrono::hours(24)};
  double margin = 0.2;    // >= 0.
  Duration lead_time{0};  // >= 0.
  double base_burst = 0;  // > 0, or 0 = requests_per_unit.
};

inline constexpr int kDefaultPriority = 2;  // "normal"

// One node of a domain's descriptor tree.
// Where each key and value of one level of a descriptor tree sits, so that matching a request
// costs a hash lookup per entry however many siblings the level has (a config may define 100,000
// classes side by side). Positions rather than pointers, so a copied config stays consistent.
// Built by IndexDescriptors; a level whose index was not built (or no longer matches its size)
// is scanned in order instead, with the same result.
// Lookups take string_views (transparent hash and equality): matching a request builds no key
// strings.
struct DescriptorIndex {
  struct KeyValue {
    std::string key, value;
  };
  struct KeyValueView {
    std::string_view key, value;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    size_t operator()(const KeyValueView& kv) const {
      const size_t h = (*this)(kv.key);
      return h ^ ((*this)(kv.value) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
    }
    size_t operator()(const KeyValue& kv) const { return (*this)(KeyValueView{kv.key, kv.value}); }
  };
  struct Equal {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
    bool operator()(const KeyValue& a, const KeyValueView& b) const {
      return a.key == b.key && a.value == b.value;
    }
    bool operator()(const KeyValueView& a, const KeyValue& b) const {
      return b.key == a.key && b.value == a.value;
    }
    bool operator()(const KeyValue& a, const KeyValue& b) const {
      return a.key == b.key && a.value == b.value;
    }
  };
  size_t indexed = 0;                                         // The level's size when built.
  std::unordered_map<KeyValue, uint32_t, Hash, Equal> exact;  // (key, value) -> first such rule.
  std::unordered_map<std::string, uint32_t, Hash, Equal> wildcard;  // key -> last rule of that
                                                                    // key, without a value.
};

struct DescriptorRule {
  std::string key;                      // Non-empty.
  std::optional<std::string> value;     // nullopt: matches every value.
  std::optional<RateLimit> rate_limit;  // nullopt: no limit at this node (a container).
  bool unlimited = false;               // rate_limit: {unlimited: true}.
  std::string name;                     // rate_limit.name, the target of `replaces`.
  bool shadow_mode = false;
  bool detailed_metric = false;
  std::vector<std::string> replaces;  // Names of limits this one replaces.
  int priority = kDefaultPriority;    // 0 critical, 1 high, 2 normal, 3 low.
  double weight = 1;
  double floor_per_s = 0;
  std::optional<double> ceiling_per_s;
  std::map<std::string, double> cost;  // Resource -> amount per request.
  std::optional<PredictSpec> predict;
  std::vector<DescriptorRule> descriptors;
  DescriptorIndex index;  // Of `descriptors`.
  SourceLocation location;
};

struct DomainConfig {
  std::string domain;
  std::vector<DescriptorRule> descriptors;
  DescriptorIndex index;  // Of `descriptors`.
  SourceLocation location;
};

// A tenant's own quota (its bucket, the parent of its classes) and planning attributes.
struct TenantSpec {
  std::string name;
  std::optional<RateLimit> quota;  // nullopt: no tenant-wide limit.
  int priority = kDefaultPriority;
  double weight = 1;
  SourceLocation location;
};

// `store:` — where the daemon keeps its demand and usage history (server/store.h opens it).
enum class StoreType : uint8_t { kSqlite, kPrometheus, kInfluxDb };
std::string_view StoreTypeName(StoreType type);  // "sqlite", "prometheus", "influxdb".

struct StoreSpec {
  StoreType type = StoreType::kSqlite;
  std::string path;                          // sqlite: directory of history.sqlite; "" = data dir.
  Duration step = std::chrono::seconds(10);  // Usage aggregation step; divides one day.
  Duration raw_retention = std::chrono::hours(24 * 7);  // sqlite only.
  // Remote backends (prometheus, influxdb).
  std::string url;                             // Required: http(s)://host[:port][/prefix].
  std::string database = "tidegate";           // influxdb: the database (created when missing).
  std::string selector;                        // prometheus: extra PromQL label matchers.
  Duration timeout = std::chrono::seconds(5);  // One HTTP request to the backend, in [10ms, 1m].
  // Samples the local spool may hold while the backend is down (server/store.h); beyond it a
  // write fails and the usage aggregator keeps the data in memory for the next tick.
  uint64_t max_spool_samples = 1'000'000;
  SourceLocation location;  // Where `store:` was declared (for error messages at start).
};

// `schedule:` — when the daemon trains, plans and checkpoints.
struct ScheduleSpec {
  std::string training = "0 3 * * *";                // Cron (UTC, server/cron.h): full refits.
  Duration planning_tick = std::chrono::seconds(1);  // Planner period, in [100ms, 1h].
  Duration checkpoint = std::chrono::minutes(1);     // State checkpoint period, in [1s, 1d].
};

// What a check does with a descriptor that matches no configured limit (or a domain that is not
// configured).
enum class UnknownPolicy : uint8_t {
  kAllow,    // OK without a limit (envoyproxy/ratelimit's behaviour). Default.
  kDeny,     // OVER_LIMIT.
  kDefault,  // Charged to a class of its own, created with `default_limit`.
};
std::string_view UnknownPolicyName(UnknownPolicy policy);

struct UnknownDescriptors {
  UnknownPolicy policy = UnknownPolicy::kAllow;
  std::optional<RateLimit> default_limit;  // Required with kDefault.
};

// Input limits of the APIs.
struct RequestLimits {
  size_t max_body_bytes = 1 << 20;   // HTTP request body.
  size_t max_descriptors = 64;       // Per check.
  size_t max_entries = 16;           // Per descriptor (shaping::kMaxDescriptorEntries at most).
  size_t max_key_length = 256;       // Per entry key or value, and domain.
  size_t max_classes = 100'000;      // Classes in total, incl. those created for wildcards.
  size_t max_report_batch = 10'000;  // Usage reports per /v1/report call.
};

// `tls:` of one listener. Paths are absolute or relative to the directory of the config file
// that names them (resolved at load). The files are read and checked at load (PEM, the key
// matches the certificate); the daemon's HTTP listener switches to them after a successful reload,
// gRPC watches them itself (docs/user/configuration.md#tls).
struct TlsFiles {
  std::string cert_file;       // PEM certificate chain, the server's first.
  std::string key_file;        // PEM private key of the first certificate.
  std::string client_ca_file;  // PEM CA bundle; non-empty = mutual TLS (client certs required).
  SourceLocation location;
};

struct TlsSpec {
  std::optional<TlsFiles> http;
  std::optional<TlsFiles> grpc;
};

// `borrowing:` — work-conserving admission (shaping/borrowing.h, docs/design/planner.md §9): a
// request its class bucket refuses may borrow unused capacity from a pool bucket shared by every
// class, in units of one `capacity` resource. Off unless `enabled`.
struct BorrowingSpec {
  // enabled, horizon, tier_reserve and cost_headroom as the planner's (their defaults and ranges);
  // its `resource` index is not used: the pool's resource is named by `resource` below.
  plan::BorrowConfig borrow;
  std::string resource = "requests";  // A key of `capacity`.
  SourceLocation location;            // Where `borrowing:` was declared.
};

struct Config {
  std::vector<DomainConfig> domains;       // Unique names.
  std::map<std::string, double> capacity;  // Resource -> amount per second, > 0.
  StoreSpec store;
  ScheduleSpec schedule;
  std::vector<TenantSpec> tenants;  // Unique names.
  UnknownDescriptors unknown;
  RequestLimits limits;
  alert::AlertsConfig alerts;    // `alerts:` (rules, receivers, intervals).
  alert::ScalingConfig scaling;  // `scaling:` (services to recommend replicas for).
  AuthSpec auth;                 // auth.h: bearer tokens, scopes, tenants.
  TlsSpec tls;
  BorrowingSpec borrowing;

  std::vector<std::string> sources;  // Files read, in order.
  std::string version;               // 16 hex digits: FNV-1a 64 of the files' names and contents.

  const DomainConfig* FindDomain(std::string_view domain) const;
  const TenantSpec* FindTenant(std::string_view name) const;
};

// Parses one file's text (`file` is only used in messages). Several documents may define several
// domains; top-level fields may appear once.
absl::StatusOr<Config> ParseConfig(std::string_view yaml_text, std::string_view file);

// Loads a file, or every *.yaml / *.yml file of a directory (in name order, not recursive), and
// merges them: domains must be unique across files; `capacity`, `store`, `tenants`,
// `unknown_descriptors`, `limits`, `alerts` and `scaling` may each be set in one file only.
// NotFound if the path does not exist; InvalidArgument (file:line: field: problem) otherwise.
absl::StatusOr<Config> LoadConfig(const std::string& path);

// A config with no domain at all: the daemon's default when started without --config.
Config EmptyConfig();

// Builds the DescriptorIndex of every level of every domain's descriptor tree (ParseConfig and
// LoadConfig return indexed configs; a config built or edited by hand may be indexed again).
void IndexDescriptors(Config& config);

// The rule of one level of a descriptor tree (`level` and its `index`) that an entry selects: the
// exact key and value, else the key's wildcard (no value); nullptr when there is neither.
const DescriptorRule* MatchLevel(const std::vector<DescriptorRule>& level,
                                 const DescriptorIndex& index, std::string_view key,
                                 std::string_view value);

}  // namespace tidegate::server

#endif  // TIDEGATE_SERVER_CONFIG_H_
