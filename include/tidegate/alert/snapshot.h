// tidegate/alert/snapshot.h — what alerting and scaling see of the system at one instant.
//
// A Snapshot is a plain value: per request class, per resource, the observed rate now, the
// forecast at each horizon the planner produced (mean and upper bound of the interval), and the
// anomaly flag of the newest observation; plus the system capacity per resource. The planning
// loop builds one after every tick; until forecasts exist, the daemon builds one from observed
// rates only (every `forecasts` list empty).
//
// Units: every rate is per second of the resource's unit (requests/s for "requests", CPU ms/s for
// "cpu_ms", ...), the same unit as `capacity`. A forecast at horizon h is the rate predicted for
// the instant now + h.
//
// Thread-safety: plain data.
#ifndef TIDEGATE_ALERT_SNAPSHOT_H_
#define TIDEGATE_ALERT_SNAPSHOT_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tidegate/common/clock.h"

namespace tidegate::alert {

// One forecast point: the rate predicted at now + horizon.
struct ForecastPoint {
  Duration horizon{0};  // > 0.
  double mean = 0;
  double upper = 0;  // Upper bound of the prediction interval (>= mean).
};

struct AnomalyState {
  bool flagged = false;
  std::string kind;  // e.g. "spike", "shift", "novel"; "" when not flagged.
  double score = 0;  // In [0, 1].
};

struct ResourceSnapshot {
  double observed_per_s = 0;
  std::vector<ForecastPoint> forecasts;  // Sorted by horizon; empty: no forecast yet.
  AnomalyState anomaly;

  // The forecast at exactly `horizon`, or nullptr.
  const ForecastPoint* ForecastAt(Duration horizon) const {
    for (const ForecastPoint& f : forecasts) {
      if (f.horizon == horizon) return &f;
    }
    return nullptr;
  }
};

struct ClassSnapshot {
  std::string key;  // ClassKey::ToString(): "tenant/key=value,key=value".
  std::string tenant;
  std::map<std::string, ResourceSnapshot> resources;  // By resource name.
};

struct Snapshot {
  WallTime at{};
  std::vector<ClassSnapshot> classes;
  std::map<std::string, double> capacity;  // Resource -> amount per second.
};

}  // namespace tidegate::alert

#endif  // TIDEGATE_ALERT_SNAPSHOT_H_
