// Bearer tokens, scopes and tenant isolation (see tidegate/server/auth.h).
//
// nlohmann-json throws; the body and response inspection here catches everything it can throw and
// treats an unreadable body as "cannot tell" (the route then rejects it) or leaves a response
// alone.
#include "tidegate/server/auth.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace tidegate::server {
namespace {

using json = nlohmann::json;

constexpr std::string_view kScopeNames[] = {"check", "report", "read", "admin"};

// The table of every HTTP route (auth.h). Exact rows come before prefix rows.
constexpr RouteRule kRoutes[] = {
    {.method = "GET", .path = "/healthz", .open = true},
    {.method = "GET", .path = "/readyz", .open = true},
    {.method = "GET",
     .path = "/metrics",
     .scope = Scope::kRead,
     .tenant = TenantSource::kAllTenants},
    {.method = "POST",
     .path = "/v1/check",
     .scope = Scope::kCheck,
     .tenant = TenantSource::kBodyDomain},
    {.method = "POST",
     .path = "/v1/settle",
     .scope = Scope::kCheck,
     .tenant = TenantSource::kBodyDomain},
    {.method = "POST",
     .path = "/v1/report",
     .scope = Scope::kReport,
     .tenant = TenantSource::kBodyReports},
    {.method = "GET",
     .path = "/v1/classes",
     .scope = Scope::kRead,
     .tenant = TenantSource::kListResponse},
    // One class, its plan, its forecasts: /v1/classes/{tenant/key=value,...}[/plan|/forecast...].
    {.method = "GET",
     .path = "/v1/classes/",
     .prefix = true,
     .scope = Scope::kRead,
     .tenant = TenantSource::kPathClass},
    {.method = "GET",
     .path = "/v1/plan",
     .scope = Scope::kRead,
     .tenant = TenantSource::kListResponse},
    {.method = "GET",
     .path = "/v1/plan/",
     .prefix = true,
     .scope = Scope::kRead,
     .tenant = TenantSource::kPathClass},
    {.method = "GET",
     .path = "/v1/forecast/",
     .prefix = true,
     .scope = Scope::kRead,
     .tenant = TenantSource::kPathClass},
    {.method = "GET",
     .path = "/v1/anomalies",
     .scope = Scope::kRead,
     .tenant = TenantSource::kListResponse},
    {.method = "GET",
     .path = "/v1/tenants",
     .scope = Scope::kRead,
     .tenant = TenantSource::kListResponse,
     .list_tenant_field = "name"},
    {.method = "GET",
     .path = "/v1/tenants/",
     .prefix = true,
     .scope = Scope::kRead,
     .tenant = TenantSource::kPathTenant},
    // Operator views across tenants.
    {.method = "GET",
     .path = "/v1/alerts",
     .scope = Scope::kRead,
     .tenant = TenantSource::kAllTenants},
    {.method = "GET",
     .path = "/v1/alerts/",
     .prefix = true,
     .scope = Scope::kRead,
     .tenant = TenantSource::kAllTenants},
    {.method = "GET",
     .path = "/v1/scaling",
     .scope = Scope::kRead,
     .tenant = TenantSource::kAllTenants},
    {.method = "GET",
     .path = "/v1/scaling/",
     .prefix = true,
     .scope = Scope::kRead,
     .tenant = TenantSource::kAllTenants},
    // An autoscaler or operator reports a service's replica count.
    {.method = "PUT",
     .path = "/v1/scaling/",
     .prefix = true,
     .scope = Scope::kAdmin,
     .tenant = TenantSource::kAllTenants},
    {.method = "GET",
     .path = "/v1/config",
     .scope = Scope::kRead,
     .tenant = TenantSource::kAllTenants},
    // Validation reads the TLS files a config names from the daemon's disk: an operator's route.
    {.method = "POST",
     .path = "/v1/config:validate",
     .scope = Scope::kAdmin,
     .tenant = TenantSource::kAllTenants},
    {.method = "POST",
     .path = "/v1/config:reload",
     .scope = Scope::kAdmin,
     .tenant = TenantSource::kAllTenants},
    {.method = "POST",
     .path = "/v1/config:apply",
     .scope = Scope::kAdmin,
     .tenant = TenantSource::kAllTenants},
    {.method = "POST",
     .path = "/v1/overrides",
     .scope = Scope::kAdmin,
     .tenant = TenantSource::kBodyClass},
    {.method = "DELETE",
     .path = "/v1/overrides/",
     .prefix = true,
     .scope = Scope::kAdmin,
     .tenant = TenantSource::kPathClass},
};

bool Matches(const RouteRule& rule, std::string_view path) {
  return rule.prefix ? path.starts_with(rule.path) && path.size() > rule.path.size()
                     : path == rule.path;
}

// Percent-decoding; nullopt for a malformed escape (the route then answers 400).
std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    int v = 0;
    if (i + 2 >= s.size()) return std::nullopt;
    const auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || p != s.data() + i + 3) return std::nullopt;
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return out;
}

std::optional<json> ParseJson(std::string_view text) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

absl::Status OtherTenant(const Principal& p, std::string_view tenant, std::string_view what) {
  return absl::PermissionDeniedError(
      fmt::format("token '{}' may not act on tenant '{}' ({})", p.id(), tenant, what));
}

// The class a path names, for the NotFound a missing class gets: strips "/plan" etc. that follow
// the class key (a class key's entries never contain '/' followed by a bare word without '=').
std::string ClassFromPath(std::string_view decoded) {
  const size_t last = decoded.rfind('/');
  if (last != std::string_view::npos && decoded.find('/') != last &&
      decoded.substr(last).find('=') == std::string_view::npos) {
    return std::string(decoded.substr(0, last));
  }
  return std::string(decoded);
}

absl::Status NoSuchClass(std::string_view key) {
  return absl::NotFoundError(fmt::format("class '{}' does not exist", key));
}

}  // namespace

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kCheck:
      return "check";
    case Scope::kReport:
      return "report";
    case Scope::kRead:
      return "read";
    case Scope::kAdmin:
      return "admin";
  }
  return "?";
}

absl::StatusOr<Scope> ParseScope(std::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (name == kScopeNames[i]) return static_cast<Scope>(1 << i);
  }
  return absl::InvalidArgumentError(
      fmt::format("'{}' is not one of check, report, read, admin", name));
}

TokenHash HashToken(std::string_view secret) {
  TokenHash out{};
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), out.data());
  return out;
}

std::string HashToHex(const TokenHash& hash) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t b : hash) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

absl::StatusOr<TokenHash> ParseTokenHash(std::string_view hex) {
  if (hex.size() != 64) {
    return absl::InvalidArgumentError(fmt::format(
        "a SHA-256 hash is 64 hex digits, this is {} characters (hash the secret with `tidegate "
        "hash-token`; never put the secret itself in the config)",
        hex.size()));
  }
  TokenHash out{};
  for (size_t i = 0; i < 32; ++i) {
    unsigned v = 0;
    const auto [p, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
    if (ec != std::errc() || p != hex.data() + 2 * i + 2) {
      return absl::InvalidArgumentError(
          fmt::format("'{}' at position {} is not a hex digit", hex.substr(2 * i, 2), 2 * i));
    }
    out[i] = static_cast<uint8_t>(v);
  }
  return out;
}

std::string TokenFromBytes(std::span<const uint8_t, 32> bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out = "tg_";
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

absl::StatusOr<std::string> GenerateToken() {
  std::array<uint8_t, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return absl::InternalError("the system random generator (OpenSSL RAND_bytes) failed");
  }
  std::string token = TokenFromBytes(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return token;
}

bool HashEquals(const TokenHash& a, const TokenHash& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool TokenSpec::HasScope(Scope scope) const {
  return (scopes & static_cast<uint8_t>(Scope::kAdmin)) != 0 ||
         (scopes & static_cast<uint8_t>(scope)) != 0;
}

bool TokenSpec::CanAccessTenant(std::string_view tenant) const {
  return all_tenants || std::find(tenants.begin(), tenants.end(), tenant) != tenants.end();
}

absl::StatusOr<Principal> Authenticate(const std::shared_ptr<const AuthSpec>& auth,
                                       std::optional<std::string_view> credential) {
  if (!credential.has_value()) {
    if (auth == nullptr || !auth->required) return Principal::Anonymous();
    return absl::UnauthenticatedError("a bearer token is required (Authorization: Bearer <token>)");
  }
  std::string_view c = *credential;
  while (!c.empty() && (c.front() == ' ' || c.front() == '\t')) c.remove_prefix(1);
  while (!c.empty() && (c.back() == ' ' || c.back() == '\t')) c.remove_suffix(1);
  constexpr std::string_view kScheme = "bearer";
  bool scheme_ok = c.size() > kScheme.size() && (c[kScheme.size()] == ' ');
  for (size_t i = 0; scheme_ok && i < kScheme.size(); ++i) {
    scheme_ok = std::tolower(static_cast<unsigned char>(c[i])) == kScheme[i];
  }
  if (!scheme_ok) {
    return absl::UnauthenticatedError("the credential is not of the form 'Bearer <token>'");
  }
  c.remove_prefix(kScheme.size());
  while (!c.empty() && c.front() == ' ') c.remove_prefix(1);
  if (c.empty()) return absl::UnauthenticatedError("the bearer token is empty");
  const TokenHash presented = HashToken(c);
  // Every configured hash is compared, whatever matched: the time taken says nothing about which.
  const TokenSpec* match = nullptr;
  if (auth != nullptr) {
    for (const TokenSpec& t : auth->tokens) {
      const bool equal = HashEquals(presented, t.sha256);
      match = equal ? &t : match;
    }
  }
  if (match == nullptr) return absl::UnauthenticatedError("the bearer token is not valid");
  return Principal(std::shared_ptr<const TokenSpec>(auth, match));
}

absl::Status AuthorizeCheck(const Principal& principal, std::string_view domain) {
  if (!principal.HasScope(Scope::kCheck)) {
    return absl::PermissionDeniedError(
        fmt::format("token '{}' lacks the 'check' scope", principal.id()));
  }
  if (!principal.CanAccessTenant(domain)) return OtherTenant(principal, domain, "domain");
  return absl::OkStatus();
}

std::span<const RouteRule> HttpRoutes() { return kRoutes; }

const RouteRule* FindHttpRoute(std::string_view method, std::string_view path, bool* path_known) {
  if (path_known != nullptr) *path_known = false;
  for (const RouteRule& r : kRoutes) {
    if (!Matches(r, path)) continue;
    if (r.method == method) return &r;
    if (path_known != nullptr) *path_known = true;
  }
  return nullptr;
}

absl::StatusOr<HttpAuthorization> AuthorizeHttp(const std::shared_ptr<const AuthSpec>& auth,
                                                std::string_view method, std::string_view path,
                                                std::string_view body,
                                                std::optional<std::string_view> authorization) {
  bool path_known = false;
  const RouteRule* rule = FindHttpRoute(method, path, &path_known);
  const bool api_path = path == "/v1" || path.starts_with("/v1/");
  if ((rule != nullptr && rule->open) || (rule == nullptr && !path_known && !api_path)) {
    return HttpAuthorization(Principal::Anonymous(), rule, std::string(path));
  }
  absl::StatusOr<Principal> principal = Authenticate(auth, authorization);
  if (!principal.ok()) return principal.status();
  const Principal& p = *principal;
  if (rule == nullptr) {
    if (path_known || p.anonymous()) {
      // Wrong method (405) or, without auth, an unknown route (404): the router answers.
      return HttpAuthorization(*std::move(principal), nullptr, std::string(path));
    }
    return absl::PermissionDeniedError(fmt::format(
        "{} {}: no token may use a route that is not in the access table", method, path));
  }
  if (!p.HasScope(rule->scope)) {
    return absl::PermissionDeniedError(fmt::format("token '{}' lacks the '{}' scope for {} {}",
                                                   p.id(), ScopeName(rule->scope), method, path));
  }
  if (p.AllTenants()) return HttpAuthorization(*std::move(principal), rule, std::string(path));

  const std::string_view rest = rule->prefix ? path.substr(rule->path.size()) : "";
  switch (rule->tenant) {
    case TenantSource::kNone:
    case TenantSource::kListResponse:
      break;
    case TenantSource::kAllTenants:
      return absl::PermissionDeniedError(
          fmt::format("token '{}' is restricted to some tenants; {} {} covers every tenant (it "
                      "needs tenants: [\"*\"])",
                      p.id(), method, path));
    case TenantSource::kBodyDomain: {
      const std::optional<json> j = ParseJson(body);
      if (j && j->is_object() && j->contains("domain") && (*j)["domain"].is_string()) {
        const std::string domain = (*j)["domain"].get<std::string>();
        if (!p.CanAccessTenant(domain)) return OtherTenant(p, domain, "domain");
      }
      break;
    }
    case TenantSource::kBodyReports: {
      const std::optional<json> j = ParseJson(body);
      if (!j || !j->is_object() || !j->contains("reports") || !(*j)["reports"].is_array()) break;
      const json& reports = (*j)["reports"];
      for (size_t i = 0; i < reports.size(); ++i) {
        if (!reports[i].is_object()) continue;  // The route rejects it.
        std::string tenant;
        if (reports[i].contains("tenant")) {
          if (!reports[i]["tenant"].is_string()) continue;
          tenant = reports[i]["tenant"].get<std::string>();
        }
        if (!p.CanAccessTenant(tenant)) {
          return OtherTenant(p, tenant, fmt::format("reports[{}].tenant", i));
        }
      }
      break;
    }
    case TenantSource::kBodyClass: {
      const std::optional<json> j = ParseJson(body);
      if (!j || !j->is_object()) break;
      if (j->contains("class") && (*j)["class"].is_string()) {
        const std::string key = (*j)["class"].get<std::string>();
        const size_t slash = key.find('/');
        if (slash != std::string::npos && !p.CanAccessTenant(key.substr(0, slash))) {
          return NoSuchClass(key);
        }
      } else if (j->contains("domain") && (*j)["domain"].is_string()) {
        const std::string domain = (*j)["domain"].get<std::string>();
        if (!p.CanAccessTenant(domain)) return NoSuchClass(domain + "/...");
      }
      break;
    }
    case TenantSource::kPathClass: {
      const std::optional<std::string> key = PercentDecode(rest);
      if (!key) break;
      const size_t slash = key->find('/');
      if (slash != std::string::npos &&
          !p.CanAccessTenant(std::string_view(*key).substr(0, slash))) {
        return NoSuchClass(ClassFromPath(*key));
      }
      break;
    }
    case TenantSource::kPathTenant: {
      const std::optional<std::string> decoded = PercentDecode(rest.substr(0, rest.find('/')));
      if (decoded && !p.CanAccessTenant(*decoded)) {
        return absl::NotFoundError(fmt::format("tenant '{}' does not exist", *decoded));
      }
      break;
    }
  }
  return HttpAuthorization(*std::move(principal), rule, std::string(path));
}

absl::Status HttpAuthorization::Filter(int http_status, std::string& body) const {
  if (rule_ == nullptr || principal_.AllTenants() || http_status < 200 || http_status >= 300) {
    return absl::OkStatus();
  }
  if (rule_->tenant == TenantSource::kListResponse) {
    std::optional<json> j = ParseJson(body);
    if (!j || !j->is_object()) return absl::OkStatus();
    for (auto& [name, value] : j->items()) {
      if (!value.is_array()) continue;
      json kept = json::array();
      for (json& element : value) {
        bool keep = false;
        if (element.is_string()) {
          keep = principal_.CanAccessTenant(element.get<std::string>());
        } else if (element.is_object() && element.contains(rule_->list_tenant_field) &&
                   element[rule_->list_tenant_field].is_string()) {
          keep = principal_.CanAccessTenant(element[rule_->list_tenant_field].get<std::string>());
        }
        if (keep) kept.push_back(std::move(element));
      }
      value = std::move(kept);
    }
    body = j->dump(-1, ' ', false, json::error_handler_t::replace);
    return absl::OkStatus();
  }
  if (rule_->tenant == TenantSource::kPathClass || rule_->tenant == TenantSource::kPathTenant) {
    const std::optional<json> j = ParseJson(body);
    if (j && j->is_object() && j->contains("tenant") && (*j)["tenant"].is_string() &&
        !principal_.CanAccessTenant((*j)["tenant"].get<std::string>())) {
      const std::string_view rest = std::string_view(path_).substr(rule_->path.size());
      const std::optional<std::string> key = PercentDecode(rest);
      return NoSuchClass(ClassFromPath(key.value_or(std::string(rest))));
    }
  }
  return absl::OkStatus();
}

}  // namespace tidegate::server
