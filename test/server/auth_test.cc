// Unit tests of tidegate/server/auth.h and the auth:/tls: config sections: hashing, constant-time
// lookup, scopes, tenant checks, the route table, response filtering, config errors.
#include "tidegate/server/auth.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tidegate/server/config.h"

namespace tidegate::server {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr std::string_view kShopToken = "tg_shop-secret";
constexpr std::string_view kOpsToken = "tg_ops-secret";
constexpr std::string_view kReaderToken = "tg_reader-secret";

TEST(TokenHashTest, Sha256OfKnownVectors) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(HashToHex(HashToken("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HashToHex(HashToken("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(TokenHashTest, ParseRoundTripAndErrors) {
  const TokenHash h = HashToken("abc");
  auto parsed = ParseTokenHash(HashToHex(h));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, h);
  std::string upper = HashToHex(h);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(*ParseTokenHash(upper), h);
  EXPECT_THAT(ParseTokenHash("abc").status().message(), HasSubstr("64 hex digits"));
  std::string bad = HashToHex(h);
  bad[10] = 'x';
  EXPECT_THAT(ParseTokenHash(bad).status().message(), HasSubstr("position 10"));
}

TEST(TokenHashTest, ConstantTimeEquality) {
  TokenHash a = HashToken("a");
  TokenHash b = a;
  EXPECT_TRUE(HashEquals(a, b));
  b[31] ^= 1;
  EXPECT_FALSE(HashEquals(a, b));
}

TEST(TokenHashTest, GeneratedTokensAreBase64UrlOf32Bytes) {
  std::array<uint8_t, 32> zeros{};
  EXPECT_EQ(TokenFromBytes(zeros), "tg_" + std::string(43, 'A'));
  std::array<uint8_t, 32> ones;
  ones.fill(0xff);
  EXPECT_EQ(TokenFromBytes(ones), "tg_" + std::string(42, '_') + "8");
  auto t1 = GenerateToken();
  auto t2 = GenerateToken();
  ASSERT_TRUE(t1.ok() && t2.ok());
  EXPECT_EQ(t1->size(), 46u);
  EXPECT_NE(*t1, *t2);
}

TEST(ScopeTest, ParseAndAdminImpliesAll) {
  EXPECT_EQ(*ParseScope("report"), Scope::kReport);
  EXPECT_THAT(ParseScope("write").status().message(), HasSubstr("check, report, read, admin"));
  TokenSpec admin;
  admin.scopes = static_cast<uint8_t>(Scope::kAdmin);
  for (Scope s : {Scope::kCheck, Scope::kReport, Scope::kRead, Scope::kAdmin}) {
    EXPECT_TRUE(admin.HasScope(s)) << ScopeName(s);
  }
  TokenSpec check;
  check.scopes = static_cast<uint8_t>(Scope::kCheck);
  EXPECT_TRUE(check.HasScope(Scope::kCheck));
  EXPECT_FALSE(check.HasScope(Scope::kRead));
  EXPECT_FALSE(check.HasScope(Scope::kAdmin));
}

std::shared_ptr<const AuthSpec> Spec(bool required) {
  auto spec = std::make_shared<AuthSpec>();
  spec->required = required;
  TokenSpec shop;
  shop.id = "shop-app";
  shop.sha256 = HashToken(kShopToken);
  shop.scopes = static_cast<uint8_t>(Scope::kCheck) | static_cast<uint8_t>(Scope::kRead) |
                static_cast<uint8_t>(Scope::kReport);
  shop.tenants = {"shop"};
  TokenSpec ops;
  ops.id = "ops";
  ops.sha256 = HashToken(kOpsToken);
  ops.scopes = static_cast<uint8_t>(Scope::kAdmin);
  ops.all_tenants = true;
  TokenSpec reader;
  reader.id = "shop-reader";
  reader.sha256 = HashToken(kReaderToken);
  reader.scopes = static_cast<uint8_t>(Scope::kRead);
  reader.tenants = {"shop"};
  spec->tokens = {shop, ops, reader};
  return spec;
}

std::string Bearer(std::string_view token) { return fmt::format("Bearer {}", token); }

TEST(AuthenticateTest, TokensAndRequired) {
  const auto optional = Spec(false);
  const auto required = Spec(true);
  auto anon = Authenticate(optional, std::nullopt);
  ASSERT_TRUE(anon.ok());
  EXPECT_TRUE(anon->anonymous());
  EXPECT_TRUE(anon->CanAccessTenant("anything"));
  EXPECT_EQ(Authenticate(required, std::nullopt).status().code(),
            absl::StatusCode::kUnauthenticated);
  // A presented token is held to its word even when none is required.
  const auto wrong = Authenticate(optional, Bearer("tg_wrong"));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(wrong.status().message(), ::testing::Not(HasSubstr("tg_wrong")));
  EXPECT_EQ(Authenticate(required, "Basic dXNlcjpwdw==").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Authenticate(required, "Bearer ").status().code(), absl::StatusCode::kUnauthenticated);
  auto shop = Authenticate(required, Bearer(kShopToken));
  ASSERT_TRUE(shop.ok()) << shop.status();
  EXPECT_EQ(shop->id(), "shop-app");
  EXPECT_TRUE(shop->CanAccessTenant("shop"));
  EXPECT_FALSE(shop->CanAccessTenant("bank"));
  auto ops = Authenticate(required, "bearer  " + std::string(kOpsToken) + " ");
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_EQ(ops->id(), "ops");
  EXPECT_TRUE(ops->AllTenants());
}

TEST(AuthenticateTest, PrincipalOutlivesTheSpec) {
  auto spec = Spec(true);
  auto p = Authenticate(spec, Bearer(kShopToken));
  ASSERT_TRUE(p.ok());
  spec.reset();  // A reload dropped the config snapshot; the principal keeps its token alive.
  EXPECT_EQ(p->id(), "shop-app");
}

TEST(AuthorizeCheckTest, ScopeAndDomain) {
  const auto spec = Spec(true);
  EXPECT_TRUE(AuthorizeCheck(*Authenticate(spec, Bearer(kShopToken)), "shop").ok());
  const absl::Status other = AuthorizeCheck(*Authenticate(spec, Bearer(kShopToken)), "bank");
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(other.message(), HasSubstr("tenant 'bank'"));
  const absl::Status scope = AuthorizeCheck(*Authenticate(spec, Bearer(kReaderToken)), "shop");
  EXPECT_EQ(scope.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(scope.message(), HasSubstr("'check' scope"));
  EXPECT_TRUE(AuthorizeCheck(*Authenticate(spec, Bearer(kOpsToken)), "bank").ok());
}

absl::StatusCode Code(const std::shared_ptr<const AuthSpec>& spec, std::string_view method,
                      std::string_view path, std::string_view body,
                      std::optional<std::string_view> token) {
  const std::optional<std::string> header =
      token ? std::optional<std::string>(Bearer(*token)) : std::nullopt;
  return AuthorizeHttp(spec, method, path, body,
                       header ? std::optional<std::string_view>(*header) : std::nullopt)
      .status()
      .code();
}

TEST(AuthorizeHttpTest, RouteTableScopesAndTenants) {
  using C = absl::StatusCode;
  const auto spec = Spec(true);
  const std::string check_shop = R"({"domain": "shop", "descriptors": []})";
  const std::string check_bank = R"({"domain": "bank", "descriptors": []})";
  // Open routes and static files outside /v1/.
  EXPECT_EQ(Code(spec, "GET", "/healthz", "", std::nullopt), C::kOk);
  EXPECT_EQ(Code(spec, "GET", "/readyz", "", std::nullopt), C::kOk);
  EXPECT_EQ(Code(spec, "GET", "/index.html", "", std::nullopt), C::kOk);
  // No, wrong token: 401.
  EXPECT_EQ(Code(spec, "POST", "/v1/check", check_shop, std::nullopt), C::kUnauthenticated);
  EXPECT_EQ(Code(spec, "POST", "/v1/check", check_shop, "tg_nope"), C::kUnauthenticated);
  EXPECT_EQ(Code(spec, "GET", "/metrics", "", std::nullopt), C::kUnauthenticated);
  // Right token, right tenant; wrong tenant; wrong scope.
  EXPECT_EQ(Code(spec, "POST", "/v1/check", check_shop, kShopToken), C::kOk);
  EXPECT_EQ(Code(spec, "POST", "/v1/settle", check_bank, kShopToken), C::kPermissionDenied);
  EXPECT_EQ(Code(spec, "POST", "/v1/check", check_shop, kReaderToken), C::kPermissionDenied);
  EXPECT_EQ(Code(spec, "POST", "/v1/check", check_bank, kOpsToken), C::kOk);  // admin, "*"
  // A body the route will reject with 400 passes (nothing is done with it).
  EXPECT_EQ(Code(spec, "POST", "/v1/check", "{not json", kShopToken), C::kOk);
  // Reports: every report's tenant, and a report without one is not the token's.
  EXPECT_EQ(Code(spec, "POST", "/v1/report", R"({"reports": [{"tenant": "shop"}]})", kShopToken),
            C::kOk);
  EXPECT_EQ(Code(spec, "POST", "/v1/report",
                 R"({"reports": [{"tenant": "shop"}, {"tenant": "bank"}]})", kShopToken),
            C::kPermissionDenied);
  EXPECT_EQ(Code(spec, "POST", "/v1/report", R"({"reports": [{"cpu_ms": 1}]})", kShopToken),
            C::kPermissionDenied);
  // Another tenant's class answers as if it did not exist.
  EXPECT_EQ(Code(spec, "GET", "/v1/classes/shop%2Fclass%3Da", "", kShopToken), C::kOk);
  EXPECT_EQ(Code(spec, "GET", "/v1/classes/bank%2Fclass%3Da/plan", "", kShopToken), C::kNotFound);
  EXPECT_EQ(Code(spec, "GET", "/v1/classes/bank/class=a", "", kShopToken), C::kNotFound);
  EXPECT_EQ(Code(spec, "GET", "/v1/tenants/bank", "", kShopToken), C::kNotFound);
  // Overrides need admin; an admin restricted to shop cannot name bank's class.
  EXPECT_EQ(Code(spec, "POST", "/v1/overrides", R"({"class": "shop/class=a"})", kShopToken),
            C::kPermissionDenied);
  EXPECT_EQ(Code(spec, "DELETE", "/v1/overrides/shop%2Fclass%3Da", "", kOpsToken), C::kOk);
  // Routes across tenants need "*": /metrics, config, reload.
  EXPECT_EQ(Code(spec, "GET", "/metrics", "", kReaderToken), C::kPermissionDenied);
  EXPECT_EQ(Code(spec, "GET", "/v1/config", "", kReaderToken), C::kPermissionDenied);
  EXPECT_EQ(Code(spec, "POST", "/v1/config:reload", "", kShopToken), C::kPermissionDenied);
  EXPECT_EQ(Code(spec, "POST", "/v1/config:reload", "", kOpsToken), C::kOk);
  EXPECT_EQ(Code(spec, "GET", "/metrics", "", kOpsToken), C::kOk);
  // Deny by default under /v1/; a known path with another method reaches the router's 405.
  EXPECT_EQ(Code(spec, "GET", "/v1/secret-new-route", "", kOpsToken), C::kPermissionDenied);
  EXPECT_EQ(Code(spec, "DELETE", "/v1/check", "", kShopToken), C::kOk);
  EXPECT_EQ(Code(spec, "DELETE", "/v1/check", "", std::nullopt), C::kUnauthenticated);
}

TEST(AuthorizeHttpTest, NotRequiredAnonymousHasFullAccessButTokensAreChecked) {
  using C = absl::StatusCode;
  const auto spec = Spec(false);
  EXPECT_EQ(Code(spec, "POST", "/v1/check", R"({"domain": "bank"})", std::nullopt), C::kOk);
  EXPECT_EQ(Code(spec, "GET", "/v1/unknown", "", std::nullopt), C::kOk);  // The router's 404.
  EXPECT_EQ(Code(spec, "POST", "/v1/check", R"({"domain": "bank"})", kShopToken),
            C::kPermissionDenied);
  EXPECT_EQ(Code(spec, "POST", "/v1/check", R"({"domain": "bank"})", "tg_wrong"),
            C::kUnauthenticated);
  EXPECT_EQ(Code(nullptr, "GET", "/v1/classes", "", std::nullopt), C::kOk);
}

TEST(AuthorizeHttpTest, EveryApiRouteHasARow) {
  // The routes tidegated serves today (http_server.h); each must be in the table.
  const std::pair<std::string_view, std::string_view> routes[] = {
      {"POST", "/v1/check"},
      {"POST", "/v1/settle"},
      {"POST", "/v1/report"},
      {"GET", "/v1/classes"},
      {"GET", "/v1/classes/t%2Fk%3Dv"},
      {"GET", "/v1/classes/t%2Fk%3Dv/plan"},
      {"POST", "/v1/overrides"},
      {"DELETE", "/v1/overrides/t%2Fk%3Dv"},
      {"GET", "/v1/config"},
      {"POST", "/v1/config:validate"},
      {"POST", "/v1/config:reload"},
      {"GET", "/healthz"},
      {"GET", "/readyz"},
      {"GET", "/metrics"}};
  for (const auto& [method, path] : routes) {
    EXPECT_NE(FindHttpRoute(method, path, nullptr), nullptr) << method << " " << path;
  }
}

TEST(FilterTest, ListsKeepOnlyTheTokensTenants) {
  const auto spec = Spec(true);
  const std::string header = Bearer(kShopToken);
  auto a = AuthorizeHttp(spec, "GET", "/v1/classes", "", header);
  ASSERT_TRUE(a.ok());
  std::string body = json{
      {"classes",
       {{{"key", "shop/c=a"}, {"tenant", "shop"}},
        {{"key", "bank/c=a"}, {"tenant", "bank"}},
        {{"key", "no tenant"}}}},
      {"count", 3}}.dump();
  ASSERT_TRUE(a->Filter(200, body).ok());
  const json j = json::parse(body);
  ASSERT_EQ(j["classes"].size(), 1u);
  EXPECT_EQ(j["classes"][0]["tenant"], "shop");

  auto t = AuthorizeHttp(spec, "GET", "/v1/tenants", "", header);
  ASSERT_TRUE(t.ok());
  std::string tenants = R"({"tenants": [{"name": "shop"}, {"name": "bank"}], "names": ["bank"]})";
  ASSERT_TRUE(t->Filter(200, tenants).ok());
  EXPECT_EQ(json::parse(tenants), json::parse(R"({"tenants": [{"name": "shop"}], "names": []})"));

  // The all-tenant token sees everything unchanged.
  auto ops = AuthorizeHttp(spec, "GET", "/v1/classes", "", Bearer(kOpsToken));
  std::string all = R"({"classes": [{"tenant": "bank"}]})";
  ASSERT_TRUE(ops->Filter(200, all).ok());
  EXPECT_EQ(all, R"({"classes": [{"tenant": "bank"}]})");
}

TEST(FilterTest, AClassOfAnotherTenantFoundByAmbiguousKeyIsNotFound) {
  // Tenant names may contain '/': "shop/x" is then a tenant the token for "shop" may not see.
  const auto spec = Spec(true);
  auto a = AuthorizeHttp(spec, "GET", "/v1/classes/shop%2Fx%2Fk%3Dv", "", Bearer(kShopToken));
  ASSERT_TRUE(a.ok());
  std::string body = R"({"key": "shop/x/k=v", "tenant": "shop/x"})";
  const absl::Status s = a->Filter(200, body);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "class 'shop/x/k=v' does not exist");
}

// ---- config ------------------------------------------------------------------------------------

absl::Status ConfigError(const std::string& yaml) {
  return ParseConfig(yaml, "auth.yaml").status();
}

std::string TokenYaml(std::string_view fields) {
  return fmt::format("auth:\n  required: true\n  tokens:\n    - {}\n", fields);
}

TEST(AuthConfigTest, ParsesTokens) {
  const std::string hash = HashToHex(HashToken(kShopToken));
  auto c =
      ParseConfig(fmt::format("auth:\n  required: true\n  tokens:\n"
                              "    - {{id: app, sha256: {}, scopes: [check, read], "
                              "tenants: [shop, bank]}}\n"
                              "    - {{id: ops, sha256: {}, scopes: [admin], tenants: \"*\"}}\n",
                              hash, HashToHex(HashToken(kOpsToken))),
                  "auth.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->auth.tokens.size(), 2u);
  EXPECT_TRUE(c->auth.required);
  const TokenSpec& app = c->auth.tokens[0];
  EXPECT_EQ(app.id, "app");
  EXPECT_EQ(HashToHex(app.sha256), hash);
  EXPECT_TRUE(app.HasScope(Scope::kRead));
  EXPECT_FALSE(app.HasScope(Scope::kReport));
  EXPECT_THAT(app.tenants, ::testing::ElementsAre("shop", "bank"));
  EXPECT_EQ(app.location, "auth.yaml:4");
  EXPECT_TRUE(c->auth.tokens[1].all_tenants);
  // Default: not required, no tokens (an envoyproxy/ratelimit config).
  auto plain = ParseConfig("domain: shop\n", "plain.yaml");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->auth.required);
  EXPECT_TRUE(plain->auth.tokens.empty());
}

TEST(AuthConfigTest, ErrorsNameFileLineAndField) {
  const std::string hash = HashToHex(HashToken(kShopToken));
  EXPECT_THAT(ConfigError(TokenYaml(fmt::format(
                              "{{id: a, sha256: {}, scopes: [write], tenants: [s]}}", hash)))
                  .message(),
              HasSubstr("auth.yaml:4: auth.tokens[0].scopes[0]: 'write' is not one of"));
  EXPECT_THAT(
      ConfigError(TokenYaml("{id: a, sha256: abc, scopes: [read], tenants: [s]}")).message(),
      HasSubstr("auth.yaml:4: auth.tokens[0].sha256: a SHA-256 hash is 64 hex digits"));
  EXPECT_THAT(
      ConfigError(TokenYaml("{id: a, secret: hunter2, scopes: [read], tenants: [s]}")).message(),
      HasSubstr("auth.tokens[0]: a token's secret never goes into the config"));
  EXPECT_THAT(
      ConfigError(TokenYaml(fmt::format("{{id: a, sha256: {}, scopes: [read]}}", hash))).message(),
      HasSubstr("auth.tokens[0].tenants: required"));
  EXPECT_THAT(ConfigError(TokenYaml(fmt::format(
                              "{{id: a, sha256: {}, scopes: [read], tenants: ['*', s]}}", hash)))
                  .message(),
              HasSubstr("auth.tokens[0].tenants[0]: \"*\" (every tenant) cannot be combined"));
  EXPECT_THAT(
      ConfigError(fmt::format("auth:\n  tokens:\n"
                              "    - {{id: a, sha256: {0}, scopes: [read], tenants: [s]}}\n"
                              "    - {{id: a, sha256: {1}, scopes: [read], tenants: [s]}}\n",
                              hash, HashToHex(HashToken("x"))))
          .message(),
      HasSubstr("auth.yaml:4: auth.tokens[1].id: duplicate token id 'a' (first at "
                "auth.yaml:3)"));
  EXPECT_THAT(
      ConfigError(fmt::format("auth:\n  tokens:\n"
                              "    - {{id: a, sha256: {0}, scopes: [read], tenants: [s]}}\n"
                              "    - {{id: b, sha256: {0}, scopes: [read], tenants: [s]}}\n",
                              hash))
          .message(),
      HasSubstr("auth.tokens[1].sha256: the same hash as token 'a'"));
  EXPECT_THAT(ConfigError("auth:\n  required: true\n").message(),
              HasSubstr("auth.yaml:2: auth.required: true needs at least one token"));
  EXPECT_THAT(ConfigError("auth:\n  required: maybe\n").message(),
              HasSubstr("auth.yaml:2: auth.required: 'maybe' is not true or false"));
  EXPECT_THAT(ConfigError("auth:\n  users: []\n").message(),
              HasSubstr("auth.users: unknown field (allowed: required, tokens)"));
}

// TLS files: a self-signed certificate made with the openssl CLI at test time.
class TlsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / fmt::format("auth_test_tls_{}", ::getpid());
    std::filesystem::create_directories(dir_);
    for (const char* name : {"a", "b"}) {
      const std::string cmd = fmt::format(
          "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
          "-keyout {0}/{1}.key -out {0}/{1}.crt >/dev/null 2>&1",
          dir_.string(), name);
      if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "openssl CLI not available";
    }
    std::ofstream(dir_ / "garbage.pem") << "not a certificate\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  absl::StatusOr<Config> Load(const std::string& tls_yaml) {
    const std::string file = (dir_ / "tidegate.yaml").string();
    std::ofstream(file) << tls_yaml;
    return LoadConfig(file);
  }

  std::filesystem::path dir_;
};

TEST_F(TlsConfigTest, RelativePathsResolveAgainstTheConfigFile) {
  auto c = Load(
      "tls:\n  http: {cert_file: a.crt, key_file: a.key}\n"
      "  grpc: {cert_file: b.crt, key_file: b.key, client_ca_file: a.crt}\n");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->tls.http.has_value());
  EXPECT_EQ(c->tls.http->cert_file, (dir_ / "a.crt").string());
  EXPECT_TRUE(c->tls.http->client_ca_file.empty());
  EXPECT_EQ(c->tls.grpc->client_ca_file, (dir_ / "a.crt").string());
}

TEST_F(TlsConfigTest, BadFilesAreConfigErrors) {
  EXPECT_THAT(Load("tls:\n  http: {cert_file: missing.crt, key_file: a.key}\n").status().message(),
              HasSubstr(":2: tls.http.cert_file: '" + (dir_ / "missing.crt").string() +
                        "' does not exist"));
  EXPECT_THAT(Load("tls:\n  http: {cert_file: garbage.pem, key_file: a.key}\n").status().message(),
              HasSubstr("tls.http.cert_file: '" + (dir_ / "garbage.pem").string() +
                        "' holds no PEM certificate"));
  EXPECT_THAT(Load("tls:\n  grpc: {cert_file: a.crt, key_file: b.key}\n").status().message(),
              HasSubstr("tls.grpc.key_file: '" + (dir_ / "b.key").string() +
                        "' is not the private key of the certificate"));
  EXPECT_THAT(Load("tls:\n  grpc: {cert_file: a.crt}\n").status().message(),
              HasSubstr("tls.grpc.key_file: required"));
  EXPECT_THAT(
      Load("tls:\n  http: {cert_file: a.crt, key_file: a.key, client_ca_file: garbage.pem}\n")
          .status()
          .message(),
      HasSubstr("tls.http.client_ca_file"));
  EXPECT_THAT(Load("tls:\n  https: {}\n").status().message(),
              HasSubstr("tls.https: unknown field (allowed: http, grpc)"));
}

}  // namespace
}  // namespace tidegate::server
