// tidegate/workload/generator.h — a realistic multi-class workload, deterministic under a seed.
//
// The generator produces what tidegate learns from: per-class usage over time, with the shapes
// real services show — a daily cycle, a weekly cycle, a trend, noise, short bursts, flash crowds
// and injected anomalies — for several tenants and priority tiers, each class with its own
// per-request resource costs. The demo and the tests use it; nothing in tidegate depends on data
// it did not generate.
//
// Algorithm. For class c at time t (hours since the start h, day-of-week w):
//
//   λ_c(t) = base_c · (1 + trend_c · t_days)
//                    · (1 + daily_c · cos(2π (hour(t) − peak_hour_c) / 24))
//                    · (1 − weekend_dip_c · [w ∈ {Sat, Sun}])
//                    · exp(noise_c · ε_t − noise_c² / 2)            ε_t ~ AR(1), ρ = 0.8, N(0,1)
//                    · burst(t) · flash(t) · anomaly(t)
//
// requests in a step of length Δ are Poisson(λ_c(t) · Δ); each request's cost in resource r is
// log-normal with mean cost_c,r and coefficient of variation cost_cv_c, so the step's total is
// drawn as a Gamma with the matching mean and variance (exact for the sum's first two moments).
// Bursts start with probability burst_prob per step and multiply λ by burst_multiplier for
// burst_steps steps. Flash crowds and anomalies are scheduled events: a flash crowd ramps up over
// a quarter of its duration, holds, and decays; an anomaly is a spike (×magnitude) or dip
// (×(1/magnitude)) or a level shift that persists. Every anomaly is also returned as ground truth.
//
// Thread-safety: Generate is a pure function of its arguments.
#ifndef TIDEGATE_WORKLOAD_GENERATOR_H_
#define TIDEGATE_WORKLOAD_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"
#include "tidegate/history/usage.h"

namespace tidegate::workload {

// Mean cost of one request of a class, per resource.
struct RequestCost {
  double cpu_ms = 1;
  double mem_bytes = 0;
  double io_read_bytes = 0;
  double io_write_bytes = 0;
  double net_in_bytes = 0;
  double net_out_bytes = 0;
  double latency_ms = 10;
};

struct ClassSpec {
  std::string tenant;
  std::vector<history::DescriptorEntry> descriptors;  // e.g. {{"class", "checkout"}}
  std::string operation;                              // May be empty.
  int tier = 2;                                       // 0 = critical .. 3 = best effort.
  double base_rate_per_s = 10;                        // λ at the daily mean, before trend. > 0
  double daily_amplitude = 0.5;                       // [0, 1)
  double peak_hour = 14;                              // [0, 24), UTC
  double weekend_dip = 0.2;                           // [0, 1)
  double trend_per_day = 0;                           // Relative growth per day; > -1/duration.
  double noise = 0.1;                                 // Log-scale sd of the AR(1) noise. [0, 2]
  double burst_prob = 0.002;                          // Per step. [0, 1]
  double burst_multiplier = 3;                        // >= 1
  int burst_steps = 6;                                // >= 1
  RequestCost cost;
  double cost_cv = 0.3;  // Coefficient of variation of one request's cost. [0, 5]
};

enum class EventKind { kFlashCrowd, kSpike, kDip, kLevelShift };
std::string_view EventKindName(EventKind kind);

// A scheduled event. `class_index` < 0 applies to every class.
struct Event {
  EventKind kind = EventKind::kFlashCrowd;
  Duration at{0};        // Offset from the workload's start.
  Duration duration{0};  // Ignored for kLevelShift (it persists).
  double magnitude = 5;  // Multiplier (> 1); a dip divides by it.
  int class_index = -1;
};

struct WorkloadSpec {
  WallTime start;
  Duration length = std::chrono::hours(24 * 14);
  Duration step = std::chrono::seconds(10);
  uint64_t seed = 1;
  std::vector<ClassSpec> classes;
  std::vector<Event> events;
};

// OK, or InvalidArgument naming the field and the class or event index, e.g.
// "classes[2].daily_amplitude = 1.5: must be in [0, 1)". Refuses specs above 50 million
// class-steps (length / step × classes) with a message saying how to shrink them.
absl::Status ValidateWorkloadSpec(const WorkloadSpec& spec);

// An anomaly the generator injected, for scoring detectors.
struct GroundTruth {
  int class_index;
  EventKind kind;
  WallTime begin;
  WallTime end;
};

// Generates the workload, calling `sink` with the reports of each step (one report per class
// with at least one request, count = requests, resource fields = totals) in time order. Returns
// the ground truth of injected anomalies (flash crowds included), or the validation error; a
// non-OK status from `sink` stops generation and is returned.
using ReportSink = std::function<absl::Status(const std::vector<history::UsageReport>&)>;
absl::StatusOr<std::vector<GroundTruth>> Generate(const WorkloadSpec& spec, const ReportSink& sink);

// The expected request rate λ_c(t) without noise, bursts or events, for tests and plots.
double ExpectedRate(const ClassSpec& c, WallTime start, WallTime t);

// The built-in scenario used by the demo: three tenants, eight classes across four tiers, a
// flash crowd on day `length - 1` at 12:00 and a few spikes, dips and a level shift.
WorkloadSpec DemoSpec(WallTime start, Duration length, uint64_t seed);

}  // namespace tidegate::workload

#endif  // TIDEGATE_WORKLOAD_GENERATOR_H_
