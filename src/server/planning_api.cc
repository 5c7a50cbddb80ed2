#include "server/planning_api.h"

#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "fmt/format.h"
#include "tidegate/history/calendar.h"
#include "tidegate/history/history_store.h"
#include "tidegate/history/usage.h"

namespace tidegate::server {
namespace {

using json = nlohmann::json;

ApiResponse Json(int status, const json& body) {
  ApiResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

std::string Time(WallTime t) { return history::FormatWallTime(t); }

// A finite number, or null (an unlimited cap or ceiling).
json Num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

absl::StatusOr<std::string> Decode(std::string_view s, std::string_view what) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i] == '+' && what != "path" ? ' ' : s[i]);
      continue;
    }
    int v = 0;
    if (i + 2 >= s.size()) {
      return absl::InvalidArgumentError(fmt::format("{}: malformed percent escape", what));
    }
    const auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || p != s.data() + i + 3) {
      return absl::InvalidArgumentError(fmt::format("{}: malformed percent escape", what));
    }
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    absl::StatusOr<std::string> key = Decode(item.substr(0, eq), "query");
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> value =
        Decode(eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1), "query");
    if (!value.ok()) return value.status();
    out[*key] = *value;
  }
  return out;
}

absl::StatusOr<WallTime> SinceParam(const std::map<std::string, std::string>& q,
                                    WallTime fallback) {
  auto it = q.find("since");
  if (it == q.end()) return fallback;
  absl::StatusOr<WallTime> t = history::ParseRfc3339(it->second);
  if (!t.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("since: '{}' is not an RFC 3339 time (e.g. 2026-11-29T04:00:00Z)", it->second));
  }
  return *t;
}

std::string_view LimitedBy(const plan::Explanation& why) {
  if (why.reason != plan::Reason::kForecast) return "fallback";
  switch (why.allocation.limit) {
    case plan::Limit::kDemand:
      return "demand";
    case plan::Limit::kCapacity:
      return "capacity";
    case plan::Limit::kTenantQuota:
      return "tenant_quota";
    case plan::Limit::kFloorsScaled:
      return "floors_scaled";
  }
  return "demand";
}

json ExplanationJson(const plan::Explanation& why) {
  return {{"forecast_per_s", why.forecast_per_s},
          {"bias_correction_per_s", why.bias_correction_per_s},
          {"margin", why.margin},
          {"surge", std::string(plan::SurgeModeName(why.surge))},
          {"target_per_s", why.target_per_s},
          {"cap_per_s", Num(why.cap_per_s)},
          {"ceiling_per_s", Num(why.ceiling_per_s)},
          {"demand_per_s", Num(why.demand_per_s)},
          {"spread", Num(why.spread)},
          {"tier", why.tier},
          {"weight", why.weight},
          {"floor_per_s", why.floor_per_s},
          {"limited_by", std::string(LimitedBy(why))}};
}

std::string ReasonString(const plan::Explanation& why) {
  std::string r(plan::ReasonText(why.reason));
  if (why.reason == plan::Reason::kFallbackInvalidForecast && !why.detail.empty()) {
    r += ": " + why.detail;
  }
  return r;
}

// The history class label of a class (as Service::PlanningClasses gives it).
std::string SeriesClass(const ClassInfo& info) {
  history::UsageReport r;
  for (const Entry& e : info.entries) r.descriptors.push_back({e.key, e.value});
  absl::StatusOr<std::string> s = history::UsageClassKey(r);
  return s.ok() ? *s : std::string();
}

// `history=<n>m|h|d`: how far back `actual` goes; nullopt when absent.
absl::StatusOr<std::optional<Duration>> HistoryParam(const std::map<std::string, std::string>& q) {
  auto it = q.find("history");
  if (it == q.end()) return std::nullopt;
  const std::string& v = it->second;
  int64_t n = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  const std::string_view unit(p, static_cast<size_t>(v.data() + v.size() - p));
  const int64_t unit_s = unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : 0;
  if (ec != std::errc() || n <= 0 || unit_s == 0 || n > 366 * 86400 / unit_s) {
    return absl::InvalidArgumentError(fmt::format(
        "history: '{}' is not a duration from 1m to 366d (a whole number of m, h or d, e.g. 30d)",
        v));
  }
  return Duration(std::chrono::seconds(n * unit_s));
}

// `points=<n>`: at most this many `actual` points; nullopt when absent.
absl::StatusOr<std::optional<int64_t>> PointsParam(const std::map<std::string, std::string>& q) {
  auto it = q.find("points");
  if (it == q.end()) return std::nullopt;
  const std::string& v = it->second;
  int64_t n = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 10 || n > 100000) {
    return absl::InvalidArgumentError(
        fmt::format("points: '{}' is not a whole number from 10 to 100000", v));
  }
  return n;
}

// The step of `actual`: the horizon's step, or the first of these multiples of it that keeps the
// window within `points` (a chart needs no more points than it has pixels). Whole hours are
// answered from the store's hourly rollup.
Duration HistoryStep(Duration base, Duration window, std::optional<int64_t> points) {
  if (!points) return base;
  for (const int64_t m : {1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080}) {
    const Duration step = std::max(base, Duration(std::chrono::minutes(m)));
    if ((window + step - Duration(1)) / step <= *points) return step;
  }
  return Duration(std::chrono::minutes(10080));
}

ApiResponse Forecast(Service& service, const Planning* planning, const std::string& key,
                     const std::map<std::string, std::string>& q) {
  std::string horizon = "1h";
  if (auto it = q.find("horizon"); it != q.end()) horizon = it->second;
  if (horizon != "1m" && horizon != "1h" && horizon != "1d") {
    return ErrorResponse(400, "INVALID_ARGUMENT",
                         fmt::format("horizon: '{}' is not one of 1m, 1h, 1d", horizon));
  }
  absl::StatusOr<std::optional<Duration>> history_window = HistoryParam(q);
  if (!history_window.ok()) return ErrorResponse(history_window.status());
  absl::StatusOr<std::optional<int64_t>> max_points = PointsParam(q);
  if (!max_points.ok()) return ErrorResponse(max_points.status());
  absl::StatusOr<ClassInfo> info = service.GetClass(key);
  if (!info.ok()) return ErrorResponse(info.status());
  const Duration base_step =
      horizon == "1d" ? Duration(std::chrono::hours(1)) : Duration(std::chrono::minutes(1));
  const int actual_steps = horizon == "1d" ? 48 : horizon == "1h" ? 120 : 60;
  const Duration window = history_window->value_or(base_step * actual_steps);
  const Duration step = HistoryStep(base_step, window, *max_points);
  std::shared_ptr<const ClassForecastSnapshot> snap = planning ? planning->Forecast(key) : nullptr;
  const HorizonSnapshot* h = snap && !snap->model.empty() ? snap->Horizon(horizon) : nullptr;

  json body = {
      {"class", key},
      {"resource", "requests"},
      {"unit", "requests/s"},
      {"horizon", horizon},
      {"model", h ? json(snap->model) : json(nullptr)},
      {"spec", h ? json(snap->spec) : json(nullptr)},
      {"trained_at", h ? json(Time(snap->trained_at)) : json(nullptr)},
      {"fit_reason", h ? json(std::string(FitReasonName(snap->fit_reason))) : json(nullptr)},
      {"drift_refits", snap ? snap->drift_refits : 0},
      {"last_drift_at",
       snap && snap->last_drift_at ? json(Time(*snap->last_drift_at)) : json(nullptr)},
      {"coverage", h && h->coverage ? json(*h->coverage) : json(nullptr)},
      {"step_s", std::chrono::duration<double>(base_step).count()},
      {"actual_step_s", std::chrono::duration<double>(step).count()},
      {"level", snap ? snap->level : 95.0}};
  json forecast = json::array();
  if (h) {
    for (size_t i = 0; i < h->mean.size(); ++i) {
      forecast.push_back({{"t", Time(h->start + h->step * static_cast<int64_t>(i))},
                          {"mean", h->mean[i]},
                          {"lower", h->lower[i]},
                          {"upper", h->upper[i]}});
    }
  }
  // History over the window up to where the forecast starts, each value the mean rate over its
  // step (over the part of the step inside the window, for a coarse step's last bucket).
  const WallTime end = h ? h->start : history::AlignDown(service.clock().WallNow(), base_step);
  const WallTime start = history::AlignDown(end - window, step);
  json actual = json::array();
  const history::SeriesKey series{std::string(history::kMetricRequests), info->tenant,
                                  SeriesClass(*info)};
  absl::StatusOr<std::vector<history::Point>> points =
      service.store().Query(series, start, end, step, history::Aggregation::kSum);
  if (!points.ok()) return ErrorResponse(points.status());
  if (!points->empty()) {
    size_t next = 0;
    for (WallTime t = points->front().time; t < end; t += step) {
      double v = 0;
      if (next < points->size() && (*points)[next].time == t) v = (*points)[next++].value;
      const double seconds = std::chrono::duration<double>(std::min(t + step, end) - t).count();
      actual.push_back({{"t", Time(t)}, {"value", v / seconds}});
    }
  }
  json anomalies = json::array();
  if (planning) {
    for (const AnomalyEvent& e : planning->Anomalies(start, key)) {
      anomalies.push_back({{"t", Time(e.t)},
                           {"value", e.value_per_s},
                           {"score", e.score},
                           {"kind", std::string(anomaly::AnomalyKindName(e.kind))}});
    }
  }
  if (planning) {
    const LstmStatus lstm = planning->Lstm();
    const auto time_or_null = [](const std::optional<WallTime>& t) {
      return t ? json(Time(*t)) : json(nullptr);
    };
    body["lstm"] = {{"state", lstm.state},
                    {"message", lstm.message},
                    {"trained_at", time_or_null(lstm.trained_at)},
                    {"fine_tuned_at", time_or_null(lstm.fine_tuned_at)},
                    {"series", lstm.series},
                    {"steps", lstm.steps},
                    {"last_round_seconds", lstm.last_round_seconds}};
  }
  body["actual"] = std::move(actual);
  body["forecast"] = std::move(forecast);
  body["anomalies"] = std::move(anomalies);
  return Json(200, body);
}

ApiResponse Plans(Service& service, const Planning* planning, const std::string& key,
                  const std::map<std::string, std::string>& q) {
  absl::StatusOr<ClassInfo> info = service.GetClass(key);
  if (!info.ok()) return ErrorResponse(info.status());
  absl::StatusOr<WallTime> since = SinceParam(q, WallTime{});
  if (!since.ok()) return ErrorResponse(since.status());
  json points = json::array();
  if (planning) {
    absl::StatusOr<std::vector<PlanPoint>> history = planning->PlanHistory(key, *since);
    if (history.ok()) {
      for (const PlanPoint& p : *history) {
        points.push_back({{"t", Time(p.t)},
                          {"rate_per_s", p.rate_per_s},
                          {"size", p.size},
                          {"applied", p.applied},
                          {"reason", ReasonString(p.why)},
                          {"explanation", ExplanationJson(p.why)}});
      }
    }
  }
  return Json(200, {{"class", key}, {"points", std::move(points)}});
}

// The tenant of every class, by ClassKey::ToString() key: list elements carry it, so that a
// tenant-restricted token's view of a list keeps exactly its tenants' elements (auth.cc).
std::unordered_map<std::string, std::string> TenantsByKey(Service& service) {
  std::unordered_map<std::string, std::string> out;
  for (const ClassInfo& c : service.ListClasses()) out.emplace(c.key, c.tenant);
  return out;
}

ApiResponse CurrentPlan(Service& service, const Planning* planning) {
  json tick = nullptr;
  json capacity = json::array();
  json classes = json::array();
  if (planning) {
    if (std::optional<TickInfo> t = planning->LastTick()) {
      tick = {{"t", Time(t->t)},
              {"duration_ms", t->duration_ms},
              {"classes", t->classes},
              {"fallbacks", t->fallbacks}};
      for (int r = 0; r < plan::kNumResources; ++r) {
        const auto u = static_cast<size_t>(r);
        if (!std::isfinite(t->capacity[u])) continue;
        json by_tier = json::array();
        for (const plan::ResourceVector& tier : t->committed_by_tier) by_tier.push_back(tier[u]);
        capacity.push_back({{"resource", std::string(plan::ResourceName(r))},
                            {"capacity", t->capacity[u]},
                            {"reserve_fraction", t->reserve_fraction},
                            {"committed", t->committed[u]},
                            {"by_tier", std::move(by_tier)}});
      }
    }
    const std::unordered_map<std::string, std::string> tenants = TenantsByKey(service);
    for (const CurrentClassPlan& c : planning->CurrentPlan()) {
      const auto tenant = tenants.find(c.key);
      classes.push_back({{"class", c.key},
                         {"tenant", tenant == tenants.end() ? json(nullptr) : json(tenant->second)},
                         {"rate_per_s", c.point.rate_per_s},
                         {"size", c.point.size},
                         {"tier", c.point.why.tier},
                         {"applied", c.point.applied},
                         {"reason", ReasonString(c.point.why)},
                         {"explanation", ExplanationJson(c.point.why)}});
    }
  }
  return Json(200, {{"tick", tick}, {"capacity", capacity}, {"classes", classes}});
}

ApiResponse Anomalies(Service& service, const Planning* planning,
                      const std::map<std::string, std::string>& q) {
  absl::StatusOr<WallTime> since =
      SinceParam(q, service.clock().WallNow() - std::chrono::hours(24));
  if (!since.ok()) return ErrorResponse(since.status());
  std::string key;
  if (auto it = q.find("class"); it != q.end()) {
    key = it->second;
    absl::StatusOr<ClassInfo> info = service.GetClass(key);
    if (!info.ok()) return ErrorResponse(info.status());
  }
  json out = json::array();
  if (planning) {
    const std::unordered_map<std::string, std::string> tenants = TenantsByKey(service);
    for (const AnomalyEvent& e : planning->Anomalies(*since, key)) {
      const auto tenant = tenants.find(e.key);
      out.push_back({{"class", e.key},
                     {"tenant", tenant == tenants.end() ? json(nullptr) : json(tenant->second)},
                     {"t", Time(e.t)},
                     {"value", e.value_per_s},
                     {"score", e.score},
                     {"kind", std::string(anomaly::AnomalyKindName(e.kind))}});
    }
  }
  return Json(200, {{"anomalies", std::move(out)}});
}

ApiResponse Tenants(Service& service) {
  const std::shared_ptr<const Config> config = service.config();
  struct Totals {
    size_t classes = 0;
    uint64_t admitted = 0, refused = 0;
  };
  std::map<std::string, Totals> totals;
  for (const DomainConfig& d : config->domains) totals[d.domain];
  for (const TenantSpec& t : config->tenants) totals[t.name];
  for (const ClassInfo& c : service.ListClasses()) {
    Totals& t = totals[c.tenant];
    ++t.classes;
    t.admitted += c.admitted;
    t.refused += c.refused;
  }
  json out = json::array();
  for (const auto& [name, t] : totals) {
    const TenantSpec* spec = config->FindTenant(name);
    out.push_back(
        {{"name", name},
         {"quota_per_s", spec && spec->quota ? json(spec->quota->rate_per_s()) : json(nullptr)},
         {"priority", spec ? spec->priority : kDefaultPriority},
         {"weight", spec ? spec->weight : 1.0},
         {"classes", t.classes},
         {"admitted", t.admitted},
         {"refused", t.refused}});
  }
  return Json(200, {{"tenants", std::move(out)}});
}

}  // namespace

std::optional<ApiResponse> HandlePlanningRoute(Service& service, const Planning* planning,
                                               std::string_view method, std::string_view path,
                                               std::string_view query) {
  constexpr std::string_view kClasses = "/v1/classes/";
  enum class Route { kNone, kForecast, kPlans, kPlan, kAnomalies, kTenants };
  Route route = Route::kNone;
  std::string_view key;
  if (path == "/v1/plan") {
    route = Route::kPlan;
  } else if (path == "/v1/anomalies") {
    route = Route::kAnomalies;
  } else if (path == "/v1/tenants") {
    route = Route::kTenants;
  } else if (path.starts_with(kClasses) && path.ends_with("/forecast")) {
    route = Route::kForecast;
    key = path.substr(kClasses.size(), path.size() - kClasses.size() - 9);
  } else if (path.starts_with(kClasses) && path.ends_with("/plans")) {
    route = Route::kPlans;
    key = path.substr(kClasses.size(), path.size() - kClasses.size() - 6);
  }
  if (route == Route::kNone) return std::nullopt;
  if (method != "GET") {
    ApiResponse r = ErrorResponse(405, "INVALID_ARGUMENT",
                                  fmt::format("{} {}: method not allowed (use GET)", method, path));
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  absl::StatusOr<std::map<std::string, std::string>> q = ParseQuery(query);
  if (!q.ok()) return ErrorResponse(q.status());
  absl::StatusOr<std::string> decoded = Decode(key, "path");
  if (!decoded.ok()) return ErrorResponse(decoded.status());
  switch (route) {
    case Route::kForecast:
      return Forecast(service, planning, *decoded, *q);
    case Route::kPlans:
      return Plans(service, planning, *decoded, *q);
    case Route::kPlan:
      return CurrentPlan(service, planning);
    case Route::kAnomalies:
      return Anomalies(service, planning, *q);
    case Route::kTenants:
      return Tenants(service);
    case Route::kNone:
      break;
  }
  return std::nullopt;
}

void AddPlanningFields(const Planning* planning, const ClassInfo& info, nlohmann::json& j) {
  ClassCondition c = info.refused_last_minute ? ClassCondition::kThrottled : ClassCondition::kOk;
  if (planning) c = planning->Condition(info);
  j["state"] = std::string(ClassConditionName(c));
  j["planned_rate_per_s"] =
      info.planned_rate_per_s ? json(*info.planned_rate_per_s) : json(nullptr);
  j["planned_size"] = info.planned_size ? json(*info.planned_size) : json(nullptr);
}

}  // namespace tidegate::server
