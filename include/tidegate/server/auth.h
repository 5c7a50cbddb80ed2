// tidegate/server/auth.h — bearer tokens, scopes and tenant isolation for tidegated's APIs.
//
// Tokens. The config (`auth.tokens`, see config.h) lists each token by an id, the SHA-256 of its
// secret (hex), its scopes and the tenants it is restricted to. The daemon never holds a secret:
// a presented token is hashed and compared, in constant time, against every configured hash (the
// scan does not stop at a match, so its duration does not depend on which token matched or on
// how long a common prefix was). `tidegate hash-token` computes the hash for the config.
//
// Scopes: check (POST /v1/check, /v1/settle, gRPC ShouldRateLimit), report (POST /v1/report),
// read (the GET routes and /metrics), admin (overrides, config reload/apply). `admin` implies
// every scope within the token's tenants.
//
// Tenants: a token lists the tenants (= Envoy domains) it may act on, or "*" for all. A request
// on another tenant's resource is refused with PERMISSION_DENIED, except that a request naming
// another tenant's *class* answers NOT_FOUND exactly as for a class that does not exist, so that
// a token cannot learn which classes other tenants have. List responses are filtered to the
// token's tenants.
//
// auth.required. true: every request except the open routes (/healthz, /readyz, and the static
// files outside /v1/) needs a valid token. false (the default, so that envoyproxy/ratelimit
// configs and clients keep working unchanged): a request without a token is served as before,
// with full access; a request *with* a token is held to it (a wrong token is refused, the
// token's scopes and tenants apply). This lets clients start sending tokens before
// `required: true` is switched on.
//
// Routes (HTTP). kHttpRoutes is the table of every route's method, path (exact or prefix), scope
// and where its tenant comes from. A path under /v1/ that matches no row is denied to every
// token, and to anonymous callers when auth is required ("deny by default"): a new route needs a
// row to be reachable. A path that matches a row with another method passes to the router (which
// answers 405) once the caller is authenticated.
//
// Thread-safety: every function is pure or reads only its arguments; AuthSpec is a plain value
// inside the immutable config snapshot.
#ifndef TIDEGATE_SERVER_AUTH_H_
#define TIDEGATE_SERVER_AUTH_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tidegate::server {

enum class Scope : uint8_t { kCheck = 1, kReport = 2, kRead = 4, kAdmin = 8 };
std::string_view ScopeName(Scope scope);  // "check", "report", "read", "admin"
// InvalidArgument listing the valid names.
absl::StatusOr<Scope> ParseScope(std::string_view name);

using TokenHash = std::array<uint8_t, 32>;  // SHA-256.

// SHA-256 of the secret's bytes.
TokenHash HashToken(std::string_view secret);
std::string HashToHex(const TokenHash& hash);  // 64 lower-case hex digits.
// 64 hex digits (either case). InvalidArgument saying what is wrong.
absl::StatusOr<TokenHash> ParseTokenHash(std::string_view hex);
// "tg_" + the base64url (no padding) encoding of 32 bytes: 256 bits of entropy.
std::string TokenFromBytes(std::span<const uint8_t, 32> bytes);
// A new token from OpenSSL's CSPRNG (RAND_bytes). Internal if the generator fails.
absl::StatusOr<std::string> GenerateToken();

// Constant-time equality of two hashes (CRYPTO_memcmp).
bool HashEquals(const TokenHash& a, const TokenHash& b);

// One configured token.
struct TokenSpec {
  std::string id;  // Unique; in logs and errors, never the secret.
  TokenHash sha256{};
  uint8_t scopes = 0;  // Bit set of Scope; admin implies all.
  bool all_tenants = false;
  std::vector<std::string> tenants;  // When !all_tenants; non-empty.
  std::string location;              // "file:line" of the entry.

  bool HasScope(Scope scope) const;
  bool CanAccessTenant(std::string_view tenant) const;
};

struct AuthSpec {
  bool required = false;
  std::vector<TokenSpec> tokens;  // Unique ids and hashes.
};

// Who a request is: an anonymous caller (auth not required and no token presented: full access)
// or a configured token. Keeps the config snapshot that holds the token alive.
class Principal {
 public:
  static Principal Anonymous() { return Principal(nullptr); }
  explicit Principal(std::shared_ptr<const TokenSpec> token) : token_(std::move(token)) {}

  bool anonymous() const { return token_ == nullptr; }
  std::string_view id() const { return token_ ? std::string_view(token_->id) : "anonymous"; }
  bool HasScope(Scope scope) const { return !token_ || token_->HasScope(scope); }
  bool CanAccessTenant(std::string_view tenant) const {
    return !token_ || token_->CanAccessTenant(tenant);
  }
  bool AllTenants() const { return !token_ || token_->all_tenants; }

 private:
  std::shared_ptr<const TokenSpec> token_;
};

// Authenticates a request from its credential: the value of the HTTP `Authorization` header or
// of the gRPC `authorization` metadata (nullopt when absent). `auth` is an aliasing pointer into
// the config snapshot. Unauthenticated when a token is required and missing, when the credential
// is not "Bearer <token>", or when the token matches no configured hash (the message never
// repeats the presented token).
absl::StatusOr<Principal> Authenticate(const std::shared_ptr<const AuthSpec>& auth,
                                       std::optional<std::string_view> credential);

// Authorizes an Envoy RLS call (or any check on `domain`): the check scope and the tenant.
// PermissionDenied naming the token id and what it lacks.
absl::Status AuthorizeCheck(const Principal& principal, std::string_view domain);

// ---- HTTP routes ----------------------------------------------------------------------------

// Where a route's tenant comes from (for restricted tokens).
enum class TenantSource : uint8_t {
  kNone,          // Not tenant-specific.
  kAllTenants,    // Shows or changes every tenant: needs a token with "*".
  kBodyDomain,    // JSON body "domain" (check, settle).
  kBodyReports,   // JSON body "reports[i].tenant" (every report).
  kBodyClass,     // JSON body "class" ("tenant/k=v,...") or "domain" (overrides).
  kPathClass,     // The path after the prefix is a class key "tenant/k=v,..." (percent-encoded).
  kPathTenant,    // The path after the prefix is a tenant name up to the next '/'.
  kListResponse,  // Not known before; the response's lists are filtered (list_tenant_field).
};

struct RouteRule {
  std::string_view method;  // "GET", "POST", ...
  std::string_view path;    // Exact path, or a prefix when `prefix`.
  bool prefix = false;
  bool open = false;  // No token needed, ever (health probes).
  Scope scope = Scope::kRead;
  TenantSource tenant = TenantSource::kNone;
  // kListResponse: the field of each list element that holds its tenant ("tenant", or "name" in
  // the tenants list).
  std::string_view list_tenant_field = "tenant";
};

// The table, first match wins (exact rows before the prefixes they would shadow).
std::span<const RouteRule> HttpRoutes();
// The row for method + path; nullptr when none. `path_known` is set when some row matches the
// path with another method.
const RouteRule* FindHttpRoute(std::string_view method, std::string_view path, bool* path_known);

// The outcome of authorizing one HTTP request; Filter() post-processes its response.
class HttpAuthorization {
 public:
  // The response body filtered for the principal: on kListResponse routes every top-level array
  // of the JSON object keeps only the elements of the token's tenants (objects whose
  // list_tenant_field is one of them; strings that name one); elements that say no tenant are
  // dropped. On kPathClass GET routes a response whose "tenant" is another tenant's becomes the
  // same NotFound a missing class gets (returned as the error). A body that is not JSON is left
  // alone. Anonymous and all-tenant principals pass unchanged.
  absl::Status Filter(int http_status, std::string& body) const;

  const Principal& principal() const { return principal_; }

 private:
  friend absl::StatusOr<HttpAuthorization> AuthorizeHttp(const std::shared_ptr<const AuthSpec>&,
                                                         std::string_view, std::string_view,
                                                         std::string_view,
                                                         std::optional<std::string_view>);
  HttpAuthorization(Principal principal, const RouteRule* rule, std::string path)
      : principal_(std::move(principal)), rule_(rule), path_(std::move(path)) {}

  Principal principal_;
  const RouteRule* rule_;  // Null: unknown route (passes to the router's 404 / 405).
  std::string path_;
};

// Authenticates and authorizes one HTTP request before it is routed. `path` excludes the query.
// Errors: Unauthenticated (401: no or bad token), PermissionDenied (403: missing scope, another
// tenant, a /v1/ route not in the table), NotFound (404: another tenant's class, as if missing).
// A body this cannot interpret (not JSON, field missing or of the wrong type) passes: the route
// itself then rejects it with 400, before doing anything.
absl::StatusOr<HttpAuthorization> AuthorizeHttp(const std::shared_ptr<const AuthSpec>& auth,
                                                std::string_view method, std::string_view path,
                                                std::string_view body,
                                                std::optional<std::string_view> authorization);

// The WWW-Authenticate header value of a 401 (RFC 6750).
inline constexpr std::string_view kWwwAuthenticate = "Bearer realm=\"tidegate\"";

}  // namespace tidegate::server

#endif  // TIDEGATE_SERVER_AUTH_H_
