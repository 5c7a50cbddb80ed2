// InfluxDB 1.x backend (see tidegate/history/influx_store.h for the mapping and its rules).
#include "tidegate/history/influx_store.h"

#include <algorithm>
#include <map>
#include <set>

#include "fmt/format.h"
#include "history/json_parse.h"
#include "nlohmann/json.hpp"
#include "tidegate/common/status.h"

namespace tidegate::history {
namespace {

using Json = nlohmann::json;

// InfluxDB's line-protocol scanner pairs backslashes from the left (`\x` always consumes x) and
// then unescapes only `\,`, `\=` and `\ `. So a run of backslashes of odd length right before
// `,`, `=`, space or the end of the value would swallow the separator: such values, and newlines,
// cannot be written faithfully.
absl::Status CheckTag(std::string_view name, std::string_view value, const SeriesKey& key) {
  if (value.find_first_of("\r\n") != std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format(
        "series {}: the {} contains a newline, which InfluxDB line protocol cannot carry",
        key.ToString(), name));
  }
  size_t run = 0;
  for (size_t i = 0; i <= value.size(); ++i) {
    const char c = i < value.size() ? value[i] : '\0';
    if (c == '\\') {
      ++run;
      continue;
    }
    if (run % 2 == 1 && (c == ',' || c == '=' || c == ' ' || i == value.size())) {
      return absl::InvalidArgumentError(fmt::format(
          "series {}: the {} has an odd run of backslashes before {}, which InfluxDB line "
          "protocol cannot carry",
          key.ToString(), name, i == value.size() ? "its end" : fmt::format("'{}'", c)));
    }
    run = 0;
  }
  return absl::OkStatus();
}

// The series part of a line: measurement and non-empty tags, tags sorted by key (InfluxDB's
// canonical order, so writes do not pay for sorting).
absl::StatusOr<std::string> SeriesLinePrefix(const SeriesKey& key) {
  TIDEGATE_RETURN_IF_ERROR(CheckTag("tenant", key.tenant, key));
  TIDEGATE_RETURN_IF_ERROR(CheckTag("class", key.class_key, key));
  std::string out = EscapeMeasurement(key.metric);
  if (!key.class_key.empty()) out += ",class=" + EscapeTag(key.class_key);
  if (!key.tenant.empty()) out += ",tenant=" + EscapeTag(key.tenant);
  return out;
}

std::string WhereSeries(const SeriesKey& key) {
  return fmt::format("{}={} AND {}={}", InfluxQlIdentifier("tenant"), InfluxQlString(key.tenant),
                     InfluxQlIdentifier("class"), InfluxQlString(key.class_key));
}

// An InfluxQL duration literal in the largest unit that divides it exactly.
std::string InfluxQlDuration(Duration d) {
  const int64_t ns = d.count();
  if (ns % 1'000'000'000 == 0) return fmt::format("{}s", ns / 1'000'000'000);
  if (ns % 1'000'000 == 0) return fmt::format("{}ms", ns / 1'000'000);
  if (ns % 1'000 == 0) return fmt::format("{}u", ns / 1'000);
  return fmt::format("{}ns", ns);
}

// Parses a /query answer; returns results[index] after checking for errors.
absl::StatusOr<Json> StatementResult(std::string_view body, size_t index) {
  Json doc = ParseJsonOrDiscard<Json>(body);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InternalError(fmt::format("InfluxDB query: response is not a JSON object: {}",
                                           body.substr(0, std::min<size_t>(body.size(), 200))));
  }
  if (auto error = doc.find("error"); error != doc.end()) {
    return absl::InvalidArgumentError(fmt::format("InfluxDB query: {}", error->dump()));
  }
  const auto results = doc.find("results");
  if (results == doc.end() || !results->is_array() || results->size() <= index) {
    return absl::InternalError(fmt::format("InfluxDB query: response has no results[{}]: {}", index,
                                           body.substr(0, std::min<size_t>(body.size(), 200))));
  }
  Json& result = (*results)[index];
  if (auto error = result.find("error"); error != result.end()) {
    return absl::InvalidArgumentError(
        fmt::format("InfluxDB query: statement {}: {}", index,
                    error->is_string() ? error->get<std::string>() : error->dump()));
  }
  return std::move(result);
}

}  // namespace

std::string EscapeMeasurement(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ',' || c == ' ') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string EscapeTag(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ',' || c == '=' || c == ' ') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

absl::StatusOr<std::string> EncodeLineProtocol(const SampleBatch& batch) {
  std::string out;
  out.reserve(batch.SampleCount() * 64);
  for (const SeriesSamples& entry : batch.series) {
    TIDEGATE_ASSIGN_OR_RETURN(std::string prefix, SeriesLinePrefix(entry.series));
    for (const Sample& s : entry.samples) {
      out += prefix;
      // A float field: the shortest decimal that reads back to the same double, never an integer
      // literal (which would make the field an integer and later float writes fail).
      const std::string value = fmt::format("{}", s.value);
      const bool integral = value.find_first_of(".eEn") == std::string::npos;
      fmt::format_to(std::back_inserter(out), " value={}{} {}\n", value, integral ? ".0" : "",
                     s.time.time_since_epoch().count());
    }
  }
  return out;
}

absl::StatusOr<SeriesKey> ParseInfluxSeriesKey(std::string_view key) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format("InfluxDB series key \"{}\": {}", key, why));
  };
  // Split as InfluxDB's scanner does: a backslash always takes the next byte with it.
  std::vector<std::string_view> parts;
  size_t begin = 0;
  for (size_t i = 0; i < key.size(); ++i) {
    if (key[i] == '\\') {
      ++i;
    } else if (key[i] == ',') {
      parts.push_back(key.substr(begin, i - begin));
      begin = i + 1;
    }
  }
  parts.push_back(key.substr(begin));
  // Then unescape only `\,`, `\=` and `\ ` (InfluxDB keeps any other backslash).
  auto unescape = [](std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\\' && i + 1 < s.size() &&
          (s[i + 1] == ',' || s[i + 1] == '=' || s[i + 1] == ' ')) {
        ++i;
      }
      out.push_back(s[i]);
    }
    return out;
  };
  SeriesKey result;
  result.metric = unescape(parts[0]);
  if (result.metric.empty()) return bad("empty measurement");
  for (size_t p = 1; p < parts.size(); ++p) {
    const std::string_view tag = parts[p];
    size_t eq = std::string_view::npos;
    for (size_t i = 0; i < tag.size(); ++i) {
      if (tag[i] == '\\') {
        ++i;
      } else if (tag[i] == '=') {
        eq = i;
        break;
      }
    }
    if (eq == std::string_view::npos) return bad(fmt::format("tag \"{}\" has no '='", tag));
    const std::string name = unescape(tag.substr(0, eq));
    const std::string value = unescape(tag.substr(eq + 1));
    if (name == "tenant") {
      result.tenant = value;
    } else if (name == "class") {
      result.class_key = value;
    } else {
      return bad(fmt::format("unexpected tag \"{}\"", name));
    }
  }
  return result;
}

std::string InfluxQlIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string InfluxQlString(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

std::string_view InfluxQlFunction(Aggregation aggregation) {
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
  return "sum";
}

absl::StatusOr<std::vector<Point>> ParseInfluxPoints(std::string_view body, size_t index) {
  TIDEGATE_ASSIGN_OR_RETURN(Json result, StatementResult(body, index));
  std::vector<Point> points;
  const auto series = result.find("series");
  if (series == result.end()) return points;  // No data.
  if (!series->is_array()) return absl::InternalError("InfluxDB query: \"series\" is not an array");
  for (const Json& s : *series) {
    const auto values = s.find("values");
    if (values == s.end() || !values->is_array()) {
      return absl::InternalError("InfluxDB query: a series has no \"values\" array");
    }
    for (const Json& row : *values) {
      if (!row.is_array() || row.size() < 2 || !row[0].is_number_integer()) {
        return absl::InternalError(
            fmt::format("InfluxDB query: a row is not [<ns>, <value>]: {}", row.dump()));
      }
      if (row[1].is_null()) continue;  // An empty bucket (fill(null)); we ask for fill(none).
      if (!row[1].is_number()) {
        return absl::InternalError(
            fmt::format("InfluxDB query: a value is not a number: {}", row.dump()));
      }
      points.push_back(Point{WallTime(Duration(row[0].get<int64_t>())), row[1].get<double>()});
    }
  }
  std::sort(points.begin(), points.end(),
            [](const Point& a, const Point& b) { return a.time < b.time; });
  return points;
}

absl::StatusOr<std::unique_ptr<InfluxStore>> InfluxStore::Create(InfluxStoreOptions options) {
  if (options.base_url.empty()) {
    return absl::InvalidArgumentError("influx store: base_url is required");
  }
  if (options.database.empty()) {
    return absl::InvalidArgumentError("influx store: database must not be empty");
  }
  if (options.retention < Duration::zero()) {
    return absl::InvalidArgumentError("influx store: retention must be >= 0");
  }
  TIDEGATE_ASSIGN_OR_RETURN(
      std::unique_ptr<HttpClient> http,
      HttpClient::Create({.timeout = options.timeout, .connect_timeout = options.timeout}));
  std::unique_ptr<InfluxStore> store(new InfluxStore(std::move(options), std::move(http)));
  if (store->options_.create_database) {
    std::string statement =
        fmt::format("CREATE DATABASE {}", InfluxQlIdentifier(store->options_.database));
    if (store->options_.retention > Duration::zero()) {
      statement += fmt::format(" WITH DURATION {}", InfluxQlDuration(store->options_.retention));
    }
    TIDEGATE_ASSIGN_OR_RETURN(std::string body,
                              store->RunQuery("InfluxDB create database", statement, true));
    TIDEGATE_RETURN_IF_ERROR(StatementResult(body, 0).status());
  }
  return store;
}

absl::StatusOr<std::string> InfluxStore::RunQuery(std::string_view what,
                                                  const std::string& influxql, bool post) {
  (void)post;  // Always POST: InfluxDB accepts every statement that way and q may be long.
  const std::string form =
      fmt::format("db={}&epoch=ns&q={}", UrlEncode(options_.database), UrlEncode(influxql));
  TIDEGATE_ASSIGN_OR_RETURN(HttpResponse response,
                            http_->Post(BuildUrl(options_.base_url, "/query", {}), form,
                                        "application/x-www-form-urlencoded"));
  if (response.status / 100 != 2) {
    // InfluxDB explains itself in {"error": "..."}; keep its words.
    Json doc = ParseJsonOrDiscard<Json>(response.body);
    if (!doc.is_discarded() && doc.is_object() && doc.contains("error") && response.status < 500) {
      return absl::InvalidArgumentError(fmt::format("{}: {}", what, doc["error"].dump()));
    }
    return StatusFromHttp(what, response);
  }
  return std::move(response.body);
}

absl::Status InfluxStore::CheckDuplicates(const SampleBatch& batch) {
  // Per series: the batch's values by time (a series may span several entries).
  std::map<SeriesKey, std::map<WallTime, double>> wanted;
  for (const SeriesSamples& entry : batch.series) {
    std::map<WallTime, double>& times = wanted[entry.series];
    for (const Sample& s : entry.samples) {
      const auto [it, inserted] = times.try_emplace(s.time, s.value);
      if (!inserted && it->second != s.value) {
        return absl::AlreadyExistsError(
            fmt::format("series {} at {}: the batch holds two values, {} and {}",
                        entry.series.ToString(), FormatWallTime(s.time), it->second, s.value));
      }
    }
  }
  std::erase_if(wanted, [](const auto& kv) { return kv.second.empty(); });
  if (wanted.empty()) return absl::OkStatus();
  std::string statements;
  for (const auto& [key, times] : wanted) {
    if (!statements.empty()) statements += ";";
    statements += fmt::format("SELECT {} FROM {} WHERE {} AND time >= {} AND time <= {}",
                              InfluxQlIdentifier("value"), InfluxQlIdentifier(key.metric),
                              WhereSeries(key), times.begin()->first.time_since_epoch().count(),
                              times.rbegin()->first.time_since_epoch().count());
  }
  TIDEGATE_ASSIGN_OR_RETURN(std::string body,
                            RunQuery("InfluxDB duplicate check", statements, false));
  size_t index = 0;
  for (const auto& [key, times] : wanted) {
    TIDEGATE_ASSIGN_OR_RETURN(std::vector<Point> existing, ParseInfluxPoints(body, index++));
    for (const Point& p : existing) {
      const auto it = times.find(p.time);
      if (it != times.end() && it->second != p.value) {
        return absl::AlreadyExistsError(
            fmt::format("series {} at {}: value {} conflicts with {} already stored",
                        key.ToString(), FormatWallTime(p.time), it->second, p.value));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status InfluxStore::Append(const SampleBatch& batch) {
  TIDEGATE_RETURN_IF_ERROR(ValidateBatch(batch));
  if (batch.SampleCount() == 0) return absl::OkStatus();
  TIDEGATE_ASSIGN_OR_RETURN(std::string lines, EncodeLineProtocol(batch));
  if (options_.check_duplicates) TIDEGATE_RETURN_IF_ERROR(CheckDuplicates(batch));
  TIDEGATE_ASSIGN_OR_RETURN(HttpResponse response,
                            http_->Post(BuildUrl(options_.base_url, "/write",
                                                 {{"db", options_.database}, {"precision", "ns"}}),
                                        lines, "text/plain; charset=utf-8"));
  if (response.status == 204) return absl::OkStatus();
  Json doc = ParseJsonOrDiscard<Json>(response.body);
  if (!doc.is_discarded() && doc.is_object() && doc.contains("error") && response.status < 500) {
    const std::string error =
        doc["error"].is_string() ? doc["error"].get<std::string>() : doc["error"].dump();
    if (error.find("partial write") != std::string::npos) {
      return absl::InternalError(fmt::format("InfluxDB write: {}", error));
    }
    return absl::InvalidArgumentError(fmt::format("InfluxDB write: {}", error));
  }
  return StatusFromHttp("InfluxDB write", response);
}

absl::StatusOr<std::vector<Point>> InfluxStore::Query(const SeriesKey& series, WallTime start,
                                                      WallTime end, Duration step,
                                                      Aggregation aggregation) {
  TIDEGATE_RETURN_IF_ERROR(ValidateSeriesKey(series));
  TIDEGATE_RETURN_IF_ERROR(ValidateQueryRange(start, end, step));
  const std::string statement = fmt::format(
      "SELECT {}({}) FROM {} WHERE {} AND time >= {} AND time < {} GROUP BY time({}) fill(none)",
      InfluxQlFunction(aggregation), InfluxQlIdentifier("value"), InfluxQlIdentifier(series.metric),
      WhereSeries(series), start.time_since_epoch().count(), end.time_since_epoch().count(),
      InfluxQlDuration(step));
  TIDEGATE_ASSIGN_OR_RETURN(std::string body, RunQuery("InfluxDB query", statement, false));
  absl::StatusOr<std::vector<Point>> points = ParseInfluxPoints(body, 0);
  if (!points.ok() && points.status().message().find("database not found") != std::string::npos) {
    return std::vector<Point>();
  }
  return points;
}

absl::StatusOr<std::vector<SeriesKey>> InfluxStore::ListSeries(const SeriesFilter& filter) {
  std::string statement = "SHOW SERIES";
  if (filter.metric.has_value()) statement += " FROM " + InfluxQlIdentifier(*filter.metric);
  std::vector<std::string> conditions;
  if (filter.tenant.has_value()) {
    conditions.push_back(
        fmt::format("{}={}", InfluxQlIdentifier("tenant"), InfluxQlString(*filter.tenant)));
  }
  if (filter.class_key.has_value()) {
    conditions.push_back(
        fmt::format("{}={}", InfluxQlIdentifier("class"), InfluxQlString(*filter.class_key)));
  }
  for (size_t i = 0; i < conditions.size(); ++i) {
    statement += (i == 0 ? " WHERE " : " AND ") + conditions[i];
  }
  TIDEGATE_ASSIGN_OR_RETURN(std::string body, RunQuery("InfluxDB show series", statement, false));
  TIDEGATE_ASSIGN_OR_RETURN(Json result, StatementResult(body, 0));
  std::set<SeriesKey> keys;
  if (auto series = result.find("series"); series != result.end() && series->is_array()) {
    for (const Json& s : *series) {
      const auto values = s.find("values");
      if (values == s.end() || !values->is_array()) continue;
      for (const Json& row : *values) {
        if (!row.is_array() || row.empty() || !row[0].is_string()) continue;
        absl::StatusOr<SeriesKey> key = ParseInfluxSeriesKey(row[0].get<std::string>());
        // Measurements in the database that are not tidegate series are skipped.
        if (key.ok() && ValidateSeriesKey(*key).ok() && filter.Matches(*key)) {
          keys.insert(*std::move(key));
        }
      }
    }
  }
  return std::vector<SeriesKey>(keys.begin(), keys.end());
}

absl::Status InfluxStore::DeleteSeries(const SeriesKey& series) {
  TIDEGATE_RETURN_IF_ERROR(ValidateSeriesKey(series));
  const std::string statement = fmt::format("DROP SERIES FROM {} WHERE {}",
                                            InfluxQlIdentifier(series.metric), WhereSeries(series));
  TIDEGATE_ASSIGN_OR_RETURN(std::string body, RunQuery("InfluxDB drop series", statement, true));
  return StatementResult(body, 0).status();
}

absl::Status InfluxStore::ApplyRetention(WallTime) { return absl::OkStatus(); }

}  // namespace tidegate::history
