// GrpcServer and the null RLS service over a real loopback connection (binds ports: integration).
#include "server/grpc_server.h"

#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"
#include "server/grpc_null_service.h"

namespace tidegate::server {
namespace {

namespace rls = envoy::service::ratelimit::v3;
using ::testing::HasSubstr;

std::unique_ptr<rls::RateLimitService::Stub> Connect(const std::string& address) {
  return rls::RateLimitService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

rls::RateLimitRequest EnvoyLikeRequest() {
  rls::RateLimitRequest request;
  request.set_domain("shop");
  auto* d = request.add_descriptors();
  auto* e = d->add_entries();
  e->set_key("generic_key");
  e->set_value("checkout");
  auto* d2 = request.add_descriptors();
  auto* e2 = d2->add_entries();
  e2->set_key("remote_address");
  e2->set_value("10.0.0.1");
  return request;
}

TEST(ParseHostPortTest, AcceptsHostPortAndBracketedV6) {
  auto v4 = ParseHostPort("127.0.0.1:8081");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->first, "127.0.0.1");
  EXPECT_EQ(v4->second, 8081);
  auto v6 = ParseHostPort("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->first, "[::1]");
  EXPECT_EQ(v6->second, 0);
}

TEST(ParseHostPortTest, RejectsMalformedAddressesNamingTheProblem) {
  EXPECT_THAT(ParseHostPort("").status().message(), HasSubstr("empty"));
  EXPECT_THAT(ParseHostPort("localhost").status().message(), HasSubstr("expected host:port"));
  EXPECT_THAT(ParseHostPort(":80").status().message(), HasSubstr("host is empty"));
  EXPECT_THAT(ParseHostPort("h:65536").status().message(), HasSubstr("not in 0..65535"));
  EXPECT_THAT(ParseHostPort("h:8x").status().message(), HasSubstr("not in 0..65535"));
  EXPECT_THAT(ParseHostPort("::1:80").status().message(), HasSubstr("brackets"));
  EXPECT_THAT(ParseHostPort("[::1]80").status().message(), HasSubstr("[ipv6]:port"));
  EXPECT_EQ(ParseHostPort("h:").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GrpcServerTest, PortZeroPicksAFreePortAndServesTheNullService) {
  NullRateLimitService null_service;
  auto server = GrpcServer::Start("127.0.0.1:0", {&null_service});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  EXPECT_EQ((*server)->address(), "127.0.0.1:" + std::to_string((*server)->port()));

  auto stub = Connect((*server)->address());
  grpc::ClientContext context;
  rls::RateLimitResponse response;
  const grpc::Status status = stub->ShouldRateLimit(&context, EnvoyLikeRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.overall_code(), rls::RateLimitResponse::OK);
  ASSERT_EQ(response.statuses_size(), 2);
  EXPECT_EQ(response.statuses(1).code(), rls::RateLimitResponse::OK);
}

TEST(GrpcServerTest, ABoundPortIsUnavailable) {
  NullRateLimitService null_service;
  auto first = GrpcServer::Start("127.0.0.1:0", {&null_service});
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = GrpcServer::Start((*first)->address(), {&null_service});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr((*first)->address()));
}

TEST(GrpcServerTest, RejectsMalformedListenAddressAndNoServices) {
  NullRateLimitService null_service;
  EXPECT_EQ(GrpcServer::Start("nonsense", {&null_service}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GrpcServer::Start("127.0.0.1:0", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GrpcServerTest, OversizedRequestIsRefusedByTheTransport) {
  NullRateLimitService null_service;
  GrpcServer::Options options;
  options.max_receive_message_bytes = 1024;
  auto server = GrpcServer::Start("127.0.0.1:0", {&null_service}, options);
  ASSERT_TRUE(server.ok()) << server.status();
  rls::RateLimitRequest request = EnvoyLikeRequest();
  request.set_domain(std::string(4096, 'x'));
  grpc::ClientContext context;
  rls::RateLimitResponse response;
  const grpc::Status status =
      Connect((*server)->address())->ShouldRateLimit(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
}

TEST(GrpcServerTest, StopIsIdempotentAndRefusesLaterCalls) {
  NullRateLimitService null_service;
  auto server = GrpcServer::Start("127.0.0.1:0", {&null_service});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  auto stub = Connect(address);
  {
    grpc::ClientContext context;
    rls::RateLimitResponse response;
    ASSERT_TRUE(stub->ShouldRateLimit(&context, EnvoyLikeRequest(), &response).ok());
  }
  (*server)->Stop(std::chrono::milliseconds(100));
  (*server)->Stop(std::chrono::milliseconds(100));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          (RealClock().WallNow() + std::chrono::seconds(2)).time_since_epoch())));
  rls::RateLimitResponse response;
  const grpc::Status status = stub->ShouldRateLimit(&context, EnvoyLikeRequest(), &response);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

}  // namespace
}  // namespace tidegate::server
