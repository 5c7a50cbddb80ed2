// The HTTP/JSON API (see tidegate/server/http_server.h).
//
// nlohmann-json and Boost throw; every call into them is inside a try block here, and their
// exceptions become 400 (bad JSON) or a closed connection (socket errors), never a crash.
#include "tidegate/server/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <charconv>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>

#include "fmt/compile.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "server/compression.h"
#include "server/planning_api.h"
#include "server/web_assets.h"
#include "tidegate/common/status.h"
#include "tidegate/history/calendar.h"
#include "tidegate/history/exposition.h"
#include "tidegate/server/auth.h"

namespace tidegate::server {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

std::string CodeString(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "OK";
    case absl::StatusCode::kCancelled:
      return "CANCELLED";
    case absl::StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kNotFound:
      return "NOT_FOUND";
    case absl::StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case absl::StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case absl::StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case absl::StatusCode::kAborted:
      return "ABORTED";
    case absl::StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case absl::StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case absl::StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case absl::StatusCode::kDataLoss:
      return "DATA_LOSS";
    case absl::StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    default:
      return "INTERNAL";
  }
}

ApiResponse JsonResponse(int status, const json& body) {
  ApiResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

json LimitJson(const RateLimit& l) {
  return {{"requests_per_unit", l.requests_per_unit}, {"unit", UnitName(l.unit)}};
}

// A JSON string literal for `s`. Plain ASCII without quotes, backslashes or control characters
// (every class key in practice) is copied as is; anything else goes through nlohmann's escaping
// (which also replaces invalid UTF-8).
void AppendJsonString(fmt::memory_buffer& out, std::string_view s) {
  const bool plain = std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x80 && c != '"' && c != '\\';
  });
  if (plain) {
    out.push_back('"');
    out.append(s.data(), s.data() + s.size());
    out.push_back('"');
  } else {
    const std::string escaped = json(s).dump(-1, ' ', false, json::error_handler_t::replace);
    out.append(escaped.data(), escaped.data() + escaped.size());
  }
}

// The body of a check's answer, written directly: this is the hot path of the HTTP API, and
// building it as a json tree costs more than the admission itself. Same fields and (sorted)
// order as the json objects of the other routes.
std::string CheckResponseJson(const CheckResponse& resp) {
  fmt::memory_buffer out;
  auto put = [&out](std::string_view text) { out.append(text.data(), text.data() + text.size()); };
  put("{\"overall_code\":\"");
  put(CodeName(resp.overall_code));
  put("\",\"statuses\":[");
  for (size_t i = 0; i < resp.statuses.size(); ++i) {
    const DescriptorStatus& st = resp.statuses[i];
    put(i == 0 ? "{\"class\":" : ",{\"class\":");
    AppendJsonString(out, st.class_key);
    put(",\"code\":\"");
    put(CodeName(st.code));
    put("\",\"current_limit\":");
    if (st.current_limit) {
      fmt::format_to(std::back_inserter(out),
                     FMT_COMPILE("{{\"requests_per_unit\":{},\"unit\":\"{}\"}}"),
                     st.current_limit->requests_per_unit, UnitName(st.current_limit->unit));
    } else {
      put("null");
    }
    fmt::format_to(std::back_inserter(out),
                   FMT_COMPILE(",\"duration_until_reset_s\":{},\"limit_remaining\":{}"),
                   Seconds(st.duration_until_reset), st.limit_remaining);
    if (st.code == Code::kOverLimit) {
      fmt::format_to(std::back_inserter(out), FMT_COMPILE(",\"retry_after_s\":{}"),
                     Seconds(st.retry_after));
    }
    fmt::format_to(std::back_inserter(out), FMT_COMPILE(",\"shadow\":{},\"unknown\":{}}}"),
                   st.shadow, st.unknown);
  }
  put("]}");
  return fmt::to_string(out);
}

// Typed access to JSON fields with the field path in every error.
class Fields {
 public:
  static absl::StatusOr<json> Parse(std::string_view body) {
    try {
      return json::parse(body.begin(), body.end());
    } catch (const json::parse_error& e) {
      return absl::InvalidArgumentError(
          fmt::format("body: malformed JSON at byte {}: {}", e.byte, e.what()));
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(fmt::format("body: malformed JSON: {}", e.what()));
    }
  }

  static absl::Status ExpectObject(const json& j, std::string_view path,
                                   std::initializer_list<std::string_view> allowed) {
    if (!j.is_object()) {
      return absl::InvalidArgumentError(fmt::format("{}: must be an object", Name(path)));
    }
    for (const auto& [k, v] : j.items()) {
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        return absl::InvalidArgumentError(fmt::format("{}: unknown field", Join(path, k)));
      }
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<std::string> String(const json& j, std::string_view path) {
    if (!j.is_string())
      return absl::InvalidArgumentError(fmt::format("{}: must be a string", path));
    return j.get<std::string>();
  }

  static absl::StatusOr<double> Number(const json& j, std::string_view path) {
    if (!j.is_number())
      return absl::InvalidArgumentError(fmt::format("{}: must be a number", path));
    const double v = j.get<double>();
    if (!std::isfinite(v)) {
      return absl::InvalidArgumentError(fmt::format("{}: must be finite", path));
    }
    return v;
  }

  static absl::StatusOr<uint64_t> Unsigned(const json& j, std::string_view path, uint64_t max) {
    if (!j.is_number_integer() || (j.is_number_integer() && !j.is_number_unsigned())) {
      return absl::InvalidArgumentError(fmt::format("{}: must be a non-negative integer", path));
    }
    const uint64_t v = j.get<uint64_t>();
    if (v > max) {
      return absl::InvalidArgumentError(fmt::format("{}: {} is above {}", path, v, max));
    }
    return v;
  }

  static std::string Join(std::string_view path, std::string_view field) {
    return path.empty() ? std::string(field) : fmt::format("{}.{}", path, field);
  }
  static std::string Name(std::string_view path) {
    return path.empty() ? std::string("body") : std::string(path);
  }
};

// Entries at `path()`, which is called only to name an error: the check's hot path parses a few
// entries per request and formats no field names for them.
template <typename PathFn>
absl::StatusOr<std::vector<Entry>> ParseEntriesAt(const json& j, const PathFn& path) {
  if (!j.is_array()) return absl::InvalidArgumentError(fmt::format("{}: must be an array", path()));
  std::vector<Entry> entries;
  entries.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    const json& e = j[i];
    const auto ip = [&] { return fmt::format("{}[{}]", path(), i); };
    if (!e.is_object()) {
      return absl::InvalidArgumentError(fmt::format("{}: must be an object", ip()));
    }
    const json* key = nullptr;
    const json* value = nullptr;
    for (auto it = e.begin(); it != e.end(); ++it) {
      if (it.key() == "key") {
        key = &*it;
      } else if (it.key() == "value") {
        value = &*it;
      } else {
        return absl::InvalidArgumentError(fmt::format("{}.{}: unknown field", ip(), it.key()));
      }
    }
    if (key == nullptr) return absl::InvalidArgumentError(fmt::format("{}.key: required", ip()));
    Entry& out = entries.emplace_back();
    if (!key->is_string()) {
      return absl::InvalidArgumentError(fmt::format("{}.key: must be a string", ip()));
    }
    out.key = key->get_ref<const std::string&>();
    if (value != nullptr) {
      if (!value->is_string()) {
        return absl::InvalidArgumentError(fmt::format("{}.value: must be a string", ip()));
      }
      out.value = value->get_ref<const std::string&>();
    }
  }
  return entries;
}

absl::StatusOr<std::vector<Entry>> ParseEntries(const json& j, const std::string& path) {
  return ParseEntriesAt(j, [&path]() -> const std::string& { return path; });
}

absl::StatusOr<RateLimit> ParseLimit(const json& j, const std::string& path) {
  TIDEGATE_RETURN_IF_ERROR(Fields::ExpectObject(j, path, {"requests_per_unit", "unit"}));
  if (!j.contains("requests_per_unit") || !j.contains("unit")) {
    return absl::InvalidArgumentError(
        fmt::format("{}: requests_per_unit and unit are required", path));
  }
  RateLimit l;
  TIDEGATE_ASSIGN_OR_RETURN(uint64_t n, Fields::Unsigned(j["requests_per_unit"],
                                                         path + ".requests_per_unit", UINT32_MAX));
  l.requests_per_unit = static_cast<uint32_t>(n);
  TIDEGATE_ASSIGN_OR_RETURN(std::string unit, Fields::String(j["unit"], path + ".unit"));
  absl::StatusOr<Unit> u = ParseUnit(unit);
  if (!u.ok())
    return absl::InvalidArgumentError(
        fmt::format("{}.unit: {}", path, std::string(u.status().message())));
  l.unit = *u;
  return l;
}

// {"domain": ..., "descriptors": [{"entries": [...], "limit": {...}, "hits_addend": n}], ...}
absl::StatusOr<std::vector<Descriptor>> ParseDescriptors(const json& body) {
  const auto found = body.find("descriptors");
  if (found == body.end()) return absl::InvalidArgumentError("descriptors: required");
  const json& ds = *found;
  if (!ds.is_array()) return absl::InvalidArgumentError("descriptors: must be an array");
  std::vector<Descriptor> out;
  out.reserve(ds.size());
  for (size_t i = 0; i < ds.size(); ++i) {
    const json& dj = ds[i];
    // Named only for an error (see ParseEntriesAt).
    const auto path = [i] { return fmt::format("descriptors[{}]", i); };
    if (!dj.is_object()) {
      return absl::InvalidArgumentError(fmt::format("{}: must be an object", path()));
    }
    const json* entries = nullptr;
    const json* limit = nullptr;
    const json* hits_addend = nullptr;
    for (auto it = dj.begin(); it != dj.end(); ++it) {
      if (it.key() == "entries") {
        entries = &*it;
      } else if (it.key() == "limit") {
        limit = &*it;
      } else if (it.key() == "hits_addend") {
        hits_addend = &*it;
      } else {
        return absl::InvalidArgumentError(fmt::format("{}.{}: unknown field", path(), it.key()));
      }
    }
    if (entries == nullptr) {
      return absl::InvalidArgumentError(fmt::format("{}.entries: required", path()));
    }
    Descriptor& d = out.emplace_back();
    TIDEGATE_ASSIGN_OR_RETURN(
        d.entries, ParseEntriesAt(*entries, [&] { return fmt::format("{}.entries", path()); }));
    if (limit != nullptr) {
      TIDEGATE_ASSIGN_OR_RETURN(d.limit, ParseLimit(*limit, path() + ".limit"));
    }
    if (hits_addend != nullptr) {
      TIDEGATE_ASSIGN_OR_RETURN(d.hits_addend,
                                Fields::Unsigned(*hits_addend, path() + ".hits_addend", 1e9));
    }
  }
  return out;
}

absl::StatusOr<std::string> RequiredString(const json& body, const char* field) {
  if (!body.contains(field)) return absl::InvalidArgumentError(fmt::format("{}: required", field));
  return Fields::String(body[field], field);
}

// The `domain` and `descriptors` a check and a settle body share.
template <typename Request>
absl::Status ParseDomainAndDescriptors(const json& body, Request& req) {
  TIDEGATE_ASSIGN_OR_RETURN(req.domain, RequiredString(body, "domain"));
  TIDEGATE_ASSIGN_OR_RETURN(req.descriptors, ParseDescriptors(body));
  return absl::OkStatus();
}

json OverrideJson(const OverrideInfo& o) {
  json j = {{"expires_at", history::FormatWallTime(o.expires_at)}};
  if (o.rate_per_s) j["rate_per_s"] = *o.rate_per_s;
  if (o.size) j["size"] = *o.size;
  return j;
}

json ClassJson(const ClassInfo& c) {
  json entries = json::array();
  for (const Entry& e : c.entries) entries.push_back({{"key", e.key}, {"value", e.value}});
  json j = {
      {"key", c.key},
      {"tenant", c.tenant},
      {"entries", entries},
      {"rate_per_s", c.rate_per_s},
      {"size", c.size},
      {"available", c.available},
      {"priority", c.priority},
      {"weight", c.weight},
      {"shadow_mode", c.shadow_mode},
      {"dynamic", c.dynamic},
      {"source", c.source},
      {"location", c.location},
      {"decisions", {{"ok", c.admitted}, {"over_limit", c.refused}, {"shadow", c.shadow_refused}}}};
  j["configured_limit"] = c.configured_limit ? LimitJson(*c.configured_limit) : json(nullptr);
  j["override"] = c.override_info ? OverrideJson(*c.override_info) : json(nullptr);
  return j;
}

// Percent-decoding of a path segment. InvalidArgument on a malformed escape.
absl::StatusOr<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    int v = 0;
    if (i + 2 >= s.size()) {
      return absl::InvalidArgumentError("path: malformed percent escape");
    }
    const auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || p != s.data() + i + 3) {
      return absl::InvalidArgumentError("path: malformed percent escape");
    }
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return out;
}

// "tenant/key=value,key=value" -> ClassKey.
absl::StatusOr<shaping::ClassKey> ParseDisplayKey(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0) {
    return absl::InvalidArgumentError(
        fmt::format("class '{}': expected tenant/key=value,key=value", text));
  }
  shaping::ClassKey key;
  key.tenant = std::string(text.substr(0, slash));
  std::string_view rest = text.substr(slash + 1);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view entry = rest.substr(0, comma);
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(
          fmt::format("class '{}': entry '{}' is not key=value", text, entry));
    }
    key.entries.emplace_back(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return key;
}

}  // namespace

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kOutOfRange:
      return 422;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

ApiResponse ErrorResponse(int http_status, std::string_view code, std::string_view message) {
  return JsonResponse(http_status, {{"error", {{"code", code}, {"message", message}}}});
}

ApiResponse ErrorResponse(const absl::Status& status) {
  return ErrorResponse(HttpStatusFor(status.code()), CodeString(status.code()),
                       std::string(status.message()));
}

HttpApi::HttpApi(Service& service, HttpApiOptions options)
    : service_(service), options_(std::move(options)) {}

namespace {

// GET /v1/alerts: pending, firing and recently resolved alerts.
ApiResponse AlertsResponse(Service& service) {
  json arr = json::array();
  for (const alert::Alert& a : service.alerting().Alerts()) {
    arr.push_back({{"name", a.rule},
                   {"state", std::string(alert::AlertStateName(a.state))},
                   {"labels", a.labels},
                   {"annotations", a.annotations},
                   {"since", history::FormatWallTime(a.since)},
                   {"active_at", history::FormatWallTime(a.active_at)},
                   {"value", std::isfinite(a.value) ? json(a.value) : json(nullptr)}});
  }
  return JsonResponse(200, {{"alerts", std::move(arr)}});
}

json RecommendationJson(const alert::Recommendation& r) {
  json demand = json::object();
  for (const auto& [res, v] : r.predicted_demand) demand[res] = v;
  return {
      {"name", r.service},
      {"current_replicas", r.current_replicas ? json(*r.current_replicas) : json(nullptr)},
      {"recommended_replicas", r.recommended_replicas},
      {"raw_replicas", r.raw_replicas},
      {"predicted_demand", std::move(demand)},
      {"driving_resource", r.driving_resource.empty() ? json(nullptr) : json(r.driving_resource)},
      {"reason", r.reason},
      {"since", history::FormatWallTime(r.since)}};
}

// GET /v1/scaling: the latest recommendation per configured service.
ApiResponse ScalingResponse(Service& service) {
  json arr = json::array();
  for (const alert::Recommendation& r : service.alerting().Recommendations()) {
    arr.push_back(RecommendationJson(r));
  }
  return JsonResponse(200, {{"services", std::move(arr)}});
}

// GET /v1/scaling/{service}: one recommendation. PUT: {"current_replicas": N} reports the
// service's replica count (it enters the scale-down stabilisation window when it changes).
ApiResponse ScalingServiceResponse(Service& service, std::string_view method, std::string_view name,
                                   std::string_view body) {
  if (method == "PUT") {
    absl::StatusOr<json> j = Fields::Parse(body);
    if (!j.ok()) return ErrorResponse(j.status());
    if (absl::Status s = Fields::ExpectObject(*j, "", {"current_replicas"}); !s.ok()) {
      return ErrorResponse(s);
    }
    if (!j->contains("current_replicas")) {
      return ErrorResponse(400, "INVALID_ARGUMENT", "current_replicas: required");
    }
    absl::StatusOr<uint64_t> n = Fields::Unsigned((*j)["current_replicas"], "current_replicas",
                                                  alert::Recommender::kMaxReportedReplicas);
    if (!n.ok()) return ErrorResponse(n.status());
    if (absl::Status s =
            service.alerting().SetCurrentReplicas(std::string(name), static_cast<int>(*n));
        !s.ok()) {
      return ErrorResponse(s);
    }
  }
  for (const alert::Recommendation& r : service.alerting().Recommendations()) {
    if (r.service == name) return JsonResponse(200, RecommendationJson(r));
  }
  if (method == "PUT") {  // Configured (SetCurrentReplicas checked) but not evaluated yet.
    return JsonResponse(200, {{"name", name}, {"current_replicas", json(nullptr)}});
  }
  return ErrorResponse(
      404, "NOT_FOUND",
      fmt::format("scaling service '{}': not configured, or not evaluated yet", name));
}

}  // namespace

ApiResponse HttpApi::Handle(std::string_view method, std::string_view target, std::string_view body,
                            std::optional<std::string_view> authorization) {
  const std::shared_ptr<const Config> config = service_.config();
  absl::StatusOr<HttpAuthorization> auth =
      AuthorizeHttp(std::shared_ptr<const AuthSpec>(config, &config->auth), method,
                    target.substr(0, target.find('?')), body, authorization);
  if (!auth.ok()) {
    ApiResponse r = ErrorResponse(auth.status());
    if (auth.status().code() == absl::StatusCode::kUnauthenticated) {
      r.headers.emplace_back("WWW-Authenticate",
                             authorization
                                 ? fmt::format("{}, error=\"invalid_token\"", kWwwAuthenticate)
                                 : std::string(kWwwAuthenticate));
    }
    return r;
  }
  ApiResponse r = Route(method, target, body);
  if (absl::Status s = auth->Filter(r.status, r.body); !s.ok()) return ErrorResponse(s);
  return r;
}

ApiResponse HttpApi::Route(std::string_view method, std::string_view target,
                           std::string_view body) {
  std::string_view path = target.substr(0, target.find('?'));
  auto method_not_allowed = [&](std::string_view allowed) {
    ApiResponse r =
        ErrorResponse(405, "INVALID_ARGUMENT",
                      fmt::format("{} {}: method not allowed (use {})", method, path, allowed));
    r.headers.emplace_back("Allow", std::string(allowed));
    return r;
  };
  try {
    if (path == "/v1/check") return method == "POST" ? Check(body) : method_not_allowed("POST");
    if (path == "/v1/settle") return method == "POST" ? Settle(body) : method_not_allowed("POST");
    if (path == "/v1/report") return method == "POST" ? Report(body) : method_not_allowed("POST");
    if (path == "/v1/classes") return method == "GET" ? Classes() : method_not_allowed("GET");
    if (path == "/v1/overrides") {
      return method == "POST" ? SetOverride(body) : method_not_allowed("POST");
    }
    if (path == "/v1/config") return method == "GET" ? ConfigGet() : method_not_allowed("GET");
    if (path == "/v1/alerts") {
      return method == "GET" ? AlertsResponse(service_) : method_not_allowed("GET");
    }
    if (path == "/v1/scaling") {
      return method == "GET" ? ScalingResponse(service_) : method_not_allowed("GET");
    }
    constexpr std::string_view kScaling = "/v1/scaling/";
    if (path.starts_with(kScaling)) {
      if (method != "GET" && method != "PUT") return method_not_allowed("GET, PUT");
      return ScalingServiceResponse(service_, method, path.substr(kScaling.size()), body);
    }
    if (path == "/v1/config:validate") {
      return method == "POST" ? ConfigValidate(body) : method_not_allowed("POST");
    }
    if (path == "/v1/config:reload") {
      return method == "POST" ? ConfigReload() : method_not_allowed("POST");
    }
    if (path == "/healthz") {
      return method == "GET" ? JsonResponse(200, {{"status", "ok"}}) : method_not_allowed("GET");
    }
    if (path == "/readyz") {
      if (method != "GET") return method_not_allowed("GET");
      return ready_.load(std::memory_order_acquire)
                 ? JsonResponse(200, {{"status", "ready"}})
                 : ErrorResponse(503, "UNAVAILABLE", "not ready (starting or shutting down)");
    }
    if (path == "/metrics") {
      if (method != "GET") return method_not_allowed("GET");
      ApiResponse r;
      r.content_type = std::string(history::kExpositionContentType);
      r.body = service_.RenderMetrics();
      if (options_.planning != nullptr) r.body += options_.planning->RenderMetrics();
      if (options_.extra_metrics) r.body += options_.extra_metrics();
      return r;
    }
    const size_t q = target.find('?');
    if (auto r = HandlePlanningRoute(service_, options_.planning, method, path,
                                     q == std::string_view::npos ? "" : target.substr(q + 1))) {
      return *std::move(r);
    }
    constexpr std::string_view kClasses = "/v1/classes/";
    if (path.starts_with(kClasses)) {
      std::string_view rest = path.substr(kClasses.size());
      bool plan = false;
      if (rest.ends_with("/plan")) {
        rest.remove_suffix(5);
        plan = true;
      }
      return method == "GET" ? Class(rest, plan) : method_not_allowed("GET");
    }
    constexpr std::string_view kOverrides = "/v1/overrides/";
    if (path.starts_with(kOverrides)) {
      return method == "DELETE" ? DeleteOverride(path.substr(kOverrides.size()))
                                : method_not_allowed("DELETE");
    }
    return ErrorResponse(404, "NOT_FOUND", fmt::format("{}: no such route", path));
  } catch (const std::exception& e) {
    // A bug, not bad input: every input error is a Status. Still never crash the daemon.
    return ErrorResponse(500, "INTERNAL", fmt::format("{} {}: {}", method, path, e.what()));
  }
}

ApiResponse HttpApi::Check(std::string_view body) {
  absl::StatusOr<json> j = Fields::Parse(body);
  if (!j.ok()) return ErrorResponse(j.status());
  absl::Status s = Fields::ExpectObject(*j, "", {"domain", "descriptors", "hits_addend", "tier"});
  if (!s.ok()) return ErrorResponse(s);
  CheckRequest req;
  if (s = ParseDomainAndDescriptors(*j, req); !s.ok()) return ErrorResponse(s);
  if (j->contains("hits_addend")) {
    absl::StatusOr<uint64_t> h = Fields::Unsigned((*j)["hits_addend"], "hits_addend", 1e9);
    if (!h.ok()) return ErrorResponse(h.status());
    req.hits_addend = *h;
  }
  if (j->contains("tier")) {
    absl::StatusOr<uint64_t> t = Fields::Unsigned((*j)["tier"], "tier", shaping::kMaxTiers - 1);
    if (!t.ok()) return ErrorResponse(t.status());
    req.tier = static_cast<int>(*t);
  }
  absl::StatusOr<CheckResponse> resp = service_.Check(req);
  if (!resp.ok()) return ErrorResponse(resp.status());
  ApiResponse r;
  r.body = CheckResponseJson(*resp);
  if (resp->overall_code == Code::kOverLimit) {
    Duration retry{0};
    for (const DescriptorStatus& st : resp->statuses) {
      if (st.code == Code::kOverLimit) retry = std::max(retry, st.retry_after);
    }
    r.headers.emplace_back("Retry-After",
                           std::to_string(static_cast<int64_t>(std::ceil(Seconds(retry)))));
  }
  return r;
}

ApiResponse HttpApi::Settle(std::string_view body) {
  absl::StatusOr<json> j = Fields::Parse(body);
  if (!j.ok()) return ErrorResponse(j.status());
  absl::Status s = Fields::ExpectObject(*j, "", {"domain", "descriptors", "charged", "actual"});
  if (!s.ok()) return ErrorResponse(s);
  SettleRequest req;
  if (s = ParseDomainAndDescriptors(*j, req); !s.ok()) return ErrorResponse(s);
  for (const char* f : {"charged", "actual"}) {
    if (!j->contains(f))
      return ErrorResponse(absl::InvalidArgumentError(fmt::format("{}: required", f)));
    absl::StatusOr<double> v = Fields::Number((*j)[f], f);
    if (!v.ok()) return ErrorResponse(v.status());
    (std::string_view(f) == "charged" ? req.charged : req.actual) = *v;
  }
  absl::StatusOr<SettleResponse> resp = service_.Settle(req);
  if (!resp.ok()) return ErrorResponse(resp.status());
  return JsonResponse(200, {{"settled", resp->settled}});
}

ApiResponse HttpApi::Report(std::string_view body) {
  absl::StatusOr<json> j = Fields::Parse(body);
  if (!j.ok()) return ErrorResponse(j.status());
  absl::Status s = Fields::ExpectObject(*j, "", {"reports"});
  if (!s.ok()) return ErrorResponse(s);
  if (!j->contains("reports") || !(*j)["reports"].is_array()) {
    return ErrorResponse(absl::InvalidArgumentError("reports: required, an array"));
  }
  const json& rs = (*j)["reports"];
  const size_t max_batch = service_.config()->limits.max_report_batch;
  if (rs.size() > max_batch) {
    return ErrorResponse(absl::InvalidArgumentError(fmt::format(
        "reports: {} given, at most {} per call (limits.max_report_batch)", rs.size(), max_batch)));
  }
  std::vector<history::UsageReport> reports;
  reports.reserve(rs.size());
  const WallTime now = service_.clock().WallNow();
  for (size_t i = 0; i < rs.size(); ++i) {
    const std::string path = fmt::format("reports[{}]", i);
    const json& r = rs[i];
    s = Fields::ExpectObject(r, path,
                             {"tenant", "descriptors", "operation", "cpu_ms", "mem_bytes",
                              "io_read_bytes", "io_write_bytes", "net_in_bytes", "net_out_bytes",
                              "latency_ms", "count", "timestamp", "id"});
    if (!s.ok()) return ErrorResponse(s);
    history::UsageReport u;
    u.timestamp = now;
    for (const auto& [k, v] : r.items()) {
      const std::string fp = path + "." + k;
      if (k == "tenant" || k == "operation" || k == "id" || k == "timestamp") {
        absl::StatusOr<std::string> str = Fields::String(v, fp);
        if (!str.ok()) return ErrorResponse(str.status());
        if (k == "tenant") u.tenant = *str;
        if (k == "operation") u.operation = *str;
        if (k == "id") u.id = *str;
        if (k == "timestamp") {
          absl::StatusOr<WallTime> t = history::ParseRfc3339(*str);
          if (!t.ok()) {
            return ErrorResponse(absl::InvalidArgumentError(
                fmt::format("{}: {}", fp, std::string(t.status().message()))));
          }
          u.timestamp = *t;
        }
      } else if (k == "descriptors") {
        absl::StatusOr<std::vector<Entry>> es = ParseEntries(v, fp);
        if (!es.ok()) return ErrorResponse(es.status());
        for (Entry& e : *es) u.descriptors.push_back({std::move(e.key), std::move(e.value)});
      } else if (k == "count") {
        absl::StatusOr<uint64_t> c = Fields::Unsigned(v, fp, INT64_MAX);
        if (!c.ok()) return ErrorResponse(c.status());
        u.count = static_cast<int64_t>(*c);
      } else {
        absl::StatusOr<double> n = Fields::Number(v, fp);
        if (!n.ok()) return ErrorResponse(n.status());
        double* target = k == "cpu_ms"           ? &u.cpu_ms
                         : k == "mem_bytes"      ? &u.mem_bytes
                         : k == "io_read_bytes"  ? &u.io_read_bytes
                         : k == "io_write_bytes" ? &u.io_write_bytes
                         : k == "net_in_bytes"   ? &u.net_in_bytes
                         : k == "net_out_bytes"  ? &u.net_out_bytes
                                                 : &u.latency_ms;
        *target = *n;
      }
    }
    reports.push_back(std::move(u));
  }
  if (absl::Status st = service_.Report(reports); !st.ok()) return ErrorResponse(st);
  return JsonResponse(200, {{"accepted", reports.size()}});
}

ApiResponse HttpApi::Classes() {
  json arr = json::array();
  for (const ClassInfo& c : service_.ListClasses()) {
    json j = ClassJson(c);
    AddPlanningFields(options_.planning, c, j);
    arr.push_back(std::move(j));
  }
  return JsonResponse(200, {{"classes", std::move(arr)}});
}

ApiResponse HttpApi::Class(std::string_view raw_key, bool plan) {
  absl::StatusOr<std::string> key = PercentDecode(raw_key);
  if (!key.ok()) return ErrorResponse(key.status());
  absl::StatusOr<ClassInfo> c = service_.GetClass(*key);
  if (!c.ok()) return ErrorResponse(c.status());
  if (!plan) return JsonResponse(200, ClassJson(*c));
  // The bucket in force and where it comes from (the planner's detail: /v1/classes/{key}/plans).
  json p = {
      {"key", c->key},
      {"tenant", c->tenant},
      {"rate_per_s", c->rate_per_s},
      {"size", c->size},
      {"level", c->available},
      {"source", c->source},
      {"planner", c->planned_rate_per_s.has_value()},
      {"explanation",
       c->source == "override"
           ? "manual override until " + history::FormatWallTime(c->override_info->expires_at)
       : c->source == "request" ? std::string("limit given by the request's descriptor")
       : c->source == "default"
           ? std::string("unknown_descriptors.default_limit (no configured rule matched)")
       : c->planned_rate_per_s
           ? std::string(
                 "planned from the demand forecast (GET /v1/classes/{key}/plans explains it)")
           : fmt::format("static rate_limit of the rule at {} (no forecast plan)", c->location)}};
  p["configured_limit"] = c->configured_limit ? LimitJson(*c->configured_limit) : json(nullptr);
  p["override"] = c->override_info ? OverrideJson(*c->override_info) : json(nullptr);
  return JsonResponse(200, p);
}

ApiResponse HttpApi::SetOverride(std::string_view body) {
  absl::StatusOr<json> j = Fields::Parse(body);
  if (!j.ok()) return ErrorResponse(j.status());
  absl::Status s = Fields::ExpectObject(
      *j, "", {"class", "domain", "entries", "rate_per_s", "size", "ttl_seconds"});
  if (!s.ok()) return ErrorResponse(s);
  OverrideRequest req;
  if (j->contains("class")) {
    if (j->contains("domain") || j->contains("entries")) {
      return ErrorResponse(
          absl::InvalidArgumentError("class: give either class or domain + entries, not both"));
    }
    absl::StatusOr<std::string> text = Fields::String((*j)["class"], "class");
    if (!text.ok()) return ErrorResponse(text.status());
    absl::StatusOr<shaping::ClassKey> key = ParseDisplayKey(*text);
    if (!key.ok()) return ErrorResponse(key.status());
    req.key = *std::move(key);
  } else {
    absl::StatusOr<std::string> domain = RequiredString(*j, "domain");
    if (!domain.ok()) return ErrorResponse(domain.status());
    if (!j->contains("entries")) {
      return ErrorResponse(absl::InvalidArgumentError("entries: required (or class)"));
    }
    absl::StatusOr<std::vector<Entry>> es = ParseEntries((*j)["entries"], "entries");
    if (!es.ok()) return ErrorResponse(es.status());
    req.key.tenant = *domain;
    for (Entry& e : *es) req.key.entries.emplace_back(std::move(e.key), std::move(e.value));
  }
  for (const char* f : {"rate_per_s", "size"}) {
    if (!j->contains(f)) continue;
    absl::StatusOr<double> v = Fields::Number((*j)[f], f);
    if (!v.ok()) return ErrorResponse(v.status());
    (std::string_view(f) == "rate_per_s" ? req.rate_per_s : req.size) = *v;
  }
  if (!j->contains("ttl_seconds")) {
    return ErrorResponse(absl::InvalidArgumentError("ttl_seconds: required"));
  }
  absl::StatusOr<double> ttl = Fields::Number((*j)["ttl_seconds"], "ttl_seconds");
  if (!ttl.ok()) return ErrorResponse(ttl.status());
  if (*ttl <= 0 || *ttl > 1e8) {
    return ErrorResponse(
        absl::InvalidArgumentError(fmt::format("ttl_seconds: {} is not in (0, 2592000]", *ttl)));
  }
  req.ttl = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*ttl));
  absl::StatusOr<OverrideInfo> o = service_.SetOverride(req);
  if (!o.ok()) return ErrorResponse(o.status());
  json out = OverrideJson(*o);
  out["class"] = req.key.ToString();
  return JsonResponse(201, out);
}

ApiResponse HttpApi::DeleteOverride(std::string_view raw_key) {
  absl::StatusOr<std::string> text = PercentDecode(raw_key);
  if (!text.ok()) return ErrorResponse(text.status());
  absl::StatusOr<shaping::ClassKey> key = ParseDisplayKey(*text);
  if (!key.ok()) return ErrorResponse(key.status());
  if (absl::Status s = service_.ClearOverride(*key); !s.ok()) return ErrorResponse(s);
  return JsonResponse(200, {{"class", key->ToString()}, {"override", nullptr}});
}

ApiResponse HttpApi::ConfigGet() {
  const ConfigInfo info = service_.config_info();
  const std::shared_ptr<const Config> config = service_.config();
  json domains = json::array();
  for (const DomainConfig& d : config->domains) domains.push_back(d.domain);
  return JsonResponse(200, {{"version", info.version},
                            {"generation", info.generation},
                            {"sources", info.sources},
                            {"loaded_at", history::FormatWallTime(info.loaded_at)},
                            {"domains", domains},
                            {"classes", info.classes},
                            {"unknown_descriptors", UnknownPolicyName(config->unknown.policy)}});
}

ApiResponse HttpApi::ConfigValidate(std::string_view body) {
  absl::StatusOr<Config> c = ParseConfig(body, "request body");
  if (!c.ok()) return ErrorResponse(c.status());
  json domains = json::array();
  for (const DomainConfig& d : c->domains) domains.push_back(d.domain);
  return JsonResponse(200, {{"valid", true}, {"version", c->version}, {"domains", domains}});
}

ApiResponse HttpApi::ConfigReload() {
  if (!options_.reload) {
    return ErrorResponse(409, "FAILED_PRECONDITION",
                         "the daemon was started without --config: nothing to reload");
  }
  if (absl::Status s = options_.reload(); !s.ok()) return ErrorResponse(s);
  return ConfigGet();
}

// ---- Transport ------------------------------------------------------------------------------

absl::StatusOr<std::pair<std::string, uint16_t>> ParseListenAddress(std::string_view text,
                                                                    std::string_view flag) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format("{}: '{}' is not HOST:PORT", flag, text));
  }
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) {
    return absl::InvalidArgumentError(fmt::format("{}: '{}' has an empty host", flag, text));
  }
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535) {
    return absl::InvalidArgumentError(
        fmt::format("{}: port '{}' is not a number in [0, 65535]", flag, port_text));
  }
  return std::make_pair(std::move(host), static_cast<uint16_t>(port));
}

namespace {

constexpr size_t kHeaderLimit = 16 * 1024;

using SteadyTime = std::chrono::steady_clock::time_point;
// A connection's socket and stream are bound to their worker's io_context by type (not through
// the type-erased any_io_executor, whose copies and queries showed in the profile).
using WorkerSocket = tcp::socket::rebind_executor<asio::io_context::executor_type>::other;
using WorkerStream = beast::basic_stream<tcp, asio::io_context::executor_type>;

void AppendDecimal(std::string& out, uint64_t v) {
  char digits[20];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  out.append(digits, end);
}

// Writes `r` as an HTTP/1.x response (status line, headers, body) into `out`, replacing what was
// there. This is what Beast's response serializer produced for the same message (Server,
// Content-Type, the response's own headers, Content-Length except where a status has no body,
// Connection as keep-alive requires for the version), written as one buffer: on the check's hot
// path Beast's buffer sequences cost more CPU than the admission itself.
void SerializeResponse(const ApiResponse& r, unsigned version, bool keep_alive, std::string& out) {
  out.clear();
  out.append("HTTP/1.");
  out.push_back(version == 10 ? '0' : '1');
  out.push_back(' ');
  AppendDecimal(out, static_cast<uint64_t>(r.status));
  out.push_back(' ');
  const auto reason = http::obsolete_reason(static_cast<http::status>(r.status));
  out.append(reason.data(), reason.size());
  out.append("\r\nServer: tidegated\r\nContent-Type: ");
  out.append(r.content_type);
  out.append("\r\n");
  for (const auto& [name, value] : r.headers) {
    out.append(name).append(": ").append(value).append("\r\n");
  }
  // 1xx, 204 and 304 answers carry neither a body nor a Content-Length (RFC 9110, 8.6).
  const bool bodiless = r.status < 200 || r.status == 204 || r.status == 304;
  if (!bodiless) {
    out.append("Content-Length: ");
    AppendDecimal(out, r.body.size());
    out.append("\r\n");
  }
  if (version == 10 && keep_alive) out.append("Connection: keep-alive\r\n");
  if (version != 10 && !keep_alive) out.append("Connection: close\r\n");
  out.append("\r\n");
  if (!bodiless) out.append(r.body);
}

// What a Worker's sweep needs of a connection.
class Connection {
 public:
  virtual ~Connection() = default;
  // Closes the connection when the read, write or handshake in progress has outlasted the idle
  // timeout.
  virtual void CloseIfExpired(SteadyTime now) = 0;
};

// One thread's event loop and its connections (nginx's model: a connection lives on one loop for
// its life, so its handlers need no strand and no thread wakes another to run them). Idle
// connections are closed by a periodic sweep rather than a timer per operation: re-arming a
// timer on every request cost more than a check itself.
class Worker {
 public:
  explicit Worker(Duration idle)
      : work_(asio::make_work_guard(ioc_)),
        period_(std::clamp<Duration>(idle / 4, std::chrono::milliseconds(10),
                                     std::chrono::seconds(1))) {
    Sweep();
  }
  asio::io_context& context() { return ioc_; }
  // On this worker's thread only.
  void Add(std::weak_ptr<Connection> c) { connections_.push_back(std::move(c)); }

 private:
  void Sweep() {
    const SteadyTime now = std::chrono::steady_clock::now();
    std::erase_if(connections_, [now](const std::weak_ptr<Connection>& weak) {
      const std::shared_ptr<Connection> c = weak.lock();
      if (c) c->CloseIfExpired(now);
      return c == nullptr;
    });
    timer_.expires_after(period_);
    timer_.async_wait([this](beast::error_code ec) {
      if (!ec) Sweep();
    });
  }

  asio::io_context ioc_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer timer_{ioc_};
  const Duration period_;
  std::vector<std::weak_ptr<Connection>> connections_;
};

// One HTTP/1.1 connection: (TLS handshake,) read a request, answer it, repeat while keep-alive.
template <bool kTls>
class Session : public Connection, public std::enable_shared_from_this<Session<kTls>> {
  using Stream = std::conditional_t<kTls, beast::ssl_stream<WorkerStream>, WorkerStream>;

 public:
  // The session keeps its TLS context alive: a certificate reload replaces the server's context
  // for new connections while this one finishes on the old.
  Session(WorkerSocket socket, std::shared_ptr<asio::ssl::context> ssl, HttpApi& api,
          Service& service, Worker& worker, Duration idle) requires kTls
      : ssl_(std::move(ssl)),
        stream_(std::move(socket), *ssl_),
        api_(api),
        service_(service),
        worker_(worker),
        idle_(idle) {}
  Session(WorkerSocket socket, HttpApi& api, Service& service, Worker& worker,
          Duration idle) requires(!kTls)
      : stream_(std::move(socket)), api_(api), service_(service), worker_(worker), idle_(idle) {}

  void CloseIfExpired(SteadyTime now) override {
    if (now < deadline_) return;
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().close(ec);  // Pending operations end: aborted.
  }

  void Run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::Start, this->shared_from_this()));
  }

 private:
  void Start() {
    worker_.Add(this->weak_from_this());
    if constexpr (kTls) {
      Arm();
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          beast::bind_front_handler(&Session::OnHandshake, this->shared_from_this()));
    } else {
      Read();
    }
  }

  void OnHandshake(beast::error_code ec) {
    // A client that does not trust the certificate (or presents none under mutual TLS) ends
    // here: nothing was read, nothing to answer.
    if (ec) return CloseSocket();
    Read();
  }

  void Read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(service_.max_body_bytes());
    Arm();
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, this->shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      return Close();
    }
    ApiResponse r;
    bool keep_alive = false;
    unsigned version = 11;
    if (ec == http::error::body_limit) {
      r = ErrorResponse(413, "INVALID_ARGUMENT",
                        fmt::format("body: larger than limits.max_body_bytes = {} bytes",
                                    service_.max_body_bytes()));
    } else if (ec == http::error::header_limit) {
      r = ErrorResponse(431, "INVALID_ARGUMENT",
                        fmt::format("headers: larger than {} bytes", kHeaderLimit));
    } else if (ec) {
      r = ErrorResponse(400, "INVALID_ARGUMENT",
                        fmt::format("malformed HTTP request: {}", ec.message()));
    } else {
      const auto& req = parser_->get();
      keep_alive = req.keep_alive();
      version = req.version();
      const std::string_view method(req.method_string().data(), req.method_string().size());
      const std::string_view target(req.target().data(), req.target().size());
      if (web::IsWebAssetPath(target)) {
        const auto header = [&req](http::field f) {
          const auto v = req[f];
          return std::string_view(v.data(), v.size());
        };
        r = web::ServeWebAsset(method, target, header(http::field::if_none_match),
                               header(http::field::accept_encoding));
      } else {
        std::optional<std::string_view> authorization;
        if (auto it = req.find(http::field::authorization); it != req.end()) {
          authorization = std::string_view(it->value().data(), it->value().size());
        }
        r = api_.Handle(method, target, req.body(), authorization);
        if (r.body.size() >= kCompressMinBytes) {  // A check's answer never reads the header.
          const auto accept_encoding = req[http::field::accept_encoding];
          CompressForClient(r, std::string_view(accept_encoding.data(), accept_encoding.size()));
        }
      }
    }
    SerializeResponse(r, version, keep_alive, out_);
    Arm();
    asio::async_write(
        stream_, asio::buffer(out_),
        beast::bind_front_handler(&Session::OnWrite, this->shared_from_this(), keep_alive));
  }

  void OnWrite(bool keep_alive, beast::error_code ec, size_t) {
    if (ec || !keep_alive) return Close();
    Read();
  }

  void Close() {
    if constexpr (kTls) {
      // close_notify, bounded by a short timeout; then the socket.
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->CloseSocket(); });
    } else {
      CloseSocket();
    }
  }

  void CloseSocket() {
    beast::error_code ec;
    auto& socket = beast::get_lowest_layer(stream_).socket();
    socket.shutdown(WorkerSocket::shutdown_send, ec);
    socket.close(ec);
  }

  // The operation about to start must finish within the idle timeout (Worker's sweep checks).
  void Arm() { deadline_ = std::chrono::steady_clock::now() + idle_; }

  std::shared_ptr<asio::ssl::context> ssl_;  // Before stream_: outlives it.
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string out_;  // The response being written; its capacity is reused by the next.
  HttpApi& api_;
  Service& service_;
  Worker& worker_;
  const Duration idle_;
  SteadyTime deadline_ = SteadyTime::max();
};

// The server side of TLS from the configured files. InvalidArgument naming the file.
absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeSslContext(const TlsFiles& files) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  beast::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                   ec);
  auto fail = [&](std::string_view field, const std::string& file) {
    return absl::InvalidArgumentError(
        fmt::format("tls.http.{}: '{}': {}", field, file, ec.message()));
  };
  if (ec) return absl::InternalError(fmt::format("TLS options: {}", ec.message()));
  ctx->use_certificate_chain_file(files.cert_file, ec);
  if (ec) return fail("cert_file", files.cert_file);
  ctx->use_private_key_file(files.key_file, asio::ssl::context::pem, ec);
  if (ec) return fail("key_file", files.key_file);
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return absl::InvalidArgumentError(
        fmt::format("tls.http.key_file: '{}' is not the private key of the certificate in '{}'",
                    files.key_file, files.cert_file));
  }
  if (!files.client_ca_file.empty()) {
    ctx->load_verify_file(files.client_ca_file, ec);
    if (ec) return fail("client_ca_file", files.client_ca_file);
    ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, ec);
    if (ec) return fail("client_ca_file", files.client_ca_file);
  }
  return ctx;
}

}  // namespace

// One Worker per thread; the acceptor lives on the first and hands connections round-robin to
// all of them.
struct HttpServer::Impl {
  Impl(HttpApi& a, Service& s, int threads, Duration idle_timeout)
      : api(a), service(s), idle(idle_timeout) {
    for (int i = 0; i < threads; ++i) workers.push_back(std::make_unique<Worker>(idle));
    acceptor.emplace(workers.front()->context());
  }

  void Accept() {
    Worker& worker = *workers[next_worker++ % workers.size()];
    acceptor->async_accept(worker.context().get_executor(), [this, &worker](beast::error_code ec,
                                                                            WorkerSocket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      } else if (std::shared_ptr<asio::ssl::context> ctx = Ssl()) {
        std::make_shared<Session<true>>(std::move(socket), std::move(ctx), api, service, worker,
                                        idle)
            ->Run();
      } else {
        std::make_shared<Session<false>>(std::move(socket), api, service, worker, idle)->Run();
      }
      Accept();
    });
  }

  std::vector<std::unique_ptr<Worker>> workers;
  std::optional<tcp::acceptor> acceptor;
  size_t next_worker = 0;  // Only the acceptor's handler (on the first worker) touches it.
  HttpApi& api;
  Service& service;
  const Duration idle;
  std::shared_ptr<asio::ssl::context> Ssl() {
    std::lock_guard lock(ssl_mu);
    return ssl;
  }

  std::mutex ssl_mu;
  std::shared_ptr<asio::ssl::context> ssl;  // Null: plain HTTP. Replaced by ReloadTls.
};

HttpServer::HttpServer(HttpServerOptions options) : options_(std::move(options)) {}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpApi& api, Service& service,
                                                              HttpServerOptions options) {
  if (options.threads < 1 || options.threads > 256) {
    return absl::InvalidArgumentError(
        fmt::format("http threads: {} is not in [1, 256]", options.threads));
  }
  std::unique_ptr<HttpServer> server(new HttpServer(options));
  if (options.idle_timeout <= Duration::zero()) {
    return absl::InvalidArgumentError("http idle timeout: must be > 0");
  }
  server->impl_ = std::make_unique<Impl>(api, service, options.threads, options.idle_timeout);
  Impl& impl = *server->impl_;
  if (options.tls) {
    absl::StatusOr<std::shared_ptr<asio::ssl::context>> ssl = MakeSslContext(*options.tls);
    if (!ssl.ok()) return ssl.status();
    impl.ssl = *std::move(ssl);
  }
  beast::error_code ec;
  const asio::ip::address address = asio::ip::make_address(options.host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        fmt::format("http listen: '{}' is not an IP address ({})", options.host, ec.message()));
  }
  const tcp::endpoint endpoint(address, options.port);
  const std::string where = fmt::format("{}:{}", options.host, options.port);
  impl.acceptor->open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor->bind(endpoint, ec);
  if (!ec) impl.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(fmt::format("http listen {}: {}", where, ec.message()));
  }
  server->port_ = impl.acceptor->local_endpoint().port();
  impl.Accept();
  for (const std::unique_ptr<Worker>& worker : impl.workers) {
    server->threads_.emplace_back([&ioc = worker->context()] {
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception&) {
          // A handler threw (a bug); keep serving the other connections.
        }
      }
    });
  }
  return server;
}

absl::Status HttpServer::ReloadTls(const TlsFiles& files) {
  if (!impl_) return absl::FailedPreconditionError("tls.http: the HTTP server is stopped");
  if (!tls()) {
    return absl::FailedPreconditionError(
        "tls.http: the HTTP listener was started without TLS; restart tidegated to enable it");
  }
  TIDEGATE_ASSIGN_OR_RETURN(std::shared_ptr<asio::ssl::context> ctx, MakeSslContext(files));
  std::lock_guard lock(impl_->ssl_mu);
  impl_->ssl = std::move(ctx);
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (!impl_) return;
  for (const std::unique_ptr<Worker>& worker : impl_->workers) worker->context().stop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  beast::error_code ec;
  impl_->acceptor->close(ec);  // No thread runs the contexts any more.
  impl_.reset();
}

}  // namespace tidegate::server
