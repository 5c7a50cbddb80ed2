// tidegate/alert/rules.h — alert rules on predicted consumption and anomalies, and their
// evaluator.
//
// Two kinds of rule (docs/design/alerting.md has the semantics in full):
//   * Threshold: a value V compared with a threshold T. V is a statistic (observed rate, forecast
//     mean or forecast upper bound at a horizon) of one resource, taken per class, or summed over a
//     tenant's classes, or summed over every class (scope resource). T is absolute, or a fraction
//     of the system capacity of that resource. One alert instance per class (scope class), per
//     tenant (scope tenant) or one (scope resource).
//   * Anomaly: a class whose resource is flagged anomalous, with a score >= min_score and a kind
//     in `kinds` (empty: any). One instance per (class, resource).
//
// Evaluation follows Prometheus's alerting rules. Per instance, on each Evaluate():
//   inactive --cond--> pending (active_at = now) --cond held for `for`--> firing
//   pending  --!cond--> dropped (nothing is sent)
//   firing   --!cond or instance gone--> resolved (resolved_at = now); kept `kResolvedRetention`
//   resolved --cond--> pending again (a new activation)
// With `for` = 0 a true condition fires at once. An instance whose data is missing (no class, no
// forecast at that horizon, no capacity for a fraction threshold) is treated as a false condition.
//
// Time: the Evaluator reads an injected Clock (MonoTime for `for`, WallTime for the times it
// reports), so a SimulatedClock makes it fully deterministic.
//
// Thread-safety: an Evaluator is not thread-safe; its owner (alert::Engine) serialises calls.
#ifndef TIDEGATE_ALERT_RULES_H_
#define TIDEGATE_ALERT_RULES_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "tidegate/alert/snapshot.h"
#include "tidegate/common/clock.h"

namespace tidegate::alert {

enum class Scope : uint8_t { kClass, kTenant, kResource };
enum class Statistic : uint8_t { kObserved, kMean, kUpper };
enum class Comparison : uint8_t { kGreater, kGreaterEqual, kLess, kLessEqual };
enum class RuleKind : uint8_t { kThreshold, kAnomaly };

std::string_view ScopeName(Scope scope);         // "class", "tenant", "resource"
std::string_view StatisticName(Statistic stat);  // "observed", "mean", "upper"
std::string_view ComparisonName(Comparison op);  // ">", ">=", "<", "<="
bool Compare(double value, Comparison op, double threshold);
// "1m", "1h", "1d" for those horizons, else seconds ("90s").
std::string HorizonName(Duration horizon);

// The horizons a rule may name.
inline constexpr Duration kHorizons[] = {std::chrono::minutes(1), std::chrono::hours(1),
                                         std::chrono::hours(24)};

struct Rule {
  std::string name;  // The alertname label; [A-Za-z_][A-Za-z0-9_]*; unique among rules.
  RuleKind kind = RuleKind::kThreshold;

  // Filters (both kinds). Empty: any.
  std::string tenant;     // Only classes of this tenant.
  std::string class_key;  // Only this class ("tenant/key=value,...").

  // Threshold rules.
  Scope scope = Scope::kClass;
  std::string resource;  // Required for threshold rules; optional filter for anomaly rules.
  Duration horizon = std::chrono::hours(1);  // One of kHorizons (ignored for kObserved).
  Statistic statistic = Statistic::kUpper;
  Comparison op = Comparison::kGreater;
  std::optional<double> threshold;          // Exactly one of threshold and capacity_fraction.
  std::optional<double> capacity_fraction;  // > 0: T = fraction x capacity[resource].

  // Anomaly rules.
  double min_score = 0;            // In [0, 1].
  std::vector<std::string> kinds;  // Empty: any kind.

  Duration for_duration{0};                   // >= 0.
  std::map<std::string, std::string> labels;  // Added to every instance's labels.
  // Templates: {value}, {threshold}, {alertname}, {class}, {tenant}, {resource}, {horizon},
  // {statistic}, {kind}, {score} and any rule label are replaced. A default `summary` that states
  // the value is added when the rule has none.
  std::map<std::string, std::string> annotations;

  std::string source;  // Where the rule was defined ("file:line"), for messages; may be empty.
};

// Checks a rule on its own: name syntax, kind-specific fields, templates. InvalidArgument naming
// the field ("threshold: ..."); the config loader adds the file and line.
absl::Status ValidateRule(const Rule& rule);

// Replaces {placeholders} of `text` from `vars`; unknown placeholders are kept verbatim.
std::string ExpandTemplate(std::string_view text, const std::map<std::string, std::string>& vars);
// The placeholders a template uses that are not in `known` (for validation).
std::vector<std::string> UnknownPlaceholders(std::string_view text,
                                             const std::vector<std::string>& known);

enum class AlertState : uint8_t { kPending, kFiring, kResolved };
std::string_view AlertStateName(AlertState state);  // "pending", "firing", "resolved"

// One alert instance as the API and the notifiers see it.
struct Alert {
  std::string rule;  // Rule name (= labels["alertname"]).
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  AlertState state = AlertState::kPending;
  double value = 0;      // The last value that made the condition true (anomaly: the score).
  WallTime active_at{};  // When it became pending (the startsAt sent to Alertmanager).
  WallTime since{};      // When it entered its current state.
  std::optional<WallTime> resolved_at;
  // Monotonic instants of activation and of entering the current state (for `for` and retention).
  MonoTime active_mono{};
  MonoTime state_mono{};
  // Delivery bookkeeping (Engine): when this alert was last handed to the notifier.
  std::optional<MonoTime> last_sent;
};

// Resolved alerts stay visible (and are re-sent) this long, as in Prometheus.
inline constexpr Duration kResolvedRetention = std::chrono::minutes(15);

class Evaluator {
 public:
  // `clock` must outlive the evaluator. Rules must be valid (ValidateRule).
  Evaluator(std::vector<Rule> rules, Clock& clock);

  // Replaces the rules. Instances of rules that keep their name keep their state; the others'
  // firing instances become resolved.
  void SetRules(std::vector<Rule> rules);

  // Evaluates every rule on `snapshot`; returns the alerts whose state changed in this call
  // (newly pending, firing or resolved), in rule order.
  std::vector<Alert> Evaluate(const Snapshot& snapshot);

  // Every pending, firing and retained resolved alert, sorted by rule, then labels.
  const std::map<std::string, Alert>& alerts() const { return alerts_; }
  std::map<std::string, Alert>& mutable_alerts() { return alerts_; }
  const std::vector<Rule>& rules() const { return rules_; }

 private:
  struct Candidate {
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> vars;  // Template variables.
    double value = 0;
  };
  std::vector<Candidate> Candidates(const Rule& rule, const Snapshot& snapshot) const;

  std::vector<Rule> rules_;
  Clock& clock_;
  std::map<std::string, Alert> alerts_;  // By fingerprint (rule + sorted labels).
};

// The identity of an alert instance: its labels, sorted (alertname among them).
std::string Fingerprint(const std::map<std::string, std::string>& labels);

}  // namespace tidegate::alert

#endif  // TIDEGATE_ALERT_RULES_H_
