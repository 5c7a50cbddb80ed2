// The daemon's transport-independent core (see tidegate/server/service.h).
#include "tidegate/server/service.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <set>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "fmt/format.h"
#include "tidegate/common/status.h"
#include "tidegate/history/exposition.h"
#include "tidegate/shaping/borrowing.h"

namespace tidegate::server {
namespace {

using shaping::BucketConfig;
using shaping::ClassKey;
using shaping::TokenBucket;

constexpr Duration kMaxOverrideTtl = std::chrono::hours(24 * 30);
// A tenant without a quota still has a bucket (the registry's hierarchy needs one); it is so large
// that it never refuses: 1e9 tokens per second, one second of burst.
constexpr double kUnlimitedRate = 1e9;
// Share of a tenant quota kept from each tier: the last 20 % of a tenant's tokens go to critical
// and high classes only, the last 5 % to critical only.
constexpr std::array<double, shaping::kMaxTiers> kTenantReserves = {0, 0.05, 0.10, 0.20};

BucketConfig ConfigFor(const RateLimit& limit) {
  BucketConfig c;
  c.rate_per_s = limit.rate_per_s();
  c.size = limit.requests_per_unit;
  return c;
}

BucketConfig TenantConfig(const TenantSpec* spec) {
  BucketConfig c;
  if (spec != nullptr && spec->quota) {
    c = ConfigFor(*spec->quota);
    c.reserve_fraction = kTenantReserves;
  } else {
    c.rate_per_s = kUnlimitedRate;
    c.size = kUnlimitedRate;
  }
  return c;
}

// A limit in force expressed in Envoy's terms: the smallest unit in which it is at least one
// whole request.
RateLimit LimitFromRate(double rate_per_s) {
  for (Unit u : {Unit::kSecond, Unit::kMinute, Unit::kHour, Unit::kDay}) {
    const double n = rate_per_s * std::chrono::duration<double>(UnitDuration(u)).count();
    if (n >= 1 || u == Unit::kDay) {
      return RateLimit{static_cast<uint32_t>(std::min<double>(std::llround(n), UINT32_MAX)), u};
    }
  }
  return RateLimit{};
}

Duration SecondsToDuration(double s) {
  if (!(s > 0)) return Duration::zero();
  s = std::min(s, 366.0 * 86400);
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

std::string EntriesString(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out;
  for (size_t i = 0; i < entries.size(); ++i) {
    out += fmt::format("{}{}={}", i ? "," : "", entries[i].first, entries[i].second);
  }
  return out;
}

// The history class label of a class (history::UsageClassKey of its entries, no operation).
std::string SeriesClass(const ClassKey& key) {
  history::UsageReport r;
  for (const auto& [k, v] : key.entries) r.descriptors.push_back({k, v});
  absl::StatusOr<std::string> s = history::UsageClassKey(r);
  return s.ok() ? *std::move(s) : EntriesString(key.entries);
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f;
  });
}

// `field()` names the field; it is called only for an error, so that checking a request's many
// entries formats no names on the hot path.
template <typename FieldName>
absl::Status CheckTextNamed(const FieldName& field, std::string_view text, size_t max_len,
                            bool allow_empty) {
  if (text.empty() && !allow_empty) {
    return absl::InvalidArgumentError(fmt::format("{}: must not be empty", field()));
  }
  if (text.size() > max_len) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: {} bytes, at most {} allowed (limits.max_key_length)", field(), text.size(), max_len));
  }
  if (HasControl(text)) {
    return absl::InvalidArgumentError(fmt::format("{}: contains a control character", field()));
  }
  return absl::OkStatus();
}

absl::Status CheckText(std::string_view field, std::string_view text, size_t max_len,
                       bool allow_empty) {
  return CheckTextNamed([field] { return field; }, text, max_len, allow_empty);
}

// Calls fn(entries, rule) for every rule all of whose path has values (a fixed class) and that
// has a limit, depth first.
template <typename Fn>
void ForEachFixedRule(const std::vector<DescriptorRule>& rules,
                      std::vector<std::pair<std::string, std::string>>& path, Fn&& fn) {
  for (const DescriptorRule& rule : rules) {
    if (!rule.value) continue;
    path.emplace_back(rule.key, *rule.value);
    if (rule.rate_limit) fn(path, rule);
    ForEachFixedRule(rule.descriptors, path, fn);
    path.pop_back();
  }
}

}  // namespace

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kUnknown:
      return "UNKNOWN";
    case Code::kOk:
      return "OK";
    case Code::kOverLimit:
      return "OVER_LIMIT";
  }
  return "UNKNOWN";
}

// One immutable configuration with its generation.
struct Service::Rules {
  std::shared_ptr<const Config> config;
  uint64_t generation = 0;
  WallTime loaded_at{};
  // Null unless borrowing is enabled. Kept with the config so that a check loads one snapshot;
  // ApplyConfig carries its bucket (and level) over to the next config's Rules.
  std::shared_ptr<const Pool> pool;
};

// The borrowing pool of a config with `borrowing.enabled`.
struct Service::Pool {
  std::shared_ptr<TokenBucket> bucket;  // Never null.
  std::string resource;
  double cost_headroom = 0;

  // What one request (one hit) of a class with `rule` costs the pool: the rule's cost of the
  // resource, else 1 for `requests`; 0 when the class does not use the resource.
  double PerRequest(const DescriptorRule* rule) const {
    if (rule != nullptr) {
      if (auto it = rule->cost.find(resource); it != rule->cost.end()) return it->second;
    }
    return resource == "requests" ? 1.0 : 0.0;
  }
};

// The result of matching one descriptor against a domain's tree.
struct Service::Match {
  const DescriptorRule* rule = nullptr;  // The rule reached by the last entry, if any.
  bool known = false;                    // rule has rate_limit or unlimited.
};

// One request class. `bucket` and the identity never change; the rest is guarded by `mu` (slow
// path) or atomic (hot path).
struct Service::ClassState {
  ClassKey key;
  std::string canonical;
  std::string display;
  std::string entries_label;            // "key=value,..." for metrics.
  std::shared_ptr<TokenBucket> bucket;  // Null for a limit of 0 requests (always refused).
  bool dynamic = false;

  std::atomic<uint64_t> admitted{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> shadow_refused{0};
  std::atomic<uint64_t> borrowed{0};  // Admissions by the borrowing pool (in `admitted` too).
  std::atomic<bool> has_override{false};
  // MonoTime (ns since the clock's epoch) of the last refusal; INT64_MIN = never.
  std::atomic<int64_t> last_refused_ns{INT64_MIN};

  // Demand per history step not yet handed to the store, oldest first (usually one or two).
  struct DemandStep {
    int64_t step_ns;  // Wall time of the step's start, ns since the epoch.
    double offered = 0;
    double admitted = 0;
  };
  std::mutex demand_mu;
  std::vector<DemandStep> demand;
  std::string series_class;  // history::UsageClassKey form of the entries.

  void RecordDemand(int64_t step_ns, double offered_hits, double admitted_hits) {
    std::lock_guard lock(demand_mu);
    auto it = std::find_if(demand.rbegin(), demand.rend(),
                           [&](const DemandStep& d) { return d.step_ns <= step_ns; });
    auto at = it.base();  // After the last step <= step_ns.
    if (it == demand.rend() || it->step_ns != step_ns) {
      at = demand.insert(at, DemandStep{step_ns, 0, 0});
    } else {
      at = std::prev(at);
    }
    at->offered += offered_hits;
    at->admitted += admitted_hits;
  }

  mutable std::mutex mu;
  std::optional<RateLimit> configured_limit;  // From the rule or the default policy.
  std::optional<RateLimit> request_limit;     // Last per-descriptor override seen.
  const DescriptorRule* rule = nullptr;       // Valid while its Rules snapshot is current.
  std::string source = "config";
  std::string location;
  int priority = kDefaultPriority;
  double weight = 1;
  bool shadow_mode = false;
  std::optional<OverrideInfo> override_info;
  MonoTime override_expires{};
  std::optional<BucketConfig> plan;  // From the planning loop.

  // The bucket settings without a manual override. Caller holds mu.
  std::optional<BucketConfig> BaseConfigLocked() const {
    if (request_limit && request_limit->requests_per_unit > 0) return ConfigFor(*request_limit);
    if (plan) return plan;
    return StaticConfigLocked();
  }
  // The configured bucket, without plan or override. Caller holds mu.
  std::optional<BucketConfig> StaticConfigLocked() const {
    if (request_limit && request_limit->requests_per_unit > 0) return ConfigFor(*request_limit);
    if (configured_limit && configured_limit->requests_per_unit > 0) {
      return ConfigFor(*configured_limit);
    }
    return std::nullopt;
  }
};

namespace {

Service::Match MatchDescriptor(const DomainConfig* domain, const std::vector<Entry>& entries);

}  // namespace

Service::Service(Clock& clock, std::unique_ptr<history::HistoryStore> store)
    : clock_(clock), store_(std::move(store)) {}

Service::~Service() = default;

absl::StatusOr<std::unique_ptr<Service>> Service::Create(ServiceOptions options, Clock& clock) {
  if (options.store == nullptr) {
    return absl::InvalidArgumentError("service: a history store is required");
  }
  std::unique_ptr<Service> service(new Service(clock, std::move(options.store)));
  TIDEGATE_ASSIGN_OR_RETURN(service->aggregator_,
                            history::UsageAggregator::Create(*service->store_, options.aggregator));
  service->registry_ = std::make_unique<shaping::BucketRegistry>(std::nullopt, clock.Now());
  TIDEGATE_ASSIGN_OR_RETURN(service->alerting_, alert::Engine::Create({}, {}, clock));
  auto empty = std::make_shared<Rules>();
  empty->config = std::make_shared<Config>(EmptyConfig());
  service->max_body_bytes_.store(empty->config->limits.max_body_bytes, std::memory_order_relaxed);
  service->rules_.store(std::move(empty));
  TIDEGATE_RETURN_IF_ERROR(service->ApplyConfig(std::move(options.config)));
  return service;
}

namespace {

Service::Match MatchDescriptor(const DomainConfig* domain, const std::vector<Entry>& entries) {
  Service::Match m;
  if (domain == nullptr) return m;
  const std::vector<DescriptorRule>* level = &domain->descriptors;
  const DescriptorIndex* index = &domain->index;
  const DescriptorRule* rule = nullptr;
  for (const Entry& e : entries) {
    rule = MatchLevel(*level, *index, e.key, e.value);
    if (rule == nullptr) return m;
    level = &rule->descriptors;
    index = &rule->index;
  }
  m.rule = rule;
  m.known = rule != nullptr && (rule->rate_limit || rule->unlimited);
  return m;
}

}  // namespace

absl::Status Service::ValidateRequest(const CheckRequest& request, const Config& config) const {
  const RequestLimits& limits = config.limits;
  TIDEGATE_RETURN_IF_ERROR(CheckText("domain", request.domain, limits.max_key_length, false));
  if (request.descriptors.empty()) {
    return absl::InvalidArgumentError("descriptors: at least one descriptor is required");
  }
  if (request.descriptors.size() > limits.max_descriptors) {
    return absl::InvalidArgumentError(
        fmt::format("descriptors: {} given, at most {} allowed (limits.max_descriptors)",
                    request.descriptors.size(), limits.max_descriptors));
  }
  if (request.tier && (*request.tier < 0 || *request.tier >= shaping::kMaxTiers)) {
    return absl::InvalidArgumentError(
        fmt::format("tier: {} is not in [0, {})", *request.tier, shaping::kMaxTiers));
  }
  if (request.hits_addend > 1'000'000'000) {
    return absl::InvalidArgumentError(
        fmt::format("hits_addend: {} is above 1e9", request.hits_addend));
  }
  for (size_t i = 0; i < request.descriptors.size(); ++i) {
    const Descriptor& d = request.descriptors[i];
    if (d.entries.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("descriptors[{}].entries: at least one entry is required", i));
    }
    if (d.entries.size() > std::min(limits.max_entries, shaping::kMaxDescriptorEntries)) {
      return absl::InvalidArgumentError(fmt::format(
          "descriptors[{}].entries: {} given, at most {} allowed (limits.max_entries)", i,
          d.entries.size(), std::min(limits.max_entries, shaping::kMaxDescriptorEntries)));
    }
    for (size_t j = 0; j < d.entries.size(); ++j) {
      TIDEGATE_RETURN_IF_ERROR(
          CheckTextNamed([&] { return fmt::format("descriptors[{}].entries[{}].key", i, j); },
                         d.entries[j].key, limits.max_key_length, false));
      TIDEGATE_RETURN_IF_ERROR(
          CheckTextNamed([&] { return fmt::format("descriptors[{}].entries[{}].value", i, j); },
                         d.entries[j].value, limits.max_key_length, true));
    }
    if (d.hits_addend && *d.hits_addend > 1'000'000'000) {
      return absl::InvalidArgumentError(
          fmt::format("descriptors[{}].hits_addend: {} is above 1e9", i, *d.hits_addend));
    }
    if (d.limit && d.limit->requests_per_unit > 0 && d.limit->rate_per_s() > 1e9) {
      return absl::InvalidArgumentError(
          fmt::format("descriptors[{}].limit: above 1e9 requests per second", i));
    }
  }
  return absl::OkStatus();
}

std::shared_ptr<Service::ClassState> Service::FindClass(std::string_view canonical) const {
  std::shared_lock lock(classes_mu_);
  auto it = classes_.find(canonical);
  return it == classes_.end() ? nullptr : it->second;
}

absl::StatusOr<std::shared_ptr<Service::ClassState>> Service::ClassFor(
    const Rules& rules, const Match& match, const std::string& domain,
    const std::vector<Entry>& entries) {
  ClassKey key;
  key.tenant = domain;
  key.entries.reserve(entries.size());
  for (const Entry& e : entries) key.entries.emplace_back(e.key, e.value);
  std::string canonical = key.Canonical();
  if (auto state = FindClass(canonical)) return state;

  // Slow path: a wildcard value, a default-policy class or a request-limit class seen for the
  // first time. Serialised with ApplyConfig so that a class is never created from a superseded
  // configuration.
  std::lock_guard admin(admin_mu_);
  if (auto state = FindClass(canonical)) return state;
  if (rules_.load()->generation != rules.generation) {
    return absl::AbortedError("configuration changed; retry");
  }
  const Config& config = *rules.config;
  {
    std::shared_lock lock(classes_mu_);
    if (classes_.size() >= config.limits.max_classes) {
      return absl::ResourceExhaustedError(
          fmt::format("class {}: the limit of {} classes is reached (limits.max_classes)",
                      key.ToString(), config.limits.max_classes));
    }
  }
  auto state = std::make_shared<ClassState>();
  state->dynamic = true;
  if (match.rule != nullptr && match.rule->rate_limit) {
    state->rule = match.rule;
    state->configured_limit = match.rule->rate_limit;
    state->priority = match.rule->priority;
    state->weight = match.rule->weight;
    state->shadow_mode = match.rule->shadow_mode;
    state->location = fmt::format("{}:{}", match.rule->location.file, match.rule->location.line);
  } else if (!match.known && config.unknown.policy == UnknownPolicy::kDefault) {
    state->configured_limit = config.unknown.default_limit;
    state->source = "default";
  } else {
    state->source = "request";
  }
  const MonoTime now = clock_.Now();
  if (!registry_->FindTenant(domain)) {
    TIDEGATE_RETURN_IF_ERROR(
        registry_->UpsertTenant(domain, TenantConfig(config.FindTenant(domain)), now));
  }
  // The bucket is created with the configured limit, or a placeholder that the caller re-plans to
  // the request's limit right away.
  std::optional<BucketConfig> base = state->BaseConfigLocked();
  if (!base) {
    BucketConfig placeholder;
    placeholder.rate_per_s = 1;
    placeholder.size = 1;
    base = placeholder;
  }
  const bool blocked = state->configured_limit && state->configured_limit->requests_per_unit == 0;
  if (!blocked) {
    TIDEGATE_ASSIGN_OR_RETURN(state->bucket, registry_->UpsertClass(key, *base, now));
  }
  state->display = key.ToString();
  state->series_class = SeriesClass(key);
  state->entries_label = EntriesString(key.entries);
  state->key = std::move(key);
  state->canonical = canonical;
  {
    std::unique_lock lock(classes_mu_);
    classes_.emplace(std::move(canonical), state);
  }
  planning_generation_.fetch_add(1, std::memory_order_release);
  return state;
}

absl::StatusOr<CheckResponse> Service::Check(const CheckRequest& request) {
  for (int attempt = 0;; ++attempt) {
    const std::shared_ptr<const Rules> rules = rules_.load();
    const Config& config = *rules->config;
    TIDEGATE_RETURN_IF_ERROR(ValidateRequest(request, config));
    const DomainConfig* domain = config.FindDomain(request.domain);

    const size_t n = request.descriptors.size();
    CheckResponse response;
    response.statuses.resize(n);
    std::vector<Match> matches(n);
    std::set<std::string_view> replaced;
    for (size_t i = 0; i < n; ++i) {
      matches[i] = MatchDescriptor(domain, request.descriptors[i].entries);
      if (matches[i].known) {
        for (const std::string& name : matches[i].rule->replaces) replaced.insert(name);
      }
    }

    struct Charge {
      size_t index;
      std::shared_ptr<ClassState> state;
      double cost;
      double hits = 0;        // The request's cost as offered (demand history).
      double pool_cost = 0;   // Charged to the borrowing pool.
      bool borrowed = false;  // Charged to the pool and the tenant, not the class bucket.
    };
    std::vector<Charge> charges;
    charges.reserve(n);
    bool retry = false;
    for (size_t i = 0; i < n && !retry; ++i) {
      const Descriptor& d = request.descriptors[i];
      const Match& m = matches[i];
      DescriptorStatus& st = response.statuses[i];
      if (m.known && !m.rule->name.empty() && replaced.count(m.rule->name) > 0 &&
          std::find(m.rule->replaces.begin(), m.rule->replaces.end(), m.rule->name) ==
              m.rule->replaces.end()) {
        continue;  // Replaced by another matched limit: OK without a limit.
      }
      const bool has_request_limit = d.limit.has_value() && (domain != nullptr || m.known);
      if (m.known && m.rule->unlimited && !has_request_limit) continue;
      if (!m.known && !has_request_limit) {
        st.unknown = true;
        if (config.unknown.policy == UnknownPolicy::kAllow) {
          unknown_allowed_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        if (config.unknown.policy == UnknownPolicy::kDeny) {
          unknown_denied_.fetch_add(1, std::memory_order_relaxed);
          st.code = Code::kOverLimit;
          continue;
        }
      }
      absl::StatusOr<std::shared_ptr<ClassState>> state =
          ClassFor(*rules, m, request.domain, d.entries);
      if (absl::IsAborted(state.status()) && attempt < 3) {
        retry = true;
        break;
      }
      if (!state.ok()) return state.status();
      if (has_request_limit) {
        ClassState& s = **state;
        std::lock_guard lock(s.mu);
        if (s.request_limit != d.limit) {
          s.request_limit = d.limit;
          planning_generation_.fetch_add(1, std::memory_order_release);
          if (!s.has_override.load(std::memory_order_relaxed) && s.bucket) {
            if (auto base = s.BaseConfigLocked()) {
              TIDEGATE_RETURN_IF_ERROR(s.bucket->Replan(*base, clock_.Now()));
            }
          }
        }
      }
      const double cost = static_cast<double>(
          d.hits_addend ? *d.hits_addend : (request.hits_addend ? request.hits_addend : 1));
      charges.push_back({i, *std::move(state), cost, cost});
    }
    if (retry) continue;

    const MonoTime now = clock_.Now();
    const Pool* pool = rules->pool.get();
    for (Charge& c : charges) {
      ClassState& s = *c.state;
      DescriptorStatus& st = response.statuses[c.index];
      const Match& m = matches[c.index];
      const Descriptor& d = request.descriptors[c.index];
      st.class_key = s.display;
      const bool shadow = m.known && m.rule->shadow_mode;
      const int rule_tier = m.known ? m.rule->priority : kDefaultPriority;
      const int tier = std::max(rule_tier, request.tier.value_or(0));
      std::optional<RateLimit> in_force;
      if (d.limit) {
        in_force = d.limit;
      } else if (s.has_override.load(std::memory_order_acquire) && s.bucket) {
        in_force = LimitFromRate(s.bucket->config().rate_per_s);
      } else if (m.known && m.rule->rate_limit) {
        in_force = m.rule->rate_limit;
      } else {
        in_force = config.unknown.default_limit;
      }
      st.current_limit = in_force;
      bool admitted = false;
      if (s.bucket == nullptr || (d.limit && d.limit->requests_per_unit == 0)) {
        // A limit of 0 requests: always refused (envoyproxy/ratelimit's semantics).
        st.duration_until_reset = in_force ? UnitDuration(in_force->unit) : Duration::zero();
        st.retry_after = st.duration_until_reset;
      } else {
        // With borrowing, every admission is charged to the pool (shaping/borrowing.h); a class
        // that does not use the pool's resource takes its own bucket's decision.
        const double pool_cost = pool ? c.cost * pool->PerRequest(m.known ? m.rule : nullptr) : 0.0;
        TokenBucket* pool_bucket = pool_cost > 0 ? pool->bucket.get() : nullptr;
        const shaping::BorrowDecision bd =
            shaping::AcquireOrBorrow(*s.bucket, c.cost, pool_bucket, pool_cost, now, tier,
                                     pool_bucket != nullptr ? pool->cost_headroom : 0.0);
        shaping::Decision dec = bd.decision;
        if (dec.verdict == shaping::Verdict::kInvalidCost ||
            dec.verdict == shaping::Verdict::kInvalidTier) {
          return DecisionToStatus(dec, c.cost, tier);
        }
        if (bd.borrowed) {
          // Tenant isolation: a borrowed request must still fit its tenant's quota (the class
          // bucket's ancestors), else it is refused and the pool refunded.
          const shaping::Decision at_tenant =
              s.bucket->parent() != nullptr ? s.bucket->parent()->TryAcquire(c.cost, now, tier)
                                            : dec;
          if (at_tenant.admitted()) {
            c.pool_cost = pool_cost;
            c.borrowed = true;
          } else {
            (void)pool_bucket->Settle(-pool_cost, now);
            dec = at_tenant;
          }
        } else if (dec.admitted() && pool_bucket != nullptr) {
          c.pool_cost = pool_cost;
        }
        admitted = dec.admitted();
        const BucketConfig bc = s.bucket->config();
        const double remaining =
            admitted && !bd.by_pool && !c.borrowed ? dec.remaining : s.bucket->Available(now);
        st.limit_remaining = static_cast<uint32_t>(
            std::clamp(std::floor(remaining), 0.0, static_cast<double>(UINT32_MAX)));
        st.duration_until_reset = SecondsToDuration((bc.size - remaining) / bc.rate_per_s);
        if (!admitted) {
          st.retry_after = dec.verdict == shaping::Verdict::kRefused
                               ? dec.retry_after
                               : SecondsToDuration(bc.size / bc.rate_per_s);
        }
      }
      if (admitted) {
        st.code = Code::kOk;
        s.admitted.fetch_add(1, std::memory_order_relaxed);
        if (c.borrowed) s.borrowed.fetch_add(1, std::memory_order_relaxed);
      } else if (shadow) {
        st.code = Code::kOk;
        st.shadow = true;
        s.shadow_refused.fetch_add(1, std::memory_order_relaxed);
        c.cost = 0;  // Nothing was charged.
      } else {
        st.code = Code::kOverLimit;
        s.refused.fetch_add(1, std::memory_order_relaxed);
        s.last_refused_ns.store(now.time_since_epoch().count(), std::memory_order_relaxed);
        c.cost = 0;
      }
    }
    response.overall_code = Code::kOk;
    for (const DescriptorStatus& st : response.statuses) {
      if (st.code == Code::kOverLimit) response.overall_code = Code::kOverLimit;
    }
    if (!charges.empty()) {
      const int64_t step_ns = history::AlignDown(clock_.WallNow(), aggregator_->options().step)
                                  .time_since_epoch()
                                  .count();
      const bool all_ok = response.overall_code == Code::kOk;
      for (const Charge& c : charges) {
        const bool ok = all_ok && response.statuses[c.index].code == Code::kOk;
        c.state->RecordDemand(step_ns, c.hits, ok ? c.hits : 0);
      }
    }
    if (response.overall_code == Code::kOverLimit) {
      // A refused request is not charged anywhere: refund what the admitted descriptors took.
      for (const Charge& c : charges) {
        if (c.pool_cost > 0) (void)pool->bucket->Settle(-c.pool_cost, now);
        if (c.borrowed) {
          // Charged to the tenant (the class bucket's ancestors), not to the class bucket.
          if (TokenBucket* tenant = c.state->bucket->parent()) (void)tenant->Settle(-c.cost, now);
        } else if (c.cost > 0 && c.state->bucket) {
          (void)c.state->bucket->Settle(-c.cost, now);
          DescriptorStatus& st = response.statuses[c.index];
          const double remaining = c.state->bucket->Available(now);
          st.limit_remaining = static_cast<uint32_t>(
              std::clamp(std::floor(remaining), 0.0, static_cast<double>(UINT32_MAX)));
        }
      }
    }
    return response;
  }
}

absl::StatusOr<SettleResponse> Service::Settle(const SettleRequest& request) {
  if (!std::isfinite(request.charged) || request.charged < 0) {
    return absl::InvalidArgumentError(
        fmt::format("charged: {} must be finite and >= 0", request.charged));
  }
  if (!std::isfinite(request.actual) || request.actual < 0) {
    return absl::InvalidArgumentError(
        fmt::format("actual: {} must be finite and >= 0", request.actual));
  }
  CheckRequest as_check;
  as_check.domain = request.domain;
  as_check.descriptors = request.descriptors;
  const std::shared_ptr<const Rules> rules = rules_.load();
  TIDEGATE_RETURN_IF_ERROR(ValidateRequest(as_check, *rules->config));
  SettleResponse response;
  const double delta = request.actual - request.charged;
  const MonoTime now = clock_.Now();
  const Pool* pool = rules->pool.get();
  const DomainConfig* domain = pool ? rules->config->FindDomain(request.domain) : nullptr;
  for (const Descriptor& d : request.descriptors) {
    ClassKey key;
    key.tenant = request.domain;
    for (const Entry& e : d.entries) key.entries.emplace_back(e.key, e.value);
    std::shared_ptr<ClassState> state = FindClass(key.Canonical());
    if (state == nullptr || state->bucket == nullptr) continue;  // Nothing was charged there.
    if (delta != 0) TIDEGATE_RETURN_IF_ERROR(state->bucket->Settle(delta, now));
    if (pool && delta != 0) {
      // The pool was charged the check's cost x the class's cost of its resource: true it up.
      const Match m = MatchDescriptor(domain, d.entries);
      const double per_request = pool->PerRequest(m.known ? m.rule : nullptr);
      if (per_request > 0) TIDEGATE_RETURN_IF_ERROR(pool->bucket->Settle(delta * per_request, now));
    }
    response.settled.push_back(state->display);
  }
  return response;
}

absl::Status Service::Report(const std::vector<history::UsageReport>& reports) {
  const std::shared_ptr<const Rules> rules = rules_.load();
  if (reports.size() > rules->config->limits.max_report_batch) {
    reports_rejected_.fetch_add(reports.size(), std::memory_order_relaxed);
    return absl::InvalidArgumentError(
        fmt::format("reports: {} given, at most {} per call (limits.max_report_batch)",
                    reports.size(), rules->config->limits.max_report_batch));
  }
  const size_t max_key = rules->config->limits.max_key_length;
  for (size_t i = 0; i < reports.size(); ++i) {
    absl::Status s =
        CheckText(fmt::format("reports[{}].tenant", i), reports[i].tenant, max_key, true);
    for (size_t j = 0; s.ok() && j < reports[i].descriptors.size(); ++j) {
      s = CheckText(fmt::format("reports[{}].descriptors[{}].key", i, j),
                    reports[i].descriptors[j].key, max_key, true);
      if (s.ok()) {
        s = CheckText(fmt::format("reports[{}].descriptors[{}].value", i, j),
                      reports[i].descriptors[j].value, max_key, true);
      }
    }
    if (!s.ok()) {
      reports_rejected_.fetch_add(reports.size(), std::memory_order_relaxed);
      return s;
    }
  }
  for (size_t i = 0; i < reports.size(); ++i) {
    if (absl::Status s = history::ValidateUsageReport(reports[i]); !s.ok()) {
      reports_rejected_.fetch_add(reports.size(), std::memory_order_relaxed);
      return absl::InvalidArgumentError(
          fmt::format("reports[{}]: {}", i, std::string(s.message())));
    }
  }
  for (size_t i = 0; i < reports.size(); ++i) {
    if (absl::Status s = aggregator_->Add(reports[i]); !s.ok()) {
      reports_rejected_.fetch_add(reports.size() - i, std::memory_order_relaxed);
      return absl::Status(s.code(), fmt::format("reports[{}]: {} (reports before it were accepted)",
                                                i, std::string(s.message())));
    }
    reports_accepted_.fetch_add(1, std::memory_order_relaxed);
  }
  return absl::OkStatus();
}

ClassInfo Service::Describe(const ClassState& state, MonoTime now) const {
  ClassInfo info;
  info.key = state.display;
  info.tenant = state.key.tenant;
  for (const auto& [k, v] : state.key.entries) info.entries.push_back({k, v});
  info.dynamic = state.dynamic;
  info.admitted = state.admitted.load(std::memory_order_relaxed);
  info.refused = state.refused.load(std::memory_order_relaxed);
  info.shadow_refused = state.shadow_refused.load(std::memory_order_relaxed);
  if (state.bucket) {
    const BucketConfig c = state.bucket->config();
    info.rate_per_s = c.rate_per_s;
    info.size = c.size;
    info.available = state.bucket->Available(now);
  }
  const int64_t last = state.last_refused_ns.load(std::memory_order_relaxed);
  info.refused_last_minute =
      last != INT64_MIN && now.time_since_epoch().count() - last <= int64_t{60'000'000'000};
  std::lock_guard lock(state.mu);
  if (state.plan) {
    info.planned_rate_per_s = state.plan->rate_per_s;
    info.planned_size = state.plan->size;
  }
  info.configured_limit = state.configured_limit;
  info.priority = state.priority;
  info.weight = state.weight;
  info.shadow_mode = state.shadow_mode;
  info.override_info = state.override_info;
  info.source = state.override_info ? "override" : state.request_limit ? "request" : state.source;
  info.location = state.location;
  return info;
}

std::vector<ClassInfo> Service::ListClasses() {
  {
    std::lock_guard admin(admin_mu_);
    ExpireOverridesLocked(clock_.Now());
  }
  std::vector<std::shared_ptr<ClassState>> states;
  {
    std::shared_lock lock(classes_mu_);
    states.reserve(classes_.size());
    for (const auto& [k, s] : classes_) states.push_back(s);
  }
  const MonoTime now = clock_.Now();
  std::vector<ClassInfo> out;
  out.reserve(states.size());
  for (const auto& s : states) out.push_back(Describe(*s, now));
  std::sort(out.begin(), out.end(),
            [](const ClassInfo& a, const ClassInfo& b) { return a.key < b.key; });
  return out;
}

absl::StatusOr<ClassInfo> Service::GetClass(std::string_view key) {
  {
    std::lock_guard admin(admin_mu_);
    ExpireOverridesLocked(clock_.Now());
  }
  std::shared_ptr<ClassState> found;
  {
    std::shared_lock lock(classes_mu_);
    for (const auto& [k, s] : classes_) {
      if (s->display == key) {
        found = s;
        break;
      }
    }
  }
  if (found == nullptr) {
    return absl::NotFoundError(fmt::format("class '{}' does not exist", key));
  }
  return Describe(*found, clock_.Now());
}

absl::StatusOr<OverrideInfo> Service::SetOverride(const OverrideRequest& request) {
  if (!request.rate_per_s && !request.size) {
    return absl::InvalidArgumentError("override: at least one of rate_per_s and size is required");
  }
  if (request.rate_per_s &&
      !(std::isfinite(*request.rate_per_s) && *request.rate_per_s >= shaping::kMinRatePerS &&
        *request.rate_per_s <= shaping::kMaxRatePerS)) {
    return absl::InvalidArgumentError(fmt::format("rate_per_s: {} is not in [{}, {}]",
                                                  *request.rate_per_s, shaping::kMinRatePerS,
                                                  shaping::kMaxRatePerS));
  }
  if (request.size && !(std::isfinite(*request.size) && *request.size > 0)) {
    return absl::InvalidArgumentError(fmt::format("size: {} must be > 0", *request.size));
  }
  if (request.ttl <= Duration::zero() || request.ttl > kMaxOverrideTtl) {
    return absl::InvalidArgumentError(fmt::format(
        "ttl_seconds: {} s is not in (0, {}]", std::chrono::duration<double>(request.ttl).count(),
        std::chrono::duration<double>(kMaxOverrideTtl).count()));
  }
  std::lock_guard admin(admin_mu_);
  std::shared_ptr<ClassState> state = FindClass(request.key.Canonical());
  if (state == nullptr) {
    return absl::NotFoundError(fmt::format("class '{}' does not exist", request.key.ToString()));
  }
  if (state->bucket == nullptr) {
    return absl::FailedPreconditionError(fmt::format(
        "class '{}' has a limit of 0 requests and no bucket to override", state->display));
  }
  std::lock_guard lock(state->mu);
  BucketConfig c = state->BaseConfigLocked().value_or(state->bucket->config());
  if (request.rate_per_s) c.rate_per_s = *request.rate_per_s;
  if (request.size) c.size = *request.size;
  if (absl::Status s = shaping::ValidateBucketConfig(c); !s.ok()) {
    return absl::InvalidArgumentError(fmt::format("override: {}", std::string(s.message())));
  }
  const MonoTime now = clock_.Now();
  TIDEGATE_RETURN_IF_ERROR(state->bucket->Replan(c, now));
  OverrideInfo info{request.rate_per_s, request.size, clock_.WallNow() + request.ttl};
  state->override_info = info;
  state->override_expires = now + request.ttl;
  state->has_override.store(true, std::memory_order_release);
  planning_generation_.fetch_add(1, std::memory_order_release);
  return info;
}

absl::Status Service::ClearOverride(const ClassKey& key) {
  std::lock_guard admin(admin_mu_);
  std::shared_ptr<ClassState> state = FindClass(key.Canonical());
  if (state == nullptr) {
    return absl::NotFoundError(fmt::format("class '{}' does not exist", key.ToString()));
  }
  std::lock_guard lock(state->mu);
  if (!state->override_info) {
    return absl::NotFoundError(fmt::format("class '{}' has no override", key.ToString()));
  }
  state->override_info.reset();
  state->has_override.store(false, std::memory_order_release);
  planning_generation_.fetch_add(1, std::memory_order_release);
  if (auto base = state->BaseConfigLocked(); base && state->bucket) {
    TIDEGATE_RETURN_IF_ERROR(state->bucket->Replan(*base, clock_.Now()));
  }
  return absl::OkStatus();
}

void Service::ExpireOverridesLocked(MonoTime now) {
  std::vector<std::shared_ptr<ClassState>> states;
  {
    std::shared_lock lock(classes_mu_);
    for (const auto& [k, s] : classes_) {
      if (s->has_override.load(std::memory_order_acquire)) states.push_back(s);
    }
  }
  for (const auto& s : states) {
    std::lock_guard lock(s->mu);
    if (!s->override_info || now < s->override_expires) continue;
    s->override_info.reset();
    s->has_override.store(false, std::memory_order_release);
    planning_generation_.fetch_add(1, std::memory_order_release);
    if (auto base = s->BaseConfigLocked(); base && s->bucket) (void)s->bucket->Replan(*base, now);
  }
}

absl::Status Service::ApplyConfig(Config config) {
  // Everything that can fail is checked before anything changes.
  if (absl::Status s = alert::ValidateAlertsConfig(config.alerts); !s.ok()) {
    return absl::InvalidArgumentError(fmt::format("alerts.{}", std::string(s.message())));
  }
  if (absl::Status s = alert::ValidateScalingConfig(config.scaling); !s.ok()) {
    return absl::InvalidArgumentError(fmt::format("scaling.{}", std::string(s.message())));
  }
  const RequestLimits& limits = config.limits;
  if (limits.max_entries > shaping::kMaxDescriptorEntries) {
    return absl::InvalidArgumentError(fmt::format(
        "limits.max_entries: {} is above {}", limits.max_entries, shaping::kMaxDescriptorEntries));
  }
  if (config.unknown.policy == UnknownPolicy::kDefault && !config.unknown.default_limit) {
    return absl::InvalidArgumentError(
        "unknown_descriptors.default_limit: required with policy: default");
  }
  std::optional<BucketConfig> pool_config;
  if (const BorrowingSpec& b = config.borrowing; b.borrow.enabled) {
    auto cap = config.capacity.find(b.resource);
    if (cap == config.capacity.end()) {
      return absl::InvalidArgumentError(fmt::format(
          "borrowing.resource: no capacity is configured for resource '{}'", b.resource));
    }
    if (!(b.borrow.cost_headroom >= 0) || !std::isfinite(b.borrow.cost_headroom)) {
      return absl::InvalidArgumentError(fmt::format(
          "borrowing.cost_headroom: {} must be finite and >= 0", b.borrow.cost_headroom));
    }
    absl::StatusOr<BucketConfig> pc =
        shaping::PoolConfig(cap->second, std::chrono::duration<double>(b.borrow.horizon).count(),
                            b.borrow.tier_reserve);
    if (!pc.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("borrowing: {}", std::string(pc.status().message())));
    }
    pool_config = *pc;
  }
  for (const DomainConfig& d : config.domains) {
    TIDEGATE_RETURN_IF_ERROR(
        shaping::ValidateBucketConfig(TenantConfig(config.FindTenant(d.domain))));
  }
  for (const TenantSpec& t : config.tenants) {
    TIDEGATE_RETURN_IF_ERROR(shaping::ValidateBucketConfig(TenantConfig(&t)));
  }
  struct Fixed {
    ClassKey key;
    const DescriptorRule* rule;
  };
  std::vector<Fixed> fixed;
  absl::Status bad = absl::OkStatus();
  for (const DomainConfig& d : config.domains) {
    std::vector<std::pair<std::string, std::string>> path;
    ForEachFixedRule(d.descriptors, path, [&](const auto& entries, const DescriptorRule& rule) {
      ClassKey key{d.domain, entries};
      if (absl::Status s = shaping::ValidateClassKey(key); !s.ok() && bad.ok()) {
        bad = absl::InvalidArgumentError(fmt::format("{}:{}: {}", rule.location.file,
                                                     rule.location.line, std::string(s.message())));
      }
      if (rule.rate_limit->requests_per_unit > 0) {
        if (absl::Status s = shaping::ValidateBucketConfig(ConfigFor(*rule.rate_limit));
            !s.ok() && bad.ok()) {
          bad =
              absl::InvalidArgumentError(fmt::format("{}:{}: rate_limit: {}", rule.location.file,
                                                     rule.location.line, std::string(s.message())));
        }
      }
      fixed.push_back({std::move(key), &rule});
    });
  }
  TIDEGATE_RETURN_IF_ERROR(bad);
  if (fixed.size() > limits.max_classes) {
    return absl::InvalidArgumentError(
        fmt::format("the config defines {} classes, above limits.max_classes = {}", fixed.size(),
                    limits.max_classes));
  }

  std::lock_guard admin(admin_mu_);
  // Whether it is applied or not, the classes may have changed: the planning snapshot is rebuilt.
  absl::Cleanup replan = [this] { planning_generation_.fetch_add(1, std::memory_order_release); };
  const std::shared_ptr<const Rules> old = rules_.load();
  auto next = std::make_shared<Rules>();
  IndexDescriptors(config);  // Moving the config below keeps the positions and pointers valid.
  next->config = std::make_shared<const Config>(std::move(config));
  next->generation = old->generation + 1;
  next->loaded_at = clock_.WallNow();
  const Config& cfg = *next->config;
  const MonoTime now = clock_.Now();

  // Tenants: every configured domain and every tenant with a quota.
  for (const DomainConfig& d : cfg.domains) {
    TIDEGATE_RETURN_IF_ERROR(
        registry_->UpsertTenant(d.domain, TenantConfig(cfg.FindTenant(d.domain)), now));
  }
  for (const TenantSpec& t : cfg.tenants) {
    TIDEGATE_RETURN_IF_ERROR(registry_->UpsertTenant(t.name, TenantConfig(&t), now));
  }

  // Existing classes: re-match against the new rules; keep (re-planned) or drop.
  std::vector<std::shared_ptr<ClassState>> existing;
  {
    std::shared_lock lock(classes_mu_);
    for (const auto& [k, s] : classes_) existing.push_back(s);
  }
  std::set<std::string> keep;
  for (const auto& s : existing) {
    std::vector<Entry> entries;
    for (const auto& [k, v] : s->key.entries) entries.push_back({k, v});
    const Match m = MatchDescriptor(cfg.FindDomain(s->key.tenant), entries);
    std::lock_guard lock(s->mu);
    std::optional<RateLimit> limit;
    std::string source = "config";
    if (m.known && m.rule->rate_limit) {
      limit = m.rule->rate_limit;
      s->rule = m.rule;
      s->priority = m.rule->priority;
      s->weight = m.rule->weight;
      s->shadow_mode = m.rule->shadow_mode;
      s->location = fmt::format("{}:{}", m.rule->location.file, m.rule->location.line);
    } else if (!m.known && cfg.unknown.policy == UnknownPolicy::kDefault && s->dynamic) {
      limit = cfg.unknown.default_limit;
      source = "default";
      s->rule = nullptr;
      s->priority = kDefaultPriority;
      s->weight = 1;
      s->shadow_mode = false;
      s->location.clear();
    } else if (s->request_limit && (m.known || cfg.FindDomain(s->key.tenant) != nullptr)) {
      s->rule = nullptr;  // Still reachable through request limits.
      source = "request";
    } else {
      continue;  // No longer configured: dropped below.
    }
    // A class whose bucket existence changes (0 <-> > 0 requests) is rebuilt as a new class.
    const bool blocked = limit && limit->requests_per_unit == 0;
    if (blocked != (s->bucket == nullptr)) continue;
    s->configured_limit = limit;
    s->source = source;
    keep.insert(s->canonical);
    if (!s->override_info && s->bucket) {
      if (auto base = s->BaseConfigLocked()) {
        TIDEGATE_RETURN_IF_ERROR(s->bucket->Replan(*base, now));
      }
    }
  }
  for (const auto& s : existing) {
    if (keep.count(s->canonical)) continue;
    {
      std::unique_lock lock(classes_mu_);
      classes_.erase(s->canonical);
    }
    if (s->bucket) (void)registry_->RemoveClass(s->key);
  }
  // New fixed classes.
  for (Fixed& f : fixed) {
    std::string canonical = f.key.Canonical();
    if (keep.count(canonical)) continue;
    auto state = std::make_shared<ClassState>();
    state->rule = f.rule;
    state->configured_limit = f.rule->rate_limit;
    state->priority = f.rule->priority;
    state->weight = f.rule->weight;
    state->shadow_mode = f.rule->shadow_mode;
    state->location = fmt::format("{}:{}", f.rule->location.file, f.rule->location.line);
    if (f.rule->rate_limit->requests_per_unit > 0) {
      TIDEGATE_ASSIGN_OR_RETURN(state->bucket,
                                registry_->UpsertClass(f.key, ConfigFor(*f.rule->rate_limit), now));
    }
    state->display = f.key.ToString();
    state->series_class = SeriesClass(f.key);
    state->entries_label = EntriesString(f.key.entries);
    state->key = std::move(f.key);
    state->canonical = canonical;
    std::unique_lock lock(classes_mu_);
    classes_[std::move(canonical)] = std::move(state);
  }
  // Tenants no longer configured and without classes.
  for (const DomainConfig& d : old->config->domains) {
    if (cfg.FindDomain(d.domain) == nullptr && cfg.FindTenant(d.domain) == nullptr) {
      (void)registry_->RemoveTenant(d.domain);  // FailedPrecondition while classes remain.
    }
  }
  // Validated above; only a failure to start a new delivery thread can fail here.
  TIDEGATE_RETURN_IF_ERROR(alerting_->Reconfigure(cfg.alerts, cfg.scaling));
  // The borrowing pool: re-planned to the new capacity and horizon (its backlog carries over in
  // proportion), created when borrowing is turned on, dropped when it is turned off.
  std::shared_ptr<Pool> next_pool;
  if (pool_config) {
    next_pool = std::make_shared<Pool>();
    next_pool->resource = cfg.borrowing.resource;
    next_pool->cost_headroom = cfg.borrowing.borrow.cost_headroom;
    const Pool* old_pool = old->pool.get();
    if (old_pool && old_pool->resource == next_pool->resource &&
        old_pool->bucket->Replan(*pool_config, now).ok()) {
      next_pool->bucket = old_pool->bucket;
    } else {
      TIDEGATE_ASSIGN_OR_RETURN(next_pool->bucket, TokenBucket::Create(*pool_config, now));
    }
  }
  next->pool = std::move(next_pool);
  max_body_bytes_.store(next->config->limits.max_body_bytes, std::memory_order_relaxed);
  rules_.store(std::move(next));
  return absl::OkStatus();
}

std::optional<PoolInfo> Service::pool_info() const {
  const std::shared_ptr<const Rules> rules = rules_.load();
  const Pool* pool = rules->pool.get();
  if (!pool) return std::nullopt;
  PoolInfo info;
  info.resource = pool->resource;
  info.config = pool->bucket->config();
  info.available = pool->bucket->Available(clock_.Now());
  info.cost_headroom = pool->cost_headroom;
  return info;
}

ConfigInfo Service::config_info() const {
  const std::shared_ptr<const Rules> rules = rules_.load();
  ConfigInfo info;
  info.version = rules->config->version;
  info.sources = rules->config->sources;
  info.loaded_at = rules->loaded_at;
  info.generation = rules->generation;
  info.domains = rules->config->domains.size();
  std::shared_lock lock(classes_mu_);
  info.classes = classes_.size();
  return info;
}

std::shared_ptr<const Config> Service::config() const { return rules_.load()->config; }

absl::Status Service::Tick() {
  {
    std::lock_guard admin(admin_mu_);
    ExpireOverridesLocked(clock_.Now());
  }
  FlushDemand(/*all=*/false);
  RebaseOldBuckets();
  absl::Status s = aggregator_->FlushClosed(clock_.WallNow());
  if (!s.ok()) flush_failures_.fetch_add(1, std::memory_order_relaxed);
  if (alerting_->Due()) alerting_->Tick(ObservedSnapshot());
  return s;
}

void Service::EvaluateAlerting(const alert::Snapshot& snapshot, bool force) {
  alerting_->Tick(snapshot, force);
}

alert::Snapshot Service::ObservedSnapshot() {
  const std::shared_ptr<const Rules> rules = rules_.load();
  const Config& config = *rules->config;
  std::vector<std::shared_ptr<ClassState>> states;
  {
    std::shared_lock lock(classes_mu_);
    states.reserve(classes_.size());
    for (const auto& [k, st] : classes_) states.push_back(st);
  }
  std::sort(states.begin(), states.end(),
            [](const auto& a, const auto& b) { return a->canonical < b->canonical; });
  alert::Snapshot snap;
  snap.at = clock_.WallNow();
  snap.capacity = config.capacity;
  const MonoTime now = clock_.Now();
  std::lock_guard lock(observed_mu_);
  const double elapsed_s =
      observed_at_ ? std::chrono::duration<double>(now - *observed_at_).count() : 0;
  std::unordered_map<std::string, uint64_t> counts;
  counts.reserve(states.size());
  for (const auto& st : states) {
    const uint64_t checks = st->admitted.load(std::memory_order_relaxed) +
                            st->refused.load(std::memory_order_relaxed) +
                            st->shadow_refused.load(std::memory_order_relaxed);
    counts[st->canonical] = checks;
    double rate = 0;
    if (auto prev = observed_checks_.find(st->canonical);
        prev != observed_checks_.end() && elapsed_s > 0 && checks >= prev->second) {
      rate = static_cast<double>(checks - prev->second) / elapsed_s;
    }
    alert::ClassSnapshot c;
    c.key = st->display;
    c.tenant = st->key.tenant;
    c.resources["requests"].observed_per_s = rate;
    // The class's per-request cost, from the rule it matches in the config in force.
    std::vector<Entry> entries;
    for (const auto& [k, v] : st->key.entries) entries.push_back({k, v});
    const Match m = MatchDescriptor(config.FindDomain(st->key.tenant), entries);
    std::optional<PredictedDemand> predicted;
    if (demand_source_) predicted = demand_source_(st->display);
    if (predicted) {
      c.resources["requests"].forecasts = predicted->forecasts;
      c.resources["requests"].anomaly = predicted->anomaly;
    }
    if (m.rule != nullptr) {
      for (const auto& [resource, cost] : m.rule->cost) {
        if (resource == "requests") continue;
        alert::ResourceSnapshot& r = c.resources[resource];
        r.observed_per_s = rate * cost;
        if (!predicted) continue;
        r.anomaly = predicted->anomaly;
        for (alert::ForecastPoint f : predicted->forecasts) {
          f.mean *= cost;
          f.upper *= cost;
          r.forecasts.push_back(f);
        }
      }
    }
    snap.classes.push_back(std::move(c));
  }
  observed_checks_ = std::move(counts);
  observed_at_ = now;
  return snap;
}

void Service::FlushDemand(bool all) {
  std::vector<std::shared_ptr<ClassState>> states;
  {
    std::shared_lock lock(classes_mu_);
    states.reserve(classes_.size());
    for (const auto& [k, s] : classes_) states.push_back(s);
  }
  const Duration step = aggregator_->options().step;
  const int64_t now_ns = clock_.WallNow().time_since_epoch().count();
  history::SampleBatch admitted;
  for (const auto& s : states) {
    std::vector<ClassState::DemandStep> closed;
    {
      std::lock_guard lock(s->demand_mu);
      auto it = s->demand.begin();
      while (it != s->demand.end() && (all || it->step_ns + step.count() <= now_ns)) ++it;
      closed.assign(s->demand.begin(), it);
      s->demand.erase(s->demand.begin(), it);
    }
    for (const ClassState::DemandStep& d : closed) {
      if (d.offered <= 0 && d.admitted <= 0) continue;
      const WallTime t{Duration(d.step_ns)};
      history::UsageReport r;
      r.tenant = s->key.tenant;
      for (const auto& [k, v] : s->key.entries) r.descriptors.push_back({k, v});
      r.count = static_cast<int64_t>(std::llround(d.offered));
      r.latency_ms = 0;
      r.timestamp = t;
      if (!aggregator_->Add(r).ok()) demand_write_failures_.fetch_add(1, std::memory_order_relaxed);
      admitted.Add({"requests_admitted", s->key.tenant, s->series_class}, t, d.admitted);
    }
  }
  if (admitted.SampleCount() > 0 && !store_->Append(admitted).ok()) {
    demand_write_failures_.fetch_add(1, std::memory_order_relaxed);
  }
}

std::shared_ptr<const std::vector<PlanningClass>> Service::PlanningClasses() {
  std::lock_guard admin(admin_mu_);  // Rule pointers stay valid: no ApplyConfig meanwhile.
  std::lock_guard cache(planning_mu_);
  // Read before the build: a change made during it moves the generation past the cached one.
  const uint64_t generation = planning_generation_.load(std::memory_order_acquire);
  if (planning_snapshot_ != nullptr && planning_snapshot_generation_ == generation) {
    return planning_snapshot_;
  }
  std::vector<std::shared_ptr<ClassState>> states;
  {
    std::shared_lock lock(classes_mu_);
    states.reserve(classes_.size());
    for (const auto& [k, s] : classes_) {
      if (s->bucket) states.push_back(s);
    }
  }
  std::sort(states.begin(), states.end(),
            [](const auto& a, const auto& b) { return a->display < b->display; });
  auto out = std::make_shared<std::vector<PlanningClass>>();
  out->reserve(states.size());
  for (const auto& s : states) {
    std::lock_guard lock(s->mu);
    std::optional<BucketConfig> st = s->StaticConfigLocked();
    if (!st) continue;  // A limit of 0 or none: nothing to plan.
    PlanningClass& c = out->emplace_back();
    c.key = s->display;
    c.canonical = s->canonical;
    c.tenant = s->key.tenant;
    c.series_class = s->series_class;
    c.priority = s->priority;
    c.weight = s->weight;
    if (s->rule != nullptr) {
      c.floor_per_s = s->rule->floor_per_s;
      c.ceiling_per_s = s->rule->ceiling_per_s;
      c.cost = s->rule->cost;
      c.predict = s->rule->predict;
    }
    c.static_config = *st;
    c.has_override = s->override_info.has_value();
    c.has_request_limit = s->request_limit.has_value();
  }
  planning_snapshot_ = std::move(out);
  planning_snapshot_generation_ = generation;
  return planning_snapshot_;
}

void Service::RebaseOldBuckets() {
  const MonoTime now = clock_.Now();
  std::vector<std::shared_ptr<ClassState>> old;
  {
    std::shared_lock lock(classes_mu_);
    for (const auto& [k, st] : classes_) {
      if (st->bucket != nullptr && st->bucket->NeedsRebase(now)) old.push_back(st);
    }
  }
  for (const auto& st : old) {
    std::lock_guard lock(st->mu);  // Serialised with ApplyPlan and overrides (same config read).
    st->bucket->RebaseIfOld(now);
  }
  // Tenant buckets and the global one change only in ApplyConfig, under admin_mu_.
  std::lock_guard admin(admin_mu_);
  const std::shared_ptr<const Rules> rules = rules_.load();
  auto rebase = [&](std::string_view tenant) {
    if (std::shared_ptr<TokenBucket> b = registry_->FindTenant(tenant)) b->RebaseIfOld(now);
  };
  for (const DomainConfig& d : rules->config->domains) rebase(d.domain);
  for (const TenantSpec& t : rules->config->tenants) rebase(t.name);
  if (TokenBucket* global = registry_->global()) global->RebaseIfOld(now);
}

absl::Status Service::ApplyPlan(std::string_view canonical, std::optional<BucketConfig> plan) {
  std::shared_ptr<ClassState> s = FindClass(canonical);
  if (s == nullptr || s->bucket == nullptr) {
    return absl::NotFoundError(fmt::format("class '{}' does not exist", canonical));
  }
  if (plan) TIDEGATE_RETURN_IF_ERROR(shaping::ValidateBucketConfig(*plan));
  std::lock_guard lock(s->mu);
  if (s->plan == plan) return absl::OkStatus();
  s->plan = plan;
  if (s->override_info) return absl::OkStatus();
  if (std::optional<BucketConfig> base = s->BaseConfigLocked()) {
    if (!(s->bucket->config() == *base)) return s->bucket->Replan(*base, clock_.Now());
  }
  return absl::OkStatus();
}

std::vector<BucketState> Service::SnapshotBuckets() {
  std::vector<std::shared_ptr<ClassState>> states;
  {
    std::shared_lock lock(classes_mu_);
    for (const auto& [k, s] : classes_) {
      if (s->bucket) states.push_back(s);
    }
  }
  const MonoTime now = clock_.Now();
  std::vector<BucketState> out;
  out.reserve(states.size());
  for (const auto& s : states) {
    BucketState b;
    b.canonical = s->canonical;
    b.level = s->bucket->Available(now);
    std::lock_guard lock(s->mu);
    b.override_info = s->override_info;
    b.plan = s->plan;
    out.push_back(std::move(b));
  }
  std::sort(out.begin(), out.end(),
            [](const BucketState& a, const BucketState& b) { return a.canonical < b.canonical; });
  return out;
}

absl::Status Service::RestoreBucket(const BucketState& state) {
  std::lock_guard admin(admin_mu_);
  std::shared_ptr<ClassState> s = FindClass(state.canonical);
  if (s == nullptr || s->bucket == nullptr) {
    return absl::NotFoundError(fmt::format("class '{}' does not exist", state.canonical));
  }
  if (!std::isfinite(state.level)) {
    return absl::InvalidArgumentError(
        fmt::format("{}: level {} is not finite", state.canonical, state.level));
  }
  const MonoTime now = clock_.Now();
  const WallTime wall = clock_.WallNow();
  std::lock_guard lock(s->mu);
  if (state.plan && shaping::ValidateBucketConfig(*state.plan).ok()) s->plan = state.plan;
  BucketConfig c = s->BaseConfigLocked().value_or(s->bucket->config());
  if (state.override_info && state.override_info->expires_at > wall) {
    const OverrideInfo& o = *state.override_info;
    if (o.rate_per_s) c.rate_per_s = *o.rate_per_s;
    if (o.size) c.size = *o.size;
    if (shaping::ValidateBucketConfig(c).ok()) {
      s->override_info = o;
      s->override_expires = now + (o.expires_at - wall);
      s->has_override.store(true, std::memory_order_release);
      planning_generation_.fetch_add(1, std::memory_order_release);
    } else {
      c = s->BaseConfigLocked().value_or(s->bucket->config());
    }
  }
  TIDEGATE_RETURN_IF_ERROR(s->bucket->Replan(c, now));
  // Bring the level to the saved one (a settle also charges the tenant, as the original
  // consumption did).
  const double level = std::min(state.level, c.size);
  const double delta = s->bucket->Available(now) - level;
  if (delta != 0) (void)s->bucket->Settle(delta, now);
  return absl::OkStatus();
}

absl::Status Service::Flush() {
  FlushDemand(/*all=*/true);
  absl::Status s = aggregator_->FlushAll();
  if (!s.ok()) flush_failures_.fetch_add(1, std::memory_order_relaxed);
  return s;
}

std::string Service::RenderMetrics() {
  using history::ExpositionFamily;
  using history::ExpositionSample;
  std::vector<std::shared_ptr<ClassState>> states;
  {
    std::shared_lock lock(classes_mu_);
    states.reserve(classes_.size());
    for (const auto& [k, s] : classes_) states.push_back(s);
  }
  std::sort(states.begin(), states.end(),
            [](const auto& a, const auto& b) { return a->canonical < b->canonical; });
  const MonoTime now = clock_.Now();
  const std::shared_ptr<const Pool> pool = rules_.load()->pool;
  ExpositionFamily decisions{"tidegate_decisions_total",
                             "Check decisions per class and code (shadow: refused in shadow mode, "
                             "reported OK).",
                             "counter",
                             {}};
  ExpositionFamily rate{
      "tidegate_bucket_rate_per_second", "Refill rate in force, tokens/s.", "gauge", {}};
  ExpositionFamily size{
      "tidegate_bucket_size_tokens", "Bucket size in force, tokens.", "gauge", {}};
  ExpositionFamily level{
      "tidegate_bucket_level_tokens", "Tokens available now (negative in debt).", "gauge", {}};
  ExpositionFamily overrides{
      "tidegate_bucket_override", "1 while a manual override is active.", "gauge", {}};
  ExpositionFamily borrowed{"tidegate_borrowed_total",
                            "Admissions by the borrowing pool after the class's own bucket refused "
                            "(also counted in tidegate_decisions_total{code=\"ok\"}).",
                            "counter",
                            {}};
  for (const auto& s : states) {
    using Labels = std::vector<std::pair<std::string, std::string>>;
    const Labels base = {{"tenant", s->key.tenant}, {"class", s->entries_label}};
    auto with = [&](std::string_view code) {
      Labels l = base;
      l.emplace_back("code", std::string(code));
      return l;
    };
    decisions.samples.push_back(
        {decisions.name, with("ok"), static_cast<double>(s->admitted.load()), std::nullopt});
    decisions.samples.push_back(
        {decisions.name, with("over_limit"), static_cast<double>(s->refused.load()), std::nullopt});
    decisions.samples.push_back({decisions.name, with("shadow"),
                                 static_cast<double>(s->shadow_refused.load()), std::nullopt});
    if (s->bucket) {
      const BucketConfig c = s->bucket->config();
      rate.samples.push_back({rate.name, base, c.rate_per_s, std::nullopt});
      size.samples.push_back({size.name, base, c.size, std::nullopt});
      level.samples.push_back({level.name, base, s->bucket->Available(now), std::nullopt});
    }
    overrides.samples.push_back(
        {overrides.name, base, s->has_override.load() ? 1.0 : 0.0, std::nullopt});
    if (pool) {
      borrowed.samples.push_back(
          {borrowed.name, base, static_cast<double>(s->borrowed.load()), std::nullopt});
    }
  }
  const ConfigInfo info = config_info();
  const history::UsageAggregatorStats agg = aggregator_->stats();
  std::vector<ExpositionFamily> alerting = alerting_->MetricFamilies();
  std::vector<ExpositionFamily> families = {
      std::move(decisions),
      std::move(rate),
      std::move(size),
      std::move(level),
      std::move(overrides),
      {"tidegate_classes",
       "Request classes with a bucket or a counter.",
       "gauge",
       {{"tidegate_classes", {}, static_cast<double>(states.size()), std::nullopt}}},
      {"tidegate_unknown_descriptors_total",
       "Descriptors that matched no configured limit, by the policy's action.",
       "counter",
       {{"tidegate_unknown_descriptors_total",
         {{"action", "allowed"}},
         static_cast<double>(unknown_allowed_.load()),
         std::nullopt},
        {"tidegate_unknown_descriptors_total",
         {{"action", "denied"}},
         static_cast<double>(unknown_denied_.load()),
         std::nullopt}}},
      {"tidegate_usage_reports_total",
       "Usage reports received, by result.",
       "counter",
       {{"tidegate_usage_reports_total",
         {{"result", "accepted"}},
         static_cast<double>(reports_accepted_.load()),
         std::nullopt},
        {"tidegate_usage_reports_total",
         {{"result", "rejected"}},
         static_cast<double>(reports_rejected_.load()),
         std::nullopt}}},
      {"tidegate_usage_samples_flushed_total",
       "History samples the store acknowledged.",
       "counter",
       {{"tidegate_usage_samples_flushed_total",
         {},
         static_cast<double>(agg.samples_flushed),
         std::nullopt}}},
      {"tidegate_usage_flush_failures_total",
       "Failed writes of usage buckets to the store.",
       "counter",
       {{"tidegate_usage_flush_failures_total",
         {},
         static_cast<double>(flush_failures_.load()),
         std::nullopt}}},
      {"tidegate_config_generation",
       "Configurations applied since start (1 = the initial one).",
       "gauge",
       {{"tidegate_config_generation", {}, static_cast<double>(info.generation), std::nullopt}}},
      {"tidegate_config_info",
       "The active configuration's version (value is always 1).",
       "gauge",
       {{"tidegate_config_info", {{"version", info.version}}, 1.0, std::nullopt}}},
  };
  if (pool) {
    const BucketConfig pc = pool->bucket->config();
    const std::vector<std::pair<std::string, std::string>> resource = {
        {"resource", pool->resource}};
    families.push_back(std::move(borrowed));
    families.push_back(
        {"tidegate_pool_level_tokens",
         "Borrowing pool: tokens available now, in units of its resource (size "
         "minus the estimated backlog; negative in debt).",
         "gauge",
         {{"tidegate_pool_level_tokens", resource, pool->bucket->Available(now), std::nullopt}}});
    families.push_back({"tidegate_pool_size_tokens",
                        "Borrowing pool: size (capacity x horizon), in units of its resource.",
                        "gauge",
                        {{"tidegate_pool_size_tokens", resource, pc.size, std::nullopt}}});
  }
  for (ExpositionFamily& f : alerting) families.push_back(std::move(f));
  return history::EncodeExposition(families);
}

}  // namespace tidegate::server
