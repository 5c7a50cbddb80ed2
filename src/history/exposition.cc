// Prometheus text exposition encoder (see tidegate/history/exposition.h).
#include "tidegate/history/exposition.h"

#include <cmath>
#include <iterator>

#include "fmt/format.h"

namespace tidegate::history {

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatExpositionValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);  // Shortest representation that round-trips.
}

std::string ExpositionName(std::string_view metric, std::string_view prefix) {
  return fmt::format("{}{}", prefix, metric);
}

std::string EncodeExposition(const std::vector<ExpositionFamily>& families) {
  std::string out;
  for (const ExpositionFamily& family : families) {
    if (!family.help.empty()) {
      out += fmt::format("# HELP {} {}\n", family.name, EscapeHelp(family.help));
    }
    out += fmt::format("# TYPE {} {}\n", family.name, family.type);
    for (const ExpositionSample& s : family.samples) {
      out += s.name;
      if (!s.labels.empty()) {
        out.push_back('{');
        for (size_t i = 0; i < s.labels.size(); ++i) {
          if (i > 0) out.push_back(',');
          out += fmt::format("{}=\"{}\"", s.labels[i].first, EscapeLabelValue(s.labels[i].second));
        }
        out.push_back('}');
      }
      out.push_back(' ');
      out += FormatExpositionValue(s.value);
      if (s.time.has_value()) {
        // Milliseconds, floored (also before 1970).
        out += fmt::format(
            " {}",
            std::chrono::floor<std::chrono::milliseconds>(s.time->time_since_epoch()).count());
      }
      out.push_back('\n');
    }
  }
  return out;
}

absl::Status ExpositionBuffer::Add(const SampleBatch& batch) {
  std::lock_guard lock(mu_);
  // Check every sample first (against the staged ones and the batch itself), then stage.
  std::map<SeriesKey, std::map<WallTime, double>> seen;
  for (const SeriesSamples& entry : batch.series) {
    const auto staged = staged_.find(entry.series);
    std::map<WallTime, double>& seen_series = seen[entry.series];
    for (const Sample& s : entry.samples) {
      std::optional<double> previous;
      if (staged != staged_.end()) {
        const auto it = staged->second.find(s.time);
        if (it != staged->second.end()) previous = it->second;
      }
      const auto [it, inserted] = seen_series.try_emplace(s.time, s.value);
      if (!inserted) previous = it->second;
      if (previous.has_value() && *previous != s.value) {
        return absl::AlreadyExistsError(
            fmt::format("series {} at {}: value {} conflicts with {} already staged",
                        entry.series.ToString(), FormatWallTime(s.time), s.value, *previous));
      }
    }
  }
  for (const SeriesSamples& entry : batch.series) {
    if (entry.samples.empty()) continue;
    std::map<WallTime, double>& series = staged_[entry.series];
    for (const Sample& s : entry.samples) series[s.time] = s.value;
    // Trim: the window before the newest sample, then the count; count what no scrape saw.
    const auto rendered = rendered_through_.find(entry.series);
    auto trim = [&](std::map<WallTime, double>::iterator it) {
      if (rendered == rendered_through_.end() || it->first > rendered->second) {
        ++dropped_unrendered_;
      }
      return series.erase(it);
    };
    const WallTime oldest_kept = series.rbegin()->first - options_.window;
    for (auto it = series.begin(); it != series.end() && it->first < oldest_kept;) it = trim(it);
    while (series.size() > options_.max_samples_per_series) trim(series.begin());
  }
  return absl::OkStatus();
}

void ExpositionBuffer::Remove(const SeriesKey& series) {
  std::lock_guard lock(mu_);
  staged_.erase(series);
  rendered_through_.erase(series);
}

SampleBatch ExpositionBuffer::Unrendered() const {
  std::lock_guard lock(mu_);
  SampleBatch batch;
  for (const auto& [key, samples] : staged_) {
    const auto rendered = rendered_through_.find(key);
    auto it = rendered == rendered_through_.end() ? samples.begin()
                                                  : samples.upper_bound(rendered->second);
    for (; it != samples.end(); ++it) batch.Add(key, it->first, it->second);
  }
  return batch;
}

size_t ExpositionBuffer::UnrenderedCount() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [key, samples] : staged_) {
    const auto rendered = rendered_through_.find(key);
    n += rendered == rendered_through_.end()
             ? samples.size()
             : static_cast<size_t>(
                   std::distance(samples.upper_bound(rendered->second), samples.end()));
  }
  return n;
}

uint64_t ExpositionBuffer::dropped_unrendered() const {
  std::lock_guard lock(mu_);
  return dropped_unrendered_;
}

size_t ExpositionBuffer::SampleCount() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [key, samples] : staged_) n += samples.size();
  return n;
}

std::string ExpositionBuffer::Render() const {
  std::map<std::string, ExpositionFamily> families;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, samples] : staged_) {
      if (!samples.empty()) rendered_through_[key] = samples.rbegin()->first;
      const std::string name = ExpositionName(key.metric, options_.prefix);
      ExpositionFamily& family = families[name];
      family.name = name;
      family.type = "gauge";
      for (const auto& [time, value] : samples) {
        family.samples.push_back(ExpositionSample{
            name, {{"tenant", key.tenant}, {"class", key.class_key}}, value, time});
      }
    }
  }
  std::vector<ExpositionFamily> ordered;
  ordered.reserve(families.size());
  for (auto& [name, family] : families) ordered.push_back(std::move(family));
  return EncodeExposition(ordered);
}

}  // namespace tidegate::history
