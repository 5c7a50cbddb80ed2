#include "tidegate/workload/generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

#include "tidegate/common/status.h"
#include "tidegate/history/calendar.h"

namespace tidegate::workload {
namespace {

constexpr double kNoiseRho = 0.8;  // AR(1) coefficient of the log-scale noise.
constexpr double kMaxClassSteps = 50e6;

double Hours(Duration d) { return std::chrono::duration<double, std::ratio<3600>>(d).count(); }

absl::Status FieldError(std::string_view where, std::string_view field, double value,
                        std::string_view rule) {
  return absl::InvalidArgumentError(fmt::format("{}.{} = {}: {}", where, field, value, rule));
}

// Multiplier of an event at offset `t` from the start; 1 outside it.
double EventFactor(const Event& e, Duration t) {
  if (t < e.at) return 1;
  if (e.kind == EventKind::kLevelShift) return e.magnitude;
  if (t >= e.at + e.duration) return 1;
  switch (e.kind) {
    case EventKind::kSpike:
      return e.magnitude;
    case EventKind::kDip:
      return 1 / e.magnitude;
    case EventKind::kFlashCrowd: {
      // Ramp up over the first quarter, hold, decay over the last quarter.
      const double x = Hours(t - e.at) / Hours(e.duration);
      const double ramp = std::min({1.0, x / 0.25, (1 - x) / 0.25});
      return 1 + (e.magnitude - 1) * ramp;
    }
    case EventKind::kLevelShift:
      break;
  }
  return 1;
}

// Total cost of `n` requests whose individual costs have mean `mean` and coefficient of variation
// `cv`: a Gamma with the sum's mean n·mean and variance n·(cv·mean)².
double DrawTotal(std::mt19937_64& rng, int64_t n, double mean, double cv) {
  if (n <= 0 || mean <= 0) return 0;
  if (cv <= 0) return static_cast<double>(n) * mean;
  const double shape = static_cast<double>(n) / (cv * cv);
  const double scale = cv * cv * mean;
  return std::gamma_distribution<double>(shape, scale)(rng);
}

}  // namespace

std::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kFlashCrowd:
      return "flash_crowd";
    case EventKind::kSpike:
      return "spike";
    case EventKind::kDip:
      return "dip";
    case EventKind::kLevelShift:
      return "level_shift";
  }
  return "unknown";
}

absl::Status ValidateWorkloadSpec(const WorkloadSpec& spec) {
  if (spec.length <= Duration(0)) {
    return absl::InvalidArgumentError(
        fmt::format("length = {} s: must be positive", Hours(spec.length) * 3600));
  }
  if (spec.step < std::chrono::milliseconds(1)) {
    return absl::InvalidArgumentError(
        fmt::format("step = {} s: must be at least 1 ms", Hours(spec.step) * 3600));
  }
  if (spec.classes.empty()) return absl::InvalidArgumentError("classes: at least one is needed");
  const double steps = Hours(spec.length) / Hours(spec.step);
  if (steps * static_cast<double>(spec.classes.size()) > kMaxClassSteps) {
    return absl::InvalidArgumentError(fmt::format(
        "{:.0f} steps x {} classes = {:.3g} class-steps: at most {:.0e}; use a longer step or a "
        "shorter length",
        steps, spec.classes.size(), steps * static_cast<double>(spec.classes.size()),
        kMaxClassSteps));
  }
  const double days = Hours(spec.length) / 24;
  for (size_t i = 0; i < spec.classes.size(); ++i) {
    const ClassSpec& c = spec.classes[i];
    const std::string where = fmt::format("classes[{}]", i);
    const auto in = [](double v, double lo, double hi) {
      return std::isfinite(v) && v >= lo && v < hi;
    };
    if (c.tenant.empty()) return absl::InvalidArgumentError(where + ".tenant: must not be empty");
    if (c.tier < 0 || c.tier > 3) return FieldError(where, "tier", c.tier, "must be in [0, 3]");
    if (!in(c.base_rate_per_s, 1e-9, 1e9)) {
      return FieldError(where, "base_rate_per_s", c.base_rate_per_s, "must be in (0, 1e9)");
    }
    if (!in(c.daily_amplitude, 0, 1)) {
      return FieldError(where, "daily_amplitude", c.daily_amplitude, "must be in [0, 1)");
    }
    if (!in(c.peak_hour, 0, 24))
      return FieldError(where, "peak_hour", c.peak_hour, "must be in [0, 24)");
    if (!in(c.weekend_dip, 0, 1)) {
      return FieldError(where, "weekend_dip", c.weekend_dip, "must be in [0, 1)");
    }
    if (!std::isfinite(c.trend_per_day) || 1 + c.trend_per_day * days <= 0) {
      return FieldError(where, "trend_per_day", c.trend_per_day,
                        fmt::format("the rate would reach zero within the {:.3g} days", days));
    }
    if (!in(c.noise, 0, 2.000001)) return FieldError(where, "noise", c.noise, "must be in [0, 2]");
    if (!in(c.burst_prob, 0, 1.000001)) {
      return FieldError(where, "burst_prob", c.burst_prob, "must be in [0, 1]");
    }
    if (!in(c.burst_multiplier, 1, 1e6)) {
      return FieldError(where, "burst_multiplier", c.burst_multiplier, "must be >= 1");
    }
    if (c.burst_steps < 1) return FieldError(where, "burst_steps", c.burst_steps, "must be >= 1");
    if (!in(c.cost_cv, 0, 5.000001))
      return FieldError(where, "cost_cv", c.cost_cv, "must be in [0, 5]");
    const double costs[] = {c.cost.cpu_ms,         c.cost.mem_bytes,    c.cost.io_read_bytes,
                            c.cost.io_write_bytes, c.cost.net_in_bytes, c.cost.net_out_bytes,
                            c.cost.latency_ms};
    for (double v : costs) {
      if (!in(v, 0, 1e15))
        return FieldError(where, "cost", v, "every cost must be finite and >= 0");
    }
  }
  for (size_t i = 0; i < spec.events.size(); ++i) {
    const Event& e = spec.events[i];
    const std::string where = fmt::format("events[{}]", i);
    if (e.at < Duration(0) || e.at >= spec.length) {
      return FieldError(where, "at", Hours(e.at) * 3600, "must fall within the workload");
    }
    if (e.kind != EventKind::kLevelShift && e.duration <= Duration(0)) {
      return FieldError(where, "duration", Hours(e.duration) * 3600, "must be positive");
    }
    if (!(e.magnitude > 1) || !std::isfinite(e.magnitude)) {
      return FieldError(where, "magnitude", e.magnitude, "must be a finite number > 1");
    }
    if (e.class_index >= static_cast<int>(spec.classes.size())) {
      return FieldError(where, "class_index", e.class_index,
                        fmt::format("there are {} classes", spec.classes.size()));
    }
  }
  return absl::OkStatus();
}

double ExpectedRate(const ClassSpec& c, WallTime start, WallTime t) {
  const history::CalendarFeatures cal = history::CalendarFeaturesAt(t);
  const double hour = cal.minute_of_day / 60.0;
  const double days = Hours(t - start) / 24;
  return c.base_rate_per_s * (1 + c.trend_per_day * days) *
         (1 + c.daily_amplitude * std::cos(2 * std::numbers::pi * (hour - c.peak_hour) / 24)) *
         (1 - (cal.is_weekend ? c.weekend_dip : 0));
}

absl::StatusOr<std::vector<GroundTruth>> Generate(const WorkloadSpec& spec,
                                                  const ReportSink& sink) {
  TIDEGATE_RETURN_IF_ERROR(ValidateWorkloadSpec(spec));
  std::mt19937_64 rng(spec.seed);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> unit(0, 1);
  const size_t n = spec.classes.size();
  std::vector<double> noise(n, 0);
  std::vector<int> burst_left(n, 0);
  const double step_s = Hours(spec.step) * 3600;
  const double innovation_sd = std::sqrt(1 - kNoiseRho * kNoiseRho);

  std::vector<history::UsageReport> reports;
  for (Duration t{0}; t < spec.length; t += spec.step) {
    const WallTime now = spec.start + t;
    reports.clear();
    for (size_t i = 0; i < n; ++i) {
      const ClassSpec& c = spec.classes[i];
      noise[i] = kNoiseRho * noise[i] + innovation_sd * normal(rng);
      double rate =
          ExpectedRate(c, spec.start, now) * std::exp(c.noise * noise[i] - c.noise * c.noise / 2);
      if (burst_left[i] > 0) {
        --burst_left[i];
        rate *= c.burst_multiplier;
      } else if (unit(rng) < c.burst_prob) {
        burst_left[i] = c.burst_steps - 1;
        rate *= c.burst_multiplier;
      }
      for (const Event& e : spec.events) {
        if (e.class_index < 0 || e.class_index == static_cast<int>(i)) rate *= EventFactor(e, t);
      }
      const int64_t count = std::poisson_distribution<int64_t>(rate * step_s)(rng);
      if (count == 0) continue;
      history::UsageReport r;
      r.tenant = c.tenant;
      r.descriptors = c.descriptors;
      r.operation = c.operation;
      r.count = count;
      r.timestamp = now;
      r.cpu_ms = DrawTotal(rng, count, c.cost.cpu_ms, c.cost_cv);
      r.mem_bytes = DrawTotal(rng, count, c.cost.mem_bytes, c.cost_cv);
      r.io_read_bytes = DrawTotal(rng, count, c.cost.io_read_bytes, c.cost_cv);
      r.io_write_bytes = DrawTotal(rng, count, c.cost.io_write_bytes, c.cost_cv);
      r.net_in_bytes = DrawTotal(rng, count, c.cost.net_in_bytes, c.cost_cv);
      r.net_out_bytes = DrawTotal(rng, count, c.cost.net_out_bytes, c.cost_cv);
      r.latency_ms = DrawTotal(rng, count, c.cost.latency_ms, c.cost_cv);
      reports.push_back(std::move(r));
    }
    if (!reports.empty()) TIDEGATE_RETURN_IF_ERROR(sink(reports));
  }

  std::vector<GroundTruth> truth;
  for (const Event& e : spec.events) {
    const WallTime begin = spec.start + e.at;
    const WallTime end =
        e.kind == EventKind::kLevelShift ? spec.start + spec.length : begin + e.duration;
    if (e.class_index >= 0) {
      truth.push_back({e.class_index, e.kind, begin, end});
    } else {
      for (size_t i = 0; i < n; ++i) truth.push_back({static_cast<int>(i), e.kind, begin, end});
    }
  }
  return truth;
}

WorkloadSpec DemoSpec(WallTime start, Duration length, uint64_t seed) {
  using history::DescriptorEntry;
  WorkloadSpec s;
  s.start = start;
  s.length = length;
  s.seed = seed;
  const auto cls = [](std::string tenant, std::string name, std::string op, int tier, double rate,
                      double amplitude, double peak, RequestCost cost) {
    ClassSpec c;
    c.tenant = std::move(tenant);
    c.descriptors = {DescriptorEntry{"class", std::move(name)}};
    c.operation = std::move(op);
    c.tier = tier;
    c.base_rate_per_s = rate;
    c.daily_amplitude = amplitude;
    c.peak_hour = peak;
    c.cost = cost;
    return c;
  };
  // Costs: cpu ms, memory bytes, io read/write bytes, network in/out bytes, latency ms.
  s.classes = {
      cls("shop", "checkout", "write", 0, 40, 0.6, 19, {8, 2e6, 4e3, 16e3, 2e3, 8e3, 45}),
      cls("shop", "browse", "read", 2, 400, 0.7, 20, {2, 5e5, 32e3, 0, 1e3, 60e3, 12}),
      cls("shop", "search", "read", 1, 120, 0.6, 20, {15, 8e6, 256e3, 0, 1e3, 20e3, 80}),
      cls("payments", "authorize", "write", 0, 25, 0.5, 18, {5, 1e6, 2e3, 8e3, 1e3, 2e3, 30}),
      cls("payments", "report", "read", 3, 4, 0.3, 3, {250, 64e6, 16e6, 1e6, 1e3, 4e6, 900}),
      cls("analytics", "ingest", "write", 2, 300, 0.3, 12, {1, 2e5, 0, 8e3, 16e3, 1e3, 5}),
      cls("analytics", "query", "read", 3, 10, 0.5, 10, {120, 128e6, 64e6, 0, 1e3, 1e6, 2000}),
      cls("analytics", "export", "read", 3, 1, 0.2, 2, {500, 256e6, 512e6, 0, 1e3, 64e6, 6000}),
  };
  s.classes[1].trend_per_day = 0.01;
  s.classes[5].weekend_dip = 0.05;
  const Duration day = std::chrono::hours(24);
  const int days = static_cast<int>(length / day);
  if (days >= 2) {
    // A flash crowd on the shop at noon of the last day, a spike and a dip earlier, and a level
    // shift in analytics ingest a few days in.
    s.events.push_back({EventKind::kFlashCrowd, (days - 1) * day + std::chrono::hours(12),
                        std::chrono::hours(2), 4, 1});
    s.events.push_back({EventKind::kFlashCrowd, (days - 1) * day + std::chrono::hours(12),
                        std::chrono::hours(2), 3, 2});
    s.events.push_back(
        {EventKind::kSpike, day + std::chrono::hours(9), std::chrono::minutes(20), 6, 2});
    s.events.push_back(
        {EventKind::kDip, day + std::chrono::hours(15), std::chrono::minutes(30), 5, 3});
    if (days >= 5) {
      s.events.push_back(
          {EventKind::kLevelShift, 4 * day + std::chrono::hours(6), Duration(0), 1.8, 5});
    }
  }
  return s;
}

}  // namespace tidegate::workload
