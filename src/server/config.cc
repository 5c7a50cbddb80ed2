// YAML configuration parsing and validation (see tidegate/server/config.h).
//
// yaml-cpp throws; every call into it happens inside ParseConfig's try block, and its exceptions
// become InvalidArgument with the file and line. Each field is read through Reader, which knows the
// file and the field path, so that every error names file:line: path.
#include "tidegate/server/config.h"

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
  explicit Reader(std::string_view file) : file_(file) {}

  absl::Status Error(const YAML::Node& node, std::string_view path, std::string_view msg) const {
    const int line = node.IsDefined() && !node.Mark().is_null() ? node.Mark().line + 1 : 0;
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}: {}", file_, line, path, msg));
  }

  SourceLocation Location(const YAML::Node& node) const {
    return {file_, node.Mark().is_null() ? 0 : node.Mark().line + 1};
  }

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
  std::string file_;
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
  bool capacity = false, store = false, tenants = false, unknown = false, limits = false;
  bool schedule = false;
};

absl::Status ParseStore(const Reader& r, const YAML::Node& node, StoreSpec& store) {
  TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(node, "store", {"type", "path", "step", "raw_retention"}));
  if (const YAML::Node n = node["type"]) {
    TIDEGATE_ASSIGN_OR_RETURN(store.type, r.String(n, "store.type"));
    if (store.type != "sqlite") {
      return r.Error(n, "store.type",
                     fmt::format("'{}' is not supported by the daemon (only sqlite)", store.type));
    }
  }
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

absl::Status ParseDocument(const Reader& r, const YAML::Node& doc, Config& config,
                           Sections& sections) {
  if (doc.IsNull()) return absl::OkStatus();  // An empty document.
  TIDEGATE_RETURN_IF_ERROR(r.ExpectMap(doc, "",
                                       {"domain", "descriptors", "capacity", "store", "schedule",
                                        "tenants", "unknown_descriptors", "limits"}));
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

absl::Status ParseInto(std::string_view text, std::string_view file, Config& config,
                       Sections& sections) {
  const Reader r(file);
  try {
    const std::vector<YAML::Node> docs = YAML::LoadAll(std::string(text));
    for (const YAML::Node& doc : docs) {
      TIDEGATE_RETURN_IF_ERROR(ParseDocument(r, doc, config, sections));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        fmt::format("{}:{}: YAML syntax: {}", file, e.mark.is_null() ? 0 : e.mark.line + 1, e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", file, e.what()));
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
  return config;
}

Config EmptyConfig() {
  Config config;
  config.version = fmt::format("{:016x}", 14695981039346656037ull);
  return config;
}

}  // namespace tidegate::server
