// Helpers shared by every HistoryStore backend: series-key encoding, batch validation, names.
#include "tidegate/history/history_store.h"

#include <cmath>
#include <ctime>

#include "fmt/format.h"
#include "tidegate/common/status.h"

namespace tidegate::history {
namespace {

bool IsMetricStart(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }
bool IsMetricChar(char c) { return IsMetricStart(c) || (c >= '0' && c <= '9'); }

// Parses `name="value"` at text[pos...]; advances pos past the closing quote.
absl::Status ParseLabel(std::string_view text, size_t& pos, std::string_view name,
                        std::string& value) {
  if (text.substr(pos, name.size()) != name || pos + name.size() + 1 >= text.size() ||
      text[pos + name.size()] != '=' || text[pos + name.size() + 1] != '"') {
    return absl::InvalidArgumentError(
        fmt::format("series key '{}': expected {}=\"...\" at offset {}", text, name, pos));
  }
  pos += name.size() + 2;
  value.clear();
  while (pos < text.size()) {
    const char c = text[pos++];
    if (c == '"') return absl::OkStatus();
    if (c == '\n') {  // Canonical text escapes newlines; a raw one is not a key we wrote.
      return absl::InvalidArgumentError(
          fmt::format("series key: unescaped newline in {} label at offset {}", name, pos - 1));
    }
    if (c != '\\') {
      value += c;
      continue;
    }
    if (pos >= text.size()) break;
    const char e = text[pos++];
    if (e == '\\' || e == '"') {
      value += e;
    } else if (e == 'n') {
      value += '\n';
    } else {
      return absl::InvalidArgumentError(
          fmt::format("series key '{}': unknown escape '\\{}' at offset {}", text, e, pos - 2));
    }
  }
  return absl::InvalidArgumentError(
      fmt::format("series key '{}': unterminated {} label", text, name));
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string SeriesKey::ToString() const {
  std::string out;
  out.reserve(metric.size() + tenant.size() + class_key.size() + 22);
  out += metric;
  out += "{tenant=\"";
  out += EscapeLabelValue(tenant);
  out += "\",class=\"";
  out += EscapeLabelValue(class_key);
  out += "\"}";
  return out;
}

absl::StatusOr<SeriesKey> SeriesKey::Parse(std::string_view text) {
  SeriesKey key;
  size_t pos = 0;
  while (pos < text.size() && text[pos] != '{') ++pos;
  key.metric = std::string(text.substr(0, pos));
  if (pos >= text.size()) {
    return absl::InvalidArgumentError(
        fmt::format("series key '{}': expected '{{' after the metric name", text));
  }
  ++pos;
  TIDEGATE_RETURN_IF_ERROR(ParseLabel(text, pos, "tenant", key.tenant));
  if (pos >= text.size() || text[pos] != ',') {
    return absl::InvalidArgumentError(
        fmt::format("series key '{}': expected ',' at offset {}", text, pos));
  }
  ++pos;
  TIDEGATE_RETURN_IF_ERROR(ParseLabel(text, pos, "class", key.class_key));
  if (pos + 1 != text.size() || text[pos] != '}') {
    return absl::InvalidArgumentError(
        fmt::format("series key '{}': expected '}}' at the end (offset {})", text, pos));
  }
  TIDEGATE_RETURN_IF_ERROR(ValidateSeriesKey(key));
  return key;
}

absl::Status ValidateSeriesKey(const SeriesKey& key) {
  if (key.metric.empty()) {
    return absl::InvalidArgumentError("series key: metric name is empty");
  }
  if (key.metric.size() > kMaxMetricNameLength) {
    return absl::InvalidArgumentError(
        fmt::format("series key: metric name '{}...' is longer than {}", key.metric.substr(0, 32),
                    kMaxMetricNameLength));
  }
  if (!IsMetricStart(key.metric[0])) {
    return absl::InvalidArgumentError(
        fmt::format("series key: metric name '{}' must start with [a-z_]", key.metric));
  }
  for (size_t i = 0; i < key.metric.size(); ++i) {
    if (!IsMetricChar(key.metric[i])) {
      return absl::InvalidArgumentError(
          fmt::format("series key: metric name '{}' has invalid character at offset {} "
                      "(allowed: [a-z0-9_])",
                      key.metric, i));
    }
  }
  if (key.tenant.size() > kMaxLabelLength) {
    return absl::InvalidArgumentError(fmt::format("series key {}: tenant is {} bytes, more than {}",
                                                  key.metric, key.tenant.size(), kMaxLabelLength));
  }
  if (key.class_key.size() > kMaxLabelLength) {
    return absl::InvalidArgumentError(fmt::format("series key {}: class is {} bytes, more than {}",
                                                  key.metric, key.class_key.size(),
                                                  kMaxLabelLength));
  }
  return absl::OkStatus();
}

size_t SampleBatch::SampleCount() const {
  size_t n = 0;
  for (const SeriesSamples& s : series) n += s.samples.size();
  return n;
}

void SampleBatch::Add(const SeriesKey& key, WallTime time, double value) {
  if (series.empty() || series.back().series != key) {
    series.push_back(SeriesSamples{key, {}});
  }
  series.back().samples.push_back(Sample{time, value});
}

absl::Status ValidateBatch(const SampleBatch& batch) {
  for (const SeriesSamples& entry : batch.series) {
    if (absl::Status s = ValidateSeriesKey(entry.series); !s.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("batch rejected: {}", std::string(s.message())));
    }
    for (const Sample& sample : entry.samples) {
      const char* problem = nullptr;
      if (std::isnan(sample.value)) {
        problem = "value is NaN";
      } else if (std::isinf(sample.value)) {
        problem = "value is infinite";
      } else if (sample.value < 0) {
        problem = "value is negative";
      }
      if (problem != nullptr) {
        return absl::InvalidArgumentError(fmt::format(
            "batch rejected: series {} at {}: {} ({}); values must be finite and >= 0",
            entry.series.ToString(), FormatWallTime(sample.time), problem, sample.value));
      }
    }
  }
  return absl::OkStatus();
}

std::string_view AggregationName(Aggregation aggregation) {
  switch (aggregation) {
    case Aggregation::kSum:
      return "sum";
    case Aggregation::kMean:
      return "mean";
    case Aggregation::kMin:
      return "min";
    case Aggregation::kMax:
      return "max";
    case Aggregation::kCount:
      return "count";
    case Aggregation::kLast:
      return "last";
  }
  return "unknown";
}

absl::StatusOr<Aggregation> ParseAggregation(std::string_view name) {
  for (Aggregation a : {Aggregation::kSum, Aggregation::kMean, Aggregation::kMin, Aggregation::kMax,
                        Aggregation::kCount, Aggregation::kLast}) {
    if (AggregationName(a) == name) return a;
  }
  return absl::InvalidArgumentError(
      fmt::format("unknown aggregation '{}' (valid: sum, mean, min, max, count, last)", name));
}

std::string_view ResolutionName(Resolution resolution) {
  switch (resolution) {
    case Resolution::kRaw:
      return "raw";
    case Resolution::kOneMinute:
      return "1m";
    case Resolution::kOneHour:
      return "1h";
  }
  return "unknown";
}

Duration ResolutionStep(Resolution resolution) {
  switch (resolution) {
    case Resolution::kRaw:
      return Duration::zero();
    case Resolution::kOneMinute:
      return std::chrono::minutes(1);
    case Resolution::kOneHour:
      return std::chrono::hours(1);
  }
  return Duration::zero();
}

bool SeriesFilter::Matches(const SeriesKey& key) const {
  return (!metric || *metric == key.metric) && (!tenant || *tenant == key.tenant) &&
         (!class_key || *class_key == key.class_key);
}

std::string FormatWallTime(WallTime time) {
  const int64_t ns = time.time_since_epoch().count();
  int64_t secs = ns / 1'000'000'000;
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return fmt::format("{}ns", ns);
  std::string out = fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (frac != 0) out += fmt::format(".{:09d}", frac);
  out += 'Z';
  return out;
}

WallTime AlignDown(WallTime time, Duration step) {
  const int64_t t = time.time_since_epoch().count();
  const int64_t s = step.count();
  int64_t q = t / s;
  if (t % s != 0 && t < 0) --q;
  return WallTime(Duration(q * s));
}

absl::Status ValidateQueryRange(WallTime start, WallTime end, Duration step) {
  if (step <= Duration::zero()) {
    return absl::InvalidArgumentError(
        fmt::format("query: step must be > 0, got {} ns", step.count()));
  }
  if (!(start < end)) {
    return absl::InvalidArgumentError(fmt::format("query: start {} must be before end {}",
                                                  FormatWallTime(start), FormatWallTime(end)));
  }
  return absl::OkStatus();
}

}  // namespace tidegate::history
