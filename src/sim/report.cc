// Result output: table, JSON and SVG.
#include <algorithm>
#include <cmath>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tidegate/sim/simulator.h"

namespace tidegate::sim {

namespace {

std::string Row(const Metrics& m) {
  return fmt::format(
      "  {:<14} {:>9} {:>9} {:>9} {:>8} {:>10.2f} {:>9.3f} {:>9.3f} {:>9.3f} {:>7.0f}\n", m.name,
      m.offered, m.admitted, m.rejected, m.timed_out, m.goodput_per_s, m.p50_s, m.p99_s, m.p999_s,
      m.slo_violation_s);
}

nlohmann::json ToJsonMetrics(const Metrics& m) {
  return {{"name", m.name},         {"tier", m.tier},
          {"offered", m.offered},   {"admitted", m.admitted},
          {"rejected", m.rejected}, {"timed_out", m.timed_out},
          {"borrowed", m.borrowed}, {"completed", m.completed},
          {"good", m.good},         {"goodput_per_s", m.goodput_per_s},
          {"p50_s", m.p50_s},       {"p99_s", m.p99_s},
          {"p999_s", m.p999_s},     {"slo_violation_s", m.slo_violation_s}};
}

}  // namespace

std::string FormatTable(const std::vector<SimResult>& results) {
  std::string out;
  for (const SimResult& r : results) {
    out +=
        fmt::format("policy {} — utilisation {:.1f} %, test period {:.0f} s{}\n", r.policy,
                    100 * r.utilisation, r.test_s,
                    r.plan_fallbacks > 0 ? fmt::format(", planner fallbacks {}", r.plan_fallbacks)
                                         : std::string());
    out += fmt::format("  {:<14} {:>9} {:>9} {:>9} {:>8} {:>10} {:>9} {:>9} {:>9} {:>7}\n", "",
                       "offered", "admitted", "rejected", "timeout", "goodput/s", "p50 s", "p99 s",
                       "p99.9 s", "SLO-v s");
    for (const Metrics& m : r.tiers) out += Row(m);
    for (const Metrics& m : r.classes) out += Row(m);
    out += Row(r.total);
  }
  return out;
}

std::string ToJson(const std::vector<SimResult>& results) {
  nlohmann::json policies = nlohmann::json::array();
  for (const SimResult& r : results) {
    nlohmann::json p = {{"policy", r.policy},
                        {"utilisation", r.utilisation},
                        {"test_s", r.test_s},
                        {"plan_fallbacks", r.plan_fallbacks},
                        {"total", ToJsonMetrics(r.total)}};
    p["tiers"] = nlohmann::json::array();
    for (const Metrics& m : r.tiers) p["tiers"].push_back(ToJsonMetrics(m));
    p["classes"] = nlohmann::json::array();
    for (const Metrics& m : r.classes) p["classes"].push_back(ToJsonMetrics(m));
    policies.push_back(std::move(p));
  }
  return nlohmann::json({{"policies", policies}}).dump(2) + "\n";
}

std::string ToSvg(const std::vector<SimResult>& results, const Trace& trace) {
  constexpr double kW = 900, kH = 220, kPad = 40;
  const size_t n = trace.classes.size();
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n",
      kW, kH * static_cast<double>(n * std::max<size_t>(1, results.size())));
  static constexpr const char* kColours[] = {"#888888", "#1f77b4", "#2ca02c"};
  size_t panel = 0;
  for (const SimResult& r : results) {
    for (size_t c = 0; c < n && c < r.series.size(); ++c, ++panel) {
      const auto& pts = r.series[c];
      const double y0 = static_cast<double>(panel) * kH;
      double t_max = 1, v_max = 1;
      for (const SeriesPoint& p : pts) {
        t_max = std::max(t_max, p.time_s);
        v_max = std::max({v_max, p.demand_per_s, p.plan_per_s, p.admitted_per_s});
      }
      svg += fmt::format(
          "<text x=\"{}\" y=\"{}\">{} — {} (tier {}): demand (grey), plan (blue), "
          "admitted (green), max {:.3g}/s</text>\n",
          kPad, y0 + 15, r.policy, trace.classes[c].name, trace.classes[c].tier, v_max);
      for (int series = 0; series < 3; ++series) {
        std::string d;
        for (const SeriesPoint& p : pts) {
          const double v = series == 0   ? p.demand_per_s
                           : series == 1 ? p.plan_per_s
                                         : p.admitted_per_s;
          const double x = kPad + (kW - 2 * kPad) * p.time_s / t_max;
          const double y = y0 + kH - kPad / 2 - (kH - 1.5 * kPad) * std::min(v, v_max) / v_max;
          d += fmt::format("{}{:.1f},{:.1f} ", d.empty() ? "M" : "L", x, y);
        }
        svg += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1\"/>\n", d,
                           kColours[series]);
      }
    }
  }
  return svg + "</svg>\n";
}

}  // namespace tidegate::sim
