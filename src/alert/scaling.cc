// Replica recommendations (see tidegate/alert/scaling.h and docs/design/scaling.md).
#include "tidegate/alert/scaling.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <utility>

#include "fmt/format.h"

namespace tidegate::alert {
namespace {

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

std::string DurationText(Duration d) {
  const double s = Seconds(d);
  if (s >= 3600 && std::fmod(s, 3600) == 0) return fmt::format("{}h", s / 3600);
  if (s >= 60 && std::fmod(s, 60) == 0) return fmt::format("{}m", s / 60);
  return fmt::format("{}s", s);
}

double StatValue(const ForecastPoint& f, Statistic stat) {
  return stat == Statistic::kMean ? f.mean : f.upper;
}

// D(t) of one curve.
double CurveAt(const ResourceSnapshot& r, Statistic stat, Duration t) {
  double prev_v = r.observed_per_s;
  Duration prev_t{0};
  if (stat == Statistic::kObserved) return prev_v;
  for (const ForecastPoint& f : r.forecasts) {
    const double v = StatValue(f, stat);
    if (t <= f.horizon) {
      if (f.horizon == prev_t) return v;
      const double w = Seconds(t - prev_t) / Seconds(f.horizon - prev_t);
      return prev_v + w * (v - prev_v);
    }
    prev_v = v;
    prev_t = f.horizon;
  }
  return prev_v;
}

bool NameOk(std::string_view s) {
  return !s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

}  // namespace

double PeakDemand(const std::vector<const ResourceSnapshot*>& curves, Statistic statistic,
                  Duration lead) {
  if (lead < Duration::zero()) lead = Duration::zero();
  std::set<Duration> knots = {Duration::zero(), lead};
  if (statistic != Statistic::kObserved) {
    for (const ResourceSnapshot* c : curves) {
      for (const ForecastPoint& f : c->forecasts) {
        if (f.horizon > Duration::zero() && f.horizon < lead) knots.insert(f.horizon);
      }
    }
  }
  double peak = 0;
  bool first = true;
  for (Duration t : knots) {
    double sum = 0;
    for (const ResourceSnapshot* c : curves) sum += CurveAt(*c, statistic, t);
    if (first || sum > peak) peak = sum;
    first = false;
  }
  return peak;
}

double PeakDemand(const ResourceSnapshot& r, Statistic statistic, Duration lead) {
  return PeakDemand(std::vector<const ResourceSnapshot*>{&r}, statistic, lead);
}

absl::Status ValidateServiceSpec(const ServiceSpec& spec) {
  if (!NameOk(spec.name)) {
    return absl::InvalidArgumentError(
        fmt::format("name: '{}' must be 1-128 characters of [A-Za-z0-9_.-]", spec.name));
  }
  if (spec.per_replica.empty()) {
    return absl::InvalidArgumentError("per_replica: at least one resource is required");
  }
  for (const auto& [r, v] : spec.per_replica) {
    if (!(v > 0) || !std::isfinite(v)) {
      return absl::InvalidArgumentError(fmt::format("per_replica.{}: {} must be > 0", r, v));
    }
  }
  if (!(spec.target_utilization > 0 && spec.target_utilization <= 1)) {
    return absl::InvalidArgumentError(
        fmt::format("target_utilization: {} must be in (0, 1]", spec.target_utilization));
  }
  if (spec.min_replicas < 0) {
    return absl::InvalidArgumentError(
        fmt::format("min_replicas: {} must be >= 0", spec.min_replicas));
  }
  if (spec.max_replicas < std::max(spec.min_replicas, 1)) {
    return absl::InvalidArgumentError(
        fmt::format("max_replicas: {} must be >= 1 and >= min_replicas ({})", spec.max_replicas,
                    spec.min_replicas));
  }
  if (spec.lead_time < Duration::zero())
    return absl::InvalidArgumentError("lead_time: must be >= 0");
  if (spec.scale_down_stabilization < Duration::zero()) {
    return absl::InvalidArgumentError("scale_down_stabilization: must be >= 0");
  }
  return absl::OkStatus();
}

Recommender::Recommender(std::vector<ServiceSpec> services, Clock& clock)
    : specs_(std::move(services)), clock_(clock) {}

void Recommender::SetServices(std::vector<ServiceSpec> services) {
  specs_ = std::move(services);
  std::map<std::string, State> kept;
  for (const ServiceSpec& s : specs_) {
    if (auto it = states_.find(s.name); it != states_.end()) kept[s.name] = std::move(it->second);
  }
  states_ = std::move(kept);
}

std::vector<Recommendation> Recommender::Update(const Snapshot& snapshot) {
  const MonoTime now = clock_.Now();
  const WallTime wall = clock_.WallNow();
  std::vector<Recommendation> out;
  for (const ServiceSpec& spec : specs_) {
    State& st = states_[spec.name];
    Recommendation rec;
    rec.service = spec.name;
    rec.current_replicas = st.current;

    // Demand per resource over the classes the service serves.
    double needed_max = 0;
    for (const auto& [resource, per_replica] : spec.per_replica) {
      std::vector<const ResourceSnapshot*> curves;
      for (const ClassSnapshot& c : snapshot.classes) {
        if (!spec.tenant.empty() && c.tenant != spec.tenant) continue;
        if (!spec.classes.empty() &&
            std::find(spec.classes.begin(), spec.classes.end(), c.key) == spec.classes.end()) {
          continue;
        }
        if (auto r = c.resources.find(resource); r != c.resources.end()) {
          curves.push_back(&r->second);
        }
      }
      const double peak = PeakDemand(curves, spec.statistic, spec.lead_time);
      rec.predicted_demand[resource] = peak;
      const double needed = peak / (per_replica * spec.target_utilization);
      if (needed > needed_max) {
        needed_max = needed;
        rec.driving_resource = resource;
      }
    }
    // A hair of tolerance so that 2.0000000001 replicas (rounding noise) is 2, not 3.
    const double unclamped = std::ceil(needed_max - 1e-9);
    int raw = static_cast<int>(std::min<double>(unclamped, spec.max_replicas));
    std::string clamp_note;
    if (unclamped > spec.max_replicas) {
      clamp_note = fmt::format("; capped at max_replicas {}", spec.max_replicas);
    }
    if (raw < spec.min_replicas) {
      raw = spec.min_replicas;
      clamp_note = fmt::format("; raised to min_replicas {}", spec.min_replicas);
    }
    rec.raw_replicas = raw;

    // Stabilisation: the maximum raw recommendation within the window.
    st.history.emplace_back(now, raw);
    while (!st.history.empty() && now - st.history.front().first > spec.scale_down_stabilization) {
      st.history.pop_front();
    }
    int published = raw;
    for (const auto& [t, r] : st.history) published = std::max(published, r);
    // A resize reported within the window counts as a recommendation made then.
    const bool resized_recently =
        st.current && st.resized_at && now - *st.resized_at <= spec.scale_down_stabilization;
    const bool held_by_resize = resized_recently && *st.current > published;
    if (held_by_resize) published = *st.current;
    rec.recommended_replicas = published;

    if (rec.driving_resource.empty()) {
      rec.reason =
          fmt::format("no predicted demand within the next {}", DurationText(spec.lead_time));
    } else {
      const std::string& r = rec.driving_resource;
      rec.reason = fmt::format(
          "{} drives: peak {} demand {:.6g}/s within the next {} / ({:.6g}/s per replica x {:.6g} "
          "target utilisation) = {:.4g} replicas",
          r, StatisticName(spec.statistic), rec.predicted_demand[r], DurationText(spec.lead_time),
          spec.per_replica.at(r), spec.target_utilization, needed_max);
    }
    rec.reason += clamp_note;
    if (held_by_resize) {
      rec.reason += fmt::format(
          "; held at {} (raw {}): the service was resized to {} replicas {} ago, within the "
          "scale-down stabilisation window of {}",
          published, raw, published, DurationText(now - *st.resized_at),
          DurationText(spec.scale_down_stabilization));
    } else if (published > raw) {
      rec.reason +=
          fmt::format("; held at {} (raw {}) by the scale-down stabilisation window of {}",
                      published, raw, DurationText(spec.scale_down_stabilization));
    }
    if (!st.last || st.last->recommended_replicas != published) {
      rec.since = wall;
      rec.changed = true;
    } else {
      rec.since = st.last->since;
      rec.changed = false;
    }
    st.last = rec;
    out.push_back(std::move(rec));
  }
  return out;
}

std::vector<Recommendation> Recommender::recommendations() const {
  std::vector<Recommendation> out;
  for (const ServiceSpec& spec : specs_) {
    auto it = states_.find(spec.name);
    if (it == states_.end() || !it->second.last) continue;
    Recommendation r = *it->second.last;
    r.current_replicas = it->second.current;
    out.push_back(std::move(r));
  }
  return out;
}

absl::Status Recommender::SetCurrentReplicas(const std::string& service, int replicas) {
  if (std::none_of(specs_.begin(), specs_.end(),
                   [&](const ServiceSpec& s) { return s.name == service; })) {
    return absl::NotFoundError(fmt::format("scaling service '{}' is not configured", service));
  }
  if (replicas < 0 || replicas > kMaxReportedReplicas) {
    return absl::InvalidArgumentError(
        fmt::format("current_replicas: {} must be in [0, {}]", replicas, kMaxReportedReplicas));
  }
  State& st = states_[service];
  if (st.current != replicas) st.resized_at = clock_.Now();
  st.current = replicas;
  return absl::OkStatus();
}

}  // namespace tidegate::alert
