// End-to-end test of auth, TLS and request limits: starts the real tidegated binary on free
// loopback ports with a temporary data directory, a self-signed certificate made by the openssl
// CLI, and a config with tokens; then talks to it with libcurl (HTTPS) and a gRPC client built
// from the Envoy RLS proto (TLS): no token, wrong token, wrong tenant, wrong scope, right token;
// a client that does not trust the certificate; mutual TLS; every limit of `limits:` on both
// transports.
#include <curl/curl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/daemon_process.h"
#include "tidegate/server/auth.h"

namespace tidegate::server {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
namespace rls = envoy::service::ratelimit::v3;

constexpr std::string_view kShopToken = "tg_shop-app-secret";
constexpr std::string_view kReaderToken = "tg_shop-reader-secret";
constexpr std::string_view kOpsToken = "tg_ops-secret";

struct HttpResult {
  CURLcode curl = CURLE_OK;
  long status = 0;
  std::string body;
  std::string www_authenticate;
  json Json() const { return json::parse(body, nullptr, false); }
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t Header(char* data, size_t size, size_t n, void* out) {
  const std::string line(data, size * n);
  constexpr std::string_view kName = "www-authenticate:";
  std::string lower = line.substr(0, kName.size());
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == kName) {
    std::string v = line.substr(kName.size());
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n')) v.pop_back();
    *static_cast<std::string*>(out) = v.substr(v.find_first_not_of(' '));
  }
  return size * n;
}

class AuthTidegatedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / fmt::format("auth_tidegated_{}", ::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    const std::string cmd = fmt::format(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
        "-addext subjectAltName=IP:127.0.0.1,DNS:localhost "
        "-keyout {0}/server.key -out {0}/server.crt >/dev/null 2>&1",
        dir_.string());
    if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "openssl CLI not available";
    // A client CA and a client certificate it signed, for mutual TLS.
    const std::string client = fmt::format(
        "cd {0} && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=clients-ca "
        "-keyout ca.key -out ca.crt >/dev/null 2>&1 && "
        "openssl req -newkey rsa:2048 -nodes -subj /CN=client -keyout client.key "
        "-out client.csr >/dev/null 2>&1 && "
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
        "-out client.crt >/dev/null 2>&1",
        dir_.string());
    ASSERT_EQ(std::system(client.c_str()), 0);
    cert_ = (dir_ / "server.crt").string();
    config_ = (dir_ / "tidegate.yaml").string();
    daemon_.emplace(dir_ / "log.txt");
    std::ofstream(config_) << fmt::format(
        "domain: shop\n"
        "descriptors:\n"
        "  - key: class\n"
        "    rate_limit: {{unit: second, requests_per_unit: 1000}}\n"
        "---\n"
        "domain: bank\n"
        "descriptors:\n"
        "  - key: class\n"
        "    rate_limit: {{unit: second, requests_per_unit: 1000}}\n"
        "---\n"
        "limits: {{max_body_bytes: 4096, max_descriptors: 2, max_entries: 2, max_key_length: 16,\n"
        "         max_classes: 4, max_report_batch: 2}}\n"
        "auth:\n"
        "  required: true\n"
        "  tokens:\n"
        "    - {{id: shop-app, sha256: {0}, scopes: [check, report, read], tenants: [shop]}}\n"
        "    - {{id: shop-reader, sha256: {1}, scopes: [read], tenants: [shop]}}\n"
        "    - {{id: ops, sha256: {2}, scopes: [admin], tenants: \"*\"}}\n"
        "tls:\n"
        "  http: {{cert_file: server.crt, key_file: server.key{3}}}\n"
        "  grpc: {{cert_file: server.crt, key_file: server.key{3}}}\n",
        HashToHex(HashToken(kShopToken)), HashToHex(HashToken(kReaderToken)),
        HashToHex(HashToken(kOpsToken)), MutualTls() ? ", client_ca_file: ca.crt" : "");
    Start();
  }

  virtual bool MutualTls() const { return false; }

  void TearDown() override {
    daemon_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Start() {
    auto base = test::StartTidegated(*daemon_, TIDEGATED_PATH, config_, dir_ / "data");
    ASSERT_TRUE(base.ok()) << base.status();
    base_ = *base;
    auto grpc = daemon_->WaitForLog("gRPC (Envoy RLS v3, TLS) listening on ", "\n");
    ASSERT_TRUE(grpc.ok()) << grpc.status();
    grpc_ = *grpc;
  }

  HttpResult Http(const std::string& method, const std::string& path, const std::string& body,
                  std::optional<std::string_view> token, bool trust = true) {
    HttpResult out;
    CURL* curl = curl_easy_init();
    const std::string url = base_ + path;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty()) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    const std::string auth = token ? fmt::format("Authorization: Bearer {}", *token) : "";
    if (token) headers = curl_slist_append(headers, auth.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (trust) {
      curl_easy_setopt(curl, CURLOPT_CAINFO, cert_.c_str());
    } else {
      // The system's CAs only: they did not sign this self-signed certificate.
      curl_easy_setopt(curl, CURLOPT_CAINFO, "/etc/ssl/certs/ca-certificates.crt");
    }
    if (client_cert_) {
      const std::string crt = (dir_ / "client.crt").string();
      const std::string key = (dir_ / "client.key").string();
      curl_easy_setopt(curl, CURLOPT_SSLCERT, crt.c_str());  // libcurl copies option strings.
      curl_easy_setopt(curl, CURLOPT_SSLKEY, key.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &out.www_authenticate);
    out.curl = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return out;
  }

  HttpResult Check(std::string_view domain, std::string_view value,
                   std::optional<std::string_view> token) {
    return Http("POST", "/v1/check",
                json{{"domain", domain},
                     {"descriptors", {{{"entries", {{{"key", "class"}, {"value", value}}}}}}}}
                    .dump(),
                token);
  }

  std::unique_ptr<rls::RateLimitService::Stub> Stub(bool trust = true) {
    grpc::SslCredentialsOptions ssl;
    if (trust) {
      std::ifstream in(cert_);
      std::stringstream pem;
      pem << in.rdbuf();
      ssl.pem_root_certs = pem.str();
    }
    if (client_cert_) {
      ssl.pem_cert_chain = ReadFile(dir_ / "client.crt");
      ssl.pem_private_key = ReadFile(dir_ / "client.key");
    }
    return rls::RateLimitService::NewStub(grpc::CreateChannel(grpc_, grpc::SslCredentials(ssl)));
  }

  static rls::RateLimitRequest Request(std::string_view domain, std::string_view value) {
    rls::RateLimitRequest req;
    req.set_domain(std::string(domain));
    auto* e = req.add_descriptors()->add_entries();
    e->set_key("class");
    e->set_value(std::string(value));
    return req;
  }

  grpc::Status Rls(rls::RateLimitService::Stub& stub, const rls::RateLimitRequest& req,
                   std::optional<std::string_view> token, rls::RateLimitResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (token) ctx.AddMetadata("authorization", fmt::format("Bearer {}", *token));
    return stub.ShouldRateLimit(&ctx, req, resp);
  }

  static std::string ReadFile(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  bool client_cert_ = false;  // Present the client certificate (mutual TLS).
  std::filesystem::path dir_;
  std::string cert_, config_, base_, grpc_;
  std::optional<test::DaemonProcess> daemon_;
};

TEST_F(AuthTidegatedTest, HttpTokensScopesAndTenants) {
  // No token, wrong token: 401 with WWW-Authenticate.
  HttpResult r = Check("shop", "a", std::nullopt);
  ASSERT_EQ(r.curl, CURLE_OK) << curl_easy_strerror(r.curl);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Json()["error"]["code"], "UNAUTHENTICATED");
  EXPECT_EQ(r.www_authenticate, "Bearer realm=\"tidegate\"");
  r = Check("shop", "a", "tg_wrong");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.www_authenticate, "Bearer realm=\"tidegate\", error=\"invalid_token\"");
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("tg_wrong")));
  // Wrong tenant, wrong scope: 403.
  r = Check("bank", "a", kShopToken);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.Json()["error"]["code"], "PERMISSION_DENIED");
  EXPECT_THAT(r.Json()["error"]["message"].get<std::string>(), HasSubstr("tenant 'bank'"));
  r = Check("shop", "a", kReaderToken);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.Json()["error"]["message"].get<std::string>(), HasSubstr("'check' scope"));
  // Right token.
  r = Check("shop", "a", kShopToken);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["overall_code"], "OK");
  ASSERT_EQ(Check("bank", "a", kOpsToken).status, 200);

  // Lists are filtered to the token's tenants; another tenant's class does not exist.
  r = Http("GET", "/v1/classes", "", kReaderToken);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.Json()["classes"].size(), 1u) << r.body;
  EXPECT_EQ(r.Json()["classes"][0]["key"], "shop/class=a");
  EXPECT_EQ(Http("GET", "/v1/classes", "", kOpsToken).Json()["classes"].size(), 2u);
  r = Http("GET", "/v1/classes/bank%2Fclass%3Da", "", kReaderToken);
  EXPECT_EQ(r.status, 404);
  const HttpResult missing = Http("GET", "/v1/classes/shop%2Fclass%3Dzz", "", kReaderToken);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(r.Json()["error"]["message"], "class 'bank/class=a' does not exist");
  EXPECT_EQ(Http("GET", "/v1/classes/shop%2Fclass%3Da/plan", "", kReaderToken).status, 200);

  // Admin routes; /metrics needs read on every tenant; health probes stay open.
  const std::string override_body =
      R"({"class": "bank/class=a", "rate_per_s": 5, "ttl_seconds": 60})";
  EXPECT_EQ(Http("POST", "/v1/overrides", override_body, kShopToken).status, 403);
  EXPECT_EQ(Http("POST", "/v1/overrides", override_body, kOpsToken).status, 201);
  EXPECT_EQ(Http("GET", "/metrics", "", kReaderToken).status, 403);
  EXPECT_EQ(Http("GET", "/metrics", "", std::nullopt).status, 401);
  EXPECT_EQ(Http("GET", "/metrics", "", kOpsToken).status, 200);
  EXPECT_EQ(Http("GET", "/healthz", "", std::nullopt).status, 200);
  EXPECT_EQ(Http("GET", "/readyz", "", std::nullopt).status, 200);
  EXPECT_EQ(Http("GET", "/v1/not-a-route", "", kOpsToken).status, 403);

  // Reports: the report scope and the tenant of every report.
  const std::string report =
      R"({"reports": [{"tenant": "shop", "descriptors": [{"key": "class", "value": "a"}],
                       "cpu_ms": 3}]})";
  EXPECT_EQ(Http("POST", "/v1/report", report, kReaderToken).status, 403);
  EXPECT_EQ(Http("POST", "/v1/report", report, kShopToken).status, 200);
  EXPECT_EQ(
      Http("POST", "/v1/report", R"({"reports": [{"tenant": "bank", "cpu_ms": 3}]})", kShopToken)
          .status,
      403);
  EXPECT_EQ(Http("POST", "/v1/report", report, kOpsToken).status, 200);
}

TEST_F(AuthTidegatedTest, GrpcTokensScopesAndTenants) {
  auto stub = Stub();
  rls::RateLimitResponse resp;
  grpc::Status s = Rls(*stub, Request("shop", "a"), std::nullopt, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  s = Rls(*stub, Request("shop", "a"), "tg_wrong", &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  s = Rls(*stub, Request("bank", "a"), kShopToken, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("tenant 'bank'"));
  s = Rls(*stub, Request("shop", "a"), kReaderToken, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("'check' scope"));
  s = Rls(*stub, Request("shop", "a"), kShopToken, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.overall_code(), rls::RateLimitResponse::OK);
  s = Rls(*stub, Request("bank", "a"), kOpsToken, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(AuthTidegatedTest, ClientsThatDoNotTrustTheCertificateFail) {
  const HttpResult r = Http("GET", "/healthz", "", std::nullopt, /*trust=*/false);
  EXPECT_NE(r.curl, CURLE_OK);
  EXPECT_EQ(r.status, 0);
  auto stub = Stub(/*trust=*/false);
  rls::RateLimitResponse resp;
  const grpc::Status s = Rls(*stub, Request("shop", "a"), kShopToken, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  // The same clients trusting it succeed.
  EXPECT_EQ(Http("GET", "/healthz", "", std::nullopt).status, 200);
  EXPECT_TRUE(Rls(*Stub(), Request("shop", "a"), kShopToken, &resp).ok());
}

TEST_F(AuthTidegatedTest, EveryLimitOnBothTransports) {
  auto stub = Stub();
  rls::RateLimitResponse resp;
  auto http_error = [](const HttpResult& r) {
    return r.Json()["error"]["message"].get<std::string>();
  };
  // max_body_bytes
  HttpResult r = Check("shop", std::string(5000, 'x'), kOpsToken);
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(http_error(r), HasSubstr("limits.max_body_bytes = 4096"));
  grpc::Status s = Rls(*stub, Request("shop", std::string(5000, 'x')), kOpsToken, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("limits.max_body_bytes"));

  // max_key_length (entry value, and the domain)
  r = Check("shop", std::string(17, 'v'), kOpsToken);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(http_error(r), HasSubstr("limits.max_key_length"));
  s = Rls(*stub, Request("shop", std::string(17, 'v')), kOpsToken, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("limits.max_key_length"));
  s = Rls(*stub, Request(std::string(17, 'd'), "a"), kOpsToken, &resp);
  EXPECT_THAT(s.error_message(), HasSubstr("domain is 17 bytes"));

  // max_descriptors
  json three = json::array();
  rls::RateLimitRequest req3 = Request("shop", "a");
  for (int i = 0; i < 3; ++i) {
    three.push_back({{"entries", {{{"key", "class"}, {"value", "a"}}}}});
    if (i > 0) *req3.add_descriptors() = req3.descriptors(0);
  }
  r = Http("POST", "/v1/check", json{{"domain", "shop"}, {"descriptors", three}}.dump(), kOpsToken);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(http_error(r), HasSubstr("limits.max_descriptors"));
  s = Rls(*stub, req3, kOpsToken, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("limits.max_descriptors"));

  // max_entries
  json entries = json::array();
  rls::RateLimitRequest req_e = Request("shop", "a");
  for (int i = 0; i < 3; ++i) {
    entries.push_back({{"key", fmt::format("k{}", i)}, {"value", "v"}});
    if (i > 0) *req_e.mutable_descriptors(0)->add_entries() = req_e.descriptors(0).entries(0);
  }
  r = Http("POST", "/v1/check",
           json{{"domain", "shop"}, {"descriptors", {{{"entries", entries}}}}}.dump(), kOpsToken);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(http_error(r), HasSubstr("limits.max_entries"));
  s = Rls(*stub, req_e, kOpsToken, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("limits.max_entries"));

  // max_report_batch (HTTP only: the gRPC API has no report call)
  r = Http("POST", "/v1/report",
           R"({"reports": [{"tenant": "shop"}, {"tenant": "shop"}, {"tenant": "shop"}]})",
           kOpsToken);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(http_error(r), HasSubstr("limits.max_report_batch"));
  r = Http("POST", "/v1/report",
           fmt::format(R"({{"reports": [{{"tenant": "{}"}}]}})", std::string(17, 't')), kOpsToken);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(http_error(r), HasSubstr("limits.max_key_length"));

  // max_classes: 4 wildcard classes fit, the 5th (HTTP) and 6th (gRPC) do not.
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(Check("shop", fmt::format("c{}", i), kOpsToken).status, 200);
  }
  r = Check("shop", "c4", kOpsToken);
  EXPECT_EQ(r.status, 429);
  EXPECT_THAT(http_error(r), HasSubstr("limits.max_classes"));
  s = Rls(*stub, Request("shop", "c5"), kOpsToken, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("limits.max_classes"));
}

class MutualTlsTidegatedTest : public AuthTidegatedTest {
 protected:
  bool MutualTls() const override { return true; }
};

TEST_F(MutualTlsTidegatedTest, ClientsWithoutACertificateFromTheCaFail) {
  rls::RateLimitResponse resp;
  const HttpResult without = Http("GET", "/v1/classes", "", kOpsToken);
  EXPECT_NE(without.curl, CURLE_OK);
  EXPECT_EQ(without.status, 0);
  EXPECT_EQ(Rls(*Stub(), Request("shop", "a"), kShopToken, &resp).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  client_cert_ = true;
  const HttpResult with = Http("GET", "/v1/classes", "", kOpsToken);
  EXPECT_EQ(with.curl, CURLE_OK) << curl_easy_strerror(with.curl);
  EXPECT_EQ(with.status, 200);
  const grpc::Status s = Rls(*Stub(), Request("shop", "a"), kShopToken, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  // The certificate admits the connection; the token still decides what it may do.
  EXPECT_EQ(Http("GET", "/v1/classes", "", std::nullopt).status, 401);
  EXPECT_EQ(Rls(*Stub(), Request("bank", "a"), kShopToken, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace tidegate::server
