// tidegate/alert/scaling.h — replica recommendations from predicted demand.
//
// Algorithm (docs/design/scaling.md). For a service S serving the classes C(S), per resource r:
//   * each class's demand curve D_c,r(t), t >= 0, is piecewise linear through (0, observed rate)
//     and (h, F_c,r(h)) for every forecast horizon h, with F the configured statistic (upper bound
//     by default, or mean); constant after the last point (no forecast: constant observed rate);
//   * the service's curve is the sum D_r(t) = sum over c of D_c,r(t), and its predicted demand is
//     the peak over the lead time, P_r = max over t in [0, lead] of D_r(t) (exact: the maximum of a
//     piecewise-linear function is at a knot or at t = lead);
//   * raw replicas R = ceil(max over r of P_r / (per_replica_r x target_utilization)), clamped to
//     [min_replicas, max_replicas]; the driving resource is the argmax;
//   * stabilisation (as the Kubernetes HPA's scale-down window): the published recommendation is
//     the maximum of the raw recommendations made within the last `scale_down_stabilization`, so a
//     scale-up is published at once and a scale-down only once the lower value has held for the
//     whole window;
//   * the current replica count, when reported (SetCurrentReplicas), enters that window when it
//     changes — as the HPA seeds its window with the current count — so that a resize of the
//     service (by an autoscaler or an operator) is not recommended away before the window has
//     passed; reporting the same count again does not extend it.
//
// Time: the Recommender reads an injected Clock (MonoTime for the window, WallTime for `since`).
// Thread-safety: not thread-safe; its owner (alert::Engine) serialises calls.
#ifndef TIDEGATE_ALERT_SCALING_H_
#define TIDEGATE_ALERT_SCALING_H_

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tidegate/alert/rules.h"
#include "tidegate/alert/snapshot.h"
#include "tidegate/common/clock.h"

namespace tidegate::alert {

struct ServiceSpec {
  std::string name;                  // Unique; [A-Za-z0-9_.-]+.
  std::string tenant;                // Serves this tenant's classes ("": any tenant).
  std::vector<std::string> classes;  // Serves these classes ("tenant/key=value,..."; empty: all
                                     // classes of `tenant`, or all classes).
  std::map<std::string, double> per_replica;     // Resource -> capacity of one replica per second.
  double target_utilization = 0.7;               // In (0, 1].
  int min_replicas = 1;                          // >= 0.
  int max_replicas = 100;                        // >= max(min_replicas, 1).
  Duration lead_time = std::chrono::minutes(5);  // >= 0.
  Duration scale_down_stabilization = std::chrono::minutes(5);  // >= 0.
  Statistic statistic = Statistic::kUpper;                      // Which forecast the curve follows.
  std::string webhook;  // POSTed to when the recommendation changes; "" none.
};

// Checks one spec on its own. InvalidArgument naming the field.
absl::Status ValidateServiceSpec(const ServiceSpec& spec);

struct Recommendation {
  std::string service;
  std::optional<int> current_replicas;  // As last reported (SetCurrentReplicas); nullopt unknown.
  int recommended_replicas = 0;         // Published (stabilised, clamped).
  int raw_replicas = 0;                 // This evaluation's, before stabilisation.
  std::map<std::string, double> predicted_demand;  // Resource -> P_r.
  std::string driving_resource;                    // "" when no resource has demand.
  std::string reason;
  WallTime since{};      // When the published value last changed.
  bool changed = false;  // The published value changed in the last Update.
};

// P = max over t in [0, lead] of the piecewise-linear demand curve of `r` (see above).
double PeakDemand(const ResourceSnapshot& r, Statistic statistic, Duration lead);
// The same for a sum of curves.
double PeakDemand(const std::vector<const ResourceSnapshot*>& curves, Statistic statistic,
                  Duration lead);

class Recommender {
 public:
  // `clock` must outlive the recommender. Specs must be valid.
  Recommender(std::vector<ServiceSpec> services, Clock& clock);

  // Replaces the specs; services that keep their name keep their history and current replicas.
  void SetServices(std::vector<ServiceSpec> services);

  // Recomputes every service's recommendation from `snapshot`; returns them in spec order.
  std::vector<Recommendation> Update(const Snapshot& snapshot);
  // The latest recommendations (empty before the first Update).
  std::vector<Recommendation> recommendations() const;

  // Records the service's actual replica count (shown beside the recommendation; a changed count
  // enters the stabilisation window at the clock's now). NotFound for an unknown service,
  // InvalidArgument for a negative count or one above kMaxReportedReplicas.
  absl::Status SetCurrentReplicas(const std::string& service, int replicas);
  static constexpr int kMaxReportedReplicas = 1'000'000;

  const std::vector<ServiceSpec>& services() const { return specs_; }

 private:
  struct State {
    std::deque<std::pair<MonoTime, int>> history;  // Raw recommendations within the window.
    std::optional<Recommendation> last;
    std::optional<int> current;
    std::optional<MonoTime> resized_at;  // When `current` last changed.
  };
  std::vector<ServiceSpec> specs_;
  Clock& clock_;
  std::map<std::string, State> states_;
};

}  // namespace tidegate::alert

#endif  // TIDEGATE_ALERT_SCALING_H_
