// Prometheus backend (see tidegate/history/prometheus_store.h for the mapping and its limits).
#include "tidegate/history/prometheus_store.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "fmt/format.h"
#include "history/json_parse.h"
#include "nlohmann/json.hpp"
#include "tidegate/common/status.h"

namespace tidegate::history {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;
using LabelSet = std::vector<std::pair<std::string, std::string>>;

constexpr Duration kMs = milliseconds(1);

bool IsWholeMillis(Duration d) { return d % kMs == Duration::zero(); }
bool IsWholeMillis(WallTime t) { return IsWholeMillis(t.time_since_epoch()); }

// Seconds with millisecond decimals, as the HTTP API takes them ("1700000000.123").
std::string PromTimestamp(WallTime t) {
  const int64_t ms = std::chrono::floor<milliseconds>(t.time_since_epoch()).count();
  const int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  return fmt::format("{}.{:03}", sec, ms - sec * 1000);
}

absl::Status ErrorFromPrometheus(std::string_view what, std::string_view type,
                                 std::string_view error) {
  const std::string message = fmt::format("{}: Prometheus error ({}): {}", what, type, error);
  if (type == "bad_data") return absl::InvalidArgumentError(message);
  if (type == "timeout") return absl::DeadlineExceededError(message);
  if (type == "canceled") return absl::CancelledError(message);
  if (type == "unavailable") return absl::UnavailableError(message);
  if (type == "not_found") return absl::NotFoundError(message);
  return absl::InternalError(message);
}

// Parses a Prometheus API envelope; returns its "data" member.
absl::StatusOr<Json> ParseEnvelope(std::string_view what, std::string_view body) {
  Json doc = ParseJsonOrDiscard<Json>(body);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InternalError(fmt::format("{}: response is not a JSON object: {}", what,
                                           body.substr(0, std::min<size_t>(body.size(), 200))));
  }
  const auto status = doc.find("status");
  if (status == doc.end() || !status->is_string()) {
    return absl::InternalError(fmt::format("{}: response has no \"status\"", what));
  }
  if (*status != "success") {
    const auto type = doc.find("errorType");
    const auto error = doc.find("error");
    return ErrorFromPrometheus(
        what, type != doc.end() && type->is_string() ? type->get<std::string>() : "unknown",
        error != doc.end() && error->is_string() ? error->get<std::string>() : "(no message)");
  }
  const auto data = doc.find("data");
  if (data == doc.end())
    return absl::InternalError(fmt::format("{}: response has no \"data\"", what));
  return std::move(*data);
}

// OK for a 2xx response. Otherwise Prometheus' own error when the body is its JSON error
// envelope, or the HTTP status mapped by StatusFromHttp.
absl::Status CheckHttp(std::string_view what, const HttpResponse& response) {
  if (response.status >= 200 && response.status < 300) return absl::OkStatus();
  absl::StatusOr<Json> parsed = ParseEnvelope(what, response.body);
  if (!parsed.ok() && parsed.status().code() != absl::StatusCode::kInternal) {
    return parsed.status();
  }
  return StatusFromHttp(what, response);
}

absl::StatusOr<LabelSet> ParseLabels(std::string_view what, const Json& metric) {
  if (!metric.is_object()) {
    return absl::InternalError(fmt::format("{}: a label set is not an object", what));
  }
  LabelSet labels;
  for (const auto& [k, v] : metric.items()) {
    if (!v.is_string()) {
      return absl::InternalError(fmt::format("{}: label {} is not a string", what, k));
    }
    labels.emplace_back(k, v.get<std::string>());
  }
  std::sort(labels.begin(), labels.end());
  return labels;
}

std::string_view LabelValue(const LabelSet& labels, std::string_view name) {
  for (const auto& [k, v] : labels) {
    if (k == name) return v;
  }
  return "";
}

// Parses a [<seconds>, "<value>"] pair.
absl::StatusOr<Point> ParsePoint(std::string_view what, const Json& pair, Duration shift) {
  if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number() || !pair[1].is_string()) {
    return absl::InternalError(
        fmt::format("{}: a point is not [<time>, \"<value>\"]: {}", what, pair.dump()));
  }
  const double seconds = pair[0].get<double>();
  const std::string text = pair[1].get<std::string>();
  double value = 0;
  if (text == "NaN") {
    value = std::numeric_limits<double>::quiet_NaN();
  } else if (text == "+Inf" || text == "-Inf") {
    value = text[0] == '+' ? HUGE_VAL : -HUGE_VAL;
  } else {
    char* end = nullptr;
    value = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || text.empty()) {
      return absl::InternalError(fmt::format("{}: bad sample value \"{}\"", what, text));
    }
  }
  return Point{WallTime(milliseconds(std::llround(seconds * 1000))) + shift, value};
}

double Aggregate(Aggregation aggregation, const std::vector<Point>& points) {
  double acc = 0;
  switch (aggregation) {
    case Aggregation::kSum:
    case Aggregation::kMean:
      for (const Point& p : points) acc += p.value;
      return aggregation == Aggregation::kSum ? acc : acc / static_cast<double>(points.size());
    case Aggregation::kMin:
      acc = points.front().value;
      for (const Point& p : points) acc = std::min(acc, p.value);
      return acc;
    case Aggregation::kMax:
      acc = points.front().value;
      for (const Point& p : points) acc = std::max(acc, p.value);
      return acc;
    case Aggregation::kCount:
      return static_cast<double>(points.size());
    case Aggregation::kLast:
      return points.back().value;
  }
  return acc;
}

std::string DescribeLabelSets(const std::vector<PromSeries>& series) {
  std::string out;
  for (const PromSeries& s : series) {
    if (!out.empty()) out += "; ";
    for (size_t i = 0; i < s.labels.size(); ++i) {
      out += fmt::format("{}{}={}", i ? "," : "{", s.labels[i].first,
                         PromQlString(s.labels[i].second));
    }
    out += "}";
  }
  return out;
}

}  // namespace

std::string PromQlString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string_view PromQlOverTime(Aggregation aggregation) {
  switch (aggregation) {
    case Aggregation::kSum:
      return "sum_over_time";
    case Aggregation::kMean:
      return "avg_over_time";
    case Aggregation::kMin:
      return "min_over_time";
    case Aggregation::kMax:
      return "max_over_time";
    case Aggregation::kCount:
      return "count_over_time";
    case Aggregation::kLast:
      return "last_over_time";
  }
  return "sum_over_time";
}

std::string PromQlDuration(Duration d) {
  return fmt::format("{}ms", std::chrono::duration_cast<milliseconds>(d).count());
}

absl::StatusOr<std::vector<PromSeries>> ParseQueryRangeResponse(std::string_view body,
                                                                Duration shift) {
  constexpr std::string_view kWhat = "Prometheus query";
  TIDEGATE_ASSIGN_OR_RETURN(Json data, ParseEnvelope(kWhat, body));
  const auto type = data.find("resultType");
  const auto result = data.find("result");
  if (type == data.end() || *type != "matrix" || result == data.end() || !result->is_array()) {
    return absl::InternalError(
        fmt::format("{}: expected a \"matrix\" result, got {}", kWhat, data.dump().substr(0, 200)));
  }
  std::vector<PromSeries> out;
  for (const Json& entry : *result) {
    PromSeries series;
    const auto metric = entry.find("metric");
    const auto values = entry.find("values");
    if (metric == entry.end() || values == entry.end() || !values->is_array()) {
      return absl::InternalError(fmt::format("{}: a series lacks \"metric\" or \"values\"", kWhat));
    }
    TIDEGATE_ASSIGN_OR_RETURN(series.labels, ParseLabels(kWhat, *metric));
    for (const Json& pair : *values) {
      TIDEGATE_ASSIGN_OR_RETURN(Point p, ParsePoint(kWhat, pair, shift));
      series.points.push_back(p);
    }
    out.push_back(std::move(series));
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<std::pair<std::string, std::string>>>> ParseSeriesResponse(
    std::string_view body) {
  constexpr std::string_view kWhat = "Prometheus series";
  TIDEGATE_ASSIGN_OR_RETURN(Json data, ParseEnvelope(kWhat, body));
  if (!data.is_array()) {
    return absl::InternalError(fmt::format("{}: \"data\" is not an array", kWhat));
  }
  std::vector<LabelSet> out;
  for (const Json& metric : data) {
    TIDEGATE_ASSIGN_OR_RETURN(LabelSet labels, ParseLabels(kWhat, metric));
    out.push_back(std::move(labels));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<PrometheusStore>> PrometheusStore::Create(
    PrometheusStoreOptions options) {
  if (options.base_url.empty()) {
    return absl::InvalidArgumentError("prometheus store: base_url is required");
  }
  if (options.max_points_per_request == 0 || options.max_points_per_request > 11'000) {
    return absl::InvalidArgumentError(
        fmt::format("prometheus store: max_points_per_request must be in [1, 11000], got {}",
                    options.max_points_per_request));
  }
  TIDEGATE_ASSIGN_OR_RETURN(
      std::unique_ptr<HttpClient> http,
      HttpClient::Create({.timeout = options.timeout, .connect_timeout = options.timeout}));
  if (options.buffer == nullptr) options.buffer = std::make_shared<ExpositionBuffer>();
  return std::unique_ptr<PrometheusStore>(new PrometheusStore(std::move(options), std::move(http)));
}

PrometheusStore::PrometheusStore(PrometheusStoreOptions options, std::unique_ptr<HttpClient> http)
    : options_(std::move(options)), http_(std::move(http)), buffer_(options_.buffer) {}

std::string PrometheusStore::Selector(const SeriesKey& series) const {
  std::string selector = fmt::format("{}{{tenant={},class={}",
                                     ExpositionName(series.metric, buffer_->options().prefix),
                                     PromQlString(series.tenant), PromQlString(series.class_key));
  if (!options_.selector.empty()) selector += "," + options_.selector;
  selector += "}";
  return selector;
}

absl::Status PrometheusStore::Append(const SampleBatch& batch) {
  TIDEGATE_RETURN_IF_ERROR(ValidateBatch(batch));
  return buffer_->Add(batch);
}

absl::StatusOr<std::vector<Point>> PrometheusStore::Query(const SeriesKey& series, WallTime start,
                                                          WallTime end, Duration step,
                                                          Aggregation aggregation) {
  TIDEGATE_RETURN_IF_ERROR(ValidateSeriesKey(series));
  TIDEGATE_RETURN_IF_ERROR(ValidateQueryRange(start, end, step));
  if (!IsWholeMillis(start) || !IsWholeMillis(end) || !IsWholeMillis(step)) {
    return absl::InvalidArgumentError(fmt::format(
        "prometheus store: start, end and step must be whole milliseconds (got {}, {}, {} ns)",
        FormatWallTime(start), FormatWallTime(end), step.count()));
  }
  const std::string selector = Selector(series);
  const std::string what = fmt::format("Prometheus query of {}", series.ToString());
  std::vector<Point> out;

  // Checks that at most one series answered and returns its points.
  auto single = [&](std::vector<PromSeries> result) -> absl::StatusOr<std::vector<Point>> {
    if (result.size() > 1) {
      return absl::FailedPreconditionError(
          fmt::format("{}: {} series match (set PrometheusStoreOptions.selector to pick one): {}",
                      what, result.size(), DescribeLabelSets(result)));
    }
    if (result.empty()) return std::vector<Point>();
    return std::move(result.front().points);
  };

  // A partial bucket [from, to) (to - from < step): raw samples over the range, aggregated here.
  auto partial = [&](WallTime bucket, WallTime from, WallTime to) -> absl::Status {
    const WallTime eval = to - kMs;
    const Duration range = std::max<Duration>(kMs, eval - from);
    const std::string query = fmt::format("{}[{}]", selector, PromQlDuration(range));
    TIDEGATE_ASSIGN_OR_RETURN(
        HttpResponse response,
        http_->Get(BuildUrl(options_.base_url, "/api/v1/query",
                            {{"query", query}, {"time", PromTimestamp(eval)}})));
    TIDEGATE_RETURN_IF_ERROR(CheckHttp(what, response));
    TIDEGATE_ASSIGN_OR_RETURN(std::vector<PromSeries> result,
                              ParseQueryRangeResponse(response.body, Duration::zero()));
    TIDEGATE_ASSIGN_OR_RETURN(std::vector<Point> raw, single(std::move(result)));
    std::erase_if(raw, [&](const Point& p) { return p.time < from || p.time >= to; });
    if (!raw.empty()) out.push_back(Point{bucket, Aggregate(aggregation, raw)});
    return absl::OkStatus();
  };

  // Buckets [b, b + step) meeting [start, end): a partial head bucket when start is not aligned,
  // a partial tail bucket when end is not, full buckets in between.
  const WallTime first_bucket = AlignDown(start, step);
  WallTime full_from = first_bucket;
  if (first_bucket < start) {
    TIDEGATE_RETURN_IF_ERROR(partial(first_bucket, start, std::min(end, first_bucket + step)));
    full_from = first_bucket + step;
  }
  const WallTime full_to = std::max(full_from, AlignDown(end, step));
  const std::string query =
      fmt::format("{}({}[{}])", PromQlOverTime(aggregation), selector, PromQlDuration(step - kMs));
  const int64_t buckets = (full_to - full_from) / step;
  for (int64_t done = 0; done < buckets;) {
    const int64_t n =
        std::min<int64_t>(buckets - done, static_cast<int64_t>(options_.max_points_per_request));
    const WallTime first_eval = full_from + step * done + step - kMs;
    const WallTime last_eval = first_eval + step * (n - 1);
    TIDEGATE_ASSIGN_OR_RETURN(HttpResponse response,
                              http_->Get(BuildUrl(options_.base_url, "/api/v1/query_range",
                                                  {{"query", query},
                                                   {"start", PromTimestamp(first_eval)},
                                                   {"end", PromTimestamp(last_eval)},
                                                   {"step", PromTimestamp(WallTime(step))}})));
    TIDEGATE_RETURN_IF_ERROR(CheckHttp(what, response));
    // A point evaluated at b + step - 1 ms belongs to the bucket starting at b.
    TIDEGATE_ASSIGN_OR_RETURN(std::vector<PromSeries> result,
                              ParseQueryRangeResponse(response.body, kMs - step));
    TIDEGATE_ASSIGN_OR_RETURN(std::vector<Point> points, single(std::move(result)));
    out.insert(out.end(), points.begin(), points.end());
    done += n;
  }
  const WallTime tail_bucket = AlignDown(end, step);
  if (tail_bucket < end && tail_bucket >= full_from) {
    TIDEGATE_RETURN_IF_ERROR(partial(tail_bucket, tail_bucket, end));
  }
  return out;
}

absl::StatusOr<std::vector<SeriesKey>> PrometheusStore::ListSeries(const SeriesFilter& filter) {
  const std::string& prefix = buffer_->options().prefix;
  std::string match;
  if (filter.metric.has_value()) {
    match = fmt::format("{{__name__={}", PromQlString(ExpositionName(*filter.metric, prefix)));
  } else {
    // The prefix is [a-zA-Z_:][a-zA-Z0-9_:]* in practice; quote anything else for RE2 anyway.
    std::string regex;
    for (char c : prefix) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') regex.push_back('\\');
      regex.push_back(c);
    }
    match = fmt::format("{{__name__=~{}", PromQlString(regex + ".+"));
  }
  if (filter.tenant.has_value()) match += ",tenant=" + PromQlString(*filter.tenant);
  if (filter.class_key.has_value()) match += ",class=" + PromQlString(*filter.class_key);
  if (!options_.selector.empty()) match += "," + options_.selector;
  match += "}";
  TIDEGATE_ASSIGN_OR_RETURN(
      HttpResponse response,
      http_->Get(BuildUrl(options_.base_url, "/api/v1/series", {{"match[]", match}})));
  TIDEGATE_RETURN_IF_ERROR(CheckHttp("Prometheus series", response));
  TIDEGATE_ASSIGN_OR_RETURN(std::vector<LabelSet> sets, ParseSeriesResponse(response.body));
  std::set<SeriesKey> keys;
  for (const LabelSet& labels : sets) {
    std::string_view name = LabelValue(labels, "__name__");
    if (name.substr(0, prefix.size()) != prefix) continue;
    SeriesKey key{std::string(name.substr(prefix.size())),
                  std::string(LabelValue(labels, "tenant")),
                  std::string(LabelValue(labels, "class"))};
    if (ValidateSeriesKey(key).ok() && filter.Matches(key)) keys.insert(std::move(key));
  }
  return std::vector<SeriesKey>(keys.begin(), keys.end());
}

absl::Status PrometheusStore::DeleteSeries(const SeriesKey& series) {
  TIDEGATE_RETURN_IF_ERROR(ValidateSeriesKey(series));
  buffer_->Remove(series);
  const std::string body = fmt::format("match[]={}", UrlEncode(Selector(series)));
  TIDEGATE_ASSIGN_OR_RETURN(
      HttpResponse response,
      http_->Post(BuildUrl(options_.base_url, "/api/v1/admin/tsdb/delete_series", {}), body,
                  "application/x-www-form-urlencoded"));
  return CheckHttp("Prometheus delete_series", response);
}

absl::Status PrometheusStore::ApplyRetention(WallTime) { return absl::OkStatus(); }

}  // namespace tidegate::history
