// Integration tests of the HTTP/JSON API: the Service and HttpServer in-process on a free loopback
// port, on simulated time, driven by a real HTTP client (libcurl, history::HttpClient).
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tidegate/history/http_client.h"
#include "tidegate/history/sqlite_store.h"
#include "tidegate/server/http_server.h"
#include "tidegate/server/service.h"

namespace tidegate::server {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr char kConfig[] = R"(domain: shop
descriptors:
  - key: class
    value: checkout
    rate_limit: {unit: second, requests_per_unit: 3}
    cost: {cpu_ms: 10}
  - key: user
    rate_limit: {unit: minute, requests_per_unit: 2}
limits: {max_body_bytes: 4096, max_descriptors: 4}
unknown_descriptors: {policy: deny}
alerts:
  evaluation_interval: 1s
  rules:
    - name: CheckoutBusy
      class: shop/class=checkout
      resource: requests
      statistic: observed
      threshold: 0.5
      labels: {severity: info}
scaling:
  evaluation_interval: 1s
  services:
    - name: shop-api
      tenant: shop
      per_replica: {requests: 1, cpu_ms: 100}
      target_utilization: 1
      min_replicas: 1
      max_replicas: 10
      lead_time: 0s
      scale_down_stabilization: 0s
)";

class HttpApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / fmt::format("tidegate_http_test_{}", ::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    config_path_ = (dir_ / "config.yaml").string();
    std::ofstream(config_path_) << kConfig;
    absl::StatusOr<Config> config = LoadConfig(config_path_);
    ASSERT_TRUE(config.ok()) << config.status();
    auto store = history::SqliteStore::Open((dir_ / "data").string());
    ASSERT_TRUE(store.ok()) << store.status();
    ServiceOptions options;
    options.config = *std::move(config);
    options.store = *std::move(store);
    auto service = Service::Create(std::move(options), clock_);
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
    HttpApiOptions api_options;
    api_options.reload = [this]() -> absl::Status {
      absl::StatusOr<Config> next = LoadConfig(config_path_);
      if (!next.ok()) return next.status();
      return service_->ApplyConfig(*std::move(next));
    };
    api_ = std::make_unique<HttpApi>(*service_, api_options);
    api_->set_ready(true);
    auto server = HttpServer::Start(*api_, *service_, HttpServerOptions{});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    base_ = fmt::format("http://127.0.0.1:{}", server_->port());
    auto client = history::HttpClient::Create();
    ASSERT_TRUE(client.ok());
    client_ = *std::move(client);
  }

  void TearDown() override {
    server_.reset();
    api_.reset();
    service_.reset();
    std::filesystem::remove_all(dir_);
  }

  history::HttpResponse Post(const std::string& path, const std::string& body) {
    absl::StatusOr<history::HttpResponse> r = client_->Post(base_ + path, body, "application/json");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : history::HttpResponse{};
  }
  history::HttpResponse Get(const std::string& path) {
    absl::StatusOr<history::HttpResponse> r = client_->Get(base_ + path);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : history::HttpResponse{};
  }
  // history::HttpClient has no DELETE or PUT; these requests go through libcurl directly.
  history::HttpResponse Delete(const std::string& path) { return Send("DELETE", path, ""); }
  history::HttpResponse Put(const std::string& path, const std::string& body) {
    return Send("PUT", path, body);
  }
  // With `content_encoding`, the request accepts gzip (curl decodes the body) and the answer's
  // Content-Encoding header line, if any, is stored there.
  history::HttpResponse Send(const char* method, const std::string& path, const std::string& body,
                             std::string* content_encoding = nullptr) {
    history::HttpResponse out;
    CURL* curl = curl_easy_init();
    const std::string url = base_ + path;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (!body.empty()) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_easy_setopt(
        curl, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* u) -> size_t {
          static_cast<std::string*>(u)->append(p, s * n);
          return s * n;
        });
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
    if (content_encoding != nullptr) {
      curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "gzip");
      curl_easy_setopt(
          curl, CURLOPT_HEADERFUNCTION, +[](char* p, size_t s, size_t n, void* u) -> size_t {
            const std::string line(p, s * n);
            if (line.rfind("Content-Encoding:", 0) == 0) *static_cast<std::string*>(u) = line;
            return s * n;
          });
      curl_easy_setopt(curl, CURLOPT_HEADERDATA, content_encoding);
    }
    EXPECT_EQ(curl_easy_perform(curl), CURLE_OK);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
    curl_easy_cleanup(curl);
    return out;
  }

  static json Body(const history::HttpResponse& r) {
    json j = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body;
    return j;
  }

  static void ExpectError(const history::HttpResponse& r, long status, const std::string& code,
                          const std::string& message) {
    EXPECT_EQ(r.status, status) << r.body;
    json j = Body(r);
    EXPECT_EQ(j["error"]["code"], code) << r.body;
    EXPECT_THAT(j["error"]["message"].get<std::string>(), HasSubstr(message)) << r.body;
  }

  static std::string CheckBody(const std::string& key, const std::string& value) {
    return json{{"domain", "shop"},
                {"descriptors", {{{"entries", {{{"key", key}, {"value", value}}}}}}}}
        .dump();
  }

  SimulatedClock clock_;
  std::filesystem::path dir_;
  std::string config_path_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<history::HttpClient> client_;
  std::string base_;
};

TEST_F(HttpApiTest, CheckUntilRefusedThenRefill) {
  const std::string body = CheckBody("class", "checkout");
  for (int i = 0; i < 3; ++i) {
    history::HttpResponse r = Post("/v1/check", body);
    ASSERT_EQ(r.status, 200) << r.body;
    json j = Body(r);
    EXPECT_EQ(j["overall_code"], "OK");
    EXPECT_EQ(j["statuses"][0]["limit_remaining"], 2 - i);
    EXPECT_EQ(j["statuses"][0]["current_limit"]["requests_per_unit"], 3);
    EXPECT_EQ(j["statuses"][0]["current_limit"]["unit"], "second");
  }
  history::HttpResponse refused = Post("/v1/check", body);
  EXPECT_EQ(refused.status, 200);
  json j = Body(refused);
  EXPECT_EQ(j["overall_code"], "OVER_LIMIT");
  EXPECT_NEAR(j["statuses"][0]["retry_after_s"].get<double>(), 1.0 / 3, 1e-6);
  clock_.Advance(std::chrono::milliseconds(334));
  EXPECT_EQ(Body(Post("/v1/check", body))["overall_code"], "OK");
}

// The check answer is written without a json tree; a class key with characters JSON must escape
// (a wildcard's value comes from the request; control characters are refused there) still
// round-trips.
TEST_F(HttpApiTest, CheckAnswerEscapesClassKeys) {
  for (const char* value : {"plain", "quote\"back\\slash", "<tag> &amp; space", "caf\u00e9"}) {
    const json request = {{"domain", "shop"},
                          {"descriptors", {{{"entries", {{{"key", "user"}, {"value", value}}}}}}}};
    history::HttpResponse r = Post("/v1/check", request.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = json::parse(r.body);  // Throws (fails the test) on malformed JSON.
    EXPECT_EQ(j["statuses"][0]["class"], "shop/user=" + std::string(value)) << r.body;
    EXPECT_EQ(j["statuses"][0]["code"], "OK");
    EXPECT_EQ(j["statuses"][0]["shadow"], false);
    EXPECT_EQ(j["statuses"][0]["current_limit"]["unit"], "minute");
  }
}

// A connection that sends nothing, or stops in the middle of its headers, is closed once the idle
// timeout has passed (a sweep per server thread, not a timer per request).
TEST_F(HttpApiTest, IdleAndStalledConnectionsAreClosed) {
  HttpServerOptions options;
  options.idle_timeout = std::chrono::milliseconds(200);
  auto server = HttpServer::Start(*api_, *service_, options);
  ASSERT_TRUE(server.ok()) << server.status();
  for (const std::string& sent : {std::string(), std::string("GET /healthz HTTP/1.1\r\nHo")}) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((*server)->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    if (!sent.empty()) {
      ASSERT_EQ(::send(fd, sent.data(), sent.size(), 0), ssize_t(sent.size()));
    }
    timeval limit{.tv_sec = 10, .tv_usec = 0};  // Far beyond the timeout: a hang fails here.
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    const auto start = std::chrono::steady_clock::now();
    char byte;
    const ssize_t n = ::recv(fd, &byte, 1, 0);
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(n, 0) << "expected the server to close the connection";
    EXPECT_GE(waited, std::chrono::milliseconds(150));
    ::close(fd);
  }
  // The server still answers new connections.
  absl::StatusOr<history::HttpResponse> health =
      client_->Get(fmt::format("http://127.0.0.1:{}/healthz", (*server)->port()));
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->status, 200);
}

TEST_F(HttpApiTest, UnknownDescriptorDeniedByPolicy) {
  json j = Body(Post("/v1/check", CheckBody("no", "such")));
  EXPECT_EQ(j["overall_code"], "OVER_LIMIT");
  EXPECT_EQ(j["statuses"][0]["unknown"], true);
}

TEST_F(HttpApiTest, BadJsonNamesTheField) {
  ExpectError(Post("/v1/check", "{\"domain\": "), 400, "INVALID_ARGUMENT",
              "malformed JSON at byte");
  ExpectError(Post("/v1/check", R"({"domain": 7, "descriptors": []})"), 400, "INVALID_ARGUMENT",
              "domain: must be a string");
  ExpectError(Post("/v1/check", R"({"domain": "shop", "descriptors": [{"entries": 3}]})"), 400,
              "INVALID_ARGUMENT", "descriptors[0].entries: must be an array");
  ExpectError(
      Post("/v1/check", R"({"domain": "shop", "descriptors": [{"entries": [{"key": ""}]}]})"), 400,
      "INVALID_ARGUMENT", "descriptors[0].entries[0].key: must not be empty");
  ExpectError(Post("/v1/check", R"({"domain": "shop", "descriptors": [], "colour": 1})"), 400,
              "INVALID_ARGUMENT", "colour: unknown field");
  ExpectError(Post("/v1/check", R"({"domain": "shop", "descriptors": [{"entries": [{"key": "k",
              "value": "v"}], "limit": {"requests_per_unit": 1, "unit": "fortnight"}}]})"),
              400, "INVALID_ARGUMENT", "descriptors[0].limit.unit");
  json five = json::array();
  for (int i = 0; i < 5; ++i) five.push_back({{"entries", {{{"key", "k"}, {"value", "v"}}}}});
  ExpectError(Post("/v1/check", json{{"domain", "shop"}, {"descriptors", five}}.dump()), 400,
              "INVALID_ARGUMENT", "descriptors: 5 given, at most 4");
  ExpectError(Post("/v1/check", CheckBody(std::string(300, 'k'), "v")), 400, "INVALID_ARGUMENT",
              "descriptors[0].entries[0].key: 300 bytes, at most 256");
}

TEST_F(HttpApiTest, OversizedBodyIs413) {
  const std::string big = CheckBody("class", std::string(5000, 'x'));
  ExpectError(Post("/v1/check", big), 413, "INVALID_ARGUMENT",
              "larger than limits.max_body_bytes = 4096");
  // The server is still serving.
  EXPECT_EQ(Get("/healthz").status, 200);
}

TEST_F(HttpApiTest, RoutesAndMethods) {
  ExpectError(Get("/v1/nothing"), 404, "NOT_FOUND", "no such route");
  ExpectError(Get("/v1/check"), 405, "INVALID_ARGUMENT", "method not allowed");
  EXPECT_EQ(Body(Get("/healthz"))["status"], "ok");
  EXPECT_EQ(Get("/readyz").status, 200);
  api_->set_ready(false);
  ExpectError(Get("/readyz"), 503, "UNAVAILABLE", "not ready");
}

TEST_F(HttpApiTest, ReportIsAcknowledgedAfterTheAggregatorAccepts) {
  const std::string ts = history::FormatWallTime(clock_.WallNow());
  const std::string ok = json{{"reports",
                               {{{"tenant", "shop"},
                                 {"descriptors", {{{"key", "class"}, {"value", "checkout"}}}},
                                 {"cpu_ms", 5},
                                 {"count", 2},
                                 {"timestamp", ts}}}}}
                             .dump();
  history::HttpResponse r = Post("/v1/report", ok);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["accepted"], 1);
  ExpectError(Post("/v1/report", R"({"reports": [{"cpu_ms": -3}]})"), 400, "INVALID_ARGUMENT",
              "reports[0]");
  ExpectError(Post("/v1/report", R"({"reports": [{"cpu_ms": "lots"}]})"), 400, "INVALID_ARGUMENT",
              "reports[0].cpu_ms: must be a number");
  ExpectError(Post("/v1/report", R"({"reports": [{"timestamp": "yesterday"}]})"), 400,
              "INVALID_ARGUMENT", "reports[0].timestamp");
  ASSERT_TRUE(service_->Flush().ok());
  auto points = service_->store().Query(
      {"requests", "shop", "class=checkout"}, clock_.WallNow() - std::chrono::hours(1),
      clock_.WallNow() + std::chrono::hours(1), std::chrono::hours(2), history::Aggregation::kSum);
  ASSERT_TRUE(points.ok());
  ASSERT_EQ(points->size(), 1u);
  EXPECT_EQ((*points)[0].value, 2);
  // A late report (its bucket already flushed) is refused, not silently dropped.
  ExpectError(Post("/v1/report", ok), 422, "OUT_OF_RANGE", "reports[0]");
}

// A client that accepts gzip gets large answers compressed (curl decodes them); the decoded body
// is the plain one. A check's small answer is never compressed.
TEST_F(HttpApiTest, LargeAnswersAreGzippedForClientsThatAcceptIt) {
  // A check's answer is small: never compressed.
  std::string encoding;
  const history::HttpResponse check =
      Send("POST", "/v1/check", CheckBody("class", "checkout"), &encoding);
  EXPECT_EQ(encoding, "");
  EXPECT_EQ(Body(check)["overall_code"], "OK");
  // /metrics is over the threshold: compressed, and curl's decoding gives the plain answer.
  ASSERT_GE(Get("/metrics").body.size(), 1024u);
  const history::HttpResponse metrics = Send("GET", "/metrics", "", &encoding);
  EXPECT_THAT(encoding, HasSubstr("gzip"));
  EXPECT_THAT(metrics.body, HasSubstr("# TYPE"));
  const history::HttpResponse classes = Send("GET", "/v1/classes", "", &encoding);
  EXPECT_EQ(Body(classes), Body(Get("/v1/classes")));
}

TEST_F(HttpApiTest, ClassesAndPlan) {
  json classes = Body(Get("/v1/classes"));
  ASSERT_EQ(classes["classes"].size(), 1u);
  EXPECT_EQ(classes["classes"][0]["key"], "shop/class=checkout");
  json plan = Body(Get("/v1/classes/shop%2Fclass%3Dcheckout/plan"));
  EXPECT_EQ(plan["rate_per_s"], 3);
  EXPECT_EQ(plan["size"], 3);
  EXPECT_EQ(plan["source"], "config");
  EXPECT_THAT(plan["explanation"].get<std::string>(), HasSubstr("config.yaml:3"));
  ExpectError(Get("/v1/classes/shop%2Fclass%3Dnope"), 404, "NOT_FOUND", "does not exist");
}

TEST_F(HttpApiTest, OverrideExpires) {
  history::HttpResponse r =
      Post("/v1/overrides",
           R"({"class": "shop/class=checkout", "rate_per_s": 100, "size": 10, "ttl_seconds": 60})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["rate_per_s"], 100);
  json plan = Body(Get("/v1/classes/shop%2Fclass%3Dcheckout/plan"));
  EXPECT_EQ(plan["rate_per_s"], 100);
  EXPECT_EQ(plan["source"], "override");
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(Body(Post("/v1/check", CheckBody("class", "checkout")))["overall_code"], "OK") << i;
  }
  clock_.Advance(std::chrono::seconds(61));
  plan = Body(Get("/v1/classes/shop%2Fclass%3Dcheckout/plan"));
  EXPECT_EQ(plan["rate_per_s"], 3);
  EXPECT_EQ(plan["source"], "config");
  // Invalid overrides.
  ExpectError(Post("/v1/overrides", R"({"class": "shop/class=checkout", "rate_per_s": -1,
              "ttl_seconds": 5})"),
              400, "INVALID_ARGUMENT", "rate_per_s: -1");
  ExpectError(Post("/v1/overrides", R"({"class": "shop/class=checkout", "rate_per_s": 1})"), 400,
              "INVALID_ARGUMENT", "ttl_seconds: required");
  ExpectError(Post("/v1/overrides", R"({"class": "shop/class=none", "size": 1, "ttl_seconds": 5})"),
              404, "NOT_FOUND", "does not exist");
  // Set, then delete.
  ASSERT_EQ(Post("/v1/overrides", R"({"domain": "shop", "entries": [{"key": "class", "value":
             "checkout"}], "size": 7, "ttl_seconds": 60})")
                .status,
            201);
  // The bucket stores size as tau / T: equal to 7 up to rounding.
  EXPECT_NEAR(Body(Get("/v1/classes/shop%2Fclass%3Dcheckout"))["size"].get<double>(), 7, 1e-6);
  EXPECT_EQ(Delete("/v1/overrides/shop%2Fclass%3Dcheckout").status, 200);
  EXPECT_NEAR(Body(Get("/v1/classes/shop%2Fclass%3Dcheckout"))["size"].get<double>(), 3, 1e-6);
  ExpectError(Delete("/v1/overrides/shop%2Fclass%3Dcheckout"), 404, "NOT_FOUND", "no override");
}

TEST_F(HttpApiTest, ConfigValidateAndReload) {
  json before = Body(Get("/v1/config"));
  EXPECT_EQ(before["generation"], 1);
  ExpectError(Post("/v1/config:validate", "domain: x\ndescriptors:\n  - key: k\n    bogus: 1\n"),
              400, "INVALID_ARGUMENT", "request body:4: descriptors[0].bogus: unknown field");
  json valid = Body(Post("/v1/config:validate", "domain: x\n"));
  EXPECT_EQ(valid["valid"], true);
  // A bad file on disk: reload refused, old config stays.
  std::ofstream(config_path_) << "domain: shop\ndescriptors:\n  - key: class\n    rate_limit: "
                                 "{unit: lightyear, requests_per_unit: 1}\n";
  ExpectError(Post("/v1/config:reload", ""), 400, "INVALID_ARGUMENT",
              "config.yaml:4: descriptors[0].rate_limit.unit");
  EXPECT_EQ(Body(Get("/v1/config"))["version"], before["version"]);
  EXPECT_EQ(Body(Post("/v1/check",
                      CheckBody("class",
                                "checkout")))["statuses"][0]["current_limit"]["requests_per_unit"],
            3);
  // A good one: applied.
  std::ofstream(config_path_) << "domain: shop\ndescriptors:\n  - key: class\n    value: checkout\n"
                                 "    rate_limit: {unit: second, requests_per_unit: 50}\n";
  history::HttpResponse r = Post("/v1/config:reload", "");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["generation"], 2);
  EXPECT_NE(Body(r)["version"], before["version"]);
  EXPECT_EQ(Body(Post("/v1/check",
                      CheckBody("class",
                                "checkout")))["statuses"][0]["current_limit"]["requests_per_unit"],
            50);
}

TEST_F(HttpApiTest, AlertsAndScalingFromObservedRates) {
  // Nothing evaluated yet.
  EXPECT_EQ(Body(Get("/v1/alerts")), json::parse(R"({"alerts": []})"));
  EXPECT_EQ(Body(Get("/v1/scaling")), json::parse(R"({"services": []})"));
  ASSERT_TRUE(service_->Tick().ok());  // The baseline of the observed rates.
  json scaling = Body(Get("/v1/scaling"));
  ASSERT_EQ(scaling["services"].size(), 1u) << scaling;
  EXPECT_EQ(scaling["services"][0]["recommended_replicas"], 1);
  EXPECT_TRUE(scaling["services"][0]["driving_resource"].is_null());

  for (int i = 0; i < 3; ++i) Post("/v1/check", CheckBody("class", "checkout"));
  clock_.Advance(std::chrono::seconds(2));
  ASSERT_TRUE(service_->Tick().ok());  // 3 checks in 2 s: 1.5/s.
  json alerts = Body(Get("/v1/alerts"));
  ASSERT_EQ(alerts["alerts"].size(), 1u) << alerts;
  const json& a = alerts["alerts"][0];
  EXPECT_EQ(a["name"], "CheckoutBusy");
  EXPECT_EQ(a["state"], "firing");
  EXPECT_EQ(a["labels"]["class"], "shop/class=checkout");
  EXPECT_EQ(a["labels"]["severity"], "info");
  EXPECT_DOUBLE_EQ(a["value"].get<double>(), 1.5);
  EXPECT_THAT(a["annotations"]["summary"].get<std::string>(), HasSubstr("1.5"));
  EXPECT_EQ(a["since"], history::FormatWallTime(clock_.WallNow()));

  scaling = Body(Get("/v1/scaling"));
  const json& s = scaling["services"][0];
  EXPECT_EQ(s["name"], "shop-api");
  EXPECT_TRUE(s["current_replicas"].is_null());
  EXPECT_EQ(s["recommended_replicas"], 2);
  EXPECT_DOUBLE_EQ(s["predicted_demand"]["requests"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(s["predicted_demand"]["cpu_ms"].get<double>(), 15);  // 1.5/s x cost 10.
  EXPECT_EQ(s["driving_resource"], "requests");
  EXPECT_THAT(s["reason"].get<std::string>(), HasSubstr("requests drives"));
  EXPECT_EQ(s["since"], history::FormatWallTime(clock_.WallNow()));

  const std::string metrics = Get("/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("tidegate_alerts{alertname=\"CheckoutBusy\",state=\"firing\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("tidegate_scaling_recommended_replicas{service=\"shop-api\"} 2"));

  clock_.Advance(std::chrono::seconds(2));
  ASSERT_TRUE(service_->Tick().ok());  // No checks: 0/s, resolved.
  alerts = Body(Get("/v1/alerts"));
  ASSERT_EQ(alerts["alerts"].size(), 1u);
  EXPECT_EQ(alerts["alerts"][0]["state"], "resolved");
  ExpectError(Post("/v1/alerts", "{}"), 405, "INVALID_ARGUMENT", "method not allowed");
}

TEST_F(HttpApiTest, CurrentReplicasReportedAndHeldByTheWindow) {
  ASSERT_TRUE(service_->Tick().ok());
  // Bad reports: each names what is wrong.
  ExpectError(Put("/v1/scaling/shop-api", "{\"current_replicas\": -1}"), 400, "INVALID_ARGUMENT",
              "current_replicas: must be a non-negative integer");
  ExpectError(Put("/v1/scaling/shop-api", "{\"current_replicas\": 2.5}"), 400, "INVALID_ARGUMENT",
              "current_replicas: must be a non-negative integer");
  ExpectError(Put("/v1/scaling/shop-api", "{\"current_replicas\": 1000001}"), 400,
              "INVALID_ARGUMENT", "current_replicas");
  ExpectError(Put("/v1/scaling/shop-api", "{}"), 400, "INVALID_ARGUMENT",
              "current_replicas: required");
  ExpectError(Put("/v1/scaling/shop-api", "{\"replicas\": 3}"), 400, "INVALID_ARGUMENT",
              "replicas: unknown field");
  ExpectError(Put("/v1/scaling/shop-api", "{"), 400, "INVALID_ARGUMENT", "malformed JSON");
  ExpectError(Put("/v1/scaling/nope", "{\"current_replicas\": 3}"), 404, "NOT_FOUND",
              "scaling service 'nope' is not configured");
  ExpectError(Get("/v1/scaling/nope"), 404, "NOT_FOUND", "scaling service 'nope'");
  ExpectError(Delete("/v1/scaling/shop-api"), 405, "INVALID_ARGUMENT", "method not allowed");

  // The service runs 6 replicas; the demand needs 1. (How a resize holds the recommendation
  // within the stabilisation window is tested in test/alert/scaling_test.cc.)
  history::HttpResponse put = Put("/v1/scaling/shop-api", "{\"current_replicas\": 6}");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(Body(put)["current_replicas"], 6);
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(service_->Tick().ok());
  json s = Body(Get("/v1/scaling/shop-api"));
  EXPECT_EQ(s["name"], "shop-api");
  EXPECT_EQ(s["current_replicas"], 6);
  // This config's window is 0 s: one second later the resize is outside it.
  EXPECT_EQ(s["recommended_replicas"], 1);
  EXPECT_EQ(Body(Get("/v1/scaling"))["services"][0]["current_replicas"], 6);
  EXPECT_THAT(Get("/metrics").body,
              HasSubstr("tidegate_scaling_current_replicas{service=\"shop-api\"} 6"));
}

TEST_F(HttpApiTest, MetricsPassPromtool) {
  ASSERT_TRUE(service_->Tick().ok());  // The baseline of the observed rates.
  Post("/v1/check", CheckBody("class", "checkout"));
  Post("/v1/check", CheckBody("user", "a\"b\\c"));
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(service_->Tick().ok());  // Alerting and scaling families with samples.
  history::HttpResponse m = Get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_THAT(m.body, HasSubstr("tidegate_decisions_total{tenant=\"shop\",class=\"class=checkout\","
                                "code=\"ok\"} 1"));
  EXPECT_THAT(m.body, HasSubstr("tidegate_bucket_level_tokens"));
  const std::string file = (dir_ / "metrics.txt").string();
  std::ofstream(file) << m.body;
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  const std::string cmd = fmt::format("promtool check metrics < '{}' 2>&1", file);
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int rc = pclose(p);
  EXPECT_EQ(rc, 0) << out;
}

}  // namespace
}  // namespace tidegate::server
