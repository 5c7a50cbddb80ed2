// YAML configuration parsing and validation (see tidegate/server/config.h).
//
// yaml-cpp throws; every call into it happens inside ParseConfig's try block, and its exceptions
// become InvalidArgument with the file and line. Each field is read through Reader, which knows the
// file and the field path, so that every error names file:line: path.
#include "tidegate/server/config.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "fmt/format.h"
#include "tidegate/common/status.h"
#include "tidegate/server/cron.h"
#include "tidegate/shaping/borrowing.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace tidegate::server {
namespace {

constexpr std::string_view kUnitNames[] = {"second", "minute", "hour", "day", "week", "month"};
constexpr std::string_view kPriorityNames[] = {"critical", "high", "normal", "low"};
constexpr std::string_view kModels[] = {"auto",  "snaive",  "naive", "ets",
                                        "arima", "prophet", "lstm"};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsResourceName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  if (!(std::islower(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Reads fields of one document with file, line and path in every error.
class Reader {
 public:
  // `first_line` is the file line (1-based) on which the document's text starts.
  Reader(std::string_view file, int first_line) : file_(file), first_line_(first_line) {}

  absl::Status Error(const YAML::Node& node, std::string_view path, std::string_view msg) const {
    const int line = node.IsDefined() ? Line(node) : 0;
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}: {}", file_, line, path, msg));
  }

  SourceLocation Location(const YAML::Node& node) const { return {file_, Line(node)}; }

  // A map whose keys are all in `allowed`.
  absl::Status ExpectMap(const YAML::Node& node, std::string_view path,
                         std::initializer_list<std::string_view> allowed) const {
    if (!node.IsMap()) return Error(node, path, "must be a mapping");
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) return Error(kv.first, path, "keys must be scalars");
      const std::string& k = kv.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        std::string list;
        for (std::string_view a : allowed) list += fmt::format("{}{}", list.empty() ? "" : ", ", a);
        return Error(kv.first, Join(path, k), fmt::format("unknown field (allowed: {})", list));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> String(const YAML::Node& node, std::string_view path) const {
    if (!node.IsScalar()) return Error(node, path, "must be a scalar");
    return node.Scalar();
  }

  absl::StatusOr<bool> Bool(const YAML::Node& node, std::string_view path) const {
    if (!node.IsScalar()) return Error(node, path, "must be true or false");
    const std::string v = Lower(node.Scalar());
    if (v == "true" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "no" || v == "off") return false;
    return Error(node, path, fmt::format("'{}' is not true or false", node.Scalar()));
  }

  absl::StatusOr<double> Number(const YAML::Node& node, std::string_view path) const {
    if (!node.IsScalar()) return Error(node, path, "must be a number");
    const std::string& s = node.Scalar();
    double v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) {
      return Error(node, path, fmt::format("'{}' is not a finite number", s));
    }
    return v;
  }

  absl::StatusOr<uint64_t> Unsigned(const YAML::Node& node, std::string_view path,
                                    uint64_t max) const {
    if (!node.IsScalar()) return Error(node, path, "must be a non-negative integer");
    const std::string& s = node.Scalar();
    uint64_t v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size()) {
      return Error(node, path, fmt::format("'{}' is not a non-negative integer", s));
    }
    if (v > max) return Error(node, path, fmt::format("{} is above the maximum {}", v, max));
    return v;
  }

  // "250ms", "30s", "5m", "1h", "2d", or a plain number of seconds.
  absl::StatusOr<Duration> DurationValue(const YAML::Node& node, std::string_view path) const {
    if (!node.IsScalar()) return Error(node, path, "must be a duration such as 30s, 5m, 1h, 1d");
    const std::string& s = node.Scalar();
    double v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    const std::string_view suffix(ptr, s.data() + s.size() - ptr);
    double unit_s = 0;
    if (suffix.empty() || suffix == "s") {
      unit_s = 1;
    } else if (suffix == "ms") {
      unit_s = 1e-3;
    } else if (suffix == "m") {
      unit_s = 60;
    } else if (suffix == "h") {
      unit_s = 3600;
    } else if (suffix == "d") {
      unit_s = 86400;
    }
    if (ec != std::errc() || unit_s == 0 || !std::isfinite(v) || v < 0 ||
        v * unit_s > 366.0 * 86400) {
      return Error(node, path,
                   fmt::format("'{}' is not a duration (a number >= 0 with ms, s, m, h or d, at "
                               "most 366 days)",
                               s));
    }
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(v * unit_s));
  }

  static std::string Join(std::string_view path, std::string_view field) {
    return path.empty() ? std::string(field) : fmt::format("{}.{}", path, field);
  }
  static std::string Index(std::string_view path, size_t i) {
    return fmt::format("{}[{}]", path, i);
  }

  const std::string& file() const { return file_; }

 private:
  int Line(const YAML::Node& node) const {
    return node.Mark().is_null() ? 0 : first_line_ + node.Mark().line;
  }
  std::string file_;
  int first_line_ = 1;
};

absl::StatusOr<RateLimit> ParseLimitFields(const Reader& r, const YAML::Node& node,
                                           const std::string& path) {
  RateLimit limit;
  const YAML::Node unit = node["unit"];
  const YAML::Node rpu = node["requests_per_unit"];
  if (!unit) return r.Error(node, Reader::Join(path, "unit"), "required");
  if (!rpu) return r.Error(node, Reader::Join(path, "requests_per_unit"), "required");
  TIDEGATE_ASSIGN_OR_RETURN(std::string unit_name, r.String(unit, Reader::Join(path, "unit")));
  absl::StatusOr<Unit> parsed = ParseUnit(unit_name);
  if (!parsed.ok()) {
    return r.Error(unit, Reader::Join(path, "unit"), std::string(parsed.status().message()));
  }
  limit.unit = *parsed;
  TIDEGATE_ASSIGN_OR_RETURN(uint64_t n,
                            r.Unsigned(rpu, Reader::Join(path, "requests_per_unit"), UINT32_MAX));
  limit.requests_per_unit = static_cast<uint32_t>(n);
  if (n > 0 && limit.rate_per_s() > 1e9) {
    return r.Error(rpu, Reader::Join(path, "requests_per_unit"),
                   fmt::format("{} per {} exceeds 1e9 per second", n, UnitName(limit.unit)));
  }
  return limit;
}

// `{unit, requests_per_unit}` (tenant quotas, default_limit).
absl::StatusOr<RateLimit> ParsePlainLimit(const Reader& r, const YAML::Node& node,
                                          const std::string& path) {
  TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(node, path, {"unit", "requests_per_unit"}));
  return ParseLimitFields(r, node, path);
}

absl::StatusOr<int> ParsePriority(const Reader& r, const YAML::Node& node,
                                  const std::string& path) {
  if (!node.IsScalar()) return r.Error(node, path, "must be critical, high, normal, low or 0..3");
  const std::string v = Lower(node.Scalar());
  for (int i = 0; i < 4; ++i) {
    if (v == kPriorityNames[i] || v == std::to_string(i)) return i;
  }
  return r.Error(
      node, path,
      fmt::format("'{}' is not one of critical, high, normal, low, 0, 1, 2, 3", node.Scalar()));
}

absl::StatusOr<std::map<std::string, double>> ParseResourceMap(const Reader& r,
                                                               const YAML::Node& node,
                                                               const std::string& path,
                                                               bool positive) {
  if (!node.IsMap()) return r.Error(node, path, "must be a mapping of resource: amount");
  std::map<std::string, double> out;
  for (const auto& kv : node) {
    const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
    const std::string field = Reader::Join(path, name);
    if (!IsResourceName(name)) {
      return r.Error(kv.first, field, "a resource name must match [a-z_][a-z0-9_]*");
    }
    TIDEGATE_ASSIGN_OR_RETURN(double v, r.Number(kv.second, field));
    if (positive ? v <= 0 : v < 0) {
      return r.Error(kv.second, field, fmt::format("{} must be {}", v, positive ? "> 0" : ">= 0"));
    }
    out[name] = v;
  }
  return out;
}

absl::Status CheckKeyText(const Reader& r, const YAML::Node& node, const std::string& path,
                          const std::string& text, bool allow_empty) {
  if (text.empty() && !allow_empty) return r.Error(node, path, "must not be empty");
  if (text.size() > 256) {
    return r.Error(node, path, fmt::format("is {} bytes, at most 256 allowed", text.size()));
  }
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return r.Error(node, path, "must not contain control characters");
  }
  return absl::OkStatus();
}

absl::StatusOr<PredictSpec> ParsePredict(const Reader& r, const YAML::Node& node,
                                         const std::string& path) {
  TIDEGATE_RETURN_IF_ERROR(
      r.ExpectMap(node, path, {"model", "horizons", "margin", "lead_time", "base_burst"}));
  PredictSpec p;
  if (const YAML::Node n = node["model"]) {
    TIDEGATE_ASSIGN_OR_RETURN(p.model, r.String(n, Reader::Join(path, "model")));
    if (std::find(std::begin(kModels), std::end(kModels), p.model) == std::end(kModels)) {
      return r.Error(
          n, Reader::Join(path, "model"),
          fmt::format("'{}' is not one of auto, snaive, naive, ets, arima, prophet, lstm",
                      p.model));
    }
  }
  if (const YAML::Node n = node["horizons"]) {
    const std::string hp = Reader::Join(path, "horizons");
    if (!n.IsSequence() || n.size() == 0) return r.Error(n, hp, "must be a non-empty list");
    p.horizons.clear();
    for (size_t i = 0; i < n.size(); ++i) {
      TIDEGATE_ASSIGN_OR_RETURN(Duration d, r.DurationValue(n[i], Reader::Index(hp, i)));
      if (d <= Duration::zero()) return r.Error(n[i], Reader::Index(hp, i), "must be > 0");
      p.horizons.push_back(d);
    }
  }
  if (const YAML::Node n = node["margin"]) {
    TIDEGATE_ASSIGN_OR_RETURN(p.margin, r.Number(n, Reader::Join(path, "margin")));
    if (p.margin < 0 || p.margin > 100) {
      return r.Error(n, Reader::Join(path, "margin"),
                     fmt::format("{} must be in [0, 100]", p.margin));
    }
  }
  if (const YAML::Node n = node["lead_time"]) {
    TIDEGATE_ASSIGN_OR_RETURN(p.lead_time, r.DurationValue(n, Reader::Join(path, "lead_time")));
  }
  if (const YAML::Node n = node["base_burst"]) {
    TIDEGATE_ASSIGN_OR_RETURN(p.base_burst, r.Number(n, Reader::Join(path, "base_burst")));
    if (p.base_burst <= 0) {
      return r.Error(n, Reader::Join(path, "base_burst"),
                     fmt::format("{} must be > 0", p.base_burst));
    }
  }
  return p;
}

absl::StatusOr<std::vector<DescriptorRule>> ParseDescriptors(const Reader& r,
                                                             const YAML::Node& node,
                                                             const std::string& path, int depth);

absl::StatusOr<DescriptorRule> ParseDescriptor(const Reader& r, const YAML::Node& node,
                                               const std::string& path, int depth) {
  TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(
      node, path,
      {"key", "value", "rate_limit", "shadow_mode", "replaces", "descriptors", "detailed_metric",
       "priority", "weight", "floor", "ceiling", "cost", "predict"}));
  DescriptorRule rule;
  rule.location = r.Location(node);
  const YAML::Node key = node["key"];
  if (!key) return r.Error(node, Reader::Join(path, "key"), "required");
  TIDEGATE_ASSIGN_OR_RETURN(rule.key, r.String(key, Reader::Join(path, "key")));
  TIDEGATE_RETURN_IF_ERROR(CheckKeyText(r, key, Reader::Join(path, "key"), rule.key, false));
  if (const YAML::Node n = node["value"]) {
    TIDEGATE_ASSIGN_OR_RETURN(std::string v, r.String(n, Reader::Join(path, "value")));
    TIDEGATE_RETURN_IF_ERROR(CheckKeyText(r, n, Reader::Join(path, "value"), v, true));
    // The reference service treats an empty value as "any value".
    if (!v.empty()) rule.value = std::move(v);
  }
  if (const YAML::Node n = node["rate_limit"]) {
    const std::string lp = Reader::Join(path, "rate_limit");
    TIDEGATE_RETURN_IF_ERROR(
        r.ExpectMap(n, lp, {"unit", "requests_per_unit", "unlimited", "name"}));
    if (const YAML::Node u = n["unlimited"]) {
      TIDEGATE_ASSIGN_OR_RETURN(rule.unlimited, r.Bool(u, Reader::Join(lp, "unlimited")));
    }
    if (const YAML::Node nm = n["name"]) {
      TIDEGATE_ASSIGN_OR_RETURN(rule.name, r.String(nm, Reader::Join(lp, "name")));
      TIDEGATE_RETURN_IF_ERROR(CheckKeyText(r, nm, Reader::Join(lp, "name"), rule.name, false));
    }
    if (rule.unlimited) {
      if (n["unit"] || n["requests_per_unit"]) {
        return r.Error(n, lp, "unlimited: true excludes unit and requests_per_unit");
      }
    } else {
      TIDEGATE_ASSIGN_OR_RETURN(rule.rate_limit, ParseLimitFields(r, n, lp));
    }
  }
  if (const YAML::Node n = node["shadow_mode"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.shadow_mode, r.Bool(n, Reader::Join(path, "shadow_mode")));
  }
  if (const YAML::Node n = node["detailed_metric"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.detailed_metric,
                              r.Bool(n, Reader::Join(path, "detailed_metric")));
  }
  if (const YAML::Node n = node["replaces"]) {
    const std::string rp = Reader::Join(path, "replaces");
    if (!n.IsSequence()) return r.Error(n, rp, "must be a list of {name: ...}");
    for (size_t i = 0; i < n.size(); ++i) {
      const std::string ip = Reader::Index(rp, i);
      TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(n[i], ip, {"name"}));
      if (!n[i]["name"]) return r.Error(n[i], Reader::Join(ip, "name"), "required");
      TIDEGATE_ASSIGN_OR_RETURN(std::string name, r.String(n[i]["name"], Reader::Join(ip, "name")));
      TIDEGATE_RETURN_IF_ERROR(
          CheckKeyText(r, n[i]["name"], Reader::Join(ip, "name"), name, false));
      rule.replaces.push_back(std::move(name));
    }
    if (!rule.replaces.empty() && !rule.rate_limit && !rule.unlimited) {
      return r.Error(n, rp, "a descriptor without rate_limit cannot replace another limit");
    }
  }
  if (const YAML::Node n = node["priority"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.priority, ParsePriority(r, n, Reader::Join(path, "priority")));
  }
  if (const YAML::Node n = node["weight"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.weight, r.Number(n, Reader::Join(path, "weight")));
    if (rule.weight <= 0) {
      return r.Error(n, Reader::Join(path, "weight"), fmt::format("{} must be > 0", rule.weight));
    }
  }
  if (const YAML::Node n = node["floor"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.floor_per_s, r.Number(n, Reader::Join(path, "floor")));
    if (rule.floor_per_s < 0) {
      return r.Error(n, Reader::Join(path, "floor"),
                     fmt::format("{} must be >= 0 (requests per second)", rule.floor_per_s));
    }
  }
  if (const YAML::Node n = node["ceiling"]) {
    TIDEGATE_ASSIGN_OR_RETURN(double c, r.Number(n, Reader::Join(path, "ceiling")));
    if (c <= 0 || c < rule.floor_per_s) {
      return r.Error(n, Reader::Join(path, "ceiling"),
                     fmt::format("{} must be > 0 and >= floor ({})", c, rule.floor_per_s));
    }
    rule.ceiling_per_s = c;
  }
  if (const YAML::Node n = node["cost"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.cost, ParseResourceMap(r, n, Reader::Join(path, "cost"), false));
  }
  if (const YAML::Node n = node["predict"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.predict, ParsePredict(r, n, Reader::Join(path, "predict")));
  }
  const bool has_tidegate_fields = node["priority"] || node["weight"] || node["floor"] ||
                                   node["ceiling"] || node["cost"] || node["predict"];
  if (has_tidegate_fields && !rule.rate_limit) {
    return r.Error(node, path,
                   "priority, weight, floor, ceiling, cost and predict need a rate_limit with "
                   "unit and requests_per_unit");
  }
  if (const YAML::Node n = node["descriptors"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.descriptors,
                              ParseDescriptors(r, n, Reader::Join(path, "descriptors"), depth + 1));
  }
  return rule;
}

absl::StatusOr<std::vector<DescriptorRule>> ParseDescriptors(const Reader& r,
                                                             const YAML::Node& node,
                                                             const std::string& path, int depth) {
  if (depth >= 16) return r.Error(node, path, "descriptors nest deeper than 16 levels");
  if (!node.IsSequence()) return r.Error(node, path, "must be a list of descriptors");
  std::vector<DescriptorRule> rules;
  std::set<std::pair<std::string, std::string>> seen;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string ip = Reader::Index(path, i);
    TIDEGATE_ASSIGN_OR_RETURN(DescriptorRule rule, ParseDescriptor(r, node[i], ip, depth));
    if (!seen.emplace(rule.key, rule.value.value_or("")).second) {
      return r.Error(node[i], ip,
                     fmt::format("duplicate descriptor key '{}' with value '{}' at this level",
                                 rule.key, rule.value.value_or("")));
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

// Which optional top-level sections a document set, to merge files.
struct Sections {
  bool capacity = false, store = false, tenants = false, unknown = false, limits = false,
       alerts = false, scaling = false, auth = false, tls = false, schedule = false,
       borrowing = false;
};

absl::StatusOr<std::string> ParseUrl(const Reader& r, const YAML::Node& node,
                                     const std::string& path) {
  TIDEGATE_ASSIGN_OR_RETURN(std::string url, r.String(node, path));
  const bool scheme = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
  const bool clean = std::none_of(url.begin(), url.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  });
  if (!scheme || !clean || url.size() <= url.find("//") + 2) {
    return r.Error(node, path, fmt::format("'{}' is not an http:// or https:// URL", url));
  }
  return url;
}

absl::Status ParseStore(const Reader& r, const YAML::Node& node, StoreSpec& store) {
  TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(node, "store",
                                       {"type", "path", "step", "raw_retention", "url", "database",
                                        "selector", "timeout", "max_spool_samples"}));
  store.location = r.Location(node);
  if (const YAML::Node n = node["type"]) {
    TIDEGATE_ASSIGN_OR_RETURN(std::string type, r.String(n, "store.type"));
    if (type == "sqlite") {
      store.type = StoreType::kSqlite;
    } else if (type == "prometheus") {
      store.type = StoreType::kPrometheus;
    } else if (type == "influxdb") {
      store.type = StoreType::kInfluxDb;
    } else {
      return r.Error(n, "store.type",
                     fmt::format("'{}' is not one of sqlite, prometheus, influxdb", type));
    }
  }
  const bool remote = store.type != StoreType::kSqlite;
  const std::string_view type_name = StoreTypeName(store.type);
  // A field that the chosen type does not use is refused rather than silently ignored.
  auto only_with = [&](const char* field, bool allowed, std::string_view types) -> absl::Status {
    if (const YAML::Node n = node[field]; n && !allowed) {
      return r.Error(n, fmt::format("store.{}", field),
                     fmt::format("only with type {} (this store is {})", types, type_name));
    }
    return absl::OkStatus();
  };
  TIDEGATE_RETURN_IF_ERROR(only_with("path", !remote, "sqlite"));
  TIDEGATE_RETURN_IF_ERROR(only_with("raw_retention", !remote, "sqlite"));
  TIDEGATE_RETURN_IF_ERROR(only_with("url", remote, "prometheus or influxdb"));
  TIDEGATE_RETURN_IF_ERROR(only_with("timeout", remote, "prometheus or influxdb"));
  TIDEGATE_RETURN_IF_ERROR(only_with("max_spool_samples", remote, "prometheus or influxdb"));
  TIDEGATE_RETURN_IF_ERROR(only_with("database", store.type == StoreType::kInfluxDb, "influxdb"));
  TIDEGATE_RETURN_IF_ERROR(
      only_with("selector", store.type == StoreType::kPrometheus, "prometheus"));
  if (const YAML::Node n = node["path"]) {
    TIDEGATE_ASSIGN_OR_RETURN(store.path, r.String(n, "store.path"));
  }
  if (const YAML::Node n = node["step"]) {
    TIDEGATE_ASSIGN_OR_RETURN(store.step, r.DurationValue(n, "store.step"));
    if (store.step <= Duration::zero() || std::chrono::hours(24) % store.step != Duration::zero()) {
      return r.Error(n, "store.step", "must be > 0 and divide one day");
    }
  }
  if (const YAML::Node n = node["raw_retention"]) {
    TIDEGATE_ASSIGN_OR_RETURN(store.raw_retention, r.DurationValue(n, "store.raw_retention"));
  }
  if (remote) {
    const YAML::Node n = node["url"];
    if (!n) {
      return r.Error(node, "store.url",
                     fmt::format("required with type {} (e.g. http://127.0.0.1:{})", type_name,
                                 store.type == StoreType::kPrometheus ? 9090 : 8086));
    }
    TIDEGATE_ASSIGN_OR_RETURN(store.url, ParseUrl(r, n, "store.url"));
    while (!store.url.empty() && store.url.back() == '/') store.url.pop_back();
  }
  if (const YAML::Node n = node["database"]) {
    TIDEGATE_ASSIGN_OR_RETURN(store.database, r.String(n, "store.database"));
    if (store.database.empty() || store.database.size() > 255 ||
        std::any_of(store.database.begin(), store.database.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      return r.Error(n, "store.database", "must be 1-255 bytes without control characters");
    }
  }
  if (const YAML::Node n = node["selector"]) {
    TIDEGATE_ASSIGN_OR_RETURN(store.selector, r.String(n, "store.selector"));
    // Matchers are pasted into every selector: a brace or a newline would change the query's shape.
    if (store.selector.find_first_of("{}\n\r") != std::string::npos) {
      return r.Error(n, "store.selector",
                     "label matchers such as job=\"tidegate\" (no braces or newlines)");
    }
  }
  if (const YAML::Node n = node["timeout"]) {
    TIDEGATE_ASSIGN_OR_RETURN(store.timeout, r.DurationValue(n, "store.timeout"));
    if (store.timeout < std::chrono::milliseconds(10) || store.timeout > std::chrono::minutes(1)) {
      return r.Error(n, "store.timeout", "must be in [10ms, 1m]");
    }
  }
  if (const YAML::Node n = node["max_spool_samples"]) {
    TIDEGATE_ASSIGN_OR_RETURN(store.max_spool_samples,
                              r.Unsigned(n, "store.max_spool_samples", 1'000'000'000));
    if (store.max_spool_samples == 0) return r.Error(n, "store.max_spool_samples", "must be > 0");
  }
  return absl::OkStatus();
}

absl::Status ParseSchedule(const Reader& r, const YAML::Node& node, ScheduleSpec& out) {
  TIDEGATE_RETURN_IF_ERROR(
      r.ExpectMap(node, "schedule", {"training", "planning_tick", "checkpoint"}));
  if (const YAML::Node n = node["training"]) {
    TIDEGATE_ASSIGN_OR_RETURN(out.training, r.String(n, "schedule.training"));
    if (absl::StatusOr<CronSchedule> c = CronSchedule::Parse(out.training); !c.ok()) {
      return r.Error(n, "schedule.training", std::string(c.status().message()));
    }
  }
  if (const YAML::Node n = node["planning_tick"]) {
    TIDEGATE_ASSIGN_OR_RETURN(out.planning_tick, r.DurationValue(n, "schedule.planning_tick"));
    if (out.planning_tick < std::chrono::milliseconds(100) ||
        out.planning_tick > std::chrono::hours(1)) {
      return r.Error(n, "schedule.planning_tick", "must be in [100ms, 1h]");
    }
  }
  if (const YAML::Node n = node["checkpoint"]) {
    TIDEGATE_ASSIGN_OR_RETURN(out.checkpoint, r.DurationValue(n, "schedule.checkpoint"));
    if (out.checkpoint < std::chrono::seconds(1) || out.checkpoint > std::chrono::hours(24)) {
      return r.Error(n, "schedule.checkpoint", "must be in [1s, 1d]");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseTenants(const Reader& r, const YAML::Node& node, std::vector<TenantSpec>& out) {
  if (!node.IsSequence()) return r.Error(node, "tenants", "must be a list of tenants");
  std::set<std::string> names;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string ip = Reader::Index("tenants", i);
    TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(node[i], ip, {"name", "quota", "priority", "weight"}));
    TenantSpec t;
    t.location = r.Location(node[i]);
    if (!node[i]["name"]) return r.Error(node[i], Reader::Join(ip, "name"), "required");
    TIDEGATE_ASSIGN_OR_RETURN(t.name, r.String(node[i]["name"], Reader::Join(ip, "name")));
    TIDEGATE_RETURN_IF_ERROR(
        CheckKeyText(r, node[i]["name"], Reader::Join(ip, "name"), t.name, false));
    if (!names.insert(t.name).second) {
      return r.Error(node[i]["name"], Reader::Join(ip, "name"),
                     fmt::format("duplicate tenant '{}'", t.name));
    }
    if (const YAML::Node n = node[i]["quota"]) {
      TIDEGATE_ASSIGN_OR_RETURN(RateLimit q, ParsePlainLimit(r, n, Reader::Join(ip, "quota")));
      if (q.requests_per_unit == 0) {
        return r.Error(n, Reader::Join(ip, "quota.requests_per_unit"), "must be > 0");
      }
      t.quota = q;
    }
    if (const YAML::Node n = node[i]["priority"]) {
      TIDEGATE_ASSIGN_OR_RETURN(t.priority, ParsePriority(r, n, Reader::Join(ip, "priority")));
    }
    if (const YAML::Node n = node[i]["weight"]) {
      TIDEGATE_ASSIGN_OR_RETURN(t.weight, r.Number(n, Reader::Join(ip, "weight")));
      if (t.weight <= 0) {
        return r.Error(n, Reader::Join(ip, "weight"), fmt::format("{} must be > 0", t.weight));
      }
    }
    out.push_back(std::move(t));
  }
  return absl::OkStatus();
}

absl::Status ParseUnknown(const Reader& r, const YAML::Node& node, UnknownDescriptors& out) {
  TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(node, "unknown_descriptors", {"policy", "default_limit"}));
  if (const YAML::Node n = node["policy"]) {
    TIDEGATE_ASSIGN_OR_RETURN(std::string p, r.String(n, "unknown_descriptors.policy"));
    if (p == "allow") {
      out.policy = UnknownPolicy::kAllow;
    } else if (p == "deny") {
      out.policy = UnknownPolicy::kDeny;
    } else if (p == "default") {
      out.policy = UnknownPolicy::kDefault;
    } else {
      return r.Error(n, "unknown_descriptors.policy",
                     fmt::format("'{}' is not one of allow, deny, default", p));
    }
  }
  if (const YAML::Node n = node["default_limit"]) {
    TIDEGATE_ASSIGN_OR_RETURN(out.default_limit,
                              ParsePlainLimit(r, n, "unknown_descriptors.default_limit"));
    if (out.default_limit->requests_per_unit == 0) {
      return r.Error(n, "unknown_descriptors.default_limit.requests_per_unit", "must be > 0");
    }
  }
  if (out.policy == UnknownPolicy::kDefault && !out.default_limit) {
    return r.Error(node, "unknown_descriptors.default_limit", "required with policy: default");
  }
  return absl::OkStatus();
}

absl::Status ParseLimits(const Reader& r, const YAML::Node& node, RequestLimits& out) {
  TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(node, "limits",
                                       {"max_body_bytes", "max_descriptors", "max_entries",
                                        "max_key_length", "max_classes", "max_report_batch"}));
  struct Field {
    const char* name;
    size_t* target;
    uint64_t max;
  };
  const Field fields[] = {{"max_body_bytes", &out.max_body_bytes, 64ull << 20},
                          {"max_descriptors", &out.max_descriptors, 4096},
                          {"max_entries", &out.max_entries, 16},
                          {"max_key_length", &out.max_key_length, 256},
                          {"max_classes", &out.max_classes, 10'000'000},
                          {"max_report_batch", &out.max_report_batch, 1'000'000}};
  for (const Field& f : fields) {
    if (const YAML::Node n = node[f.name]) {
      const std::string p = Reader::Join("limits", f.name);
      TIDEGATE_ASSIGN_OR_RETURN(uint64_t v, r.Unsigned(n, p, f.max));
      if (v == 0) return r.Error(n, p, "must be > 0");
      *f.target = static_cast<size_t>(v);
    }
  }
  return absl::OkStatus();
}

// `labels:` / `annotations:` of an alert rule: a mapping of names to strings.
absl::StatusOr<std::map<std::string, std::string>> ParseStringMap(const Reader& r,
                                                                  const YAML::Node& node,
                                                                  const std::string& path) {
  if (!node.IsMap()) return r.Error(node, path, "must be a mapping of name: text");
  std::map<std::string, std::string> out;
  for (const auto& kv : node) {
    const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
    TIDEGATE_ASSIGN_OR_RETURN(std::string v, r.String(kv.second, Reader::Join(path, name)));
    if (v.size() > 4096) {
      return r.Error(kv.second, Reader::Join(path, name), "is longer than 4096 bytes");
    }
    out[name] = std::move(v);
  }
  return out;
}

absl::StatusOr<alert::Statistic> ParseStatistic(const Reader& r, const YAML::Node& node,
                                                const std::string& path) {
  TIDEGATE_ASSIGN_OR_RETURN(std::string v, r.String(node, path));
  if (v == "observed") return alert::Statistic::kObserved;
  if (v == "mean") return alert::Statistic::kMean;
  if (v == "upper") return alert::Statistic::kUpper;
  return r.Error(node, path, fmt::format("'{}' is not one of observed, mean, upper", v));
}

absl::StatusOr<alert::Rule> ParseAlertRule(const Reader& r, const YAML::Node& node,
                                           const std::string& path) {
  TIDEGATE_RETURN_IF_ERROR(
      r.ExpectMap(node, path,
                  {"name", "scope", "tenant", "class", "resource", "horizon", "statistic", "op",
                   "threshold", "capacity_fraction", "for", "labels", "annotations", "anomaly"}));
  alert::Rule rule;
  const SourceLocation loc = r.Location(node);
  rule.source = fmt::format("{}:{}", loc.file, loc.line);
  const std::string np = Reader::Join(path, "name");
  if (!node["name"]) return r.Error(node, np, "required");
  TIDEGATE_ASSIGN_OR_RETURN(rule.name, r.String(node["name"], np));
  if (const YAML::Node n = node["anomaly"]) {
    rule.kind = alert::RuleKind::kAnomaly;
    const std::string ap = Reader::Join(path, "anomaly");
    for (const char* f :
         {"scope", "horizon", "statistic", "op", "threshold", "capacity_fraction"}) {
      if (node[f]) {
        return r.Error(node[f], Reader::Join(path, f), "not allowed in an anomaly rule");
      }
    }
    if (!n.IsNull()) {
      TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(n, ap, {"min_score", "kinds"}));
      if (const YAML::Node m = n["min_score"]) {
        TIDEGATE_ASSIGN_OR_RETURN(rule.min_score, r.Number(m, Reader::Join(ap, "min_score")));
        if (rule.min_score < 0 || rule.min_score > 1) {
          return r.Error(m, Reader::Join(ap, "min_score"),
                         fmt::format("{} must be in [0, 1]", rule.min_score));
        }
      }
      if (const YAML::Node k = n["kinds"]) {
        const std::string kp = Reader::Join(ap, "kinds");
        if (!k.IsSequence()) return r.Error(k, kp, "must be a list of anomaly kinds");
        for (size_t i = 0; i < k.size(); ++i) {
          TIDEGATE_ASSIGN_OR_RETURN(std::string kind, r.String(k[i], Reader::Index(kp, i)));
          TIDEGATE_RETURN_IF_ERROR(CheckKeyText(r, k[i], Reader::Index(kp, i), kind, false));
          rule.kinds.push_back(std::move(kind));
        }
      }
    }
  }
  if (const YAML::Node n = node["scope"]) {
    TIDEGATE_ASSIGN_OR_RETURN(std::string v, r.String(n, Reader::Join(path, "scope")));
    if (v == "class") {
      rule.scope = alert::Scope::kClass;
    } else if (v == "tenant") {
      rule.scope = alert::Scope::kTenant;
    } else if (v == "resource") {
      rule.scope = alert::Scope::kResource;
    } else {
      return r.Error(n, Reader::Join(path, "scope"),
                     fmt::format("'{}' is not one of class, tenant, resource", v));
    }
  }
  if (const YAML::Node n = node["tenant"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.tenant, r.String(n, Reader::Join(path, "tenant")));
    TIDEGATE_RETURN_IF_ERROR(CheckKeyText(r, n, Reader::Join(path, "tenant"), rule.tenant, false));
  }
  if (const YAML::Node n = node["class"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.class_key, r.String(n, Reader::Join(path, "class")));
    if (rule.class_key.find('/') == std::string::npos) {
      return r.Error(n, Reader::Join(path, "class"),
                     fmt::format("'{}' is not a class key (tenant/key=value,...)", rule.class_key));
    }
  }
  if (const YAML::Node n = node["resource"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.resource, r.String(n, Reader::Join(path, "resource")));
    if (!IsResourceName(rule.resource)) {
      return r.Error(n, Reader::Join(path, "resource"),
                     "a resource name must match [a-z_][a-z0-9_]*");
    }
  } else if (rule.kind == alert::RuleKind::kThreshold) {
    return r.Error(node, Reader::Join(path, "resource"), "required");
  }
  if (const YAML::Node n = node["horizon"]) {
    TIDEGATE_ASSIGN_OR_RETURN(std::string v, r.String(n, Reader::Join(path, "horizon")));
    if (v == "1m") {
      rule.horizon = std::chrono::minutes(1);
    } else if (v == "1h") {
      rule.horizon = std::chrono::hours(1);
    } else if (v == "1d") {
      rule.horizon = std::chrono::hours(24);
    } else {
      return r.Error(n, Reader::Join(path, "horizon"),
                     fmt::format("'{}' is not one of 1m, 1h, 1d", v));
    }
  }
  if (const YAML::Node n = node["statistic"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.statistic,
                              ParseStatistic(r, n, Reader::Join(path, "statistic")));
  }
  if (const YAML::Node n = node["op"]) {
    TIDEGATE_ASSIGN_OR_RETURN(std::string v, r.String(n, Reader::Join(path, "op")));
    if (v == ">") {
      rule.op = alert::Comparison::kGreater;
    } else if (v == ">=") {
      rule.op = alert::Comparison::kGreaterEqual;
    } else if (v == "<") {
      rule.op = alert::Comparison::kLess;
    } else if (v == "<=") {
      rule.op = alert::Comparison::kLessEqual;
    } else {
      return r.Error(n, Reader::Join(path, "op"),
                     fmt::format("'{}' is not one of >, >=, <, <=", v));
    }
  }
  if (const YAML::Node n = node["threshold"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.threshold, r.Number(n, Reader::Join(path, "threshold")));
  }
  if (const YAML::Node n = node["capacity_fraction"]) {
    TIDEGATE_ASSIGN_OR_RETURN(double f, r.Number(n, Reader::Join(path, "capacity_fraction")));
    if (f <= 0 || f > 100) {
      return r.Error(n, Reader::Join(path, "capacity_fraction"),
                     fmt::format("{} must be in (0, 100]", f));
    }
    rule.capacity_fraction = f;
  }
  if (rule.kind == alert::RuleKind::kThreshold &&
      rule.threshold.has_value() == rule.capacity_fraction.has_value()) {
    return r.Error(node, Reader::Join(path, "threshold"),
                   "exactly one of threshold and capacity_fraction is required");
  }
  if (const YAML::Node n = node["for"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.for_duration, r.DurationValue(n, Reader::Join(path, "for")));
  }
  if (const YAML::Node n = node["labels"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.labels, ParseStringMap(r, n, Reader::Join(path, "labels")));
  }
  if (const YAML::Node n = node["annotations"]) {
    TIDEGATE_ASSIGN_OR_RETURN(rule.annotations,
                              ParseStringMap(r, n, Reader::Join(path, "annotations")));
  }
  // The remaining checks (names, reserved labels, template placeholders, scope combinations).
  if (absl::Status s = alert::ValidateRule(rule); !s.ok()) {
    return r.Error(node, path, std::string(s.message()));
  }
  return rule;
}

absl::Status ParseAlerts(const Reader& r, const YAML::Node& node, alert::AlertsConfig& out) {
  TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(node, "alerts",
                                       {"evaluation_interval", "resend_interval", "external_url",
                                        "alertmanagers", "webhooks", "delivery", "rules"}));
  if (const YAML::Node n = node["evaluation_interval"]) {
    TIDEGATE_ASSIGN_OR_RETURN(out.evaluation_interval,
                              r.DurationValue(n, "alerts.evaluation_interval"));
    if (out.evaluation_interval < std::chrono::seconds(1)) {
      return r.Error(n, "alerts.evaluation_interval", "must be at least 1s");
    }
  }
  if (const YAML::Node n = node["resend_interval"]) {
    TIDEGATE_ASSIGN_OR_RETURN(out.resend_interval, r.DurationValue(n, "alerts.resend_interval"));
    if (out.resend_interval < std::chrono::seconds(1)) {
      return r.Error(n, "alerts.resend_interval", "must be at least 1s");
    }
  }
  if (const YAML::Node n = node["external_url"]) {
    TIDEGATE_ASSIGN_OR_RETURN(out.external_url, ParseUrl(r, n, "alerts.external_url"));
  }
  if (const YAML::Node n = node["alertmanagers"]) {
    if (!n.IsSequence()) return r.Error(n, "alerts.alertmanagers", "must be a list of URLs");
    std::set<std::string> seen;
    for (size_t i = 0; i < n.size(); ++i) {
      const std::string ip = Reader::Index("alerts.alertmanagers", i);
      TIDEGATE_ASSIGN_OR_RETURN(std::string url, ParseUrl(r, n[i], ip));
      if (!seen.insert(url).second) {
        return r.Error(n[i], ip, fmt::format("duplicate Alertmanager '{}'", url));
      }
      out.alertmanagers.push_back(std::move(url));
    }
  }
  if (const YAML::Node n = node["webhooks"]) {
    if (!n.IsSequence()) return r.Error(n, "alerts.webhooks", "must be a list of {name, url}");
    std::set<std::string> names;
    for (size_t i = 0; i < n.size(); ++i) {
      const std::string ip = Reader::Index("alerts.webhooks", i);
      TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(n[i], ip, {"name", "url"}));
      alert::WebhookSpec w;
      if (!n[i]["name"]) return r.Error(n[i], Reader::Join(ip, "name"), "required");
      if (!n[i]["url"]) return r.Error(n[i], Reader::Join(ip, "url"), "required");
      TIDEGATE_ASSIGN_OR_RETURN(w.name, r.String(n[i]["name"], Reader::Join(ip, "name")));
      TIDEGATE_RETURN_IF_ERROR(
          CheckKeyText(r, n[i]["name"], Reader::Join(ip, "name"), w.name, false));
      if (!names.insert(w.name).second) {
        return r.Error(n[i]["name"], Reader::Join(ip, "name"),
                       fmt::format("duplicate webhook name '{}'", w.name));
      }
      TIDEGATE_ASSIGN_OR_RETURN(w.url, ParseUrl(r, n[i]["url"], Reader::Join(ip, "url")));
      out.webhooks.push_back(std::move(w));
    }
  }
  if (const YAML::Node n = node["delivery"]) {
    const std::string dp = "alerts.delivery";
    TIDEGATE_RETURN_IF_ERROR(
        r.ExpectMap(n, dp, {"timeout", "max_attempts", "initial_backoff", "queue_size"}));
    if (const YAML::Node m = n["timeout"]) {
      TIDEGATE_ASSIGN_OR_RETURN(out.delivery.timeout,
                                r.DurationValue(m, Reader::Join(dp, "timeout")));
      if (out.delivery.timeout < std::chrono::milliseconds(1) ||
          out.delivery.timeout > std::chrono::minutes(5)) {
        return r.Error(m, Reader::Join(dp, "timeout"), "must be between 1ms and 5m");
      }
    }
    if (const YAML::Node m = n["max_attempts"]) {
      TIDEGATE_ASSIGN_OR_RETURN(uint64_t v, r.Unsigned(m, Reader::Join(dp, "max_attempts"), 20));
      if (v == 0) return r.Error(m, Reader::Join(dp, "max_attempts"), "must be >= 1");
      out.delivery.max_attempts = static_cast<int>(v);
    }
    if (const YAML::Node m = n["initial_backoff"]) {
      TIDEGATE_ASSIGN_OR_RETURN(out.delivery.initial_backoff,
                                r.DurationValue(m, Reader::Join(dp, "initial_backoff")));
      if (out.delivery.initial_backoff > std::chrono::seconds(30)) {
        return r.Error(m, Reader::Join(dp, "initial_backoff"), "must be at most 30s");
      }
    }
    if (const YAML::Node m = n["queue_size"]) {
      TIDEGATE_ASSIGN_OR_RETURN(uint64_t v,
                                r.Unsigned(m, Reader::Join(dp, "queue_size"), 1'000'000));
      if (v == 0) return r.Error(m, Reader::Join(dp, "queue_size"), "must be >= 1");
      out.delivery.queue_capacity = static_cast<size_t>(v);
    }
  }
  if (const YAML::Node n = node["rules"]) {
    if (!n.IsSequence()) return r.Error(n, "alerts.rules", "must be a list of rules");
    std::set<std::string> names;
    for (size_t i = 0; i < n.size(); ++i) {
      const std::string ip = Reader::Index("alerts.rules", i);
      TIDEGATE_ASSIGN_OR_RETURN(alert::Rule rule, ParseAlertRule(r, n[i], ip));
      if (!names.insert(rule.name).second) {
        return r.Error(n[i]["name"], Reader::Join(ip, "name"),
                       fmt::format("duplicate rule name '{}'", rule.name));
      }
      out.rules.push_back(std::move(rule));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseScaling(const Reader& r, const YAML::Node& node, alert::ScalingConfig& out) {
  TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(node, "scaling", {"evaluation_interval", "services"}));
  if (const YAML::Node n = node["evaluation_interval"]) {
    TIDEGATE_ASSIGN_OR_RETURN(out.evaluation_interval,
                              r.DurationValue(n, "scaling.evaluation_interval"));
    if (out.evaluation_interval < std::chrono::seconds(1)) {
      return r.Error(n, "scaling.evaluation_interval", "must be at least 1s");
    }
  }
  const YAML::Node services = node["services"];
  if (!services) return absl::OkStatus();
  if (!services.IsSequence()) return r.Error(services, "scaling.services", "must be a list");
  std::set<std::string> names;
  for (size_t i = 0; i < services.size(); ++i) {
    const YAML::Node s = services[i];
    const std::string ip = Reader::Index("scaling.services", i);
    TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(
        s, ip,
        {"name", "tenant", "classes", "per_replica", "target_utilization", "min_replicas",
         "max_replicas", "lead_time", "scale_down_stabilization", "statistic", "webhook"}));
    alert::ServiceSpec spec;
    if (!s["name"]) return r.Error(s, Reader::Join(ip, "name"), "required");
    TIDEGATE_ASSIGN_OR_RETURN(spec.name, r.String(s["name"], Reader::Join(ip, "name")));
    if (!names.insert(spec.name).second) {
      return r.Error(s["name"], Reader::Join(ip, "name"),
                     fmt::format("duplicate service name '{}'", spec.name));
    }
    if (const YAML::Node n = s["tenant"]) {
      TIDEGATE_ASSIGN_OR_RETURN(spec.tenant, r.String(n, Reader::Join(ip, "tenant")));
      TIDEGATE_RETURN_IF_ERROR(CheckKeyText(r, n, Reader::Join(ip, "tenant"), spec.tenant, false));
    }
    if (const YAML::Node n = s["classes"]) {
      const std::string cp = Reader::Join(ip, "classes");
      if (!n.IsSequence()) return r.Error(n, cp, "must be a list of class keys");
      for (size_t k = 0; k < n.size(); ++k) {
        TIDEGATE_ASSIGN_OR_RETURN(std::string key, r.String(n[k], Reader::Index(cp, k)));
        if (key.find('/') == std::string::npos) {
          return r.Error(n[k], Reader::Index(cp, k),
                         fmt::format("'{}' is not a class key (tenant/key=value,...)", key));
        }
        spec.classes.push_back(std::move(key));
      }
    }
    if (!s["per_replica"]) return r.Error(s, Reader::Join(ip, "per_replica"), "required");
    TIDEGATE_ASSIGN_OR_RETURN(
        spec.per_replica,
        ParseResourceMap(r, s["per_replica"], Reader::Join(ip, "per_replica"), true));
    if (spec.per_replica.empty()) {
      return r.Error(s["per_replica"], Reader::Join(ip, "per_replica"),
                     "at least one resource is required");
    }
    if (const YAML::Node n = s["target_utilization"]) {
      TIDEGATE_ASSIGN_OR_RETURN(spec.target_utilization,
                                r.Number(n, Reader::Join(ip, "target_utilization")));
    }
    if (const YAML::Node n = s["min_replicas"]) {
      TIDEGATE_ASSIGN_OR_RETURN(uint64_t v,
                                r.Unsigned(n, Reader::Join(ip, "min_replicas"), 1'000'000));
      spec.min_replicas = static_cast<int>(v);
    }
    if (const YAML::Node n = s["max_replicas"]) {
      TIDEGATE_ASSIGN_OR_RETURN(uint64_t v,
                                r.Unsigned(n, Reader::Join(ip, "max_replicas"), 1'000'000));
      spec.max_replicas = static_cast<int>(v);
    }
    if (const YAML::Node n = s["lead_time"]) {
      TIDEGATE_ASSIGN_OR_RETURN(spec.lead_time, r.DurationValue(n, Reader::Join(ip, "lead_time")));
    }
    if (const YAML::Node n = s["scale_down_stabilization"]) {
      TIDEGATE_ASSIGN_OR_RETURN(spec.scale_down_stabilization,
                                r.DurationValue(n, Reader::Join(ip, "scale_down_stabilization")));
    }
    if (const YAML::Node n = s["statistic"]) {
      TIDEGATE_ASSIGN_OR_RETURN(spec.statistic,
                                ParseStatistic(r, n, Reader::Join(ip, "statistic")));
    }
    if (const YAML::Node n = s["webhook"]) {
      TIDEGATE_ASSIGN_OR_RETURN(spec.webhook, ParseUrl(r, n, Reader::Join(ip, "webhook")));
    }
    if (absl::Status st = alert::ValidateServiceSpec(spec); !st.ok()) {
      // "field: problem" from the validator; point at the field's own line when it is present.
      const std::string msg(st.message());
      const std::string field = msg.substr(0, msg.find(':'));
      const YAML::Node at = s[field.substr(0, field.find('.'))];
      return r.Error(at ? at : s, Reader::Join(ip, field), msg.substr(msg.find(':') + 2));
    }
    out.services.push_back(std::move(spec));
  }
  return absl::OkStatus();
}

absl::Status ParseAuth(const Reader& r, const YAML::Node& node, AuthSpec& out) {
  TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(node, "auth", {"required", "tokens"}));
  if (const YAML::Node n = node["required"]) {
    TIDEGATE_ASSIGN_OR_RETURN(out.required, r.Bool(n, "auth.required"));
  }
  if (const YAML::Node tokens = node["tokens"]) {
    if (!tokens.IsSequence()) return r.Error(tokens, "auth.tokens", "must be a list of tokens");
    for (size_t i = 0; i < tokens.size(); ++i) {
      const YAML::Node t = tokens[i];
      const std::string ip = Reader::Index("auth.tokens", i);
      if (t.IsMap() && (t["secret"] || t["token"])) {
        return r.Error(t, ip,
                       "a token's secret never goes into the config: give its SHA-256 as sha256 "
                       "(`tidegate hash-token` computes it)");
      }
      TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(t, ip, {"id", "sha256", "scopes", "tenants"}));
      TokenSpec spec;
      spec.location = fmt::format("{}:{}", r.file(), r.Location(t).line);
      for (const char* f : {"id", "sha256", "scopes", "tenants"}) {
        if (!t[f]) return r.Error(t, Reader::Join(ip, f), "required");
      }
      TIDEGATE_ASSIGN_OR_RETURN(spec.id, r.String(t["id"], Reader::Join(ip, "id")));
      TIDEGATE_RETURN_IF_ERROR(CheckKeyText(r, t["id"], Reader::Join(ip, "id"), spec.id, false));
      TIDEGATE_ASSIGN_OR_RETURN(std::string hex, r.String(t["sha256"], Reader::Join(ip, "sha256")));
      absl::StatusOr<TokenHash> hash = ParseTokenHash(hex);
      if (!hash.ok()) {
        return r.Error(t["sha256"], Reader::Join(ip, "sha256"),
                       std::string(hash.status().message()));
      }
      spec.sha256 = *hash;
      const std::string sp = Reader::Join(ip, "scopes");
      const YAML::Node scopes = t["scopes"];
      if (!scopes.IsSequence() || scopes.size() == 0) {
        return r.Error(scopes, sp, "must be a non-empty list of check, report, read, admin");
      }
      for (size_t j = 0; j < scopes.size(); ++j) {
        TIDEGATE_ASSIGN_OR_RETURN(std::string name, r.String(scopes[j], Reader::Index(sp, j)));
        absl::StatusOr<Scope> scope = ParseScope(name);
        if (!scope.ok())
          return r.Error(scopes[j], Reader::Index(sp, j), std::string(scope.status().message()));
        spec.scopes |= static_cast<uint8_t>(*scope);
      }
      const std::string tp = Reader::Join(ip, "tenants");
      const YAML::Node tenants = t["tenants"];
      if (tenants.IsScalar() && tenants.Scalar() == "*") {
        spec.all_tenants = true;
      } else {
        if (!tenants.IsSequence() || tenants.size() == 0) {
          return r.Error(tenants, tp, "must be \"*\" or a non-empty list of tenants");
        }
        for (size_t j = 0; j < tenants.size(); ++j) {
          TIDEGATE_ASSIGN_OR_RETURN(std::string name, r.String(tenants[j], Reader::Index(tp, j)));
          if (name == "*") {
            if (tenants.size() > 1) {
              return r.Error(tenants[j], Reader::Index(tp, j),
                             "\"*\" (every tenant) cannot be combined with named tenants");
            }
            spec.all_tenants = true;
            continue;
          }
          TIDEGATE_RETURN_IF_ERROR(CheckKeyText(r, tenants[j], Reader::Index(tp, j), name, false));
          spec.tenants.push_back(std::move(name));
        }
      }
      for (const TokenSpec& prev : out.tokens) {
        if (prev.id == spec.id) {
          return r.Error(
              t["id"], Reader::Join(ip, "id"),
              fmt::format("duplicate token id '{}' (first at {})", spec.id, prev.location));
        }
        if (prev.sha256 == spec.sha256) {
          return r.Error(t["sha256"], Reader::Join(ip, "sha256"),
                         fmt::format("the same hash as token '{}' (first at {}): one secret, one "
                                     "token",
                                     prev.id, prev.location));
        }
      }
      out.tokens.push_back(std::move(spec));
    }
  }
  if (out.required && out.tokens.empty()) {
    return r.Error(node, "auth.required", "true needs at least one token in auth.tokens");
  }
  return absl::OkStatus();
}

// Reads a PEM file with OpenSSL; the error names the field and the file.
template <typename T, typename Read, typename Free>
absl::StatusOr<std::unique_ptr<T, Free>> ReadPem(const Reader& r, const YAML::Node& node,
                                                 const std::string& path, const std::string& file,
                                                 std::string_view what, Read read, Free free) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(file.c_str(), "r"), &BIO_free);
  if (!bio) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(file, ec);
    return r.Error(node, path,
                   fmt::format("'{}' {}", file, exists ? "cannot be read" : "does not exist"));
  }
  std::unique_ptr<T, Free> out(read(bio.get(), nullptr, nullptr, nullptr), free);
  if (!out) return r.Error(node, path, fmt::format("'{}' holds no PEM {}", file, what));
  return out;
}

absl::StatusOr<TlsFiles> ParseTlsFiles(const Reader& r, const YAML::Node& node,
                                       const std::string& path) {
  TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(node, path, {"cert_file", "key_file", "client_ca_file"}));
  TlsFiles out;
  out.location = r.Location(node);
  const std::filesystem::path base = std::filesystem::path(r.file()).parent_path();
  auto file_field = [&](const char* field, std::string& target) -> absl::Status {
    const YAML::Node n = node[field];
    TIDEGATE_ASSIGN_OR_RETURN(std::string v, r.String(n, Reader::Join(path, field)));
    if (v.empty()) return r.Error(n, Reader::Join(path, field), "must not be empty");
    const std::filesystem::path p(v);
    target = p.is_absolute() ? v : (base / p).lexically_normal().string();
    return absl::OkStatus();
  };
  for (const char* f : {"cert_file", "key_file"}) {
    if (!node[f]) return r.Error(node, Reader::Join(path, f), "required");
  }
  TIDEGATE_RETURN_IF_ERROR(file_field("cert_file", out.cert_file));
  TIDEGATE_RETURN_IF_ERROR(file_field("key_file", out.key_file));
  if (node["client_ca_file"]) {
    TIDEGATE_RETURN_IF_ERROR(file_field("client_ca_file", out.client_ca_file));
  }
  const std::string cp = Reader::Join(path, "cert_file");
  TIDEGATE_ASSIGN_OR_RETURN(auto cert,
                            ReadPem<X509>(r, node["cert_file"], cp, out.cert_file, "certificate",
                                          &PEM_read_bio_X509, &X509_free));
  const std::string kp = Reader::Join(path, "key_file");
  TIDEGATE_ASSIGN_OR_RETURN(auto key,
                            ReadPem<EVP_PKEY>(r, node["key_file"], kp, out.key_file, "private key",
                                              &PEM_read_bio_PrivateKey, &EVP_PKEY_free));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return r.Error(node["key_file"], kp,
                   fmt::format("'{}' is not the private key of the certificate in '{}'",
                               out.key_file, out.cert_file));
  }
  if (!out.client_ca_file.empty()) {
    const std::string ap = Reader::Join(path, "client_ca_file");
    TIDEGATE_RETURN_IF_ERROR(ReadPem<X509>(r, node["client_ca_file"], ap, out.client_ca_file,
                                           "CA certificate", &PEM_read_bio_X509, &X509_free)
                                 .status());
  }
  return out;
}

absl::Status ParseTls(const Reader& r, const YAML::Node& node, TlsSpec& out) {
  TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(node, "tls", {"http", "grpc"}));
  if (const YAML::Node n = node["http"]) {
    TIDEGATE_ASSIGN_OR_RETURN(out.http, ParseTlsFiles(r, n, "tls.http"));
  }
  if (const YAML::Node n = node["grpc"]) {
    TIDEGATE_ASSIGN_OR_RETURN(out.grpc, ParseTlsFiles(r, n, "tls.grpc"));
  }
  return absl::OkStatus();
}

absl::Status ParseBorrowing(const Reader& r, const YAML::Node& node, BorrowingSpec& out) {
  TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(
      node, "borrowing", {"enabled", "resource", "horizon", "tier_reserve", "cost_headroom"}));
  out.location = r.Location(node);
  plan::BorrowConfig& b = out.borrow;
  if (const YAML::Node n = node["enabled"]) {
    TIDEGATE_ASSIGN_OR_RETURN(b.enabled, r.Bool(n, "borrowing.enabled"));
  }
  if (const YAML::Node n = node["resource"]) {
    TIDEGATE_ASSIGN_OR_RETURN(out.resource, r.String(n, "borrowing.resource"));
    if (!IsResourceName(out.resource)) {
      return r.Error(n, "borrowing.resource", "a resource name must match [a-z_][a-z0-9_]*");
    }
  }
  if (const YAML::Node n = node["horizon"]) {
    TIDEGATE_ASSIGN_OR_RETURN(b.horizon, r.DurationValue(n, "borrowing.horizon"));
    if (b.horizon < std::chrono::milliseconds(1) || b.horizon > std::chrono::hours(1)) {
      return r.Error(n, "borrowing.horizon", "must be in [1ms, 1h]");
    }
  }
  if (const YAML::Node n = node["cost_headroom"]) {
    TIDEGATE_ASSIGN_OR_RETURN(b.cost_headroom, r.Number(n, "borrowing.cost_headroom"));
    if (b.cost_headroom < 0 || b.cost_headroom > 1000) {
      return r.Error(n, "borrowing.cost_headroom",
                     fmt::format("{} must be in [0, 1000]", b.cost_headroom));
    }
  }
  if (const YAML::Node n = node["tier_reserve"]) {
    if (!n.IsSequence() || n.size() != static_cast<size_t>(shaping::kMaxTiers)) {
      return r.Error(n, "borrowing.tier_reserve",
                     fmt::format("must be a list of {} fractions (critical, high, normal, low)",
                                 shaping::kMaxTiers));
    }
    for (size_t i = 0; i < n.size(); ++i) {
      const std::string field = Reader::Index("borrowing.tier_reserve", i);
      TIDEGATE_ASSIGN_OR_RETURN(b.tier_reserve[i], r.Number(n[i], field));
    }
  }
  // The pool's own checks (reserves: [0] = 0, non-decreasing, each in [0, 1)), on a nominal
  // capacity: the real one is checked once every file is merged.
  if (absl::StatusOr<shaping::BucketConfig> pool =
          shaping::PoolConfig(1, std::chrono::duration<double>(b.horizon).count(), b.tier_reserve);
      !pool.ok()) {
    const YAML::Node at = node["tier_reserve"] ? node["tier_reserve"] : node;
    return r.Error(at, "borrowing.tier_reserve", std::string(pool.status().message()));
  }
  return absl::OkStatus();
}

absl::Status ParseDocument(const Reader& r, const YAML::Node& doc, Config& config,
                           Sections& sections) {
  if (doc.IsNull()) return absl::OkStatus();  // An empty document.
  TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(
      doc, "",
      {"domain", "descriptors", "capacity", "store", "schedule", "tenants", "unknown_descriptors",
       "limits", "alerts", "scaling", "auth", "tls", "borrowing"}));
  auto once = [&](bool& flag, const YAML::Node& n, std::string_view name) -> absl::Status {
    if (flag) return r.Error(n, name, "set more than once (in this or another file)");
    flag = true;
    return absl::OkStatus();
  };
  if (const YAML::Node n = doc["capacity"]) {
    TIDEGATE_RETURN_IF_ERROR(once(sections.capacity, n, "capacity"));
    TIDEGATE_ASSIGN_OR_RETURN(config.capacity, ParseResourceMap(r, n, "capacity", true));
  }
  if (const YAML::Node n = doc["store"]) {
    TIDEGATE_RETURN_IF_ERROR(once(sections.store, n, "store"));
    TIDEGATE_RETURN_IF_ERROR(ParseStore(r, n, config.store));
  }
  if (const YAML::Node n = doc["schedule"]) {
    TIDEGATE_RETURN_IF_ERROR(once(sections.schedule, n, "schedule"));
    TIDEGATE_RETURN_IF_ERROR(ParseSchedule(r, n, config.schedule));
  }
  if (const YAML::Node n = doc["tenants"]) {
    TIDEGATE_RETURN_IF_ERROR(once(sections.tenants, n, "tenants"));
    TIDEGATE_RETURN_IF_ERROR(ParseTenants(r, n, config.tenants));
  }
  if (const YAML::Node n = doc["unknown_descriptors"]) {
    TIDEGATE_RETURN_IF_ERROR(once(sections.unknown, n, "unknown_descriptors"));
    TIDEGATE_RETURN_IF_ERROR(ParseUnknown(r, n, config.unknown));
  }
  if (const YAML::Node n = doc["limits"]) {
    TIDEGATE_RETURN_IF_ERROR(once(sections.limits, n, "limits"));
    TIDEGATE_RETURN_IF_ERROR(ParseLimits(r, n, config.limits));
  }
  if (const YAML::Node n = doc["alerts"]) {
    TIDEGATE_RETURN_IF_ERROR(once(sections.alerts, n, "alerts"));
    TIDEGATE_RETURN_IF_ERROR(ParseAlerts(r, n, config.alerts));
  }
  if (const YAML::Node n = doc["scaling"]) {
    TIDEGATE_RETURN_IF_ERROR(once(sections.scaling, n, "scaling"));
    TIDEGATE_RETURN_IF_ERROR(ParseScaling(r, n, config.scaling));
  }
  if (const YAML::Node n = doc["auth"]) {
    TIDEGATE_RETURN_IF_ERROR(once(sections.auth, n, "auth"));
    TIDEGATE_RETURN_IF_ERROR(ParseAuth(r, n, config.auth));
  }
  if (const YAML::Node n = doc["tls"]) {
    TIDEGATE_RETURN_IF_ERROR(once(sections.tls, n, "tls"));
    TIDEGATE_RETURN_IF_ERROR(ParseTls(r, n, config.tls));
  }
  if (const YAML::Node n = doc["borrowing"]) {
    TIDEGATE_RETURN_IF_ERROR(once(sections.borrowing, n, "borrowing"));
    TIDEGATE_RETURN_IF_ERROR(ParseBorrowing(r, n, config.borrowing));
  }
  const YAML::Node domain = doc["domain"];
  const YAML::Node descriptors = doc["descriptors"];
  if (!domain) {
    if (descriptors) return r.Error(doc, "domain", "required with descriptors");
    return absl::OkStatus();
  }
  DomainConfig d;
  d.location = r.Location(domain);
  TIDEGATE_ASSIGN_OR_RETURN(d.domain, r.String(domain, "domain"));
  TIDEGATE_RETURN_IF_ERROR(CheckKeyText(r, domain, "domain", d.domain, false));
  if (const DomainConfig* prev = config.FindDomain(d.domain)) {
    return r.Error(domain, "domain",
                   fmt::format("duplicate domain '{}' (first defined at {}:{})", d.domain,
                               prev->location.file, prev->location.line));
  }
  if (descriptors) {
    TIDEGATE_ASSIGN_OR_RETURN(d.descriptors, ParseDescriptors(r, descriptors, "descriptors", 0));
  }
  config.domains.push_back(std::move(d));
  return absl::OkStatus();
}

// One YAML document of a stream: its text and the file line it starts on.
struct DocumentText {
  std::string text;
  int first_line = 1;
};

// A document marker ("---" or "...") at the start of a line, followed by a blank or the end.
bool IsDocumentMarker(std::string_view line, std::string_view marker) {
  return line.starts_with(marker) && (line.size() == 3 || line[3] == ' ' || line[3] == '\t' ||
                                      line[3] == '\r' || line[3] == '\n');
}

// Splits a YAML stream into its documents. YAML forbids the markers inside any content, so a
// line starting with "---" begins a document and a line starting with "..." ends one; the split
// is exact. (tidegate splits streams itself because yaml-cpp's LoadAll never returns on some
// malformed streams, e.g. a lone ',' at document level.)
std::vector<DocumentText> SplitDocuments(std::string_view text) {
  std::vector<DocumentText> docs(1);
  int line_no = 1;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    const std::string_view line =
        text.substr(0, eol == std::string_view::npos ? text.size() : eol + 1);
    text.remove_prefix(line.size());
    if (IsDocumentMarker(line, "---") && !docs.back().text.empty()) docs.push_back({"", line_no});
    docs.back().text.append(line);
    if (IsDocumentMarker(line, "...")) docs.push_back({"", line_no + 1});
    ++line_no;
  }
  return docs;
}

// Counts the documents yaml-cpp's parser finds in a text (without building nodes).
class DocumentCounter final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// The first line of `doc` holding something other than blanks, comments and markers.
int FirstContentLine(const DocumentText& doc) {
  std::istringstream in(doc.text);
  std::string line;
  for (int n = doc.first_line; std::getline(in, line); ++n) {
    const size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos || line[start] == '#') continue;
    if (IsDocumentMarker(line, "---") && line.find_first_not_of(" \t\r", 3) == std::string::npos) {
      continue;
    }
    return n;
  }
  return doc.first_line;
}

absl::Status ParseInto(std::string_view text, std::string_view file, Config& config,
                       Sections& sections) {
  for (const DocumentText& doc : SplitDocuments(text)) {
    try {
      // A document the parser cannot consume shows up as more than one document in its text.
      std::istringstream in(doc.text);
      YAML::Parser parser(in);
      DocumentCounter counter;
      int documents = 0;
      while (documents < 2 && parser.HandleNextDocument(counter)) ++documents;
      if (documents > 1) {
        return absl::InvalidArgumentError(
            fmt::format("{}:{}: YAML syntax: content that is neither a mapping, a sequence nor "
                        "a scalar (a stray ',' or ']'?)",
                        file, FirstContentLine(doc)));
      }
      const YAML::Node node = YAML::Load(doc.text);
      TIDEGATE_RETURN_IF_ERROR(ParseDocument(Reader(file, doc.first_line), node, config, sections));
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(
          fmt::format("{}:{}: YAML syntax: {}", file,
                      e.mark.is_null() ? 0 : doc.first_line + e.mark.line, e.msg));
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(fmt::format("{}: {}", file, e.what()));
    }
  }
  return absl::OkStatus();
}

// Cross-file checks once everything is merged.
absl::Status ValidateMerged(const Config& config) {
  for (const TenantSpec& t : config.tenants) {
    if (!config.FindDomain(t.name) && !t.quota) {
      // A tenant entry without a domain and without a quota says nothing; it is almost certainly
      // a typo of a domain name.
      return absl::InvalidArgumentError(
          fmt::format("{}:{}: tenants: '{}' has no quota and no domain of that name",
                      t.location.file, t.location.line, t.name));
    }
  }
  // A threshold relative to capacity needs that resource's capacity (possibly from another file).
  for (size_t i = 0; i < config.alerts.rules.size(); ++i) {
    const alert::Rule& rule = config.alerts.rules[i];
    if (rule.capacity_fraction && config.capacity.count(rule.resource) == 0) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: alerts.rules[{}].capacity_fraction: no capacity is configured for resource '{}'",
          rule.source, i, rule.resource));
    }
  }
  // The borrowing pool measures one configured capacity (possibly from another file).
  if (const BorrowingSpec& b = config.borrowing; b.borrow.enabled) {
    auto cap = config.capacity.find(b.resource);
    if (cap == config.capacity.end()) {
      return absl::InvalidArgumentError(
          fmt::format("{}:{}: borrowing.resource: no capacity is configured for resource '{}'",
                      b.location.file, b.location.line, b.resource));
    }
    if (absl::StatusOr<shaping::BucketConfig> pool = shaping::PoolConfig(
            cap->second, std::chrono::duration<double>(b.borrow.horizon).count(),
            b.borrow.tier_reserve);
        !pool.ok()) {
      return absl::InvalidArgumentError(fmt::format("{}:{}: borrowing: {}", b.location.file,
                                                    b.location.line,
                                                    std::string(pool.status().message())));
    }
  }
  return absl::OkStatus();
}

uint64_t Fnv1a(uint64_t h, std::string_view data) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

std::string_view UnitName(Unit unit) { return kUnitNames[static_cast<int>(unit)]; }

absl::StatusOr<Unit> ParseUnit(std::string_view name) {
  const std::string lower = Lower(name);
  for (int i = 0; i < 6; ++i) {
    if (lower == kUnitNames[i]) return static_cast<Unit>(i);
  }
  return absl::InvalidArgumentError(
      fmt::format("'{}' is not one of second, minute, hour, day, week, month", name));
}

Duration UnitDuration(Unit unit) {
  switch (unit) {
    case Unit::kSecond:
      return std::chrono::seconds(1);
    case Unit::kMinute:
      return std::chrono::minutes(1);
    case Unit::kHour:
      return std::chrono::hours(1);
    case Unit::kDay:
      return std::chrono::hours(24);
    case Unit::kWeek:
      return std::chrono::hours(24 * 7);
    case Unit::kMonth:
      return std::chrono::hours(24 * 30);
  }
  return std::chrono::seconds(1);
}

double RateLimit::rate_per_s() const {
  return requests_per_unit / std::chrono::duration<double>(UnitDuration(unit)).count();
}

std::string_view StoreTypeName(StoreType type) {
  switch (type) {
    case StoreType::kSqlite:
      return "sqlite";
    case StoreType::kPrometheus:
      return "prometheus";
    case StoreType::kInfluxDb:
      return "influxdb";
  }
  return "sqlite";
}

std::string_view UnknownPolicyName(UnknownPolicy policy) {
  switch (policy) {
    case UnknownPolicy::kAllow:
      return "allow";
    case UnknownPolicy::kDeny:
      return "deny";
    case UnknownPolicy::kDefault:
      return "default";
  }
  return "allow";
}

const DomainConfig* Config::FindDomain(std::string_view domain) const {
  for (const DomainConfig& d : domains) {
    if (d.domain == domain) return &d;
  }
  return nullptr;
}

const TenantSpec* Config::FindTenant(std::string_view name) const {
  for (const TenantSpec& t : tenants) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::StatusOr<Config> ParseConfig(std::string_view yaml_text, std::string_view file) {
  Config config;
  Sections sections;
  TIDEGATE_RETURN_IF_ERROR(ParseInto(yaml_text, file, config, sections));
  TIDEGATE_RETURN_IF_ERROR(ValidateMerged(config));
  config.sources.emplace_back(file);
  config.version = fmt::format("{:016x}", Fnv1a(Fnv1a(14695981039346656037ull, file), yaml_text));
  IndexDescriptors(config);
  return config;
}

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    return absl::NotFoundError(fmt::format("{}: config file or directory not found", path));
  }
  std::vector<std::string> files;
  if (fs::is_directory(st)) {
    for (const fs::directory_entry& e : fs::directory_iterator(path, ec)) {
      const std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(e.path());
    }
    if (ec) return absl::InvalidArgumentError(fmt::format("{}: {}", path, ec.message()));
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  Config config;
  Sections sections;
  uint64_t h = 14695981039346656037ull;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return absl::InvalidArgumentError(fmt::format("{}: cannot be read", file));
    std::ostringstream text;
    text << in.rdbuf();
    const std::string contents = text.str();
    TIDEGATE_RETURN_IF_ERROR(ParseInto(contents, file, config, sections));
    h = Fnv1a(Fnv1a(h, file), contents);
    config.sources.push_back(file);
  }
  TIDEGATE_RETURN_IF_ERROR(ValidateMerged(config));
  config.version = fmt::format("{:016x}", h);
  IndexDescriptors(config);
  return config;
}

namespace {

void IndexLevel(std::vector<DescriptorRule>& level, DescriptorIndex& index) {
  index = DescriptorIndex{};
  for (size_t i = 0; i < level.size(); ++i) {
    DescriptorRule& r = level[i];
    if (r.value) {
      index.exact.emplace(DescriptorIndex::KeyValue{r.key, *r.value},
                          static_cast<uint32_t>(i));  // First wins.
    } else {
      index.wildcard[r.key] = static_cast<uint32_t>(i);  // Last wins, as in the ordered scan.
    }
    IndexLevel(r.descriptors, r.index);
  }
  index.indexed = level.size();
}

}  // namespace

void IndexDescriptors(Config& config) {
  for (DomainConfig& d : config.domains) IndexLevel(d.descriptors, d.index);
}

const DescriptorRule* MatchLevel(const std::vector<DescriptorRule>& level,
                                 const DescriptorIndex& index, std::string_view key,
                                 std::string_view value) {
  if (index.indexed == level.size() && !level.empty()) {
    if (auto it = index.exact.find(DescriptorIndex::KeyValueView{key, value});
        it != index.exact.end()) {
      return &level[it->second];
    }
    auto it = index.wildcard.find(key);
    return it == index.wildcard.end() ? nullptr : &level[it->second];
  }
  const DescriptorRule* wildcard = nullptr;
  for (const DescriptorRule& r : level) {
    if (r.key != key) continue;
    if (r.value && *r.value == value) return &r;
    if (!r.value) wildcard = &r;
  }
  return wildcard;
}

Config EmptyConfig() {
  Config config;
  config.version = fmt::format("{:016x}", 14695981039346656037ull);
  return config;
}

}  // namespace tidegate::server
