// Trace CSV parsing (formats in simulator.h).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <unordered_map>

#include "fmt/format.h"
#include "tidegate/shaping/token_bucket.h"
#include "tidegate/sim/simulator.h"

namespace tidegate::sim {

namespace {

std::vector<std::string_view> Split(std::string_view line) {
  std::vector<std::string_view> out;
  size_t b = 0;
  for (;;) {
    const size_t e = line.find(',', b);
    std::string_view f = line.substr(b, e == std::string_view::npos ? e : e - b);
    while (!f.empty() && (f.front() == ' ' || f.front() == '\t')) f.remove_prefix(1);
    while (!f.empty() && (f.back() == ' ' || f.back() == '\t' || f.back() == '\r')) {
      f.remove_suffix(1);
    }
    out.push_back(f);
    if (e == std::string_view::npos) break;
    b = e + 1;
  }
  return out;
}

absl::Status RowError(std::string_view name, size_t line, std::string reason) {
  return absl::InvalidArgumentError(fmt::format("{}:{}: {}", name, line, reason));
}

}  // namespace

absl::StatusOr<Trace> ParseTrace(std::string_view text, std::string_view name, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Trace trace;
  std::unordered_map<std::string, int> class_index;
  size_t line_no = 0, pos = 0;
  std::vector<std::string_view> header;
  int c_time = -1, c_class = -1, c_tier = -1, c_cost = -1, c_rate = -1, c_interval = -1,
      c_known = -1;
  while (pos <= text.size()) {
    size_t e = text.find('\n', pos);
    if (e == std::string_view::npos) e = text.size();
    std::string_view line = text.substr(pos, e - pos);
    pos = e + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') {
      if (pos > text.size()) break;
      continue;
    }
    std::vector<std::string_view> f = Split(line);
    if (header.empty()) {
      header = f;
      for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] == "time_s") c_time = static_cast<int>(i);
        if (f[i] == "class") c_class = static_cast<int>(i);
        if (f[i] == "tier") c_tier = static_cast<int>(i);
        if (f[i] == "cost") c_cost = static_cast<int>(i);
        if (f[i] == "rate_per_s") c_rate = static_cast<int>(i);
        if (f[i] == "interval_s") c_interval = static_cast<int>(i);
        if (f[i] == "known_cost") c_known = static_cast<int>(i);
      }
      for (auto [col, cname] : {std::pair{c_time, "time_s"}, std::pair{c_class, "class"},
                                std::pair{c_tier, "tier"}, std::pair{c_cost, "cost"}}) {
        if (col < 0) {
          return RowError(name, line_no,
                          fmt::format("header has no '{}' column (need time_s, "
                                      "class, tier, cost[, rate_per_s])",
                                      cname));
        }
      }
      continue;
    }
    if (f.size() < header.size()) {
      return RowError(name, line_no,
                      fmt::format("{} fields, header has {}", f.size(), header.size()));
    }
    auto number = [&](int col, double* out) -> absl::Status {
      std::string_view s = f[col];
      double v = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) {
        return RowError(name, line_no,
                        fmt::format("column '{}': '{}' is not a finite number", header[col], s));
      }
      if (v < 0) {
        return RowError(name, line_no, fmt::format("column '{}': {} is negative", header[col], v));
      }
      *out = v;
      return absl::OkStatus();
    };
    double t = 0, tier_d = 0, cost = 0, rate = 0, interval = 1, known = 0;
    if (auto s = number(c_time, &t); !s.ok()) return s;
    if (auto s = number(c_tier, &tier_d); !s.ok()) return s;
    if (auto s = number(c_cost, &cost); !s.ok()) return s;
    if (c_rate >= 0) {
      if (auto s = number(c_rate, &rate); !s.ok()) return s;
    }
    known = cost;
    if (c_known >= 0) {
      if (auto s = number(c_known, &known); !s.ok()) return s;
      if (known > cost) {
        return RowError(
            name, line_no,
            fmt::format("column 'known_cost': {} exceeds the cost {}", f[c_known], f[c_cost]));
      }
    }
    if (c_interval >= 0) {
      if (auto s = number(c_interval, &interval); !s.ok()) return s;
      if (interval <= 0) return RowError(name, line_no, "column 'interval_s': must be > 0");
    }
    if (tier_d != std::floor(tier_d) || tier_d >= shaping::kMaxTiers) {
      return RowError(name, line_no,
                      fmt::format("column 'tier': {} is not an integer in [0, 4)", f[c_tier]));
    }
    const int tier = static_cast<int>(tier_d);
    if (f[c_class].empty()) return RowError(name, line_no, "column 'class': empty");
    std::string cname(f[c_class]);
    auto [it, fresh] = class_index.emplace(cname, static_cast<int>(trace.classes.size()));
    if (fresh) {
      trace.classes.push_back({cname, tier});
    } else if (trace.classes[it->second].tier != tier) {
      return RowError(name, line_no,
                      fmt::format("class '{}' has tier {} here but tier {} earlier", cname, tier,
                                  trace.classes[it->second].tier));
    }
    const int32_t cls = it->second;
    if (c_rate < 0) {
      trace.arrivals.push_back({t, cls, cost, cost - known});
      trace.end_s = std::max(trace.end_s, t);
    } else {
      // Poisson arrivals: exponential gaps at `rate` over [t, t + interval).
      trace.end_s = std::max(trace.end_s, t + interval);
      if (rate > 0) {
        std::exponential_distribution<double> gap(rate);
        for (double a = t + gap(rng); a < t + interval; a += gap(rng)) {
          trace.arrivals.push_back({a, cls, cost, cost - known});
        }
      }
    }
    if (pos > text.size()) break;
  }
  if (header.empty()) return absl::InvalidArgumentError(fmt::format("{}: empty trace", name));
  std::stable_sort(trace.arrivals.begin(), trace.arrivals.end(),
                   [](const Arrival& a, const Arrival& b) { return a.time_s < b.time_s; });
  return trace;
}

absl::StatusOr<Trace> LoadTrace(const std::string& path, uint64_t seed) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot open", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseTrace(ss.str(), path, seed);
}

absl::StatusOr<std::vector<BackgroundStep>> ParseBackground(std::string_view text,
                                                            std::string_view name) {
  std::vector<BackgroundStep> steps;
  std::vector<size_t> lines;  // Source line of each step, for the duplicate check.
  std::vector<std::string_view> header;
  int c_time = -1, c_fraction = -1;
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t e = text.find('\n', pos);
    if (e == std::string_view::npos) e = text.size();
    std::string_view line = text.substr(pos, e - pos);
    pos = e + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string_view> f = Split(line);
    if (header.empty()) {
      header = f;
      for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] == "time_s") c_time = static_cast<int>(i);
        if (f[i] == "fraction") c_fraction = static_cast<int>(i);
      }
      if (c_time < 0 || c_fraction < 0) {
        return RowError(name, line_no, "header needs the columns time_s and fraction");
      }
      continue;
    }
    if (f.size() < header.size()) {
      return RowError(name, line_no,
                      fmt::format("{} fields, header has {}", f.size(), header.size()));
    }
    double v[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      const int col = k == 0 ? c_time : c_fraction;
      std::string_view x = f[col];
      auto [p, ec] = std::from_chars(x.data(), x.data() + x.size(), v[k]);
      if (ec != std::errc() || p != x.data() + x.size() || !std::isfinite(v[k])) {
        return RowError(name, line_no,
                        fmt::format("column '{}': '{}' is not a finite number", header[col], x));
      }
    }
    if (v[0] < 0)
      return RowError(name, line_no, fmt::format("column 'time_s': {} is negative", v[0]));
    if (!(v[1] >= 0 && v[1] < 1)) {
      return RowError(name, line_no, fmt::format("column 'fraction': {} is outside [0, 1)", v[1]));
    }
    steps.push_back({v[0], v[1]});
    lines.push_back(line_no);
  }
  if (header.empty()) return absl::InvalidArgumentError(fmt::format("{}: empty background", name));
  std::vector<size_t> order(steps.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return steps[a].time_s < steps[b].time_s; });
  std::vector<BackgroundStep> sorted;
  sorted.reserve(steps.size());
  for (size_t k = 0; k < order.size(); ++k) {
    if (k > 0 && steps[order[k]].time_s == steps[order[k - 1]].time_s) {
      return RowError(name, std::max(lines[order[k]], lines[order[k - 1]]),
                      fmt::format("time_s {} is given twice (also line {})", steps[order[k]].time_s,
                                  std::min(lines[order[k]], lines[order[k - 1]])));
    }
    sorted.push_back(steps[order[k]]);
  }
  return sorted;
}

absl::StatusOr<std::vector<BackgroundStep>> LoadBackground(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot open", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseBackground(ss.str(), path);
}

double BackgroundAt(const Trace& trace, double t) {
  const auto& b = trace.background;
  auto it = std::upper_bound(b.begin(), b.end(), t,
                             [](double x, const BackgroundStep& s) { return x < s.time_s; });
  return it == b.begin() ? 0 : std::prev(it)->fraction;
}

}  // namespace tidegate::sim
