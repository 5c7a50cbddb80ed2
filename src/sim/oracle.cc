// The perfect-foresight admission set and the server's service time (see simulator.h).
//
// Why the greedy is exact. Admitted requests are served in arrival order (FIFO), so choosing
// which to admit is single-machine scheduling with release dates r_j and due dates d_j in a fixed
// order, maximising the number of on-time jobs (1|r_j|sum U_j). When release and due dates are
// ordered alike ("agreeable"; here d_j = r_j + slo_s whenever slo_s <= timeout_s), Kise, Ibaraki
// and Mine (Operations Research 26(1), 1978) show that adding jobs in order and, whenever the
// newest is late, removing the job whose removal minimises the schedule's completion time, is
// optimal. The removal always makes the newest job on time: dropping the newest itself restores
// the previous, feasible completion time C_prev <= d_prev <= d_new, and the chosen removal is at
// least as good.
//
// Computing the best removal. Within the current busy chain (every request after its first
// waited), removing request k brings the last completion forward by
//   delta(k) = min(s_k, min_{m > k} wait_m)
// (each later start moves by the previous shift, but not before its own arrival). Scanning back
// from the newest, the running minimum of waits only falls, so the scan stops as soon as it, or
// the largest service time left before k, cannot beat (or, within one SLO of the newest arrival,
// tie) the best found.
#include <algorithm>
#include <cmath>

#include "tidegate/sim/simulator.h"

namespace tidegate::sim {

double ServiceSeconds(const Trace& trace, const SimConfig& config, const Arrival& a) {
  double s = 0;
  if (std::isfinite(config.capacity[config.cost_resource])) {
    s = a.cost / config.capacity[config.cost_resource];
  }
  const int req = static_cast<int>(plan::Resource::kRequests);
  if (std::isfinite(config.capacity[req])) s = std::max(s, 1 / config.capacity[req]);
  if (!trace.background.empty()) s /= 1 - BackgroundAt(trace, a.time_s);
  return s;
}

namespace {

struct Job {
  size_t index;        // Into trace.arrivals.
  double release;      // r
  double service;      // s
  double start;        // In the current schedule.
  double max_service;  // max s over the chain up to and including this job.
  int tier;
};

}  // namespace

std::vector<bool> OracleAdmissions(const Trace& trace, const SimConfig& config) {
  const size_t n = trace.arrivals.size();
  std::vector<bool> admit(n, false);
  // Tolerance when comparing removals (ties); on-time tests below are exact and are the
  // simulator's own: wait = start - r <= timeout and wait + s <= slo.
  constexpr double kEps = 1e-12;
  std::vector<Job> chain;  // The current busy chain; everything before it is final.
  double base = 0;         // Completion time of the last request before the chain.
  auto completion = [&]() {
    return chain.empty() ? base : chain.back().start + chain.back().service;
  };
  // Recomputes starts (and the running max of service times) from chain position `from`.
  auto reschedule = [&](size_t from) {
    for (size_t m = from; m < chain.size(); ++m) {
      const double prev_end = m == 0 ? base : chain[m - 1].start + chain[m - 1].service;
      const double prev_max = m == 0 ? 0 : chain[m - 1].max_service;
      chain[m].start = std::max(chain[m].release, prev_end);
      chain[m].max_service = std::max(prev_max, chain[m].service);
    }
  };
  for (size_t i = 0; i < n; ++i) {
    const Arrival& a = trace.arrivals[i];
    if (a.time_s < config.warmup_s) continue;
    const double s = ServiceSeconds(trace, config, a);
    if (s > config.slo_s) continue;  // Never on time, even on an idle server.
    const double prev_end = completion();
    if (a.time_s >= prev_end) {  // The server is idle at r: the chain so far is final.
      for (const Job& j : chain) admit[j.index] = true;
      chain.clear();
      base = prev_end;
    }
    const int tier = trace.classes[a.cls].tier;
    const double start = std::max(a.time_s, prev_end);
    chain.push_back(
        {i, a.time_s, s, start, std::max(chain.empty() ? 0.0 : chain.back().max_service, s), tier});
    auto late = [&](const Job& j) {
      const double wait = j.start - j.release;
      return wait > config.timeout_s || wait + j.service > config.slo_s;
    };
    while (!chain.empty() && chain.back().index == i && late(chain.back())) {
      // Find the removal that brings the completion forward the most.
      size_t best = chain.size() - 1;
      double best_delta = chain[best].service;
      double min_wait = chain[best].start - chain[best].release;
      for (size_t k = chain.size() - 1; k-- > 0;) {
        const bool in_tie_window = chain[k].release >= a.time_s - config.slo_s;
        const double bound = std::min(min_wait, chain[k].max_service);
        if (bound < best_delta - kEps || (!in_tie_window && bound <= best_delta + kEps)) break;
        const double delta = std::min(chain[k].service, min_wait);
        const bool better =
            delta > best_delta + kEps ||
            (delta >= best_delta - kEps && in_tie_window && chain[k].tier > chain[best].tier);
        if (better) {
          best = k;
          best_delta = delta;
        }
        min_wait = std::min(min_wait, chain[k].start - chain[k].release);
      }
      chain.erase(chain.begin() + static_cast<std::ptrdiff_t>(best));
      reschedule(best);
    }
  }
  for (const Job& j : chain) admit[j.index] = true;
  return admit;
}

}  // namespace tidegate::sim
