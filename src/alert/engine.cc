// The alerting and scaling engine (see tidegate/alert/engine.h).
#include "tidegate/alert/engine.h"

#include <algorithm>
#include <set>
#include <utility>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tidegate/common/status.h"
#include "tidegate/history/history_store.h"

namespace tidegate::alert {
namespace {

using nlohmann::json;

bool IsHttpUrl(std::string_view url) {
  const bool scheme = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
  if (!scheme) return false;
  const std::string_view rest = url.substr(url.find("//") + 2);
  if (rest.empty() || rest.front() == '/') return false;
  return std::none_of(url.begin(), url.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

std::string TrimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

absl::Status ValidateAlertsConfig(const AlertsConfig& alerts) {
  std::set<std::string> names;
  for (size_t i = 0; i < alerts.rules.size(); ++i) {
    const Rule& r = alerts.rules[i];
    if (absl::Status s = ValidateRule(r); !s.ok()) {
      return absl::InvalidArgumentError(fmt::format("rules[{}].{}", i, std::string(s.message())));
    }
    if (!names.insert(r.name).second) {
      return absl::InvalidArgumentError(
          fmt::format("rules[{}].name: duplicate rule name '{}'", i, r.name));
    }
  }
  for (size_t i = 0; i < alerts.alertmanagers.size(); ++i) {
    if (!IsHttpUrl(alerts.alertmanagers[i])) {
      return absl::InvalidArgumentError(fmt::format(
          "alertmanagers[{}]: '{}' is not an http:// or https:// URL", i, alerts.alertmanagers[i]));
    }
  }
  std::set<std::string> hooks;
  for (size_t i = 0; i < alerts.webhooks.size(); ++i) {
    const WebhookSpec& w = alerts.webhooks[i];
    if (w.name.empty())
      return absl::InvalidArgumentError(fmt::format("webhooks[{}].name: required", i));
    if (!hooks.insert(w.name).second) {
      return absl::InvalidArgumentError(
          fmt::format("webhooks[{}].name: duplicate webhook name '{}'", i, w.name));
    }
    if (!IsHttpUrl(w.url)) {
      return absl::InvalidArgumentError(
          fmt::format("webhooks[{}].url: '{}' is not an http:// or https:// URL", i, w.url));
    }
  }
  if (alerts.evaluation_interval <= Duration::zero()) {
    return absl::InvalidArgumentError("evaluation_interval: must be > 0");
  }
  if (alerts.resend_interval <= Duration::zero()) {
    return absl::InvalidArgumentError("resend_interval: must be > 0");
  }
  if (!alerts.external_url.empty() && !IsHttpUrl(alerts.external_url)) {
    return absl::InvalidArgumentError(
        fmt::format("external_url: '{}' is not an http:// or https:// URL", alerts.external_url));
  }
  const DeliveryOptions& d = alerts.delivery;
  if (d.timeout <= Duration::zero())
    return absl::InvalidArgumentError("delivery.timeout: must be > 0");
  if (d.max_attempts < 1) return absl::InvalidArgumentError("delivery.max_attempts: must be >= 1");
  if (d.initial_backoff < Duration::zero()) {
    return absl::InvalidArgumentError("delivery.initial_backoff: must be >= 0");
  }
  if (d.queue_capacity < 1) return absl::InvalidArgumentError("delivery.queue_size: must be >= 1");
  return absl::OkStatus();
}

absl::Status ValidateScalingConfig(const ScalingConfig& scaling) {
  std::set<std::string> names;
  for (size_t i = 0; i < scaling.services.size(); ++i) {
    const ServiceSpec& s = scaling.services[i];
    if (absl::Status st = ValidateServiceSpec(s); !st.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("services[{}].{}", i, std::string(st.message())));
    }
    if (!names.insert(s.name).second) {
      return absl::InvalidArgumentError(
          fmt::format("services[{}].name: duplicate service name '{}'", i, s.name));
    }
    if (!s.webhook.empty() && !IsHttpUrl(s.webhook)) {
      return absl::InvalidArgumentError(fmt::format(
          "services[{}].webhook: '{}' is not an http:// or https:// URL", i, s.webhook));
    }
  }
  if (scaling.evaluation_interval <= Duration::zero()) {
    return absl::InvalidArgumentError("evaluation_interval: must be > 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(AlertsConfig alerts, ScalingConfig scaling,
                                                       Clock& clock) {
  TIDEGATE_RETURN_IF_ERROR(ValidateAlertsConfig(alerts));
  TIDEGATE_RETURN_IF_ERROR(ValidateScalingConfig(scaling));
  TIDEGATE_ASSIGN_OR_RETURN(std::unique_ptr<Notifier> notifier, Notifier::Create(alerts.delivery));
  return std::unique_ptr<Engine>(
      new Engine(std::move(alerts), std::move(scaling), clock, std::move(notifier)));
}

Engine::Engine(AlertsConfig alerts, ScalingConfig scaling, Clock& clock,
               std::unique_ptr<Notifier> notifier)
    : clock_(clock),
      alerts_(std::move(alerts)),
      scaling_(std::move(scaling)),
      evaluator_(alerts_.rules, clock),
      recommender_(scaling_.services, clock),
      notifier_(std::move(notifier)) {}

Engine::~Engine() {
  if (notifier_) notifier_->Stop();
}

absl::Status Engine::Reconfigure(AlertsConfig alerts, ScalingConfig scaling) {
  TIDEGATE_RETURN_IF_ERROR(ValidateAlertsConfig(alerts));
  TIDEGATE_RETURN_IF_ERROR(ValidateScalingConfig(scaling));
  std::unique_ptr<Notifier> replacement;
  {
    std::lock_guard lock(mu_);
    const DeliveryOptions& a = alerts_.delivery;
    const DeliveryOptions& b = alerts.delivery;
    const bool same_delivery = a.timeout == b.timeout && a.max_attempts == b.max_attempts &&
                               a.initial_backoff == b.initial_backoff &&
                               a.queue_capacity == b.queue_capacity;
    if (!same_delivery) {
      TIDEGATE_ASSIGN_OR_RETURN(replacement, Notifier::Create(b));
      std::swap(replacement, notifier_);  // The old one is stopped below, outside the lock.
    }
    evaluator_.SetRules(alerts.rules);
    recommender_.SetServices(scaling.services);
    alerts_ = std::move(alerts);
    scaling_ = std::move(scaling);
  }
  if (replacement) replacement->Stop();
  return absl::OkStatus();
}

bool Engine::Due() const {
  std::lock_guard lock(mu_);
  const MonoTime now = clock_.Now();
  return !last_alerts_eval_ || !last_scaling_eval_ ||
         now - *last_alerts_eval_ >= alerts_.evaluation_interval ||
         now - *last_scaling_eval_ >= scaling_.evaluation_interval;
}

void Engine::Tick(const Snapshot& snapshot, bool force) {
  std::lock_guard lock(mu_);
  const MonoTime now = clock_.Now();
  const WallTime wall = clock_.WallNow();
  if (force || !last_alerts_eval_ || now - *last_alerts_eval_ >= alerts_.evaluation_interval) {
    last_alerts_eval_ = now;
    const std::vector<Alert> changed = evaluator_.Evaluate(snapshot);
    Notify(changed, now, wall);
  }
  if (force || !last_scaling_eval_ || now - *last_scaling_eval_ >= scaling_.evaluation_interval) {
    last_scaling_eval_ = now;
    const std::vector<Recommendation> recs = recommender_.Update(snapshot);
    for (size_t i = 0; i < recs.size(); ++i) {
      const Recommendation& r = recs[i];
      const ServiceSpec& spec = recommender_.services()[i];
      if (!r.changed || spec.webhook.empty()) continue;
      const json body = {
          {"service", r.service},
          {"recommended_replicas", r.recommended_replicas},
          {"raw_replicas", r.raw_replicas},
          {"current_replicas", r.current_replicas ? json(*r.current_replicas) : json(nullptr)},
          {"predicted_demand", r.predicted_demand},
          {"driving_resource", r.driving_resource},
          {"reason", r.reason},
          {"since", history::FormatWallTime(r.since)}};
      notifier_->Enqueue("scaling:" + spec.name, spec.webhook, body.dump());
    }
  }
}

std::string Engine::GeneratorUrl() const {
  if (alerts_.external_url.empty()) return "";
  return TrimSlash(alerts_.external_url) + "/v1/alerts";
}

void Engine::Notify(const std::vector<Alert>& /*changed*/, MonoTime now, WallTime wall) {
  const std::string generator = GeneratorUrl();
  // Alertmanager: firing and resolved alerts not sent within the resend interval.
  std::vector<Alert> to_alertmanager;
  // Webhooks: per (rule, status) group.
  std::map<std::pair<std::string, AlertState>, std::vector<Alert>> groups;
  std::set<std::string> present;
  for (auto& [fp, a] : evaluator_.mutable_alerts()) {
    present.insert(fp);
    if (a.state == AlertState::kPending) continue;
    if (!a.last_sent || now - *a.last_sent >= alerts_.resend_interval) {
      a.last_sent = now;
      to_alertmanager.push_back(a);
    }
    auto hook = webhook_last_sent_.find(fp);
    if (a.state == AlertState::kFiring) {
      if (hook == webhook_last_sent_.end() || now - hook->second >= alerts_.resend_interval) {
        webhook_last_sent_[fp] = now;
        groups[{a.rule, a.state}].push_back(a);
      }
    } else if (hook != webhook_last_sent_.end()) {  // Resolved after a firing notification.
      webhook_last_sent_.erase(hook);
      groups[{a.rule, a.state}].push_back(a);
    }
  }
  for (auto it = webhook_last_sent_.begin(); it != webhook_last_sent_.end();) {
    it = present.count(it->first) ? std::next(it) : webhook_last_sent_.erase(it);
  }
  if (!to_alertmanager.empty()) {
    const Duration validity = 4 * std::max(alerts_.resend_interval, alerts_.evaluation_interval);
    const std::string body = AlertmanagerPayload(to_alertmanager, wall, validity, generator);
    for (const std::string& am : alerts_.alertmanagers) {
      notifier_->Enqueue("alertmanager:" + am, TrimSlash(am) + "/api/v2/alerts", body);
    }
  }
  for (const auto& [key, alerts] : groups) {
    for (const WebhookSpec& w : alerts_.webhooks) {
      notifier_->Enqueue("webhook:" + w.name, w.url,
                         WebhookPayload(w.name, alerts, alerts_.external_url, generator));
    }
  }
}

std::vector<Alert> Engine::Alerts() const {
  std::lock_guard lock(mu_);
  std::vector<Alert> out;
  out.reserve(evaluator_.alerts().size());
  for (const auto& [fp, a] : evaluator_.alerts()) out.push_back(a);
  return out;
}

std::vector<Recommendation> Engine::Recommendations() const {
  std::lock_guard lock(mu_);
  return recommender_.recommendations();
}

absl::Status Engine::SetCurrentReplicas(const std::string& service, int replicas) {
  std::lock_guard lock(mu_);
  return recommender_.SetCurrentReplicas(service, replicas);
}

std::vector<history::ExpositionFamily> Engine::MetricFamilies() const {
  using history::ExpositionFamily;
  std::lock_guard lock(mu_);
  ExpositionFamily alerts{
      "tidegate_alerts", "Alert instances by rule (alertname) and state.", "gauge", {}};
  std::map<std::pair<std::string, std::string>, double> counts;
  for (const Rule& r : alerts_.rules) {
    for (AlertState s : {AlertState::kPending, AlertState::kFiring, AlertState::kResolved}) {
      counts[{r.name, std::string(AlertStateName(s))}] = 0;
    }
  }
  for (const auto& [fp, a] : evaluator_.alerts()) {
    counts[{a.rule, std::string(AlertStateName(a.state))}] += 1;
  }
  for (const auto& [k, v] : counts) {
    alerts.samples.push_back({alerts.name, {{"alertname", k.first}, {"state", k.second}}, v, {}});
  }
  ExpositionFamily replicas{"tidegate_scaling_recommended_replicas",
                            "Recommended replica count per service (after stabilisation).",
                            "gauge",
                            {}};
  ExpositionFamily demand{"tidegate_scaling_predicted_demand",
                          "Peak predicted demand within the lead time per service and resource, "
                          "per second.",
                          "gauge",
                          {}};
  ExpositionFamily current{
      "tidegate_scaling_current_replicas",
      "Replica count per service as last reported (PUT /v1/scaling/{service}); "
      "absent until reported.",
      "gauge",
      {}};
  for (const Recommendation& r : recommender_.recommendations()) {
    replicas.samples.push_back(
        {replicas.name, {{"service", r.service}}, static_cast<double>(r.recommended_replicas), {}});
    if (r.current_replicas) {
      current.samples.push_back(
          {current.name, {{"service", r.service}}, static_cast<double>(*r.current_replicas), {}});
    }
    for (const auto& [res, v] : r.predicted_demand) {
      demand.samples.push_back({demand.name, {{"service", r.service}, {"resource", res}}, v, {}});
    }
  }
  ExpositionFamily notifications{"tidegate_notifications_total",
                                 "Alert and scaling notifications by receiver and result (sent, "
                                 "failed after retries, dropped because the queue was full).",
                                 "counter",
                                 {}};
  ExpositionFamily retries{"tidegate_notification_retries_total",
                           "Delivery attempts after the first, by receiver.",
                           "counter",
                           {}};
  for (const auto& [receiver, s] : notifier_->stats()) {
    for (const auto& [result, v] : {std::pair<const char*, uint64_t>{"sent", s.sent},
                                    {"failed", s.failed},
                                    {"dropped", s.dropped}}) {
      notifications.samples.push_back({notifications.name,
                                       {{"receiver", receiver}, {"result", result}},
                                       static_cast<double>(v),
                                       {}});
    }
    retries.samples.push_back(
        {retries.name, {{"receiver", receiver}}, static_cast<double>(s.retries), {}});
  }
  std::vector<ExpositionFamily> out;
  out.push_back(std::move(alerts));
  out.push_back({"tidegate_alert_rules",
                 "Alert rules configured.",
                 "gauge",
                 {{"tidegate_alert_rules", {}, static_cast<double>(alerts_.rules.size()), {}}}});
  out.push_back(std::move(replicas));
  out.push_back(std::move(current));
  out.push_back(std::move(demand));
  out.push_back(std::move(notifications));
  out.push_back(std::move(retries));
  return out;
}

bool Engine::WaitDelivered(Duration timeout) {
  Notifier* n;
  {
    std::lock_guard lock(mu_);
    n = notifier_.get();
  }
  return n->WaitIdle(timeout);
}

std::map<std::string, ReceiverStats> Engine::DeliveryStats() const {
  std::lock_guard lock(mu_);
  return notifier_->stats();
}

}  // namespace tidegate::alert
