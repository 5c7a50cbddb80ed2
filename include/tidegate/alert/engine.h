// tidegate/alert/engine.h — alerting and scaling recommendations as one unit the daemon owns.
//
// An Engine holds the alert Evaluator, the scaling Recommender and the Notifier, configured from
// the `alerts:` and `scaling:` sections of the config. Its one entry point is Tick(snapshot):
// whoever produces snapshots (the planning loop, or the daemon from observed rates) calls it, and
// the Engine evaluates the rules and recommendations whose evaluation interval has elapsed and
// hands notifications to the Notifier's background thread. Tick never waits for the network.
//
// Notifications (docs/design/alerting.md):
//   * Alertmanager (every URL in `alertmanagers`): firing alerts when they start firing and again
//     every `resend_interval`, with endsAt = now + 4 x max(resend_interval, evaluation_interval);
//     resolved alerts when they resolve and again every `resend_interval` while retained (15 min),
//     with endsAt = the time they resolved. Pending alerts are not sent.
//   * Webhooks: one POST per rule and status — when alerts start firing, every `resend_interval`
//     while they fire, and once when they resolve.
//   * Scaling: a POST to the service's `webhook` whenever its published recommendation changes.
//
// Thread-safety: every method may be called from any thread; calls are serialised internally.
#ifndef TIDEGATE_ALERT_ENGINE_H_
#define TIDEGATE_ALERT_ENGINE_H_

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/alert/notifier.h"
#include "tidegate/alert/rules.h"
#include "tidegate/alert/scaling.h"
#include "tidegate/alert/snapshot.h"
#include "tidegate/common/clock.h"
#include "tidegate/history/exposition.h"

namespace tidegate::alert {

struct WebhookSpec {
  std::string name;  // Unique among webhooks; the receiver name in metrics and payloads.
  std::string url;   // http:// or https://
};

// The `alerts:` section.
struct AlertsConfig {
  std::vector<Rule> rules;
  std::vector<std::string> alertmanagers;  // Base URLs; alerts go to <url>/api/v2/alerts.
  std::vector<WebhookSpec> webhooks;
  Duration evaluation_interval = std::chrono::seconds(15);  // > 0.
  Duration resend_interval = std::chrono::minutes(1);       // > 0.
  std::string external_url;  // tidegated's URL as users reach it; generatorURL = <it>/v1/alerts.
  DeliveryOptions delivery;
};

// The `scaling:` section.
struct ScalingConfig {
  std::vector<ServiceSpec> services;
  Duration evaluation_interval = std::chrono::seconds(15);  // > 0.
};

// Cross-field checks of both sections (unique names, URLs). InvalidArgument naming the field.
absl::Status ValidateAlertsConfig(const AlertsConfig& alerts);
absl::Status ValidateScalingConfig(const ScalingConfig& scaling);

class Engine {
 public:
  // `clock` must outlive the engine. InvalidArgument for an invalid config.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(AlertsConfig alerts, ScalingConfig scaling,
                                                        Clock& clock);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Applies a new configuration; alert and scaling state of rules and services that keep their
  // names is kept. Validated first: on error nothing changes.
  absl::Status Reconfigure(AlertsConfig alerts, ScalingConfig scaling);

  // True when an evaluation interval (of alerts or of scaling) has elapsed since its last
  // evaluation, or nothing has been evaluated yet.
  bool Due() const;
  // Evaluates whatever is due (see Due) on `snapshot`; with `force`, both.
  void Tick(const Snapshot& snapshot, bool force = false);

  // Pending, firing and retained resolved alerts, sorted by rule then labels.
  std::vector<Alert> Alerts() const;
  // The latest recommendation per configured service (after the first evaluation).
  std::vector<Recommendation> Recommendations() const;
  absl::Status SetCurrentReplicas(const std::string& service, int replicas);

  // Prometheus families: tidegate_alerts{alertname,state}, tidegate_alert_rules,
  // tidegate_scaling_recommended_replicas{service}, tidegate_scaling_predicted_demand{service,
  // resource}, tidegate_notifications_total{receiver,result}.
  std::vector<history::ExpositionFamily> MetricFamilies() const;

  // Waits (real time, up to `timeout`) until every queued notification has been attempted.
  bool WaitDelivered(Duration timeout);
  std::map<std::string, ReceiverStats> DeliveryStats() const;

 private:
  Engine(AlertsConfig alerts, ScalingConfig scaling, Clock& clock,
         std::unique_ptr<Notifier> notifier);
  void Notify(const std::vector<Alert>& changed, MonoTime now, WallTime wall);
  std::string GeneratorUrl() const;

  mutable std::mutex mu_;
  Clock& clock_;
  AlertsConfig alerts_;
  ScalingConfig scaling_;
  Evaluator evaluator_;
  Recommender recommender_;
  std::unique_ptr<Notifier> notifier_;
  std::optional<MonoTime> last_alerts_eval_;
  std::optional<MonoTime> last_scaling_eval_;
  std::map<std::string, MonoTime> webhook_last_sent_;  // Alert fingerprint -> last webhook send.
};

}  // namespace tidegate::alert

#endif  // TIDEGATE_ALERT_ENGINE_H_
