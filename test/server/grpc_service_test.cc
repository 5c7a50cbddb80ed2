// The Envoy RLS v3 front end end to end: a real gRPC client built from the same proto against
// RlsService over tidegate::server::Service on a free loopback port (integration: binds ports).
// Time is a SimulatedClock that never moves unless a test says so: bucket arithmetic is exact.
#include "server/grpc_service.h"

#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"
#include "server/grpc_server.h"
#include "tidegate/history/sqlite_store.h"
#include "tidegate/server/config.h"
#include "tidegate/server/service.h"

namespace tidegate::server {
namespace {

namespace rls = envoy::service::ratelimit::v3;
using ::testing::HasSubstr;

constexpr char kShopConfig[] = R"(domain: shop
descriptors:
  - key: generic_key
    value: checkout
    rate_limit: {unit: minute, requests_per_unit: 3}
  - key: remote_address
    rate_limit: {unit: second, requests_per_unit: 5}
  - key: class
    value: llm
    rate_limit: {unit: minute, requests_per_unit: 10}
  - key: class
    value: shadowed
    shadow_mode: true
    rate_limit: {unit: minute, requests_per_unit: 1}
)";

struct Entries : std::vector<std::pair<std::string, std::string>> {
  using vector::vector;
};

rls::RateLimitRequest Request(std::string domain, std::vector<Entries> descriptors,
                              uint32_t hits_addend = 0) {
  rls::RateLimitRequest request;
  request.set_domain(std::move(domain));
  for (const Entries& entries : descriptors) {
    auto* d = request.add_descriptors();
    for (const auto& [key, value] : entries) {
      auto* e = d->add_entries();
      e->set_key(key);
      e->set_value(value);
    }
  }
  request.set_hits_addend(hits_addend);
  return request;
}

std::map<std::string, std::string> Headers(const rls::RateLimitResponse& response) {
  std::map<std::string, std::string> headers;
  for (const auto& h : response.response_headers_to_add()) headers[h.key()] = h.value();
  return headers;
}

class RlsServiceTest : public ::testing::Test {
 protected:
  void Start(const std::string& yaml) {
    auto config = ParseConfig(yaml, "test.yaml");
    ASSERT_TRUE(config.ok()) << config.status();
    std::string dir = ::testing::TempDir() + "/grpc_service_test_XXXXXX";
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    auto store = history::SqliteStore::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    ServiceOptions options;
    options.config = *std::move(config);
    options.store = *std::move(store);
    auto core = Service::Create(std::move(options), clock_);
    ASSERT_TRUE(core.ok()) << core.status();
    core_ = *std::move(core);
    rls_ = std::make_unique<RlsService>(*core_);
    auto server = GrpcServer::Start("127.0.0.1:0", {rls_.get()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = rls::RateLimitService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    server_.reset();
    rls_.reset();
    core_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  grpc::Status Call(const rls::RateLimitRequest& request, rls::RateLimitResponse* response,
                    std::optional<std::string> settle_header = std::nullopt) {
    grpc::ClientContext context;
    if (settle_header.has_value()) {
      context.AddMetadata(std::string(kSettleMetadataKey), *settle_header);
    }
    return stub_->ShouldRateLimit(&context, request, response);
  }

  rls::RateLimitResponse CallOk(const rls::RateLimitRequest& request,
                                std::optional<std::string> settle_header = std::nullopt) {
    rls::RateLimitResponse response;
    const grpc::Status status = Call(request, &response, std::move(settle_header));
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    return response;
  }

  SimulatedClock clock_;
  std::string dir_;
  std::unique_ptr<Service> core_;
  std::unique_ptr<RlsService> rls_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<rls::RateLimitService::Stub> stub_;
};

TEST_F(RlsServiceTest, EnvoyDescriptorsAreAdmittedWithLimitRemainingAndHeaders) {
  Start(kShopConfig);
  // What Envoy sends for actions generic_key{descriptor_value: checkout} and remote_address{}.
  const auto response =
      CallOk(Request("shop", {{{"generic_key", "checkout"}}, {{"remote_address", "10.0.0.1"}}}));
  EXPECT_EQ(response.overall_code(), rls::RateLimitResponse::OK);
  ASSERT_EQ(response.statuses_size(), 2);
  const auto& checkout = response.statuses(0);
  EXPECT_EQ(checkout.code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(checkout.current_limit().requests_per_unit(), 3u);
  EXPECT_EQ(checkout.current_limit().unit(), rls::RateLimitResponse::RateLimit::MINUTE);
  EXPECT_EQ(checkout.limit_remaining(), 2u);
  // One token of 3 per minute comes back in 20 s.
  EXPECT_NEAR(
      checkout.duration_until_reset().seconds() + checkout.duration_until_reset().nanos() / 1e9,
      20.0, 0.01);
  EXPECT_EQ(response.statuses(1).current_limit().requests_per_unit(), 5u);
  EXPECT_EQ(response.statuses(1).current_limit().unit(), rls::RateLimitResponse::RateLimit::SECOND);
  EXPECT_EQ(response.statuses(1).limit_remaining(), 4u);
  // Headers describe the tightest limit: checkout, 2 left.
  const auto headers = Headers(response);
  EXPECT_EQ(headers.at("RateLimit-Limit"), "3");
  EXPECT_EQ(headers.at("RateLimit-Remaining"), "2");
  EXPECT_EQ(headers.at("RateLimit-Reset"), "20");
  EXPECT_EQ(headers.count("Retry-After"), 0u);
}

TEST_F(RlsServiceTest, LimitReachedIsRefusedWithOverLimitAndHeaders) {
  Start(kShopConfig);
  const auto request = Request("shop", {{{"generic_key", "checkout"}}});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(CallOk(request).overall_code(), rls::RateLimitResponse::OK) << "call " << i;
  }
  const auto refused = CallOk(request);
  EXPECT_EQ(refused.overall_code(), rls::RateLimitResponse::OVER_LIMIT);
  ASSERT_EQ(refused.statuses_size(), 1);
  EXPECT_EQ(refused.statuses(0).code(), rls::RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(refused.statuses(0).limit_remaining(), 0u);
  const auto headers = Headers(refused);
  EXPECT_EQ(headers.at("RateLimit-Limit"), "3");
  EXPECT_EQ(headers.at("RateLimit-Remaining"), "0");
  EXPECT_EQ(headers.at("Retry-After"), "20");  // One token of 3/minute.

  clock_.Advance(std::chrono::seconds(20));
  EXPECT_EQ(CallOk(request).overall_code(), rls::RateLimitResponse::OK);
}

TEST_F(RlsServiceTest, OneDescriptorOverLimitRefusesTheWholeRequestAtItsPosition) {
  Start(kShopConfig);
  for (int i = 0; i < 3; ++i) CallOk(Request("shop", {{{"generic_key", "checkout"}}}));
  const auto response =
      CallOk(Request("shop", {{{"remote_address", "10.0.0.2"}}, {{"generic_key", "checkout"}}}));
  EXPECT_EQ(response.overall_code(), rls::RateLimitResponse::OVER_LIMIT);
  ASSERT_EQ(response.statuses_size(), 2);
  EXPECT_EQ(response.statuses(0).code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(response.statuses(1).code(), rls::RateLimitResponse::OVER_LIMIT);
}

TEST_F(RlsServiceTest, PerDescriptorLimitOverrideReplacesTheConfiguredLimit) {
  Start(kShopConfig);
  auto request = Request("shop", {{{"class", "llm"}}});
  auto* limit = request.mutable_descriptors(0)->mutable_limit();
  limit->set_requests_per_unit(2);
  limit->set_unit(envoy::type::v3::SECOND);
  const auto first = CallOk(request);
  EXPECT_EQ(first.overall_code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(first.statuses(0).current_limit().requests_per_unit(), 2u);
  EXPECT_EQ(first.statuses(0).current_limit().unit(), rls::RateLimitResponse::RateLimit::SECOND);
  EXPECT_EQ(first.statuses(0).limit_remaining(), 1u);
  EXPECT_EQ(CallOk(request).overall_code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(CallOk(request).overall_code(), rls::RateLimitResponse::OVER_LIMIT);
}

TEST_F(RlsServiceTest, AnOverrideOfZeroRequestsRefusesEverything) {
  Start(kShopConfig);
  auto request = Request("shop", {{{"class", "llm"}}});
  request.mutable_descriptors(0)->mutable_limit()->set_unit(envoy::type::v3::MINUTE);
  const auto refused = CallOk(request);
  EXPECT_EQ(refused.overall_code(), rls::RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(refused.statuses(0).current_limit().requests_per_unit(), 0u);
}

TEST_F(RlsServiceTest, RequestAndDescriptorHitsAddend) {
  Start(kShopConfig);
  const auto by_request = CallOk(Request("shop", {{{"class", "llm"}}}, /*hits_addend=*/2));
  EXPECT_EQ(by_request.statuses(0).limit_remaining(), 8u);
  auto request = Request("shop", {{{"class", "llm"}}}, /*hits_addend=*/2);
  request.mutable_descriptors(0)->mutable_hits_addend()->set_value(5);  // Wins over the request's.
  EXPECT_EQ(CallOk(request).statuses(0).limit_remaining(), 3u);
  // More than is left: refused, and nothing charged.
  EXPECT_EQ(CallOk(Request("shop", {{{"class", "llm"}}}, 4)).overall_code(),
            rls::RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(CallOk(Request("shop", {{{"class", "llm"}}}, 3)).statuses(0).limit_remaining(), 0u);
}

TEST_F(RlsServiceTest, SettleAtStreamEndChargesTheDifferenceWithTheEntryMarker) {
  Start(kShopConfig);
  // Admission: Envoy charges 1 (no hits_addend).
  EXPECT_EQ(CallOk(Request("shop", {{{"class", "llm"}}})).statuses(0).limit_remaining(), 9u);
  // Stream end (apply_on_stream_done policy with a generic_key tidegate.settle=1 action and
  // hits_addend 4 from dynamic metadata): charges 4 - 1 = 3 more.
  auto settle = Request("shop", {{{"class", "llm"}, {std::string(kSettleEntryKey), "1"}}});
  settle.mutable_descriptors(0)->mutable_hits_addend()->set_value(4);
  const auto settled = CallOk(settle);
  EXPECT_EQ(settled.overall_code(), rls::RateLimitResponse::OK);
  ASSERT_EQ(settled.statuses_size(), 1);
  EXPECT_FALSE(settled.statuses(0).has_current_limit());
  EXPECT_TRUE(Headers(settled).empty());
  // 10 - 1 - 3 = 6 left; this check takes one more.
  EXPECT_EQ(CallOk(Request("shop", {{{"class", "llm"}}})).statuses(0).limit_remaining(), 5u);
}

TEST_F(RlsServiceTest, SettleByMetadataRefundsWhenTheActualCostIsLower) {
  Start(kShopConfig);
  EXPECT_EQ(CallOk(Request("shop", {{{"class", "llm"}}}, 4)).statuses(0).limit_remaining(), 6u);
  // Charged 4 at admission, the request really cost 1: refund 3.
  CallOk(Request("shop", {{{"class", "llm"}}}, /*hits_addend=*/1), /*settle_header=*/"4");
  EXPECT_EQ(CallOk(Request("shop", {{{"class", "llm"}}})).statuses(0).limit_remaining(), 8u);
}

TEST_F(RlsServiceTest, SettleMayPutAClassInDebtSoTheNextCheckIsRefused) {
  Start(kShopConfig);
  CallOk(Request("shop", {{{"class", "llm"}}}));
  auto settle = Request("shop", {{{"class", "llm"}, {std::string(kSettleEntryKey), "1"}}});
  settle.mutable_descriptors(0)->mutable_hits_addend()->set_value(25);  // 15 over the limit.
  CallOk(settle);
  const auto refused = CallOk(Request("shop", {{{"class", "llm"}}}));
  EXPECT_EQ(refused.overall_code(), rls::RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(refused.statuses(0).limit_remaining(), 0u);
}

TEST_F(RlsServiceTest, ShadowModeRefusalIsReportedOkAndFlagged) {
  Start(kShopConfig);
  const auto request = Request("shop", {{{"class", "shadowed"}}});
  EXPECT_EQ(CallOk(request).overall_code(), rls::RateLimitResponse::OK);
  const auto shadowed = CallOk(request);  // Over its limit of 1/minute, but in shadow mode.
  EXPECT_EQ(shadowed.overall_code(), rls::RateLimitResponse::OK);
  EXPECT_EQ(shadowed.statuses(0).code(), rls::RateLimitResponse::OK);
  ASSERT_TRUE(shadowed.dynamic_metadata().fields().contains("tidegate_shadow"));
  EXPECT_TRUE(shadowed.dynamic_metadata().fields().at("tidegate_shadow").bool_value());
}

TEST_F(RlsServiceTest, UnknownDomainIsAllowedWithoutALimitByDefault) {
  Start(kShopConfig);
  const auto response = CallOk(Request("elsewhere", {{{"class", "x"}}}));
  EXPECT_EQ(response.overall_code(), rls::RateLimitResponse::OK);
  EXPECT_FALSE(response.statuses(0).has_current_limit());
  EXPECT_TRUE(Headers(response).empty());
}

TEST_F(RlsServiceTest, UnknownDescriptorsDeniedWhenThePolicySaysSo) {
  Start(std::string(kShopConfig) + "unknown_descriptors: {policy: deny}\n");
  const auto response = CallOk(Request("elsewhere", {{{"class", "x"}}}));
  EXPECT_EQ(response.overall_code(), rls::RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(CallOk(Request("shop", {{{"class", "nope"}}})).overall_code(),
            rls::RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(CallOk(Request("shop", {{{"class", "llm"}}})).overall_code(),
            rls::RateLimitResponse::OK);
}

struct Malformed {
  std::string name;
  rls::RateLimitRequest request;
  std::string message;
};

TEST_F(RlsServiceTest, MalformedRequestsAreInvalidArgumentNamingTheField) {
  Start(kShopConfig);
  std::vector<Malformed> cases;
  cases.push_back({"empty domain", Request("", {{{"class", "llm"}}}), "domain is empty"});
  cases.push_back({"no descriptors", Request("shop", {}), "descriptors is empty"});
  cases.push_back({"empty entry key", Request("shop", {{{"class", "llm"}}, {{"", "v"}}}),
                   "descriptors[1].entries[0].key is empty"});
  cases.push_back(
      {"descriptor without entries", Request("shop", {{}}), "descriptors[0].entries is empty"});
  cases.push_back({"long key", Request("shop", {{{std::string(300, 'k'), "v"}}}),
                   "descriptors[0].entries[0].key is 300 bytes long; at most 256"});
  cases.push_back({"control character", Request("shop", {{{"class", "a\nb"}}}),
                   "descriptors[0].entries[0].value contains a control character"});
  {
    std::vector<Entries> many(65, Entries{{"class", "llm"}});
    cases.push_back({"too many descriptors", Request("shop", many), "at most 64"});
  }
  {
    Entries wide;
    for (int i = 0; i < 17; ++i) wide.push_back({"k" + std::to_string(i), "v"});
    cases.push_back({"too many entries", Request("shop", {wide}),
                     "descriptors[0].entries has 17 entries; at most 16"});
  }
  {
    auto r = Request("shop", {{{"class", "llm"}}});
    r.mutable_descriptors(0)->mutable_limit()->set_requests_per_unit(5);
    r.mutable_descriptors(0)->mutable_limit()->set_unit(envoy::type::v3::YEAR);
    cases.push_back({"year override", r, "descriptors[0].limit.unit 6 is not supported"});
  }
  cases.push_back({"bad settle value",
                   Request("shop", {{{"class", "llm"}, {std::string(kSettleEntryKey), "lots"}}}),
                   "descriptors[0].entries[1].value 'lots' is not a number"});
  cases.push_back({"settle marker alone", Request("shop", {{{std::string(kSettleEntryKey), "1"}}}),
                   "descriptors[0] has only the 'tidegate.settle' entry"});
  for (const Malformed& c : cases) {
    rls::RateLimitResponse response;
    const grpc::Status status = Call(c.request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.name;
  }
  rls::RateLimitResponse response;
  const grpc::Status status = Call(Request("shop", {{{"class", "llm"}}}), &response, "-1");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("x-tidegate-settle metadata '-1'"));
  // Nothing was charged by any of them.
  EXPECT_EQ(CallOk(Request("shop", {{{"class", "llm"}}})).statuses(0).limit_remaining(), 9u);
}

TEST(RlsMappingTest, WeekHasNoEnvoyUnitAndIsNamed) {
  const auto limit = ToProtoLimit(RateLimit{700, Unit::kWeek});
  EXPECT_EQ(limit.unit(), rls::RateLimitResponse::RateLimit::UNKNOWN);
  EXPECT_EQ(limit.requests_per_unit(), 700u);
  EXPECT_EQ(limit.name(), "700 per week");
  EXPECT_EQ(FromProtoUnit(envoy::type::v3::MONTH), Unit::kMonth);
  EXPECT_EQ(FromProtoUnit(envoy::type::v3::UNKNOWN), std::nullopt);
  EXPECT_EQ(FromProtoUnit(42), std::nullopt);
}

TEST(RlsMappingTest, SettleAndCheckDescriptorsKeepTheirPositions) {
  auto request = Request(
      "shop",
      {{{"class", "a"}}, {{"class", "b"}, {std::string(kSettleEntryKey), "2"}}, {{"class", "c"}}},
      3);
  ASSERT_TRUE(ValidateRateLimitRequest(request, RequestLimits()).ok());
  const MappedRequest mapped = MapRateLimitRequest(request, std::nullopt);
  EXPECT_EQ(mapped.check_index, (std::vector<int>{0, 2}));
  ASSERT_EQ(mapped.settles.size(), 1u);
  EXPECT_EQ(mapped.settles[0].index, 1);
  EXPECT_EQ(mapped.settles[0].request.charged, 2);
  EXPECT_EQ(mapped.settles[0].request.actual, 3);
  ASSERT_EQ(mapped.settles[0].request.descriptors.size(), 1u);
  EXPECT_EQ(mapped.settles[0].request.descriptors[0].entries, (std::vector<Entry>{{"class", "b"}}));
}

}  // namespace
}  // namespace tidegate::server
