// Alert rules and their evaluator (see tidegate/alert/rules.h and docs/design/alerting.md).
#include "tidegate/alert/rules.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <utility>

#include "fmt/format.h"

namespace tidegate::alert {
namespace {

// Labels the evaluator sets itself; a rule's own labels may not use them.
constexpr std::string_view kReservedLabels[] = {"alertname", "class", "tenant", "resource",
                                                "horizon"};
const std::vector<std::string> kTemplateVars = {"value",  "threshold", "alertname", "class",
                                                "tenant", "resource",  "horizon",   "statistic",
                                                "kind",   "score"};

bool IsLabelName(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::string FormatValue(double v) { return fmt::format("{:.6g}", v); }

// The statistic of one resource, or nullopt when the snapshot has no such data.
std::optional<double> StatOf(const ResourceSnapshot& r, Statistic stat, Duration horizon) {
  if (stat == Statistic::kObserved) return r.observed_per_s;
  const ForecastPoint* f = r.ForecastAt(horizon);
  if (f == nullptr) return std::nullopt;
  return stat == Statistic::kMean ? f->mean : f->upper;
}

bool Selected(const Rule& rule, const ClassSnapshot& c) {
  if (!rule.tenant.empty() && c.tenant != rule.tenant) return false;
  if (!rule.class_key.empty() && c.key != rule.class_key) return false;
  return true;
}

std::string DefaultSummary(const Rule& rule) {
  if (rule.kind == RuleKind::kAnomaly) {
    return "{resource} of {class} is anomalous ({kind}, score {score})";
  }
  std::string subject;
  switch (rule.scope) {
    case Scope::kClass:
      subject = "class {class}";
      break;
    case Scope::kTenant:
      subject = "tenant {tenant}";
      break;
    case Scope::kResource:
      subject = "all classes";
      break;
  }
  const std::string what = rule.statistic == Statistic::kObserved
                               ? "observed {resource} rate"
                               : "predicted {resource} rate ({statistic}, {horizon} ahead)";
  return fmt::format("{} of {} is {{value}} per second ({} {{threshold}})", what, subject,
                     ComparisonName(rule.op));
}

}  // namespace

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kClass:
      return "class";
    case Scope::kTenant:
      return "tenant";
    case Scope::kResource:
      return "resource";
  }
  return "class";
}

std::string_view StatisticName(Statistic stat) {
  switch (stat) {
    case Statistic::kObserved:
      return "observed";
    case Statistic::kMean:
      return "mean";
    case Statistic::kUpper:
      return "upper";
  }
  return "upper";
}

std::string_view ComparisonName(Comparison op) {
  switch (op) {
    case Comparison::kGreater:
      return ">";
    case Comparison::kGreaterEqual:
      return ">=";
    case Comparison::kLess:
      return "<";
    case Comparison::kLessEqual:
      return "<=";
  }
  return ">";
}

bool Compare(double value, Comparison op, double threshold) {
  switch (op) {
    case Comparison::kGreater:
      return value > threshold;
    case Comparison::kGreaterEqual:
      return value >= threshold;
    case Comparison::kLess:
      return value < threshold;
    case Comparison::kLessEqual:
      return value <= threshold;
  }
  return false;
}

std::string HorizonName(Duration horizon) {
  if (horizon == std::chrono::minutes(1)) return "1m";
  if (horizon == std::chrono::hours(1)) return "1h";
  if (horizon == std::chrono::hours(24)) return "1d";
  return fmt::format("{}s", std::chrono::duration<double>(horizon).count());
}

std::string_view AlertStateName(AlertState state) {
  switch (state) {
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
    case AlertState::kResolved:
      return "resolved";
  }
  return "pending";
}

std::string ExpandTemplate(std::string_view text, const std::map<std::string, std::string>& vars) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find('{', i);
    if (open == std::string_view::npos) break;
    const size_t close = text.find('}', open + 1);
    if (close == std::string_view::npos) break;
    out.append(text.substr(i, open - i));
    const std::string name(text.substr(open + 1, close - open - 1));
    if (auto it = vars.find(name); it != vars.end()) {
      out += it->second;
    } else {
      out.append(text.substr(open, close - open + 1));
    }
    i = close + 1;
  }
  out.append(text.substr(std::min(i, text.size())));
  return out;
}

std::vector<std::string> UnknownPlaceholders(std::string_view text,
                                             const std::vector<std::string>& known) {
  std::vector<std::string> unknown;
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find('{', i);
    if (open == std::string_view::npos) break;
    const size_t close = text.find('}', open + 1);
    if (close == std::string_view::npos) break;
    const std::string name(text.substr(open + 1, close - open - 1));
    if (std::find(known.begin(), known.end(), name) == known.end()) unknown.push_back(name);
    i = close + 1;
  }
  return unknown;
}

absl::Status ValidateRule(const Rule& rule) {
  if (!IsLabelName(rule.name)) {
    return absl::InvalidArgumentError(
        fmt::format("name: '{}' must match [A-Za-z_][A-Za-z0-9_]*", rule.name));
  }
  if (rule.for_duration < Duration::zero()) {
    return absl::InvalidArgumentError("for: must be >= 0");
  }
  if (rule.kind == RuleKind::kThreshold) {
    if (rule.resource.empty()) return absl::InvalidArgumentError("resource: required");
    if (rule.threshold.has_value() == rule.capacity_fraction.has_value()) {
      return absl::InvalidArgumentError(
          "threshold: exactly one of threshold and capacity_fraction is required");
    }
    if (rule.threshold && !std::isfinite(*rule.threshold)) {
      return absl::InvalidArgumentError("threshold: must be a finite number");
    }
    if (rule.capacity_fraction &&
        !(*rule.capacity_fraction > 0 && *rule.capacity_fraction <= 100)) {
      return absl::InvalidArgumentError(
          fmt::format("capacity_fraction: {} must be in (0, 100]", *rule.capacity_fraction));
    }
    if (rule.statistic != Statistic::kObserved &&
        std::find(std::begin(kHorizons), std::end(kHorizons), rule.horizon) ==
            std::end(kHorizons)) {
      return absl::InvalidArgumentError(
          fmt::format("horizon: {} is not one of 1m, 1h, 1d", HorizonName(rule.horizon)));
    }
    if (rule.scope == Scope::kResource && !rule.class_key.empty()) {
      return absl::InvalidArgumentError("class: not allowed with scope resource (use scope class)");
    }
  } else {
    if (!(rule.min_score >= 0 && rule.min_score <= 1)) {
      return absl::InvalidArgumentError(
          fmt::format("anomaly.min_score: {} must be in [0, 1]", rule.min_score));
    }
  }
  std::vector<std::string> known = kTemplateVars;
  for (const auto& [k, v] : rule.labels) {
    if (!IsLabelName(k)) {
      return absl::InvalidArgumentError(
          fmt::format("labels.{}: a label name must match [A-Za-z_][A-Za-z0-9_]*", k));
    }
    if (std::find(std::begin(kReservedLabels), std::end(kReservedLabels), k) !=
        std::end(kReservedLabels)) {
      return absl::InvalidArgumentError(
          fmt::format("labels.{}: is set by tidegate and cannot be configured", k));
    }
    known.push_back(k);
  }
  for (const auto& [k, v] : rule.annotations) {
    if (!IsLabelName(k)) {
      return absl::InvalidArgumentError(
          fmt::format("annotations.{}: a name must match [A-Za-z_][A-Za-z0-9_]*", k));
    }
    const std::vector<std::string> bad = UnknownPlaceholders(v, known);
    if (!bad.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("annotations.{}: unknown placeholder {{{}}} (known: value, threshold, "
                      "alertname, class, tenant, resource, horizon, statistic, kind, score and "
                      "the rule's labels)",
                      k, bad.front()));
    }
  }
  return absl::OkStatus();
}

std::string Fingerprint(const std::map<std::string, std::string>& labels) {
  std::string out;
  if (auto it = labels.find("alertname"); it != labels.end()) out = it->second;
  for (const auto& [k, v] : labels) {
    out += '\x1e';
    out += k;
    out += '\x1f';
    out += v;
  }
  return out;
}

Evaluator::Evaluator(std::vector<Rule> rules, Clock& clock)
    : rules_(std::move(rules)), clock_(clock) {}

void Evaluator::SetRules(std::vector<Rule> rules) {
  rules_ = std::move(rules);
  std::set<std::string> names;
  for (const Rule& r : rules_) names.insert(r.name);
  const MonoTime now = clock_.Now();
  const WallTime wall = clock_.WallNow();
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    Alert& a = it->second;
    if (names.count(a.rule) == 0) {
      if (a.state == AlertState::kPending) {
        it = alerts_.erase(it);
        continue;
      }
      if (a.state == AlertState::kFiring) {
        a.state = AlertState::kResolved;
        a.since = wall;
        a.resolved_at = wall;
        a.state_mono = now;
        a.last_sent.reset();
      }
    }
    ++it;
  }
}

std::vector<Evaluator::Candidate> Evaluator::Candidates(const Rule& rule,
                                                        const Snapshot& snapshot) const {
  std::vector<Candidate> out;
  auto base_vars = [&](std::map<std::string, std::string> labels) {
    std::map<std::string, std::string> vars = labels;
    vars["statistic"] = std::string(StatisticName(rule.statistic));
    vars.emplace("horizon", HorizonName(rule.horizon));
    vars.emplace("class", "");
    vars.emplace("tenant", "");
    vars.emplace("resource", rule.resource);
    vars.emplace("kind", "");
    vars.emplace("score", "");
    return vars;
  };
  auto with_rule_labels = [&](std::map<std::string, std::string> labels) {
    labels["alertname"] = rule.name;
    for (const auto& [k, v] : rule.labels) labels.emplace(k, v);
    return labels;
  };

  if (rule.kind == RuleKind::kAnomaly) {
    for (const ClassSnapshot& c : snapshot.classes) {
      if (!Selected(rule, c)) continue;
      for (const auto& [name, r] : c.resources) {
        if (!rule.resource.empty() && name != rule.resource) continue;
        if (!r.anomaly.flagged || r.anomaly.score < rule.min_score) continue;
        if (!rule.kinds.empty() &&
            std::find(rule.kinds.begin(), rule.kinds.end(), r.anomaly.kind) == rule.kinds.end()) {
          continue;
        }
        Candidate cand;
        cand.labels =
            with_rule_labels({{"class", c.key}, {"tenant", c.tenant}, {"resource", name}});
        cand.vars = base_vars(cand.labels);
        cand.vars["kind"] = r.anomaly.kind;
        cand.vars["score"] = FormatValue(r.anomaly.score);
        cand.vars["value"] = FormatValue(r.anomaly.score);
        cand.vars["threshold"] = FormatValue(rule.min_score);
        cand.value = r.anomaly.score;
        out.push_back(std::move(cand));
      }
    }
    return out;
  }

  double threshold = 0;
  if (rule.threshold) {
    threshold = *rule.threshold;
  } else {
    auto cap = snapshot.capacity.find(rule.resource);
    if (cap == snapshot.capacity.end()) return out;  // No capacity: no data, condition false.
    threshold = *rule.capacity_fraction * cap->second;
  }
  std::map<std::string, std::string> extra;
  if (rule.statistic != Statistic::kObserved) extra["horizon"] = HorizonName(rule.horizon);

  auto emit = [&](std::map<std::string, std::string> labels, double value) {
    if (!Compare(value, rule.op, threshold)) return;
    labels["resource"] = rule.resource;
    for (const auto& [k, v] : extra) labels[k] = v;
    Candidate cand;
    cand.labels = with_rule_labels(std::move(labels));
    cand.vars = base_vars(cand.labels);
    cand.vars["value"] = FormatValue(value);
    cand.vars["threshold"] = FormatValue(threshold);
    cand.value = value;
    out.push_back(std::move(cand));
  };

  // Per class, or summed per tenant / overall over the classes that have data.
  std::map<std::string, double> sums;  // Group key -> sum (scope tenant / resource).
  for (const ClassSnapshot& c : snapshot.classes) {
    if (!Selected(rule, c)) continue;
    auto r = c.resources.find(rule.resource);
    if (r == c.resources.end()) continue;
    const std::optional<double> v = StatOf(r->second, rule.statistic, rule.horizon);
    if (!v) continue;
    switch (rule.scope) {
      case Scope::kClass:
        emit({{"class", c.key}, {"tenant", c.tenant}}, *v);
        break;
      case Scope::kTenant:
        sums[c.tenant] += *v;
        break;
      case Scope::kResource:
        sums[""] += *v;
        break;
    }
  }
  for (const auto& [group, sum] : sums) {
    if (rule.scope == Scope::kTenant) {
      emit({{"tenant", group}}, sum);
    } else {
      emit({}, sum);
    }
  }
  return out;
}

std::vector<Alert> Evaluator::Evaluate(const Snapshot& snapshot) {
  const MonoTime now = clock_.Now();
  const WallTime wall = clock_.WallNow();
  std::vector<Alert> changed;
  std::set<std::string> seen;
  for (const Rule& rule : rules_) {
    for (Candidate& cand : Candidates(rule, snapshot)) {
      const std::string fp = Fingerprint(cand.labels);
      if (!seen.insert(fp).second) continue;
      Alert& a = alerts_[fp];
      bool state_changed = false;
      if (a.rule.empty() || a.state == AlertState::kResolved) {
        a = Alert{};
        a.rule = rule.name;
        a.labels = cand.labels;
        a.state = AlertState::kPending;
        a.active_at = wall;
        a.since = wall;
        a.active_mono = now;
        a.state_mono = now;
        state_changed = true;
      }
      a.value = cand.value;
      a.annotations.clear();
      for (const auto& [k, v] : rule.annotations) a.annotations[k] = ExpandTemplate(v, cand.vars);
      if (a.annotations.count("summary") == 0) {
        a.annotations["summary"] = ExpandTemplate(DefaultSummary(rule), cand.vars);
      }
      if (a.state == AlertState::kPending && now - a.active_mono >= rule.for_duration) {
        a.state = AlertState::kFiring;
        a.since = wall;
        a.state_mono = now;
        state_changed = true;
      }
      if (state_changed) changed.push_back(a);
    }
  }
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    Alert& a = it->second;
    if (seen.count(it->first) != 0) {
      ++it;
      continue;
    }
    if (a.state == AlertState::kPending) {
      it = alerts_.erase(it);
      continue;
    }
    if (a.state == AlertState::kFiring) {
      a.state = AlertState::kResolved;
      a.since = wall;
      a.resolved_at = wall;
      a.state_mono = now;
      a.last_sent.reset();
      changed.push_back(a);
    } else if (now - a.state_mono > kResolvedRetention) {
      it = alerts_.erase(it);
      continue;
    }
    ++it;
  }
  return changed;
}

}  // namespace tidegate::alert
